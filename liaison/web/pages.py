"""Server-rendered pages: the login form, errors, and the shell of the workspace, the one
page every signed-in view lives in (static/js, docs/architecture.md "The workspace")."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import liaison.web.convertors  # noqa: F401 - registers {name:id}
from liaison.domain.identity import find_identity_codes
from liaison.services import records
from liaison.web.auth import requires
from liaison.web.i18n import LANGUAGES
from liaison.web.security import (
    CSRF_COOKIE,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    Viewer,
    anonymous_csrf_token,
    check_csrf,
    client_address,
    core_of,
    safe_next,
    session_csrf_token,
    set_cookie,
    viewer_of,
)
from liaison.web.templating import render


async def form_with_csrf(request: Request) -> FormData:
    form = await request.form(max_files=1, max_fields=100)
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    return form


async def login_page(request: Request) -> Response:
    if viewer_of(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", None, next=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await form_with_csrf(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    core = core_of(request)
    result = await core.logins.login(username, password, client_address(request))
    next_path = safe_next(str(form.get("next", "/")))
    if result.account is None:
        context: dict[str, object] = {"failed": True}
        headers = {}
        if result.refused is not None and result.refused.retry_at is not None:
            # Refused unchecked (docs/accounts.md): 429, and when to try again.
            wait = max(1, math.ceil((result.refused.retry_at - core.clock.now()).total_seconds()))
            context = {"locked_minutes": math.ceil(wait / 60)} if result.refused.locked else {}
            context |= {"wait_seconds": wait, "refused": True}
            headers["Retry-After"] = str(wait)
        page = render(
            request,
            "login.html",
            None,
            status_code=429 if headers else 401,
            # Re-filled for another try, unless it holds an identity code.
            username="" if find_identity_codes(username) else username,
            next=next_path,
            **context,
        )
        page.headers.update(headers)
        return page
    token = await core.accounts.open_session(result.account.id)
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=core.settings.session_days * 86400)
    # A new session, a new CSRF token: one seen before login is worthless after it.
    set_cookie(response, request, CSRF_COOKIE, session_csrf_token(request, token), max_age=None)
    return response


async def logout(request: Request) -> Response:
    await form_with_csrf(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await core_of(request).accounts.close_session(token)
    response = RedirectResponse("/login", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, None, max_age=None)
    # The session's token dies with it; the login form gets a pre-session one.
    set_cookie(response, request, CSRF_COOKIE, anonymous_csrf_token(request), max_age=None)
    return response


async def set_language(request: Request) -> Response:
    form = await form_with_csrf(request)
    language = str(form.get("language", ""))
    response = RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    if language in LANGUAGES:
        viewer = viewer_of(request)
        if viewer is not None:
            await core_of(request).accounts.set_language(viewer.account_id, language)
        set_cookie(response, request, LANGUAGE_COOKIE, language, max_age=365 * 86400)
    return response


async def workspace(request: Request, viewer: Viewer, view: str) -> Response:
    """The single-page workspace: every view of a signed-in user is this one page, which
    keeps one WebSocket open while its own router shows the view the path names."""
    core = core_of(request)
    me = await core.directory.person(viewer.person_id)
    organisations = await core.directory.organisations()
    areas = await core.directory.areas()
    is_supervisor = me is not None and "supervisor" in me.roles
    return render(
        request,
        "app.html",
        viewer,
        view=view,
        me=me,
        organisations=organisations,
        areas=areas,
        outcomes=records.OUTCOMES,
        topics=records.TOPICS,
        legal_bases=records.LEGAL_BASES,
        workspace={
            "is_admin": viewer.is_admin,
            "is_supervisor": is_supervisor,
            # Only supervisors and admins may see rings' figures on the load view.
            "sees_rings": is_supervisor or viewer.is_admin,
            "consultation_reminder_seconds": core.settings.consultation_reminder_seconds,
            "consultation_auto_close_seconds": core.settings.consultation_auto_close_seconds,
        },
    )


def view_page(view: str) -> Callable[[Request], Awaitable[Response]]:
    @requires("member", page=True)
    async def page(request: Request, viewer: Viewer) -> Response:
        return await workspace(request, viewer, view)

    return page


@requires("member", page=True)
async def person_page(request: Request, viewer: Viewer) -> Response:
    person = await core_of(request).directory.person(int(request.path_params["person_id"]))
    if person is None:
        return render(request, "error.html", viewer, status_code=404, message="not_found")
    return await workspace(request, viewer, "person")


@requires("member", page=True)
async def conversation_page(request: Request, viewer: Viewer) -> Response:
    conversation_id = int(request.path_params["conversation_id"])
    if not await core_of(request).chat.is_member(conversation_id, viewer.person_id):
        return render(request, "error.html", viewer, status_code=404, message="not_found")
    return await workspace(request, viewer, "conversations")


@requires("admin", page=True)
async def admin(request: Request, viewer: Viewer) -> Response:
    return await workspace(request, viewer, "admin")


routes = [
    Route("/", view_page("directory")),
    Route("/login", login_page),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language", set_language, methods=["POST"]),
    Route("/people/{person_id:id}", person_page),
    Route("/conversations", view_page("conversations")),
    Route("/conversations/{conversation_id:id}", conversation_page),
    Route("/rings", view_page("rings")),
    Route("/log", view_page("log")),
    Route("/load", view_page("load")),
    Route("/me", view_page("profile")),
    Route("/admin", admin),
]
