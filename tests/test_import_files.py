"""Import of the files people have (issue 11, item 3) and capped uploads (item 10).

XLSX files are built here with openpyxl and, where a test needs what Excel or other
programs write and openpyxl does not (a false dimension claim), edited in the zip.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import zipfile
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from alembic import command
from openpyxl.workbook.workbook import Workbook
from sqlalchemy import create_engine, text

from liaison.domain import directory
from liaison.domain.directory import match_key, read_sheet
from liaison.services import import_reader
from liaison.services.import_reader import ReadLimits, read_in_child
from liaison.store.db import alembic_config
from tests.conftest import SAFETY_SECONDS, Client, Server
from tests.test_rings import config as rings_config
from tests.test_rings import with_rings

HEADER = ["email", "first_name", "last_name", "organisation", "organisation_kind"]


def person_row(n: int) -> list[str]:
    return [f"henkilo{n}@kela.example", "Henna", f"Henkilö{n}", "Kela", "kela"]


def workbook_bytes(build: Callable[[Workbook], None]) -> bytes:
    book = openpyxl.Workbook()
    build(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def simple_book(rows: int) -> bytes:
    def build(book: Workbook) -> None:
        sheet = book.active
        assert sheet is not None
        sheet.append(HEADER)
        for n in range(rows):
            sheet.append(person_row(n))

    return workbook_bytes(build)


def claim_dimension(data: bytes, ref: str = "A1:XFD1048576") -> bytes:
    """The workbook with every sheet claiming ``ref`` as its size, as some programs write."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                body, count = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), body
                )
                assert count == 1
            target.writestr(item, body)
    return out.getvalue()


async def upload(admin: Client, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = await admin.api(
        "POST",
        "/api/admin/import",
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
    )
    assert response.status_code in (200, 422), response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------- the sheet's size claim


def test_dimension_claim_is_ignored_and_memory_stays_bounded() -> None:
    data = claim_dimension(simple_book(2000))
    assert len(data) < 100_000
    # Trusting the claim, openpyxl pads each row to 16384 cells (gigabytes); the child
    # here may use 64 MiB beyond its start, and is refused if it takes more.
    parsed = read_in_child(
        ReadLimits(SAFETY_SECONDS, 64 * 1024 * 1024), "a.xlsx", data, None, {}, {}
    )
    assert parsed.rows == 2000 and parsed.errors == []
    tiny = claim_dimension(simple_book(1))
    assert len(tiny) < 6000
    parsed = read_in_child(
        ReadLimits(SAFETY_SECONDS, 64 * 1024 * 1024), "a.xlsx", tiny, None, {}, {}
    )
    assert parsed.rows == 1 and parsed.errors == []


@pytest.mark.parametrize("where", ["opening", "reading"])
def test_running_out_of_memory_is_never_called_a_damaged_file(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever in openpyxl the memory cap is met, it stays a MemoryError, which the
    reader's parent reports as the memory budget (the user is told to save or split the
    file, not that it is damaged): under load, the opening met it first."""

    def out_of_memory(*_: Any, **__: Any) -> Any:
        raise MemoryError

    if where == "opening":
        monkeypatch.setattr(openpyxl, "load_workbook", out_of_memory)
    else:
        monkeypatch.setattr(directory, "_sheet_records", out_of_memory)
    with pytest.raises(MemoryError):
        read_sheet("a.xlsx", simple_book(1), None)


def test_overrunning_the_budget_is_a_clear_error() -> None:
    data = simple_book(3000)  # about 10 MiB as rows
    with pytest.raises(ValueError, match=r"longer than 0\.001 seconds"):
        read_in_child(ReadLimits(0.001, 0), "a.xlsx", data, None, {}, {})
    with pytest.raises(ValueError, match="more than 1 MiB of memory"):
        read_in_child(ReadLimits(SAFETY_SECONDS, 1024 * 1024), "a.xlsx", data, None, {}, {})


@pytest.mark.long
async def test_row_limit_refusal_does_not_block_other_requests(
    server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        assert sheet is not None
        sheet.append(HEADER)
        for n in range(20_001):
            sheet.append(person_row(n))

    data = workbook_bytes(build)
    reading, release = threading.Event(), threading.Event()
    original = import_reader.read_in_child

    def gated(*args: Any) -> Any:
        # The import is held in flight until the test has been answered meanwhile.
        reading.set()
        try:
            return original(*args)
        finally:
            release.wait(SAFETY_SECONDS)

    monkeypatch.setattr(import_reader, "read_in_child", gated)
    # The row limit is what is tested, not the time budget (its own test): a loaded machine
    # may take longer than the default 30 s to read 20,001 rows.
    async with server_factory(import_seconds=SAFETY_SECONDS * 10) as server:
        admin = await server.client("admin")
        aino = await server.client("aino")
        importing = asyncio.create_task(upload(admin, "iso.xlsx", data))
        assert await asyncio.to_thread(reading.wait, SAFETY_SECONDS)
        answered = await aino.api("GET", "/api/people?q=bertil")
        assert answered.status_code == 200 and len(answered.json()["people"]) == 1
        assert not importing.done()
        release.set()
        report = await importing
        assert [e["line"] for e in report["errors"]] == [0]
        assert "more than 20000 rows" in report["errors"][0]["reason"]
        assert not report["applied"]


# ---------------------------------------------------------------- sheets, titles, merges


async def test_hidden_first_sheet_is_skipped_and_a_named_sheet_is_read(server: Server) -> None:
    def build(book: Workbook) -> None:
        hidden = book.active
        assert hidden is not None
        hidden.title = "Vanha"
        hidden.append(HEADER)
        hidden.append(["vanha@kela.example", "Vanha", "Lista", "Kela", "kela"])
        hidden.sheet_state = "hidden"
        visible = book.create_sheet("Henkilöt")
        visible.append(HEADER)
        visible.append(["uusi@kela.example", "Uusi", "Lista", "Kela", "kela"])
        book.active = 1

    data = workbook_bytes(build)
    admin = await server.client("admin")
    report = await upload(admin, "lista.xlsx", data, dry_run="1")
    assert report["errors"] == []
    assert report["sheet"] == "Henkilöt" and report["hidden_sheets"] == ["Vanha"]
    assert report["created"] == 1
    named = await upload(admin, "lista.xlsx", data, sheet="vanha")
    assert named["sheet"] == "Vanha" and named["applied"]
    people = (await admin.api("GET", "/api/people?q=vanha")).json()["people"]
    assert [p["email"] for p in people] == ["vanha@kela.example"]
    missing = await upload(admin, "lista.xlsx", data, sheet="Muut")
    assert "no sheet 'Muut'" in missing["errors"][0]["reason"]
    assert "'Henkilöt'" in missing["errors"][0]["reason"]


def test_active_sheet_when_hidden_falls_back_to_first_visible() -> None:
    def build(book: Workbook) -> None:
        first = book.active
        assert first is not None
        first.title = "Ohje"
        first.append(["Täytä toinen välilehti"])
        second = book.create_sheet("Lista")
        second.append(HEADER)
        second.append(person_row(1))
        first.sheet_state = "hidden"

    # openpyxl saves the active index as is: the active sheet is the hidden one here.
    table = read_sheet("a.xlsx", workbook_bytes(build))
    assert table.sheet == "Lista" and table.hidden_sheets == ["Ohje"]
    assert len(table.rows) == 1


async def test_title_block_is_skipped_and_merged_cells_fill_down(server: Server) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        assert sheet is not None
        sheet.append(["Yhteyshenkilöt 2026"])
        sheet.merge_cells("A1:F1")
        sheet.append(["Päivitetty 1.11.2026"])
        sheet.append([])
        sheet.append(["Sähköposti", "Etunimi", "Sukunimi", "Organisaatio", "Organisaation tyyppi", "Alue", "Kengännumero"])  # fmt: skip
        sheet.append(["a.aalto@kela.example", "Anna", "Aalto", "Kela", "kela", "", "38"])
        sheet.append(["b.berg@kela.example", "Bo", "Berg", None, None, "", "44"])
        sheet.append(["c.cajander@kela.example", "Cia", "Cajander", None, None, "", ""])
        sheet.merge_cells("D5:D7")  # the organisation written once beside its people
        sheet.merge_cells("E5:E7")

    admin = await server.client("admin")
    report = await upload(admin, "yhteystiedot.xlsx", workbook_bytes(build))
    assert report["errors"] == [], report["errors"]
    assert report["header_line"] == 4 and report["skipped_lines"] == [1, 2]
    assert report["ignored_columns"] == ["Kengännumero"]
    assert report["merged_ranges"] == 3
    assert report["created"] == 3 and report["applied"]
    people = (await admin.api("GET", "/api/people?q=cajander")).json()["people"]
    assert people[0]["organisation"]["name"] == "Kela"


def test_csv_title_rows_and_line_numbers() -> None:
    data = (
        "Kelan yhteyshenkilöt;;;\n"
        ";;;\n"
        "email;first_name;last_name;organisation\n"
        "x@kela.example;X;Y;Kela\n"
    ).encode()
    table = read_sheet("a.csv", data)
    assert table.skipped_lines == [1] and table.header_line == 3
    assert [line for line, _ in table.rows] == [4]


# ---------------------------------------------------------------- Unicode case folding


async def test_area_and_search_fold_unicode_case_alike_on_every_database(
    server: Server,
) -> None:
    admin = await server.client("admin")
    csv = (
        "email;first_name;last_name;organisation;organisation_kind;unit;unit_kind;area;tags\n"
        "o.ost@hva.example;Olga;Öst;Pohjanmaan hyvinvointialue;social_services;Vaasa;"
        "municipality;Österbotten;Äitiysavustus\n"
        "s.strauss@hva.example;Sepp;Strauß;Pohjanmaan hyvinvointialue;social_services;"
        "Mustasaari;municipality;Große Straße;\n"
    ).encode()
    report = await upload(admin, "alue.csv", csv)
    assert report["applied"], report

    async def names(query: str) -> list[str]:
        found = (await admin.api("GET", f"/api/people?{query}")).json()["people"]
        return [p["last_name"] for p in found]

    for area in ("Österbotten", "ÖSTERBOTTEN", "österbotten", " Österbotten "):
        assert await names(f"area={area}") == ["Öst"], area
    assert await names("area=Osterbotten") == []  # an area filter keeps its accents
    assert await names("area=GROSSE STRASSE") == ["Strauß"]
    assert await names("area=große straße") == ["Strauß"]
    assert await names("q=ÖSTERBOTTEN") == ["Öst"]
    assert await names("q=strauss") == ["Strauß"]
    assert await names("tag=ÄITIYSAVUSTUS") == ["Öst"]
    assert match_key("ＡＢＣ Straße") == "abc strasse"  # NFKC: full-width letters too
    # A unit spelling the area in capitals joins it, in the filter and in the area list.
    again = await upload(
        admin,
        "alue2.csv",
        "email;first_name;last_name;organisation;unit;unit_kind;area\n"
        "m.mask@hva.example;Mia;Mäki;Pohjanmaan hyvinvointialue;Maalahti;municipality;"
        "ÖSTERBOTTEN\n".encode(),
    )
    assert again["applied"], again
    assert await names("area=österbotten") == ["Mäki", "Öst"]
    areas = (await admin.api("GET", "/api/organisations")).json()["areas"]
    assert [a for a in areas if match_key(a) == "österbotten"] == ["Österbotten"]


def test_migration_0005_backfills_area_keys(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
        conn.execute(text("INSERT INTO organisations (id, kind, name) VALUES (1, 'kela', 'Kela')"))
        conn.execute(
            text(
                "INSERT INTO units (id, organisation_id, kind, name, area) "
                "VALUES (1, 1, 'benefit_team', 'Vaasa', 'ÖSTERBOTTEN')"
            )
        )
        command.upgrade(alembic_config(conn), "0005")
        key = conn.execute(text("SELECT area_key FROM units WHERE id = 1")).scalar_one()
        assert key == "österbotten"
        command.downgrade(alembic_config(conn), "0004")
    engine.dispose()


# ---------------------------------------------------------------- capped uploads


async def send_chunked(
    server: Server, client: Client, path: str, field: str, chunks: int, chunk_bytes: int = 65536
) -> tuple[bytes, int]:
    """POSTs a multipart body in chunks without ever finishing it; returns the response's
    status line and how many chunks were sent before the server answered."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    boundary = "liaisontestboundary"
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Cookie: {client.cookie_header()}\r\nX-CSRF-Token: {client.csrf}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    writer.write(f"{len(preamble):x}\r\n".encode() + preamble + b"\r\n")
    status = asyncio.create_task(reader.readline())
    sent = 0
    try:
        for _ in range(chunks):
            if status.done():
                break
            try:
                writer.write(f"{chunk_bytes:x}\r\n".encode() + b"\x00" * chunk_bytes + b"\r\n")
                await writer.drain()
            except ConnectionError:
                break  # the server answered and closed: the answer is read below
            sent += 1
        # The terminating chunk is never sent: only a server that stops reading answers.
        line = await asyncio.wait_for(status, SAFETY_SECONDS)
    finally:
        writer.close()
    return line, sent


async def test_uploads_over_the_cap_are_refused_while_streaming(server_factory: Any) -> None:
    cap = 256 * 1024
    async with server_factory(max_photo_bytes=cap, max_import_bytes=cap) as server:
        admin = await server.client("admin")
        # 64 MiB offered in 64 KiB chunks: the answer comes after the cap (plus the
        # form's 64 KiB allowance), not after the body.
        for path, field in (("/api/me/photo", "photo"), ("/api/admin/import", "file")):
            line, sent = await send_chunked(server, admin, path, field, chunks=1024)
            assert line.startswith(b"HTTP/1.1 413"), line
            assert sent < 1024, sent
        # A declared length over the cap is refused before any of the body is read.
        host, port = server.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            (
                f"POST /api/me/photo HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Cookie: {admin.cookie_header()}\r\nX-CSRF-Token: {admin.csrf}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {10**9}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SAFETY_SECONDS)
        length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
        body = await asyncio.wait_for(reader.readexactly(length), SAFETY_SECONDS)
        writer.close()
        assert head.startswith(b"HTTP/1.1 413")
        assert json.loads(body) == {
            "error": "too_large",
            "reason": "the file is larger than the limit of 256 KiB",
        }
        # Under the cap all is as before.
        small = await admin.api(
            "POST", "/api/admin/import", files={"file": ("l.csv", b"x" * 1000, "text/csv")}
        )
        assert small.status_code == 422


async def test_named_contacts_match_the_area_in_any_case(server: Server) -> None:
    data = rings_config()
    data["named_contacts"][0]["area"] = "JÄRVI-SUOMI"  # the unit's area is "Järvi-Suomi"
    data["rings"][1]["area"] = "järvi-suomi"
    await with_rings(server, data)
    bertil = await (await server.client("bertil")).socket()
    cecilia = await (await server.client("cecilia")).socket()
    await cecilia.send({"type": "ask", "named": True, "question": "Yhteyshenkilölle"})
    status = (await cecilia.expect("question_status"))["question"]
    await bertil.expect("offer", question_id=status["question_id"])
