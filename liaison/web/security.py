"""Session cookies, CSRF tokens and Origin checks, shared by pages, the JSON API and WebSockets."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.authentication import BaseUser
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from liaison.config import Settings
from liaison.domain.identity import find_identity_codes
from liaison.services.core import Core

SESSION_COOKIE = "liaison_session"
CSRF_COOKIE = "liaison_csrf"
LANGUAGE_COOKIE = "liaison_lang"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Viewer(BaseUser):
    """Who is asking: the account and the directory person behind it. Set once per
    request or socket by the authentication middleware (liaison/web/auth.py)."""

    account_id: int
    person_id: int
    username: str
    is_admin: bool
    language: str | None
    # sha256 of the session cookie: logging out closes this session's sockets only.
    session: str

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return str(self.account_id)


def core_of(conn: HTTPConnection) -> Core:
    core: Core = conn.app.state.core
    return core


def is_secure(conn: HTTPConnection, settings: Settings) -> bool:
    return settings.cookie_secure or conn.url.scheme in ("https", "wss")


def set_cookie(
    response: Response, conn: HTTPConnection, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_secure(conn, core_of(conn).settings),
        path="/",
    )


def csrf_token(conn: HTTPConnection) -> str:
    """The double-submit token: the cookie's value, or a new one the response must set."""
    existing = conn.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    token: str | None = conn.scope.setdefault("state", {}).get("new_csrf")
    if token is None:
        token = secrets.token_urlsafe(32)
        conn.scope["state"]["new_csrf"] = token
    return token


def attach_csrf_cookie(response: Response, conn: HTTPConnection) -> None:
    token = conn.scope.get("state", {}).get("new_csrf")
    if token:
        set_cookie(response, conn, CSRF_COOKIE, token, max_age=None)


def origin_allowed(conn: HTTPConnection) -> bool:
    """Same origin as the Host the client reached, or one listed in LIAISON_ALLOWED_ORIGINS."""
    origin = conn.headers.get("origin")
    if origin is None:
        return False
    settings = core_of(conn).settings
    if origin in settings.allowed_origins:
        return True
    host = conn.headers.get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.netloc == host and parts.scheme in ("http", "https")


def check_csrf(request: Request, submitted: str | None) -> None:
    """Unsafe requests need the token (form field or X-CSRF-Token) and, when sent, a good Origin."""
    cookie = request.cookies.get(CSRF_COOKIE)
    token = submitted or request.headers.get(CSRF_HEADER)
    if not cookie or not token or not hmac.compare_digest(cookie, token):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
    if request.headers.get("origin") is not None and not origin_allowed(request):
        raise HTTPException(403, "request from another origin refused")


def viewer_of(conn: HTTPConnection) -> Viewer | None:
    """The signed-in viewer the authentication middleware found, or None."""
    user = conn.scope.get("user")
    return user if isinstance(user, Viewer) else None


def safe_next(value: str | None) -> str:
    """A path to return to (after logging in, after changing the language): only a local
    path, since an open redirect would help phishing, and none holding an identity code,
    since it is echoed into the page and the redirect (docs/consultations.md)."""
    if (
        value
        and value.startswith("/")
        and not value.startswith("//")
        and not find_identity_codes(value)
    ):
        return value
    return "/"
