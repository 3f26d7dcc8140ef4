"""No personal identity code in clear anywhere.

Valid codes with every century sign, the same in every messy spelling the scanner knows
(tests/test_identity_scanner.py), and codes with a wrong or missing check character are
typed into every input a user has, over HTTP and the WebSocket. Then the database (the
SQLite file with its WAL, or every PostgreSQL table), the server's log (as records and as
uvicorn's own formatted lines), every HTTP body and header, every frame and the CSV
exports are searched for each code's digits, however spelled: 0 hits.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from liaison.domain.identity import CENTURY_SIGNS, CHECK_CHARACTERS, pseudonymise
from tests.conftest import TEST_DATABASE_URL, TEST_SECRET, Client, Server, Socket
from tests.test_chat import direct
from tests.test_identity_scanner import code_for, spellings
from tests.test_rings import signed_in, with_rings


@dataclass(frozen=True)
class Typed:
    """A code as a user typed it; ``code`` is the code (or the mistyped one) it stands for."""

    label: str
    code: str
    text: str


def typed_codes() -> list[Typed]:
    """Every century sign as issued; every messy spelling once, over the signs in turn;
    a wrong and a missing check character for every sign."""
    rng = random.Random(2024)
    signs = list(CENTURY_SIGNS)
    items = [Typed(f"{sign} as issued", code := code_for(sign, rng), code) for sign in signs]
    by_sign = {sign: dict(spellings(sign)) for sign in signs}
    names = list(dict.fromkeys(name for sign in signs for name in by_sign[sign]))
    for turn, name in enumerate(n for n in names if n != "as issued"):
        able = [sign for sign in signs if name in by_sign[sign]]
        sign = able[turn % len(able)]
        code = code_for(sign, rng)
        items.append(Typed(f"{sign} {name}", code, by_sign[sign][name](code)))
    for sign in signs:
        code = code_for(sign, rng)
        wrong = code[:-1] + next(c for c in CHECK_CHARACTERS if c != code[-1])
        items.append(Typed(f"{sign} wrong check", wrong, wrong))
        items.append(Typed(f"{sign} wrong check, lower case", wrong, wrong.lower()))
        missing = code_for(sign, rng)[:-1]
        items.append(Typed(f"{sign} missing check", missing, missing + " "))
    return items


def representative(items: list[Typed]) -> list[Typed]:
    """For inputs that take a value, not text (ids, refs, types, field names, usernames,
    paths, phones): they accept only a token, a number or a known word and refuse the
    rest by its shape, so a code of each kind (as issued, each family of messy spelling,
    wrong and missing check character) shows what every spelling would. Free-text inputs
    get every spelling."""
    chosen: dict[str, Typed] = {}
    for typed in items:
        kind = typed.label.split(" ", 1)[1].split(",")[0].split(" ")[0]
        chosen.setdefault(kind, typed)
    return list(chosen.values())


def chunks(items: list[Typed], size: int) -> Iterator[list[Typed]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sentence(group: list[Typed]) -> str:
    return "Asiakas " + " ja ".join(t.text for t in group) + " kysyy"


# ---------------------------------------------------------------- searching


BLANK_LETTERS = "\u115f\u1160\u3164\uffa0\u2800"  # letters that show as nothing
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|[ntr])")


def plain(text: str) -> str:
    """Text with every disguise removed: percent-, JSON and Python escapes decoded,
    Unicode folded (full-width and other digits to ASCII), whitespace and invisible
    characters dropped."""
    for _ in range(3):
        text = unquote(text)
    text = _ESCAPE.sub(
        lambda m: chr(int(m.group(m.lastindex or 0), 16)) if m.lastindex else " ", text
    )
    return unicodedata.normalize("NFKC", text).translate(_fold_table())


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """Every decimal digit to its ASCII digit; whitespace, invisible and combining
    characters to nothing (str.translate does it at C speed over large bodies). Built on
    first use, not at import: every test worker imports this module to collect it."""
    table: dict[int, str | None] = {}
    for point in range(0x110000):
        ch = chr(point)
        if ch.isdecimal():
            table[point] = str(unicodedata.decimal(ch))
        elif (
            ch.isspace()
            or unicodedata.category(ch) in ("Cf", "Mn", "Me", "Cc", "Zs")
            or ch in BLANK_LETTERS
        ):
            table[point] = None
    return table


@functools.cache
def pattern(code: str) -> re.Pattern[str]:
    """The code's date and individual number, with or without any one sign between."""
    return re.compile(re.escape(code[:6]) + r"[^0-9]?" + re.escape(code[7:10]), re.IGNORECASE)


def leaks_in(where: str, text: str, items: list[Typed]) -> list[str]:
    folded = plain(text)
    return [f"{t.label} ({t.code}) in {where}" for t in items if pattern(t.code).search(folded)]


# ---------------------------------------------------------------- recording what users see


class Recorder:
    """Every HTTP response (body and headers) and every frame the test's users receive."""

    def __init__(self) -> None:
        self.responses: list[str] = []
        self.sockets: list[Socket] = []

    def http(self, response: httpx.Response) -> httpx.Response:
        # What the server sent: headers (a redirect's Location) and body; not the URL the
        # test itself chose.
        self.responses.append(f"{response.status_code}\n{response.headers}\n{response.text}")
        return response

    async def call(self, client: Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http(await client.api(method, path, **kwargs))

    def frames(self) -> str:
        return "\n".join(
            json.dumps(frame, ensure_ascii=False) for sock in self.sockets for frame in sock.seen
        )


async def reply(sock: Socket, frame: dict[str, Any], kind: str) -> dict[str, Any]:
    await sock.send(frame)
    return await sock.expect(kind)


async def settled(sock: Socket) -> None:
    """Reads everything queued for this connection up to a fresh heartbeat's answer."""
    await sock.send({"type": "heartbeat", "ref": "settled"})
    await sock.expect("heartbeat_ack", ref="settled")


class FormattingErrors(logging.Handler):
    """uvicorn's access formatter on every access record, as the server's console has it;
    a record it cannot format is kept, not printed."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(
            AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', False)
        )
        self.lines = io.StringIO()
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.write(self.format(record) + "\n")
        except Exception as e:  # any failure to format is the finding
            self.failures.append(f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------- the audit


@pytest.mark.long
async def test_codes_never_stored_logged_echoed_or_sent_in_clear(
    server_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    access = FormattingErrors()
    items = typed_codes()
    assert len(items) > 130
    record = Recorder()
    async with server_factory(rate_per_second=10000.0, rate_burst=10000) as server:
        # uvicorn configures its loggers as it starts, and they do not propagate to the
        # root: listen to them directly from then on.
        for name in ("uvicorn.access", "uvicorn.error"):
            caplog.set_level(logging.INFO, logger=name)
            logging.getLogger(name).addHandler(caplog.handler)
        logging.getLogger("uvicorn.access").addHandler(access)
        try:
            await type_everywhere(server, items, record)
            stored = await database_leaks(server, items)
        finally:
            for name in ("uvicorn.access", "uvicorn.error"):
                logging.getLogger(name).removeHandler(caplog.handler)
            logging.getLogger("uvicorn.access").removeHandler(access)

    # The test's own HTTP client logs the URLs it chose; everything else is the server's.
    server_log = "\n".join(
        caplog.handler.format(r)
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "/api/people?q=" in access.lines.getvalue()  # the access log was written
    assert access.failures == []  # and every line of it could be formatted
    leaks = stored
    leaks += leaks_in("the server's log", server_log + access.lines.getvalue(), items)
    for response in record.responses:
        leaks += leaks_in("HTTP response " + response[:300], response, items)
    leaks += leaks_in("frames", record.frames(), items)
    assert leaks == [], f"{len(leaks)} leaks:\n" + "\n".join(leaks[:40])


async def type_everywhere(server: Server, items: list[Typed], record: Recorder) -> None:
    """Every input a user can type into, each given every typed code (several to a text
    where the field takes text, one at a time where it takes a value)."""
    await with_rings(server)
    bertil_socket = await signed_in(server, "bertil")
    aino, cecilia, admin = [await server.client(n) for n in ("aino", "cecilia", "admin")]
    aino_socket, cecilia_socket = await aino.socket(), await cecilia.socket()
    record.sockets += [bertil_socket, aino_socket, cecilia_socket]
    ooo_until = (date.today() + timedelta(days=30)).isoformat()

    async def settle_all() -> None:
        # Everyone reads what was pushed to them, so no connection falls behind.
        for sock in record.sockets:
            await settled(sock)

    # -- a question with a client code, accepted: the consultation and its conversation
    first = items[0]
    status = await reply(
        aino_socket,
        {"type": "ask", "ring_id": "housing", "question": "Tuloraja?", "client_code": first.text},
        "question_status",
    )
    question_id = status["question"]["question_id"]
    await bertil_socket.expect("offer", question_id=question_id)
    consultation = (
        await reply(bertil_socket, {"type": "accept", "question_id": question_id}, "accepted")
    )["consultation"]
    assert consultation["client_ref"].startswith("AR-")
    for n, group in enumerate(chunks(items, 4)):
        ack = await reply(
            bertil_socket,
            {
                "type": "send",
                "id": f"c{n}",
                "conversation_id": consultation["conversation_id"],
                "body": sentence(group),
            },
            "ack",
        )
        assert ack["redacted"] == len(group), (group, ack)

    # -- free text over the WebSocket: notes, chat, questions, callback notes
    conversation_id = await direct(aino, server.people["cecilia"])
    # Each field takes as many codes to a text as fit its limit once they are replaced.
    for group in chunks(items, 6):
        await reply(
            aino_socket,
            {
                "type": "set_presence",
                "note": sentence(group),
                "out_of_office_until": ooo_until,
                "out_of_office_note": sentence(group),
            },
            "presence_set",
        )
    for n, group in enumerate(chunks(items, 20)):
        ack = await reply(
            aino_socket,
            {
                "type": "send",
                "id": f"m{n}",
                "conversation_id": conversation_id,
                "body": sentence(group),
            },
            "ack",
        )
        assert ack["redacted"] == len(group), (group, ack)
    for group in chunks(items, 12):
        await reply(
            aino_socket,
            {"type": "ask", "ring_id": "housing", "question": sentence(group)},
            "question_status",
        )
        await reply(
            aino_socket,
            {"type": "callback_create", "owner_ring_id": "housing", "note": sentence(group)},
            "callback_created",
        )
    await settle_all()

    # -- values over the WebSocket: client codes, client ids, refs, types, field names
    for n, typed in enumerate(representative(items)):
        start = len(aino_socket.seen)
        frames: list[dict[str, Any]] = [
            {"type": "send", "id": typed.text, "conversation_id": conversation_id, "body": "x"},
            {"type": "heartbeat", "ref": typed.text, "active": "no"},
            {"type": typed.text, "ref": n},
            {"type": "set_presence", typed.text: "x"},
            {"type": "ring_sign_in", "ring_id": typed.text, "signed_in": True},
            {"type": "accept", "question_id": typed.text},
            {"type": "callback_create", "owner_ring_id": typed.text, "note": "x"},
            {"type": "send", "id": f"x{n}", "conversation_id": typed.text, "body": "x"},
        ]
        for frame in frames:
            await aino_socket.send(frame)
        await aino_socket.send(
            {
                "type": "callback_create",
                "owner_ring_id": "housing",
                "note": "Soita",
                "client_code": typed.text,
                "ref": f"cc{n}",
            }
        )
        await settle_all()
        answers = [
            f for f in aino_socket.seen[start:] if f["type"] in ("error", "callback_created")
        ]
        assert [f["type"] for f in answers[: len(frames)]] == ["error"] * len(frames), answers
        coded = answers[len(frames)]
        if "as issued" in typed.label:
            assert coded["callback"]["client_ref"].startswith("AR-"), coded

    # -- free text over HTTP: presence, profile (as the workspace sends them), group titles
    for group in chunks(items, 6):
        response = await record.call(
            cecilia,
            "PATCH",
            "/api/me/presence",
            json={"note": sentence(group), "out_of_office_until": ooo_until,
                  "out_of_office_note": sentence(group)},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        response = await record.call(
            cecilia, "PATCH", "/api/me/profile", json={"ask_me_about": sentence(group)}
        )
        assert response.status_code == 200, response.text
        # What the workspace's profile view sends (the profile is no server form any more).
        response = await record.call(
            aino,
            "PATCH",
            "/api/me/profile",
            json={"ask_me_about": sentence(group), "tags": [t.text for t in group]},
        )
        assert response.status_code == 200, response.text
        response = await record.call(
            aino,
            "PATCH",
            "/api/me/presence",
            json={"note": sentence(group), "out_of_office_until": ooo_until,
                  "out_of_office_note": sentence(group)},
        )  # fmt: skip
        assert response.status_code == 200, response.text
    # Titles hold 100 characters: three codes to a title.
    for group in chunks(items, 3):
        response = await record.call(
            cecilia, "PATCH", "/api/me/profile", json={"title": sentence(group)}
        )
        assert response.status_code == 200, response.text
        created = await record.call(
            cecilia,
            "POST",
            "/api/conversations",
            json={"title": sentence(group), "members": [server.people["aino"]]},
        )
        assert created.status_code == 201, created.text
        renamed = await record.call(
            aino,
            "PATCH",
            f"/api/conversations/{created.json()['id']}",
            json={"title": "Uusi " + sentence(group)},
        )
        assert renamed.status_code == 200, renamed.text
    await settle_all()
    for group in chunks(items, 20):
        response = await record.call(
            cecilia, "PATCH", "/api/me/profile", json={"tags": [t.text for t in group]}
        )
        assert response.status_code == 200, response.text

    # -- values over HTTP: phone, search, login, next, lookup, usernames, paths, queries
    for n, typed in enumerate(representative(items)):
        in_path = quote(typed.text, safe="")
        phone, *_, created = await asyncio.gather(
            cecilia.api("PATCH", "/api/me/profile", json={"work_phone": typed.text}),
            cecilia.api("PATCH", "/api/me/profile", json={typed.text: "x"}),
            cecilia.api("PATCH", "/api/me/presence", json={typed.text: "x"}),
            aino.http.get("/api/people", params={"q": typed.text, "tag": typed.text}),
            aino.api("POST", "/api/consultations/lookup", json={"client_code": typed.text}),
            aino.http.get(f"/api/people/{in_path}"),
            aino.http.get(f"/people/{in_path}"),
            admin.http.get(f"/api/load/rings/{in_path}/history.csv"),
            aino.http.get("/api/consultations", params={"limit": typed.text}),
            aino.http.get("/login", params={"next": "/" + typed.text}),
            aino.http.post(
                "/language",
                data={"language": "fi", "next": "/" + typed.text, "csrf_token": aino.csrf},
            ),
            admin.api(
                "POST",
                "/api/admin/accounts",
                json={"username": typed.text, "password": "long-enough-1", "person_id": 1},
            ),
        )
        for response in (phone, *_, created):
            record.http(response)
        assert phone.status_code == 400, phone.text
        assert created.status_code == 400, created.text
        if n % 10 == 9:
            await settle_all()
    for group in chunks(items, 10):
        # A failed login's page, and the next= it carries; few: each try costs a hash.
        stranger = server.http_client()
        record.http(await stranger.get("/login", params={"next": "/?" + sentence(group)}))
        failed = record.http(
            await stranger.post(
                "/login",
                data={
                    # One word, as usernames are (a code glued to the digits of
                    # another is a longer number: docs/consultations.md).
                    "username": ".".join(t.text for t in group),
                    "password": "wrong-password",
                    "next": "/" + sentence(group),
                    "csrf_token": stranger.cookies["liaison_csrf"],
                },
            )
        )
        assert failed.status_code == 401
        await stranger.aclose()
    await settle_all()

    # -- everything read back: pages, lists, histories, exports, fresh welcomes
    for client in (aino, cecilia, admin):
        for path in (
            "/",
            "/me",
            f"/people/{server.people['aino']}",
            "/api/me",
            "/api/people",
            "/api/conversations",
            "/api/consultations",
            "/api/callbacks",
            "/api/consultations/export.csv",
            "/api/load/rings/housing/history.csv",
        ):
            record.http(await client.http.get(path))
        for conversation in (await client.api("GET", "/api/conversations")).json()["conversations"]:
            record.http(await client.http.get(f"/api/conversations/{conversation['id']}/messages"))
    export = await admin.http.get("/api/consultations/export.csv")
    assert export.status_code == 200 and consultation["client_ref"] in export.text
    record.http(export)
    for client in (aino, cecilia, admin):
        record.sockets.append(await client.socket())
    for sock in record.sockets:
        await settled(sock)


async def database_leaks(server: Server, items: list[Typed]) -> list[str]:
    if TEST_DATABASE_URL:
        return await postgres_leaks(server, items)
    database = Path(server.core.settings.database_url.split("///", 1)[1])
    found: list[str] = []
    for path in database.parent.glob(database.name + "*"):  # the file, -wal and -shm
        data = path.read_bytes()
        for encoding in ("utf-8", "utf-16-le"):
            found += leaks_in(f"{path.name} ({encoding})", data.decode(encoding, "replace"), items)
    return found


async def postgres_leaks(server: Server, items: list[Typed]) -> list[str]:
    """Every column of every table in the test's schema, searched."""
    found: list[str] = []
    async with server.core.engine.connect() as conn:
        tables = (
            await conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ).all()
        assert len(tables) > 5
        for (table,) in tables:
            query = f'SELECT * FROM "{table}"'  # noqa: S608 - names from pg_tables
            rows: Any = (await conn.exec_driver_sql(query)).all()
            found += leaks_in(f"table {table}", repr(rows), items)
    return found


def test_the_search_finds_every_spelling() -> None:
    """The audit's own search must see a code however it was typed, or 0 hits would
    prove nothing."""
    items = typed_codes()
    assert len({t.label for t in items}) == len(items)
    for typed in items:
        assert leaks_in("text", f"x {typed.text} y", [typed]), typed
        assert leaks_in("url", quote(f"x {typed.text} y"), [typed]), typed
        assert leaks_in("json", ascii(typed.text), [typed]), typed


# ---------------------------------------------------------------- single inputs, closer


async def test_work_phone_must_be_a_phone_number(server: Server) -> None:
    cecilia = await server.client("cecilia")
    code = code_for("-", random.Random(5))
    for phone in ("+358 20 634 9001", "040-123 4567", "(09) 1234 5678", "+358 (0)40 123 4567", ""):
        response = await cecilia.api("PATCH", "/api/me/profile", json={"work_phone": phone})
        assert response.status_code == 200, (phone, response.text)
        assert response.json()["work_phone"] == phone
    for phone in ("12345", "040-ABC", "++358 40 123", "040--1234567", code, code[:-1] + "1", 5):
        response = await cecilia.api("PATCH", "/api/me/profile", json={"work_phone": phone})
        assert response.status_code == 400, phone
        assert response.json()["error"] == "bad_field"
        assert not isinstance(phone, str) or phone not in response.text
    # A refused change keeps the number stored before.
    me = (await cecilia.api("GET", "/api/me")).json()["person"]
    assert me["work_phone"] == ""


async def test_refusals_name_the_field_never_the_value(server: Server) -> None:
    cecilia = await server.client("cecilia")
    for path in ("/api/me/profile", "/api/me/presence"):
        response = await cecilia.api("PATCH", path, json={"Kalle Virtanen": 1})
        assert response.status_code == 400
        assert "Kalle" not in response.text and "unknown field" in response.json()["reason"]


async def test_a_failed_login_refills_the_username_unless_it_holds_a_code(server: Server) -> None:
    code = code_for("A", random.Random(6))
    for username, shown in (("aino.virtanen", True), (f"hetu{code}", False)):
        stranger = server.http_client()
        await stranger.get("/login")
        failed = await stranger.post(
            "/login",
            data={
                "username": username,
                "password": "wrong-password",
                "next": f"/people/{username}",
                "csrf_token": stranger.cookies["liaison_csrf"],
            },
        )
        assert failed.status_code == 401
        assert (f'value="{username}"' in failed.text) is shown
        assert (f'value="/people/{username}"' in failed.text) is shown
        await stranger.aclose()


async def test_a_group_title_fits_its_limit_after_the_codes_are_replaced(server: Server) -> None:
    cecilia = await server.client("cecilia")
    code = code_for("-", random.Random(7))
    members = [server.people["aino"]]
    words = "x" * (100 - 14 - 1)  # a reference is 14 characters
    created = await cecilia.api(
        "POST", "/api/conversations", json={"title": f"{words} {code}", "members": members}
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == f"{words} {pseudonymise(code, TEST_SECRET.encode())}"
    too_long = "x" * (100 - 11 - 1) + " " + code  # 100 typed, 103 stored
    refused = await cecilia.api(
        "POST", "/api/conversations", json={"title": too_long, "members": members}
    )
    assert refused.status_code == 400 and refused.json()["error"] == "bad_field"


async def test_a_directory_file_with_a_code_is_refused_without_quoting_it(server: Server) -> None:
    admin = await server.client("admin")
    code = code_for("-", random.Random(8))
    header = "email;first_name;last_name;title;organisation;work_phone;tags"
    rows = [
        f"zygmunt@kela.example;Zygmunt;Henkilö;hetu {code.lower()};Kela;;",
        f"{code}@x;Toinen;Henkilö;;Kela;{code};{code}",  # quoted by the email check too
    ]
    data = "\n".join([header, *rows]).encode()
    for name in (f"hakemisto.{code}", "hakemisto.csv"):
        response = await admin.api(
            "POST", "/api/admin/import", files={"file": (name, data, "text/csv")}
        )
        assert response.status_code in (400, 422), response.text
        assert not leaks_in("the import report", response.text, [Typed("", code, code)])
    report = response.json()
    assert {e["column"] for e in report["errors"]} >= {"title", "email", "work_phone", "tags"}
    assert not report["applied"]
    people = (await admin.api("GET", "/api/people", params={"q": "Zygmunt"})).json()["people"]
    assert people == []


async def test_sheet_and_column_names_in_the_import_report_carry_no_code(server: Server) -> None:
    """The report names the sheet read, the hidden ones, unknown columns and, when the
    typed sheet is missing, the workbook's sheets: file text and admin input alike."""
    import io

    import openpyxl

    from tests.test_import_files import HEADER, person_row

    admin = await server.client("admin")
    code = code_for("-", random.Random(9))
    book = openpyxl.Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = f"vanha {code}"
    hidden.sheet_state = "hidden"
    sheet = book.create_sheet(f"Lista {code[:6]}{code[6:]}")
    book.active = 1
    sheet.append([*HEADER, f"huom {code}"])
    sheet.append([*person_row(1), ""])
    buffer = io.BytesIO()
    book.save(buffer)
    for fields in ({"dry_run": "true"}, {"dry_run": "true", "sheet": f"taulu {code}"}):
        response = await admin.api(
            "POST",
            "/api/admin/import",
            files={"file": ("lista.xlsx", buffer.getvalue(), "application/octet-stream")},
            data=fields,
        )
        assert response.status_code in (200, 422), response.text
        assert not leaks_in("the import report", response.text, [Typed("", code, code)])
