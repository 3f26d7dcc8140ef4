"""Fuzzing with a fixed budget: every frame type, every HTTP route, and schemathesis over
the OpenAPI document, against a real server. Whatever comes in, the answer is a clear
error (never a 5xx, never `internal`), the connection stays up, and the server logs no
error and no traceback.

The server runs in a thread with its own event loop, so these tests are plain
synchronous code driven by hypothesis (and schemathesis, which is built on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.sync.client import ClientConnection, connect

from liaison.cli import websocket_options
from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.web import openapi
from liaison.web.app import create_app
from tests.conftest import (
    FUZZ_SCALE,
    LOOPBACK_TLS,
    PASSWORD,
    TEST_DATABASE_URL,
    TEST_SETTINGS,
    Databases,
    loopback_listener,
    now_to_the_second,
)

pytestmark = [
    pytest.mark.database,
    # The server under test runs in a thread beside the strategies; a library there that
    # draws from the random module trips Hypothesis's check, which is about strategies.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# Examples per test: enough to find the classes of failure, few enough for every CI run.
FRAME_EXAMPLES = 300 * FUZZ_SCALE
ROUTE_EXAMPLES = 250 * FUZZ_SCALE
SCHEMA_EXAMPLES = 8 * FUZZ_SCALE

FRAME_TYPES = (
    "hello heartbeat send read typing set_presence sync watch presence_sync ring_sign_in "
    "ask cancel accept decline close_consultation invite callback_create callback_update "
    "load_subscribe load_unsubscribe"
).split()
FIELDS = (
    "ref id conversation_id body seq after_seq status note dnd_until out_of_office_until "
    "out_of_office_note phone_hours people since ring_id signed_in question client_code "
    "urgency legal_basis named question_id consultation_id outcome topic person_id "
    "owner_person_id owner_ring_id note due_minutes callback_id state active v resume"
).split()


class Errors(logging.Handler):
    """Every error the server logs while fuzzed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class ThreadedServer:
    url: str
    people: dict[str, int]
    errors: Errors
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)

    def login(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, verify=LOOPBACK_TLS)
        client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "csrf_token": client.cookies["liaison_csrf"],
            },
        )
        assert response.status_code == 303, response.text
        return client


@pytest.fixture(scope="module")
def threaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    """A server on a fresh copy of the test directory, in a thread with its own loop."""
    listener = loopback_listener()
    port = listener.getsockname()[1]
    ready = threading.Event()
    stop: dict[str, Any] = {}
    errors = Errors()

    async def serve() -> None:
        databases = Databases(f"liaison_fuzz_{port}", tmp_path_factory.mktemp("fuzz"))
        await databases.create()
        url = await databases.copy()
        try:
            settings = Settings(**TEST_SETTINGS, database_url=url, port=port)
            app = create_app(settings, ManualClock(now_to_the_second()))
            server = uvicorn.Server(
                uvicorn.Config(app, log_level="error", **websocket_options(settings))
            )
            stop["server"] = server
            task = asyncio.create_task(server.serve(sockets=[listener]))
            await app.state.core.ready.wait()
            async with app.state.core.db() as db:
                from sqlalchemy import select

                from liaison.store.models import Person

                rows = (await db.execute(select(Person.email, Person.id))).all()
            stop["people"] = {email.split("@")[0]: pid for email, pid in rows}
            ready.set()
            await task
        finally:
            await databases.drop(url)
            await databases.remove()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    for name in ("liaison", "uvicorn.error", "asyncio"):
        logging.getLogger(name).addHandler(errors)
    thread.start()
    try:
        assert ready.wait(120), "the fuzzed server did not start"
        yield ThreadedServer(f"http://127.0.0.1:{port}", stop["people"], errors)
    finally:
        stop["server"].should_exit = True
        thread.join(60)
        for name in ("liaison", "uvicorn.error", "asyncio"):
            logging.getLogger(name).removeHandler(errors)


# ------------------------------------------------------------------ frames

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has no infinity: httpx refuses it
    | st.text(max_size=30)
    | st.sampled_from(["housing", "x" * 70, "0", "-1", "2026-01-05T09:00:00+00:00"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from(FRAME_TYPES) | st.text(max_size=12)},
    optional={name: JSON_VALUES for name in FIELDS},
)
# Text the JSON encoder would not write by itself: lone surrogates, NUL, deep nesting,
# numbers past 64 bits, invalid JSON.
RAW = st.sampled_from(
    [
        '{"type":"heartbeat","ref":"\\ud800"}',
        '{"type":"send","id":"a","conversation_id":1,"body":"\\u0000"}',
        '{"type":"hello","v":1,"resume":{"\\u00b2":1}}',
        '{"type":"watch","people":[1e400]}',
        '{"type":"read","conversation_id":' + "9" * 40 + ',"seq":1}',
        "[" * 20000,
        '{"type": "heartbeat", "ref": "' + "a" * 100 + '"}',
        "not json",
        "",
        "{}",
        "[]",
        "null",
    ]
)


@pytest.fixture(scope="module")
def fuzzed_socket(threaded_server: ThreadedServer) -> Iterator[ClientConnection]:
    client = threaded_server.login("aino")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    with connect(
        threaded_server.url.replace("http", "ws") + "/ws",
        additional_headers={"Cookie": cookie},
        origin=threaded_server.url,  # type: ignore[arg-type]
    ) as ws:
        ws.send(json.dumps({"type": "hello", "v": 1}))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        yield ws


def round_trip(ws: ClientConnection, text: str, marker: int) -> list[dict[str, Any]]:
    """Sends the text, then a heartbeat; returns what came before its answer."""
    ws.send(text)
    ws.send(json.dumps({"type": "heartbeat", "ref": f"fuzz{marker}"}))
    frames = []
    while True:
        frame = json.loads(ws.recv(timeout=30))
        if frame.get("ref") == f"fuzz{marker}" and frame["type"] == "heartbeat_ack":
            return frames
        frames.append(frame)


_markers = iter(range(10**9))


@settings(
    max_examples=FRAME_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.long
@given(frame=FRAMES | RAW)
def test_no_frame_breaks_the_server(
    threaded_server: ThreadedServer, fuzzed_socket: ClientConnection, frame: Any
) -> None:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    replies = round_trip(fuzzed_socket, text, next(_markers))
    internal = [f for f in replies if f.get("code") == "internal"]
    assert not internal, (text[:200], internal)
    assert not threaded_server.errors.records, threaded_server.errors.records[-1].getMessage()


# ------------------------------------------------------------------ every route


def routes() -> list[tuple[str, str]]:
    app = create_app(Settings(**TEST_SETTINGS, database_url="sqlite+aiosqlite:///:memory:"))
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                # Logging out would end the fuzzing sessions; it takes no input anyway.
                if method != "HEAD" and route.path != "/logout":
                    found.append((method, route.path))
        elif isinstance(route, Mount | WebSocketRoute):
            continue
    return found


ROUTES = routes()
PATH_VALUES = st.integers(min_value=-5, max_value=2**64) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12
)


@settings(
    max_examples=ROUTE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    values=st.lists(PATH_VALUES, min_size=2, max_size=2),
    query=st.dictionaries(
        st.sampled_from(["q", "limit", "days", "by", "before_seq", "area"]), PATH_VALUES, max_size=3
    ),
    body=JSON_VALUES,
    who=st.sampled_from(["anonymous", "aino", "admin"]),
)
@pytest.mark.long
def test_no_request_gets_a_server_error(
    threaded_server: ThreadedServer,
    route: tuple[str, str],
    values: list[Any],
    query: dict[str, Any],
    body: Any,
    who: str,
) -> None:
    method, template = route
    path = template
    for value in values:
        start = path.find("{")
        if start < 0:
            break
        end = path.index("}", start)
        path = path[:start] + quote(str(value), safe="") + path[end + 1 :]
    client = clients(threaded_server)[who]
    headers = {"X-CSRF-Token": client.cookies.get("liaison_csrf", "")}
    response = client.request(
        method, path, params={k: str(v) for k, v in query.items()}, json=body, headers=headers
    )
    assert response.status_code < 500, (method, path, response.status_code, response.text[:200])
    assert not threaded_server.errors.records, threaded_server.errors.records[-1].getMessage()


_clients: dict[int, dict[str, httpx.Client]] = {}


def clients(server: ThreadedServer) -> dict[str, httpx.Client]:
    key = id(server)
    if key not in _clients:
        _clients[key] = {
            "anonymous": httpx.Client(base_url=server.url, timeout=30, verify=LOOPBACK_TLS),
            "aino": server.login("aino"),
            "admin": server.login("admin"),
        }
    return _clients[key]


# ------------------------------------------------------------------ schemathesis

SCHEMA = schemathesis.openapi.from_dict(openapi.DOCUMENT)
if not TEST_DATABASE_URL:
    # The coverage phase's boundary values (integers past 32 bits, NUL in text, the longest
    # strings) are what PostgreSQL refuses where SQLite takes anything: they run in the
    # PostgreSQL pass. SQLite gets the examples and the random cases; building the
    # coverage cases costs every worker that collects this module over a second.
    SCHEMA.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture(scope="module")
def admin_session(threaded_server: ThreadedServer) -> Iterator[requests.Session]:
    client = threaded_server.login("admin")
    session = requests.Session()
    for name, value in client.cookies.items():
        session.cookies.set(name, value)
    session.headers["X-CSRF-Token"] = client.cookies["liaison_csrf"]
    yield session
    session.close()


@SCHEMA.parametrize()
@settings(
    max_examples=SCHEMA_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_openapi_document_as_schemathesis_reads_it(
    case: Any, threaded_server: ThreadedServer, admin_session: requests.Session
) -> None:
    with contextlib.suppress(requests.exceptions.ChunkedEncodingError):
        case.call_and_validate(
            base_url=threaded_server.url, session=admin_session, checks=[not_a_server_error]
        )
    assert not threaded_server.errors.records, threaded_server.errors.records[-1].getMessage()
