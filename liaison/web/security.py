"""Session cookies, CSRF tokens and Origin checks, shared by pages, the JSON API and WebSockets."""

from __future__ import annotations

import base64
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
from liaison.services.accounts import token_hash
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
    response: Response, conn: HTTPConnection, name: str, value: str | None, max_age: int | None
) -> None:
    """Every cookie Liaison sets, and every deletion (`value` None), goes through here with
    the same flags: none is for scripts, none is sent on cross-site subrequests, all are
    Secure over HTTPS, all cover the whole site. A deletion that differs in its flags
    (Path above all) would leave the cookie in place."""
    response.set_cookie(
        name,
        value or "",
        max_age=0 if value is None else max_age,
        expires=0 if value is None else None,
        httponly=True,
        samesite="lax",
        secure=is_secure(conn, core_of(conn).settings),
        path="/",
    )


# CSRF tokens (docs/accounts.md "Sessions"). A logged-in browser's token is derived from its
# session (an HMAC of the session token's hash with a key derived from the server's secret):
# new at every login, useless with another session, and never accepted unless the server
# could have made it. Before login (the login form) the token is a random nonce signed the
# same way, double-submitted: the cookie and the form field must agree.
_SESSION_TOKEN, _ANONYMOUS_TOKEN = "s.", "a."


def _csrf_mac(conn: HTTPConnection, purpose: str, value: str) -> str:
    key = hmac.new(core_of(conn).settings.secret_key(), b"liaison-csrf-v1", "sha256").digest()
    digest = hmac.new(key, f"{purpose}:{value}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def session_csrf_token(conn: HTTPConnection, session_token: str) -> str:
    """The CSRF token of a session (the cookie's value, as the browser sends it back)."""
    return _SESSION_TOKEN + _csrf_mac(conn, "session", token_hash(session_token))


def anonymous_csrf_token(conn: HTTPConnection) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{_ANONYMOUS_TOKEN}{nonce}.{_csrf_mac(conn, 'anonymous', nonce)}"


def _valid_anonymous(conn: HTTPConnection, token: str) -> bool:
    if not token.startswith(_ANONYMOUS_TOKEN) or len(token) > 100:
        return False
    nonce, _, mac = token[len(_ANONYMOUS_TOKEN) :].partition(".")
    return bool(nonce) and _same(mac, _csrf_mac(conn, "anonymous", nonce))


def _same(a: str, b: str) -> bool:
    """Constant-time equality of any two texts (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def _session_cookie(conn: HTTPConnection) -> str | None:
    token = conn.cookies.get(SESSION_COOKIE)
    return token if token and len(token) <= 200 else None


def csrf_token(conn: HTTPConnection) -> str:
    """The token for this request's pages and forms; the response must set its cookie when
    the browser does not hold it yet (`attach_csrf_cookie`)."""
    state = conn.scope.setdefault("state", {})
    token: str | None = state.get("csrf")
    if token is not None:
        return token
    session = _session_cookie(conn)
    existing = conn.cookies.get(CSRF_COOKIE)
    if session is not None:
        token = session_csrf_token(conn, session)
    elif existing and _valid_anonymous(conn, existing):
        token = existing
    else:
        token = anonymous_csrf_token(conn)
    state["csrf"] = token
    if token != existing:
        state["new_csrf"] = token
    return token


def attach_csrf_cookie(response: Response, conn: HTTPConnection) -> None:
    token = conn.scope.get("state", {}).get("new_csrf")
    if token:
        set_cookie(response, conn, CSRF_COOKIE, token, max_age=None)


def client_address(conn: HTTPConnection) -> str:
    """The client's address; behind a reverse proxy listed in FORWARDED_ALLOW_IPS (by
    default the local host), the one it forwarded (docs/accounts.md)."""
    return conn.client.host if conn.client else ""


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
    """Unsafe requests need the token (form field or X-CSRF-Token) and, when sent, a good
    Origin. With a session cookie the token must be that session's; without one, the
    server's signed pre-session token, the same in the cookie and the request."""
    token = submitted or request.headers.get(CSRF_HEADER) or ""
    session = _session_cookie(request)
    if session is not None:
        good = _same(token, session_csrf_token(request, session))
    else:
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        good = bool(token) and _same(cookie, token) and _valid_anonymous(request, cookie)
    if not good:
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
