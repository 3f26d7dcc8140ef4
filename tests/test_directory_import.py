"""Directory import: file formats, validation, all-or-nothing writes, and the demo seed."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.demo import DEMO_PASSWORD, demo_directory_csv, seed_demo
from liaison.domain.directory import ImportFileError, read_table, validate_rows
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.store.models import Account, Conversation, Message, Organisation, Person, Unit
from tests.conftest import TEST_SETTINGS, Databases, now_to_the_second

FIXTURES = Path(__file__).parent / "fixtures"

HEADER = "email;first_name;last_name;title;organisation;organisation_kind;unit;unit_kind;area;roles;benefits;languages;work_phone;ask_me_about;tags"
GOOD_ROWS = [
    "sanna.korhonen@kela.example;Sanna;Korhonen;ratkaisuasiantuntija;Kela;kela;"
    "Turvatiimi Itä: perustoimeentulotuki;benefit_team;;decision_expert;"
    "perustoimeentulotuki;fi, en;+358 20 634 9001;Vuokravakuudet;vuokravakuus, välitystili",
    "eeva.ruotsalainen@hyvinvointialue.example;Eeva;Ruotsalainen;sosiaalityöntekijä;"
    "Järvi-Suomen hyvinvointialue;social_services;Kuusilahti;municipality;Järvi-Suomi;"
    "sosiaalityöntekijä;basic_social_assistance;fi;;Täydentävä toimeentulotuki;",
    "aino.lehtonen@kela.example;Aino;Lehtonen;palveluasiantuntija;Kela;;"
    "Asiakaspalvelu Itä;customer_service;;palveluasiantuntija;;fi;;;",
]


def semicolon_csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


@pytest.fixture
async def core(databases: Databases) -> AsyncIterator[Core]:
    url = await databases.copy(bare=True)
    core = Core(Settings(**TEST_SETTINGS, database_url=url), ManualClock(now_to_the_second()))
    await core.start()
    try:
        yield core
    finally:
        await core.stop()
        await databases.drop(url)


async def count(core: Core, model: type[object]) -> int:
    async with core.db() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def person(core: Core, email: str) -> Person:
    async with core.db() as db:
        found = await db.scalar(select(Person).where(Person.email == email))
    assert found is not None
    return found


# ---------------------------------------------------------------- formats


async def test_semicolon_csv_creates_organisations_units_and_people(core: Core) -> None:
    report = await import_directory(core.db, "lista.csv", semicolon_csv(*GOOD_ROWS), False)
    assert report.errors == []
    assert report.applied and not report.dry_run
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert sorted(report.organisations_created) == ["Järvi-Suomen hyvinvointialue", "Kela"]
    assert len(report.units_created) == 3
    sanna = await person(core, "sanna.korhonen@kela.example")
    assert sanna.roles == ["decision_expert"]
    assert sanna.benefits == ["basic_social_assistance"]
    assert sanna.languages == ["fi", "en"]
    assert sanna.tags == ["vuokravakuus", "välitystili"]
    assert sanna.work_phone == "+358 20 634 9001"
    assert "korhonen" in sanna.search_text and "vuokravakuus" in sanna.search_text
    eeva = await person(core, "eeva.ruotsalainen@hyvinvointialue.example")
    assert eeva.roles == ["social_worker"]
    assert "jarvi suomi" in eeva.search_text  # folded: case, accents and hyphens
    async with core.db() as db:
        unit = await db.scalar(select(Unit).where(Unit.name == "Kuusilahti"))
        assert unit is not None and unit.area == "Järvi-Suomi" and unit.kind == "municipality"
    assert report.created == 3


async def test_comma_csv(core: Core) -> None:
    data = (
        b"email,first_name,last_name,organisation,organisation_kind,roles,benefits\n"
        b'a.b@kela.example,Anna,Berg,Kela,kela,"decision_expert;supervisor",'
        b'"housing_allowance, unemployment_security"\n'
    )
    report = await import_directory(core.db, "list.CSV", data, False)
    assert report.errors == [] and report.created == 1
    anna = await person(core, "a.b@kela.example")
    assert anna.roles == ["decision_expert", "supervisor"]
    assert anna.benefits == ["housing_allowance", "unemployment_security"]


async def test_cp1252_csv_from_excel(core: Core) -> None:
    data = (
        "sähköposti;etunimi;sukunimi;organisaatio;organisaation tyyppi;yksikkö;yksikön tyyppi\r\n"
        "pia.hamalainen@kela.example;Päivi;Hämäläinen;Kela;kela;Itä: työttömyysturva;turvatiimi\r\n"
    ).encode("cp1252")
    report = await import_directory(core.db, "henkilöt.csv", data, False)
    assert report.errors == []
    p = await person(core, "pia.hamalainen@kela.example")
    assert (p.first_name, p.last_name) == ("Päivi", "Hämäläinen")


async def test_tab_separated_and_fixture_file(core: Core) -> None:
    data = (FIXTURES / "directory_tab.csv").read_bytes()
    rows = read_table("directory_tab.csv", data)
    assert [line for line, _ in rows] == [2, 4]  # line 3 is empty and skipped
    report = await import_directory(core.db, "directory_tab.csv", data, False)
    assert report.errors == [] and report.created == 2


async def test_xlsx_with_finnish_headers_and_numeric_phone(core: Core) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["Sähköposti", "Etunimi", "Sukunimi", "Nimike", "Organisaatio", "Organisaatiotyyppi",
         "Yksikkö", "Yksikön tyyppi", "Alue", "Rooli", "Etuudet", "Kielet", "Työpuhelin",
         "Kysy minulta", "Asiasanat"]
    )  # fmt: skip
    sheet.append(
        ["Fredrik.Sundstrom@Rannikko.Example", "Fredrik", "Sundström", "sosiaalityöntekijä",
         "Rannikon hyvinvointialue", "hyvinvointialue", "Merikylä", "kunta", "Rannikko",
         "sosiaalityöntekijä", "perustoimeentulotuki; yleinen asumistuki", "sv, fi",
         358206349001, "Ruotsinkieliset asiakkaat", "kaksikielisyys"]
    )  # fmt: skip
    sheet.append([None] * 15)  # an empty row is skipped
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = await import_directory(core.db, "hakemisto.xlsx", buffer.getvalue(), False)
    assert report.errors == [], report.errors
    fredrik = await person(core, "fredrik.sundstrom@rannikko.example")
    assert fredrik.work_phone == "358206349001"
    assert fredrik.benefits == ["basic_social_assistance", "housing_allowance"]
    assert fredrik.languages == ["sv", "fi"]
    async with core.db() as db:
        org = await db.scalar(select(Organisation).where(Organisation.name.like("Rannikon%")))
    assert org is not None and org.kind == "social_services"


async def test_finnish_aliases_for_headers_and_values() -> None:
    data = (
        "Sähköposti;Etunimi;Sukunimi;Organisaatio;Organisaation tyyppi;Roolit;Etuudet\n"
        "x@kela.example;X;Y;Kela;Kela;Etuuskäsittelijä, ESIHENKILÖ;Asumistuki, Työttömyysturva\n"
        "z@kela.example;Z;W;Kela;;pääkäyttäjä;eläkkeensaajan asumistuki\n"
    ).encode()
    rows, errors = validate_rows(read_table("a.csv", data), {})
    assert errors == []
    assert rows[0].roles == ["decision_expert", "supervisor"]
    assert rows[0].benefits == ["housing_allowance", "unemployment_security"]
    assert rows[1].roles == ["admin"]
    assert rows[1].organisation_kind == "kela"  # taken from the other row
    assert rows[1].benefits == ["pensioners_housing_allowance"]


# ---------------------------------------------------------------- all or nothing


async def test_dry_run_reports_and_changes_nothing(core: Core) -> None:
    report = await import_directory(core.db, "lista.csv", semicolon_csv(*GOOD_ROWS), True)
    assert report.dry_run and not report.applied
    assert report.errors == []
    assert report.created == 3
    assert len(report.organisations_created) == 2
    assert await count(core, Person) == 0
    assert await count(core, Organisation) == 0
    assert await count(core, Unit) == 0


async def test_bad_rows_are_all_reported_and_nothing_changes(core: Core) -> None:
    await import_directory(core.db, "lista.csv", semicolon_csv(*GOOD_ROWS), False)
    before = await count(core, Person)
    data = semicolon_csv(
        # line 2: fine on its own, but the file has errors, so it is not applied either
        "new.person@kela.example;New;Person;;Kela;;;;;;;;;;",
        # line 3: no last name, bad email
        "not-an-email;Matti;;;Kela;;;;;;;;;;",
        # line 4: unknown role and benefit, bad phone, bad language
        "m.v@kela.example;Maija;V;;Kela;;;;;wizard;lottery;suo;040-ABC;;",
        # line 5: same email as line 2
        "NEW.PERSON@kela.example;Other;Person;;Kela;;;;;;;;;;",
        # line 6: new organisation without a kind, new unit without a kind
        "o.p@x.example;Olli;P;;Uusi kunta;;Sosiaalitoimi;;;;;;;;",
        # line 7: contradicts the existing organisation's kind
        "q.r@kela.example;Q;R;;Kela;social_services;;;;;;;;;",
        # line 8: area without a unit, unknown unit kind
        "s.t@kela.example;S;T;;Kela;;;galaxy;Itä;;;;;;",
    )
    report = await import_directory(core.db, "virheet.csv", data, False)
    assert not report.applied
    by_line: dict[int, set[str | None]] = {}
    for error in report.errors:
        by_line.setdefault(error.line, set()).add(error.column)
    assert 2 not in by_line
    assert by_line[3] == {"email", "last_name"}
    assert by_line[4] == {"roles", "benefits", "work_phone", "languages"}
    assert by_line[5] == {"email"}
    assert by_line[6] == {"organisation_kind", "unit_kind"}
    assert by_line[7] == {"organisation_kind"}
    assert by_line[8] == {"area", "unit_kind"}
    reasons = " ".join(e.reason for e in report.errors)
    assert "wizard" in reasons and "lottery" in reasons and "line 2" in reasons
    assert await count(core, Person) == before
    assert await count(core, Organisation) == 2


async def test_update_by_email_case_insensitive(core: Core) -> None:
    await import_directory(core.db, "lista.csv", semicolon_csv(*GOOD_ROWS), False)
    changed = (
        GOOD_ROWS[0]
        .replace("sanna.korhonen@", "Sanna.Korhonen@")
        .replace("ratkaisuasiantuntija;", "johtava ratkaisuasiantuntija;")
    )
    report = await import_directory(
        core.db, "lista.csv", semicolon_csv(changed, *GOOD_ROWS[1:]), False
    )
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert report.organisations_created == [] and report.units_created == []
    assert await count(core, Person) == 3
    sanna = await person(core, "sanna.korhonen@kela.example")
    assert sanna.title == "johtava ratkaisuasiantuntija"
    assert "johtava" in sanna.search_text


async def test_missing_columns_keep_values_and_absent_people_stay(core: Core) -> None:
    await import_directory(core.db, "lista.csv", semicolon_csv(*GOOD_ROWS), False)
    data = b"email;first_name;last_name;organisation;title\nsanna.korhonen@kela.example;Sanna;Korhonen;Kela;tiimivastaava\n"
    report = await import_directory(core.db, "osa.csv", data, False)
    assert report.errors == [] and report.updated == 1
    sanna = await person(core, "sanna.korhonen@kela.example")
    assert sanna.title == "tiimivastaava"
    assert sanna.tags == ["vuokravakuus", "välitystili"]  # no tags column: kept
    assert sanna.unit_id is not None  # no unit column: kept
    assert "turvatiimi" in sanna.search_text
    assert await count(core, Person) == 3  # people not in the file are not deleted


# ---------------------------------------------------------------- unreadable files


async def test_unknown_columns_are_reported_and_ignored(core: Core) -> None:
    data = (
        b"email;first_name;last_name;organisation;organisation_kind;shoe_size;hetu\n"
        b"x@y.example;X;Y;Kela;kela;42;-\n"
    )
    report = await import_directory(core.db, "a.csv", data, False)
    assert report.errors == [] and report.applied and report.created == 1
    assert report.ignored_columns == ["shoe_size", "hetu"]
    assert report.ignored_columns == ["shoe_size", "hetu"]
    assert "42" not in (await person(core, "x@y.example")).search_text


@pytest.mark.parametrize(
    ("filename", "data", "words"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\r\n;;;\r\n", "empty"),
        ("a.pdf", b"%PDF", "unknown file type"),
        ("a.xls", b"\xd0\xcf\x11\xe0", ".xls"),
        ("a.xlsx", b"not a zip", "cannot be read"),
        ("a.csv", b"email;first_name\nx@y.example;X\n", "last_name, organisation"),
        ("a.csv", b"email;sahkoposti;first_name\n", "twice"),
        ("a.csv", b"x" * (10 * 1024 * 1024 + 1), "MB"),
    ],
)
async def test_unreadable_files(core: Core, filename: str, data: bytes, words: str) -> None:
    report = await import_directory(core.db, filename, data, False)
    assert not report.applied and report.rows == 0
    assert [e.line for e in report.errors] == [0]
    assert words in report.errors[0].reason
    with pytest.raises(ImportFileError):
        read_table(filename, data)


def test_too_many_rows() -> None:
    data = b"email;first_name;last_name;organisation\n" + b"a@b.example;A;B;Kela\n" * 20001
    with pytest.raises(ImportFileError, match="20000"):
        read_table("big.csv", data)


def test_line_numbers_count_blank_lines_and_leading_blank_lines() -> None:
    data = b"\n\nemail;first_name;last_name;organisation\n\nbad;A;B;Kela\n"
    rows = read_table("a.csv", data)
    assert [line for line, _ in rows] == [5]
    _, errors = validate_rows(rows, {"Kela": "kela"})
    assert [(e.line, e.column) for e in errors] == [(5, "email")]


# ---------------------------------------------------------------- demo


async def test_demo_directory_imports_cleanly(core: Core) -> None:
    report = await import_directory(core.db, "demo.csv", demo_directory_csv(), False)
    assert report.errors == []
    assert report.applied
    assert 55 <= report.created <= 65
    assert len(report.organisations_created) == 4
    assert b"hetu" not in demo_directory_csv().lower()
    async with core.db() as db:
        people = (await db.scalars(select(Person))).all()
    emails = [p.email for p in people]
    assert all(e.endswith(".example") for e in emails)
    roles = {r for p in people for r in p.roles}
    assert {"service_specialist", "decision_expert", "municipal_liaison", "social_worker"} <= roles
    assert {"supervisor", "admin"} <= roles
    # A dry run of the same file now finds everyone unchanged.
    again = await import_directory(core.db, "demo.csv", demo_directory_csv(), True)
    assert again.unchanged == report.created and again.created == again.updated == 0


@pytest.mark.long
async def test_seed_demo_is_idempotent_and_accounts_work(core: Core) -> None:
    logins = await seed_demo(core)
    assert 5 <= len(logins) <= 8
    people = await count(core, Person)
    accounts = await count(core, Account)
    assert people == accounts and 55 <= people <= 65
    assert await count(core, Conversation) >= 2
    assert await count(core, Message) >= 4

    assert await seed_demo(core) == logins
    assert await count(core, Person) == people
    assert await count(core, Account) == accounts

    for login in logins:
        account = await core.accounts.verify_password(login.username, DEMO_PASSWORD)
        assert account is not None, login.username
        assert account.is_admin == (login.username == "heidi.salonen")
    assert await core.accounts.verify_password("minna.jaaskelainen", "wrong-password") is None
