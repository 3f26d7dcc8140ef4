"""Who is asking, settled once per request or socket, and what each route needs of them.

`SessionBackend` is Starlette's authentication backend over the session cookie: the
`AuthenticationMiddleware` (liaison/web/app.py) asks it once per HTTP request and once
per WebSocket handshake, and puts the `Viewer` in `scope["user"]` with the scopes
"member" (every signed-in account) and "admin". Routes then declare what they need with
`requires` (HTTP) or `requires_socket` (the WebSocket) and receive the viewer as an
argument; no handler looks up a session itself.

What a route gets when its need is not met is the same as before this was a middleware
(tests/test_routes.py walks every route as every role):
- JSON routes: 401 `not_authenticated` without a session; an unsafe method (POST, PUT,
  PATCH, DELETE) also needs the CSRF token (403); a member on an admin route gets 403.
- Pages: a redirect to /login?next=<path> without a session; the error page (403) for a
  member on an admin page.
- The WebSocket: accepted and then closed, 4003 for a foreign Origin (checked first: a
  browser sends cookies with a cross-site handshake), 4001 without a session.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.websockets import WebSocket

from liaison.protocol.reference import CloseCode
from liaison.services.accounts import token_hash
from liaison.services.core import Core
from liaison.services.errors import UNAVAILABLE
from liaison.web.security import SESSION_COOKIE, Viewer, check_csrf, origin_allowed, viewer_of
from liaison.web.templating import render

log = logging.getLogger(__name__)

Need = Literal["member", "admin"]
HttpEndpoint = Callable[[Request], Awaitable[Response]]
SocketEndpoint = Callable[[WebSocket], Awaitable[None]]

# Close codes a browser can read (a refused handshake's status it cannot).
CLOSE_BAD_ORIGIN = CloseCode.BAD_ORIGIN
CLOSE_NOT_AUTHENTICATED = CloseCode.NOT_AUTHENTICATED
# Paths that never need to know who asks: no session lookup for them.
ANONYMOUS_PREFIXES = ("/static/",)
SAFE_METHODS = ("GET", "HEAD")


class DatabaseUnavailable(AuthenticationError):
    """The session could not be looked up: the database did not answer."""


class SessionBackend(AuthenticationBackend):
    def __init__(self, core: Core) -> None:
        self.core = core

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = conn.cookies.get(SESSION_COOKIE)
        if token is None or conn.url.path.startswith(ANONYMOUS_PREFIXES):
            return None
        try:
            account = await self.core.accounts.account_for_token(token)
        except UNAVAILABLE as e:
            raise DatabaseUnavailable(type(e).__name__) from e
        if account is None:
            return None
        viewer = Viewer(
            account_id=account.id,
            person_id=account.person_id,
            username=account.username,
            is_admin=account.is_admin,
            language=account.language,
            session=token_hash(token),
        )
        return AuthCredentials(["member", "admin"] if viewer.is_admin else ["member"]), viewer


def requires(
    need: Need, *, page: bool = False
) -> Callable[[Callable[[Request, Viewer], Awaitable[Response]]], HttpEndpoint]:
    """An HTTP route that needs a signed-in member (or an administrator): the handler is
    called with the viewer. `page=True` for server-rendered pages, which send an
    anonymous visitor to the login form instead of answering 401."""

    def decorator(handler: Callable[[Request, Viewer], Awaitable[Response]]) -> HttpEndpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            viewer = viewer_of(request)
            if page:
                if viewer is None:
                    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
                if need not in request.auth.scopes:
                    return forbidden_page(request, viewer)
                return await handler(request, viewer)
            if viewer is None:
                raise HTTPException(401, "log in first")
            if request.method not in SAFE_METHODS:
                check_csrf(request, None)
            if need not in request.auth.scopes:
                raise HTTPException(403, "administrators only")
            return await handler(request, viewer)

        return endpoint

    return decorator


def requires_socket(
    need: Need,
) -> Callable[[Callable[[WebSocket, Viewer], Awaitable[None]]], SocketEndpoint]:
    """The WebSocket's need: the handshake is accepted, then a foreign Origin or a missing
    session (or role) closes it with a code the browser can read."""

    def decorator(handler: Callable[[WebSocket, Viewer], Awaitable[None]]) -> SocketEndpoint:
        @functools.wraps(handler)
        async def endpoint(ws: WebSocket) -> None:
            await ws.accept()
            if not origin_allowed(ws):
                await ws.close(code=CLOSE_BAD_ORIGIN, reason="origin not allowed")
                return
            viewer = viewer_of(ws)
            if viewer is None or need not in ws.auth.scopes:
                await ws.close(code=CLOSE_NOT_AUTHENTICATED, reason="not logged in")
                return
            await handler(ws, viewer)

        return endpoint

    return decorator


def forbidden_page(request: Request, viewer: Viewer) -> Response:
    return render(request, "error.html", viewer, status_code=403, message="admins_only")
