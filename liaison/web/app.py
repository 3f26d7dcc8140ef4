"""The ASGI application, composed where it can be read: routes, middleware, lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import unquote_to_bytes

import msgspec
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain.errors import Refused
from liaison.domain.text import storable
from liaison.domain.vocabulary import ErrorCode
from liaison.logs import guard_logs, quiet_bursts
from liaison.protocol.answers import ErrorBody
from liaison.services.core import Core
from liaison.services.errors import UNAVAILABLE
from liaison.web import api, health, i18n, pages
from liaison.web.auth import SessionBackend
from liaison.web.openapi import openapi
from liaison.web.templating import STATIC_DIR, render
from liaison.web.ws import websocket_endpoint

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    """Self-hosted means nothing loads from elsewhere; the headers say so to the browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TextGuard:
    """A path or query that decodes to a NUL, a lone surrogate or invalid UTF-8 can be
    neither looked up nor logged safely: refused before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _clean(scope):
            body = _BAD_ADDRESS
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


_BAD_ADDRESS = msgspec.json.encode(
    ErrorBody(error=ErrorCode.BAD_TEXT, reason="the address must be valid text without NUL")
)


def _clean(scope: Scope) -> bool:
    try:
        query = unquote_to_bytes(scope.get("query_string", b"")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return storable(query) and storable(scope.get("path", ""))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or request.url.path.endswith("/photo"):
        code = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "bad_method"}
        return api.error(exc.status_code, code.get(exc.status_code, "bad_request"), exc.detail)
    return render(request, "error.html", None, status_code=exc.status_code, message=exc.detail)


async def unavailable(request: Request, exc: Exception) -> Response:
    """The database did not answer: a clear 503, one log line, no traceback."""
    return unavailable_response(request, type(exc).__name__)


def unavailable_response(conn: HTTPConnection, cause: str) -> Response:
    log.warning("database unavailable for %s %s: %s", conn.scope["method"], conn.url.path,
                cause)  # fmt: skip
    reason = "the service cannot reach its database; try again"
    if conn.url.path.startswith("/api/") or conn.url.path.endswith("/photo"):
        return api.error(503, "unavailable", reason)
    return render(Request(conn.scope), "error.html", None, status_code=503, message=reason)


def authentication_failed(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The session lookup met a database that did not answer (auth.DatabaseUnavailable),
    the backend's only error. A WebSocket handshake is refused (Starlette closes it)."""
    if conn.scope["type"] == "websocket":
        log.warning("database unavailable for a WebSocket handshake: %s", exc)
        return Response(status_code=503)
    return unavailable_response(conn, str(exc))


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    settings.secret_key()  # the server refuses to start without its pseudonym key
    guard_logs()
    core = Core(settings, clock)
    i18n.ensure_loaded()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_bursts()
        await core.start()
        try:
            yield
        finally:
            await core.stop()

    routes = [
        *pages.routes,
        *api.routes,
        *health.routes,
        Route("/api/openapi.json", openapi),
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: http_error,
            Refused: api.refusal,
            **dict.fromkeys(UNAVAILABLE, unavailable),
        },
        # Outermost first. Who is asking is settled once, after the address is known to
        # be clean text; routes declare what they need (liaison/web/auth.py).
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(TextGuard),
            Middleware(
                AuthenticationMiddleware,
                backend=SessionBackend(core),
                on_error=authentication_failed,
            ),
        ],
    )
    app.state.core = core
    return app
