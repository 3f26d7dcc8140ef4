"""Server-rendered pages. Forms post here and work without JavaScript; the app page is
driven by the modules in static/js over the WebSocket and the JSON API."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import liaison.web.convertors  # noqa: F401 - registers {name:id}
from liaison.domain.errors import Refused
from liaison.domain.identity import find_identity_codes
from liaison.services import rings as ring_service
from liaison.services.accounts import AccountError
from liaison.services.presence import PresenceError
from liaison.store import repositories as repo
from liaison.web import api
from liaison.web.i18n import LANGUAGES
from liaison.web.security import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    Viewer,
    check_csrf,
    core_of,
    safe_next,
    set_cookie,
    viewer_of,
)
from liaison.web.templating import render

WEEKDAYS = range(7)


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


async def form_with_csrf(request: Request) -> FormData:
    form = await request.form(max_files=1, max_fields=100)
    token = form.get("csrf_token")
    check_csrf(request, token if isinstance(token, str) else None)
    return form


async def login_page(request: Request) -> Response:
    if await viewer_of(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", None, next=safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await form_with_csrf(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    core = core_of(request)
    account = await core.accounts.verify_password(username, password)
    next_path = safe_next(str(form.get("next", "/")))
    if account is None:
        return render(
            request,
            "login.html",
            None,
            status_code=401,
            failed=True,
            # Re-filled for another try, unless it holds an identity code.
            username="" if find_identity_codes(username) else username,
            next=next_path,
        )
    token = await core.accounts.open_session(account.id)
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=core.settings.session_days * 86400)
    return response


async def logout(request: Request) -> Response:
    await form_with_csrf(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await core_of(request).accounts.close_session(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def set_language(request: Request) -> Response:
    form = await form_with_csrf(request)
    language = str(form.get("language", ""))
    response = RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    if language in LANGUAGES:
        viewer = await viewer_of(request)
        if viewer is not None:
            await core_of(request).accounts.set_language(viewer.account_id, language)
        set_cookie(response, request, LANGUAGE_COOKIE, language, max_age=365 * 86400)
    return response


async def home(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    async with core_of(request).db() as db:
        me = await repo.get_person(db, viewer.person_id)
        organisations = await repo.list_organisations(db)
        areas = await repo.list_areas(db)
    return render(request, "app.html", viewer, me=me, organisations=organisations, areas=areas)


async def person_page(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    async with core_of(request).db() as db:
        person = await repo.get_person(db, int(request.path_params["person_id"]))
    if person is None:
        return render(request, "error.html", viewer, status_code=404, message="not_found")
    person = api.with_presence(request, person)
    return render(request, "person.html", viewer, person=person)


async def profile_page(request: Request, viewer: Viewer, **extra: Any) -> Response:
    core = core_of(request)
    async with core.db() as db:
        me = await repo.get_person(db, viewer.person_id)
    settings = core.presence.settings_of(viewer.person_id)
    hours = {d: [h for h in settings.phone_hours if h["day"] == d] for d in WEEKDAYS}
    return render(
        request,
        "profile.html",
        viewer,
        me=me,
        presence=core.presence.view(viewer.person_id),
        settings=settings,
        hours=hours,
        **extra,
    )


async def profile(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    return await profile_page(request, viewer, saved=request.query_params.get("saved") == "1")


async def save_profile(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    form = await form_with_csrf(request)
    core = core_of(request)
    errors: list[str] = []
    upload = form.get("photo")
    if upload is not None and not isinstance(upload, str) and upload.filename:
        problem = await api.store_photo(request, viewer.person_id, await upload.read())
        if problem:
            errors.append(problem)
    hours = []
    for day in WEEKDAYS:
        start, end = str(form.get(f"start_{day}", "")), str(form.get(f"end_{day}", ""))
        if start or end:
            hours.append({"day": day, "start": start, "end": end})
    ooo = str(form.get("out_of_office_until", ""))
    try:
        if ooo:
            date.fromisoformat(ooo)
        await core.presence.update(
            viewer.person_id,
            {
                "note": str(form.get("note", "")),
                "out_of_office_until": ooo or None,
                "out_of_office_note": str(form.get("out_of_office_note", "")),
                "phone_hours": hours,
            },
        )
    except PresenceError as e:
        errors.append(e.reason)
    except ValueError:
        errors.append("out_of_office_until must be a date")
    try:
        changes = api.clean_profile(
            {
                "ask_me_about": str(form.get("ask_me_about", "")),
                "tags": [t for t in str(form.get("tags", "")).split(",") if t.strip()],
                "work_phone": str(form.get("work_phone", "")),
            },
            core.settings.secret_key,
        )
    except Refused as e:
        errors.append(e.reason)
    else:
        async with core.db.begin() as db:
            await repo.update_person_profile(db, viewer.person_id, **changes)
    if errors:
        return await profile_page(request, viewer, errors=errors)
    return RedirectResponse("/me?saved=1", status_code=303)


async def log_page(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    return render(
        request,
        "log.html",
        viewer,
        rings=[
            {"id": r["id"], "name": r["name"]}
            for r in core_of(request).rings.rings_for(viewer.person_id)
        ],
        outcomes=ring_service.OUTCOMES,
        topics=ring_service.TOPICS,
        legal_bases=ring_service.LEGAL_BASES,
    )


async def load_page(request: Request) -> Response:
    """The load view (docs/load.md): its figures come over the WebSocket and the JSON API."""
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    async with core_of(request).db() as db:
        me = await repo.get_person(db, viewer.person_id)
    is_supervisor = me is not None and "supervisor" in me["roles"]
    return render(
        request,
        "load.html",
        viewer,
        is_supervisor=is_supervisor,
        is_admin=viewer.is_admin,
        # Only supervisors and admins may see rings' figures: others get no ring list.
        sees_rings=is_supervisor or viewer.is_admin,
    )


async def admin_page(request: Request, viewer: Viewer, **extra: Any) -> Response:
    async with core_of(request).db() as db:
        accounts = await repo.list_accounts(db)
        people = await repo.search_people(db, limit=100000)
    with_account = {a["person_id"] for a in accounts}
    return render(
        request,
        "admin.html",
        viewer,
        accounts=accounts,
        people_without_account=[p for p in people if p["id"] not in with_account],
        **extra,
    )


async def admin(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    if not viewer.is_admin:
        return render(request, "error.html", viewer, status_code=403, message="admins_only")
    return await admin_page(request, viewer)


async def admin_action(request: Request) -> Response:
    viewer = await viewer_of(request)
    if viewer is None:
        return to_login(request)
    if not viewer.is_admin:
        return render(request, "error.html", viewer, status_code=403, message="admins_only")
    form = await form_with_csrf(request)
    action = str(form.get("action", ""))
    accounts = core_of(request).accounts
    try:
        if action == "create":
            await accounts.create_account(
                str(form.get("username", "")),
                str(form.get("password", "")),
                int(str(form.get("person_id", "0")) or 0),
                form.get("is_admin") == "on",
            )
            return await admin_page(request, viewer, notice="account_created")
        if action in ("disable", "enable"):
            await accounts.set_disabled(int(str(form.get("account_id", "0"))), action == "disable")
            return await admin_page(request, viewer, notice=f"account_{action}d")
        if action == "import":
            upload = form.get("file")
            if upload is None or isinstance(upload, str) or not upload.filename:
                return await admin_page(request, viewer, import_error="no_file")
            report = await api.run_import(
                request, form.get("dry_run") == "on", upload.filename, await upload.read()
            )
            return await admin_page(request, viewer, report=report)
    except AccountError as e:
        return await admin_page(request, viewer, account_error=e.reason)
    except ValueError:
        return await admin_page(request, viewer, account_error="bad input")
    return await admin_page(request, viewer)


routes = [
    Route("/", home),
    Route("/login", login_page),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language", set_language, methods=["POST"]),
    Route("/me", profile),
    Route("/me", save_profile, methods=["POST"]),
    Route("/people/{person_id:id}", person_page),
    Route("/log", log_page),
    Route("/load", load_page),
    Route("/admin", admin),
    Route("/admin", admin_action, methods=["POST"]),
]
