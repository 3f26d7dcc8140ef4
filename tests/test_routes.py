"""Every route of the app, anonymous and as each role, against one table of documented answers.

The table below is the authorisation decision for each (method, path template): what an
anonymous visitor, an ordinary member (aino, a service specialist in no ring), a ring
member (bertil, a decision expert in the housing ring), a supervisor (eeva, of bertil's and
daniel's unit) and an administrator get. A route added to the app without a line here fails
`test_every_route_has_an_authorisation_decision`; so does a line whose route is gone. The
statuses come from docs/protocol.md (the HTTP API table and its rules), docs/load.md, the
OpenAPI document (liaison/web/openapi.py) and, for the server-rendered pages, which no
document lists, from liaison/web/pages.py; `test_the_documents_state_the_same_statuses`
checks the table against the two documents.

The walk sends a valid CSRF token with every unsafe request, so a refusal it sees is an
authorisation decision; the refusals without a token are checked separately.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from string import Formatter
from typing import Any

import httpx
import pytest
import websockets
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from liaison.config import Settings
from liaison.services.directory_import import import_directory
from liaison.services.ring_config import apply_ring_config, read_document
from liaison.store import repositories as repo
from liaison.store.models import LoginThrottle
from liaison.web.app import create_app
from liaison.web.openapi import PATHS as OPENAPI_PATHS
from tests.conftest import DIRECTORY_CSV, TEST_SECRET, Client, Server
from tests.test_http import PNG
from tests.test_rings import valid_code

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("anonymous", "aino", "bertil", "eeva", "admin")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# What the walk tries on every path besides the methods the path declares.
HTTP_METHODS = ("GET", *UNSAFE)
WEBSOCKET = "WS"


# ---------------------------------------------------------------- expected answers


@dataclass(frozen=True)
class See:
    """303 See Other to this local address; {path} is the requested path."""

    location: str


@dataclass(frozen=True)
class Err:
    """A JSON error {"error": code, "reason": text}; the reason checked when given."""

    status: int
    code: str
    reason: str | None = None


@dataclass(frozen=True)
class Closed:
    """The WebSocket is accepted and then closed with this code."""

    code: int


WELCOME = "welcome"  # the WebSocket handshake completes and `hello` gets its `welcome`

Expected = int | See | Err | Closed | str
TO_LOGIN = See("/login?next={path}")
NOT_LOGGED_IN = Err(401, "not_authenticated", "log in first")
ADMINS_ONLY = Err(403, "forbidden", "administrators only")
NOT_ALLOWED = Err(403, "not_allowed")
NOT_A_MEMBER = Err(403, "not_a_member")


def status_of(expected: Expected) -> int:
    if isinstance(expected, See):
        return 303
    if isinstance(expected, Err):
        return expected.status
    if isinstance(expected, Closed):
        return expected.code
    return 101 if expected == WELCOME else int(expected)


Ids = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """One route's documented answers, and a request that is valid apart from who sends it."""

    expect: tuple[Expected, Expected, Expected, Expected, Expected]  # in the order of ROLES
    # The concrete path; {names} are filled from the fixture data (see `fixture_ids`).
    path: str
    json: Callable[[Ids], Any] | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    # The call changes the group's members: each call gets a new group as {fresh}.
    fresh_group: bool = False


def everyone(anonymous: Expected, member: Expected) -> tuple[Expected, ...]:
    return (anonymous, member, member, member, member)


def logged_in(member: Expected) -> tuple[Expected, ...]:
    return everyone(NOT_LOGGED_IN, member)


def admin_only(admin: Expected) -> tuple[Expected, ...]:
    return (NOT_LOGGED_IN, ADMINS_ONLY, ADMINS_ONLY, ADMINS_ONLY, admin)


def page(member: Expected) -> tuple[Expected, ...]:
    return everyone(TO_LOGIN, member)


def entry(expect: tuple[Expected, ...], path: str, **request: Any) -> Entry:
    assert len(expect) == len(ROLES)
    return Entry((expect[0], expect[1], expect[2], expect[3], expect[4]), path, **request)


CSV_FILE = {"file": ("directory.csv", DIRECTORY_CSV.encode(), "text/csv")}

ROUTES: dict[tuple[str, str], Entry] = {
    # Pages (liaison/web/pages.py; protocol.md "Connecting" for /login and /logout).
    ("GET", "/"): entry(page(200), "/"),
    ("GET", "/login"): entry(everyone(200, See("/")), "/login"),
    # A wrong password answers the same to everyone: 401 with the form again.
    ("POST", "/login"): entry(
        everyone(401, 401), "/login", data={"username": "cecilia", "password": "wrong-password"}
    ),
    # Walked last: it ends the role's session.
    ("POST", "/logout"): entry(everyone(See("/login"), See("/login")), "/logout"),
    ("POST", "/language"): entry(
        everyone(See("/me"), See("/me")), "/language", data={"language": "fi", "next": "/me"}
    ),
    # The workspace's views: the same page for every path; the view follows the path.
    ("GET", "/me"): entry(page(200), "/me"),
    ("GET", "/people/{person_id:id}"): entry(page(200), "/people/{bertil}"),
    ("GET", "/conversations"): entry(page(200), "/conversations"),
    # A conversation of one's own; eeva is not in the group.
    ("GET", "/conversations/{conversation_id:id}"): entry(
        (TO_LOGIN, 200, 200, 404, 404), "/conversations/{group}"
    ),
    ("GET", "/rings"): entry(page(200), "/rings"),
    ("GET", "/log"): entry(page(200), "/log"),
    # The view itself is for everyone; its ring list only for supervisors and admins.
    ("GET", "/load"): entry(page(200), "/load"),
    ("GET", "/admin"): entry((TO_LOGIN, 403, 403, 403, 200), "/admin"),
    # The JSON API (protocol.md "The HTTP JSON API", the OpenAPI document).
    ("GET", "/api/me"): entry(logged_in(200), "/api/me"),
    ("PATCH", "/api/me/profile"): entry(
        logged_in(200), "/api/me/profile", json=lambda ids: {"title": "Asiantuntija"}
    ),
    ("PATCH", "/api/me/presence"): entry(
        logged_in(200), "/api/me/presence", json=lambda ids: {"note": "Puhelinaika 9-11"}
    ),
    ("POST", "/api/me/photo"): entry(
        logged_in(200), "/api/me/photo", files={"photo": ("me.png", PNG, "image/png")}
    ),
    ("PUT", "/api/me/language"): entry(
        logged_in(200), "/api/me/language", json=lambda ids: {"language": "fi"}
    ),
    ("GET", "/api/people"): entry(logged_in(200), "/api/people?q=bertil"),
    ("GET", "/api/people/{person_id:id}"): entry(logged_in(200), "/api/people/{bertil}"),
    ("GET", "/api/organisations"): entry(logged_in(200), "/api/organisations"),
    ("GET", "/people/{person_id:id}/photo"): entry(logged_in(200), "/people/{bertil}/photo"),
    ("GET", "/api/conversations"): entry(logged_in(200), "/api/conversations"),
    ("POST", "/api/conversations"): entry(
        logged_in(201), "/api/conversations", json=lambda ids: {"person_id": ids["cecilia"]}
    ),
    # The group is aino's, bertil's and daniel's; eeva is in it neither as member nor admin.
    ("PATCH", "/api/conversations/{conversation_id:id}"): entry(
        (NOT_LOGGED_IN, 200, 200, NOT_ALLOWED, 200),
        "/api/conversations/{group}",
        json=lambda ids: {"title": "Reitit"},
    ),
    # History is for members only: an administrator may change a group but not read it.
    ("GET", "/api/conversations/{conversation_id:id}/messages"): entry(
        (NOT_LOGGED_IN, 200, 200, NOT_A_MEMBER, NOT_A_MEMBER), "/api/conversations/{group}/messages"
    ),
    ("POST", "/api/conversations/{conversation_id:id}/members"): entry(
        (NOT_LOGGED_IN, 200, 200, NOT_ALLOWED, 200),
        "/api/conversations/{fresh}/members",
        json=lambda ids: {"person_id": ids["cecilia"]},
        fresh_group=True,
    ),
    ("DELETE", "/api/conversations/{conversation_id:id}/members/{person_id:id}"): entry(
        (NOT_LOGGED_IN, 204, 204, NOT_ALLOWED, 204),
        "/api/conversations/{fresh}/members/{daniel}",
        fresh_group=True,
    ),
    ("GET", "/api/rings"): entry(logged_in(200), "/api/rings"),
    ("GET", "/api/rings/missed"): entry(logged_in(200), "/api/rings/missed"),
    ("GET", "/api/consultations"): entry(logged_in(200), "/api/consultations"),
    ("GET", "/api/consultations/conversations"): entry(
        logged_in(200), "/api/consultations/conversations"
    ),
    # Any logged-in user may look up ("Any logged-in user may look up", OpenAPI).
    ("POST", "/api/consultations/lookup"): entry(
        logged_in(200), "/api/consultations/lookup", json=lambda ids: {"client_code": ids["code"]}
    ),
    ("GET", "/api/consultations/export.csv"): entry(
        logged_in(200), "/api/consultations/export.csv"
    ),
    ("GET", "/api/callbacks"): entry(logged_in(200), "/api/callbacks"),
    # docs/load.md "Who sees what": a ring's figures to admins and its units' supervisors.
    ("GET", "/api/load"): entry(logged_in(200), "/api/load"),
    ("GET", "/api/load/me"): entry(logged_in(200), "/api/load/me"),
    ("GET", "/api/load/rings/{ring_id:path}/history"): entry(
        (NOT_LOGGED_IN, NOT_ALLOWED, NOT_ALLOWED, 200, 200), "/api/load/rings/{ring}/history"
    ),
    ("GET", "/api/load/rings/{ring_id:path}/history.csv"): entry(
        (NOT_LOGGED_IN, NOT_ALLOWED, NOT_ALLOWED, 200, 200), "/api/load/rings/{ring}/history.csv"
    ),
    # "Anyone may ask": others than the member and their supervisors get no rows.
    ("GET", "/api/load/rings/{ring_id:path}/people"): entry(
        logged_in(200), "/api/load/rings/{ring}/people"
    ),
    ("GET", "/api/admin/accounts"): entry(admin_only(200), "/api/admin/accounts"),
    ("POST", "/api/admin/accounts"): entry(
        admin_only(201),
        "/api/admin/accounts",
        json=lambda ids: {
            "username": "fiona",
            "password": "fiona-password",
            "person_id": ids["fiona"],
        },
    ),
    # Re-enabling an enabled account: allowed, and it leaves daniel as he was.
    ("PATCH", "/api/admin/accounts/{account_id:id}"): entry(
        admin_only(200),
        "/api/admin/accounts/{daniel_account}",
        json=lambda ids: {"disabled": False},
    ),
    ("POST", "/api/admin/import"): entry(
        admin_only(200), "/api/admin/import", data={"dry_run": "1"}, files=CSV_FILE
    ),
    ("PUT", "/api/admin/rings"): entry(
        admin_only(200), "/api/admin/rings", json=lambda ids: {"rings": []}
    ),
    # docs/accounts.md: login locks and the audit log are for administrators.
    ("GET", "/api/admin/locks"): entry(admin_only(200), "/api/admin/locks"),
    ("DELETE", "/api/admin/locks/{lock_id:id}"): entry(admin_only(204), "/api/admin/locks/{lock}"),
    ("GET", "/api/admin/audit"): entry(admin_only(200), "/api/admin/audit?limit=5"),
    ("GET", "/api/openapi.json"): entry(everyone(200, 200), "/api/openapi.json"),
    # Probes (docs/architecture.md "Health and readiness"): no login.
    ("GET", "/health"): entry(everyone(200, 200), "/health"),
    ("GET", "/ready"): entry(everyone(200, 200), "/ready"),
    # Static files are public: the login page needs its stylesheet.
    ("GET", "/static/{path}"): entry(everyone(200, 200), "/static/css/app.css"),
    # protocol.md "Open the WebSocket": accepted, then closed 4001 without a session.
    (WEBSOCKET, "/ws"): entry(everyone(Closed(4001), WELCOME), "/ws"),
}


def is_json_path(path: str) -> bool:
    """The paths whose errors are JSON (liaison.web.app.http_error); the others are pages."""
    return path.startswith("/api/") or path.endswith("/photo")


# ---------------------------------------------------------------- the app's routes


def declared_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, Mount sub-routes included; WS for sockets."""
    for route in routes:
        if isinstance(route, Route):
            assert route.methods, f"{prefix}{route.path} accepts any method: declare them"
            for method in route.methods:
                yield method, prefix + route.path
        elif isinstance(route, WebSocketRoute):
            yield WEBSOCKET, prefix + route.path
        elif isinstance(route, Mount) and route.routes:
            yield from declared_routes(route.routes, prefix + route.path)
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            yield from (
                ("GET", f"{prefix}{route.path}/{{path}}"),
                ("HEAD", f"{prefix}{route.path}/{{path}}"),
            )
        else:
            raise AssertionError(f"a route of unknown kind {route!r}: teach this test about it")


def without_implicit_head(declared: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Starlette answers HEAD wherever GET is declared; the walk checks it against GET."""
    return {(m, p) for m, p in declared if not (m == "HEAD" and ("GET", p) in declared)}


def the_app(tmp_path: Path) -> Any:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/routes.db", pseudonym_secret=TEST_SECRET
    )
    return create_app(settings)


def test_every_route_has_an_authorisation_decision(tmp_path: Path) -> None:
    declared = set(declared_routes(the_app(tmp_path).routes))
    routes = without_implicit_head(declared)
    missing = sorted(routes - ROUTES.keys(), key=lambda r: (r[1], r[0]))
    gone = sorted(ROUTES.keys() - routes, key=lambda r: (r[1], r[0]))
    assert not missing, (
        "routes without an authorisation decision in tests/test_routes.py ROUTES: "
        + ", ".join(f"{m} {p}" for m, p in missing)
        + ". Add each with the status every role gets, as documented."
    )
    assert not gone, "ROUTES lists routes the app no longer has: " + ", ".join(
        f"{m} {p}" for m, p in gone
    )
    # Every GET answers HEAD too, and the walk checks it gives the same status.
    assert {p for m, p in declared if m == "HEAD"} == {p for m, p in declared if m == "GET"}


def test_each_walked_path_reaches_its_own_route(tmp_path: Path) -> None:
    """A walked path that an earlier route shadows would test the wrong route."""
    app = the_app(tmp_path)
    fields = (field for spec in ROUTES.values() for _, field, _, _ in Formatter().parse(spec.path))
    ids: Ids = {field: 7 for field in fields if field}
    for (method, template), spec in ROUTES.items():
        path = spec.path.format(**ids).split("?")[0]
        scope = {"type": "websocket" if method == WEBSOCKET else "http", "path": path}
        scope |= {"method": method} if method != WEBSOCKET else {}
        first = next(r for r in app.routes if r.matches(scope)[0] == Match.FULL)
        reached = first.path + ("/{path}" if isinstance(first, Mount) else "")
        assert reached == template, f"{method} {path} reaches {reached}, not {template}"


# ---------------------------------------------------------------- the documents


def openapi_path(template: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", template)


def protocol_api_table() -> dict[tuple[str, str], str]:
    """(method, path) -> auth column of the HTTP API table in docs/protocol.md."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|.*\| ([^|]+) \|$", text, re.M
    )
    return {(method, path): auth.strip() for method, path, auth in rows}


def test_the_documents_state_the_same_statuses() -> None:
    api = {k: v for k, v in ROUTES.items() if k[0] != WEBSOCKET and is_json_path(k[1])}
    documented = protocol_api_table()
    assert set(documented) == {(m, openapi_path(p)) for m, p in api}, "protocol.md's API table"
    for (method, template), spec in api.items():
        where = f"{method} {template}"
        operation = OPENAPI_PATHS[openapi_path(template)][method.lower()]
        listed = set(operation["responses"])
        for role, expected in zip(ROLES, spec.expect, strict=True):
            assert str(status_of(expected)) in listed, f"{where}: OpenAPI lacks {role}'s {expected}"
        anonymous, members = spec.expect[0], spec.expect[1:]
        unsafe = method in UNSAFE
        auth = documented[(method, openapi_path(template))]
        if anonymous == NOT_LOGGED_IN:
            admin = members[:3] == (ADMINS_ONLY,) * 3
            assert auth == ("admin" if admin else "session") + (" + CSRF" if unsafe else ""), where
            csrf: dict[str, list[str]] = {"sessionCookie": [], "csrfCookie": [], "csrfHeader": []}
            assert operation["security"] == [csrf if unsafe else {"sessionCookie": []}], where
        else:
            assert (anonymous, auth, operation["security"]) == (200, "none", []), where


# ---------------------------------------------------------------- the walk


RING_CONFIG = {
    "rings": [
        {
            "id": "housing",
            "name": "Yleinen asumistuki",
            "benefit": "housing_allowance",
            # Three members, so the figures are not suppressed; eeva supervises two of them.
            "members": ["bertil@kela.example", "daniel@kela.example", "cecilia@hva.example"],
        }
    ]
}
# A person with no account yet, for the administrator to create one.
FIONA_CSV = DIRECTORY_CSV.splitlines()[0] + (
    "\nfiona@kela.example;Fiona;Uusi;Palveluasiantuntija;Kela;kela;Asiakaspalvelu Itä;"
    "customer_service;Itä;service_specialist;;fi\n"
)


async def fixture_ids(server: Server, admin: Client) -> Ids:
    core, people = server.core, server.people
    await apply_ring_config(core.db, read_document(RING_CONFIG))
    await core.rings.reload_rings()
    report = await import_directory(core.db, "fiona.csv", FIONA_CSV.encode(), dry_run=False)
    assert not report.errors, report.errors
    await core.presence.reload_people()
    async with core.db.begin() as db:
        await repo.set_photo(db, people["bertil"], "image/png", PNG)
        fiona = next(p.id for p, _, _ in await repo.search_people(db, text="fiona"))
    async with core.db.begin() as db:
        # A username locked out of logging in, for the administrator to unlock.
        lock = LoginThrottle(
            kind="username",
            key="mallory",
            failures=10,
            last_failure_at=core.clock.now(),
            locked_until=core.clock.now() + timedelta(minutes=15),
        )
        db.add(lock)
        await db.flush()
        lock_id = lock.id
    accounts = (await admin.api("GET", "/api/admin/accounts")).json()["accounts"]
    ids: Ids = {
        **{name: people[name] for name in ("bertil", "cecilia", "daniel")},
        "group": await new_group(server),
        "daniel_account": next(a["id"] for a in accounts if a["username"] == "daniel"),
        "fiona": fiona,
        "ring": "housing",
        "code": valid_code(),
        "lock": lock_id,
    }
    return ids


async def new_group(server: Server) -> int:
    people = server.people
    summary = await server.core.chat.create_group(
        people["aino"], "Reittiryhmä", [people["bertil"], people["daniel"]]
    )
    return summary.id


async def anonymous_client(server: Server) -> Client:
    """A visitor with the CSRF cookie any page sets, and no session."""
    client = Client(server, "anonymous")
    assert (await client.http.get("/login")).status_code == 200
    return client


async def send(
    client: Client, method: str, spec: Entry, ids: Ids, csrf: bool = True
) -> httpx.Response:
    headers = {} if csrf else {"X-CSRF-Token": ""}
    return await client.api(
        method,
        spec.path.format(**ids),
        headers=headers,
        json=spec.json(ids) if spec.json else None,
        data=spec.data,
        files=spec.files,
    )


def check_answer(
    role: str, method: str, path: str, expected: Expected, got: httpx.Response
) -> None:
    where = f"{role}: {method} {path}"
    assert got.status_code == status_of(expected), f"{where}: {got.status_code} {got.text[:200]}"
    if isinstance(expected, See):
        location = expected.location.format(path=path.split("?")[0])
        assert got.headers["location"] == location, where
    if isinstance(expected, Err) and method != "HEAD":
        body = got.json()
        assert set(body) == {"error", "reason"} and body["error"] == expected.code, where
        assert expected.reason is None or body["reason"] == expected.reason, where
    elif got.status_code >= 400 and method != "HEAD":
        # Refusals of pages are HTML pages, of the JSON API JSON.
        assert got.headers["content-type"].startswith(
            "application/json" if is_json_path(path) else "text/html"
        ), where


async def check_socket(client: Client, expected: Expected, origin: str | None = None) -> None:
    if expected == WELCOME:
        sock = await client.socket()
        assert sock.welcome["me"]["username"] == client.username
        await sock.close()
        return
    assert isinstance(expected, Closed)
    async with websockets.connect(
        client.server.ws_url,
        additional_headers={"Cookie": client.cookie_header()},
        origin=websockets.Origin(origin or client.server.url),
    ) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    code = closed.value.rcvd.code if closed.value.rcvd else None
    assert code == expected.code, f"{client.username}: /ws closed with {code}"


async def walk(
    clients: dict[str, Client], server: Server, ids: Ids, method: str, spec: Entry
) -> None:
    for role, expected in zip(ROLES, spec.expect, strict=True):
        client = clients[role]
        if method == WEBSOCKET:
            await check_socket(client, expected)
            continue
        call_ids = ids | ({"fresh": await new_group(server)} if spec.fresh_group else {})
        path = spec.path.format(**call_ids)
        check_answer(role, method, path, expected, await send(client, method, spec, call_ids))
        if method == "GET":
            check_answer(role, "HEAD", path, expected, await client.http.head(path))


async def refusals_without_csrf(clients: dict[str, Client], ids: Ids) -> None:
    """Unsafe requests without the token are refused before anything else happens, even to
    an administrator; anonymous API calls are refused for the session first (protocol.md)."""
    admin, anonymous = clients["admin"], clients["anonymous"]
    # Nothing changes here, so the shared group serves where a walk call needs a fresh one.
    ids = ids | {"fresh": ids["group"]}
    for (method, _), spec in ROUTES.items():
        if method not in UNSAFE:
            continue
        path = spec.path.format(**ids)
        got = await send(admin, method, spec, ids, csrf=False)
        refused = Err(403, "forbidden", CSRF_REASON) if is_json_path(path) else 403
        check_answer("admin without CSRF token", method, path, refused, got)
        if is_json_path(path):
            got = await send(anonymous, method, spec, ids, csrf=False)
            check_answer("anonymous without CSRF token", method, path, NOT_LOGGED_IN, got)
    # The refused logout ended nothing.
    assert (await admin.api("GET", "/api/me")).status_code == 200
    # With the token but from a foreign origin (protocol.md: the same rule as the WebSocket).
    foreign = await clients["aino"].api(
        "PATCH",
        "/api/me/presence",
        json={"note": "Muualta"},
        headers={"Origin": "http://elsewhere.example"},
    )
    expected = Err(403, "forbidden", "request from another origin refused")
    check_answer("aino from elsewhere", "PATCH", "/api/me/presence", expected, foreign)
    # The socket checks the Origin before the session (4003 before 4001).
    await check_socket(anonymous, Closed(4003), origin="http://elsewhere.example")


async def undeclared_methods(client: Client, ids: Ids) -> None:
    """Every other method on a declared path is 405 (bad_method on the JSON API)."""
    templates = {(p, s.path) for (m, p), s in ROUTES.items() if m != WEBSOCKET}
    for template, concrete in sorted(templates):
        declared = {m for m, p in ROUTES if p == template}
        path = concrete.format(**ids, fresh=ids["group"])
        for method in sorted(set(HTTP_METHODS) - declared):
            got = await client.api(method, path)
            expected = Err(405, "bad_method") if is_json_path(path) else 405
            check_answer(client.username, method, path, expected, got)


CSRF_REASON = "missing or wrong CSRF token; reload the page and try again"
LOGOUT = ("POST", "/logout")


@pytest.mark.long
async def test_every_route_answers_each_role_as_documented(server: Server) -> None:
    clients = {"anonymous": await anonymous_client(server)}
    clients |= {role: await server.client(role) for role in ROLES[1:]}
    ids = await fixture_ids(server, clients["admin"])
    for (method, template), spec in ROUTES.items():
        if (method, template) != LOGOUT:
            await walk(clients, server, ids, method, spec)
    await refusals_without_csrf(clients, ids)
    await undeclared_methods(clients["aino"], ids)
    # Last, as it ends each role's session; then the same cookies are anonymous.
    await walk(clients, server, ids, "POST", ROUTES[LOGOUT])
    for role in ROLES[1:]:
        got = await clients[role].api("GET", "/api/me")
        check_answer(f"{role} logged out", "GET", "/api/me", NOT_LOGGED_IN, got)
