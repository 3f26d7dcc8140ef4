"""Accounts, CSRF, directory search, profile and photo, admin import: the HTTP side."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from tests.conftest import PASSWORD, Server

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


@pytest.fixture
def server(app_server: Server) -> Server:
    """HTTP only: these tests run the application in process, without a socket."""
    return app_server


async def test_login_sets_a_safe_session_cookie_and_logout_ends_it(server: Server) -> None:
    aino = await server.client("aino")
    me = await aino.api("GET", "/api/me")
    assert me.status_code == 200 and me.json()["username"] == "aino"
    page = await aino.http.get("/login")
    assert page.status_code == 303  # already logged in
    # The cookie flags as sent by the server.
    fresh = server.http_client()
    await fresh.get("/login")
    response = await fresh.post(
        "/login",
        data={
            "username": "aino",
            "password": PASSWORD,
            "csrf_token": fresh.cookies["liaison_csrf"],
        },
    )
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    await fresh.aclose()
    logout = await aino.http.post("/logout", data={"csrf_token": aino.csrf})
    assert logout.status_code == 303
    assert (await aino.api("GET", "/api/me")).status_code == 401


async def test_wrong_password_and_unknown_user_look_the_same(server: Server) -> None:
    for username, password in (("aino", "wrong-password"), ("nobody", PASSWORD)):
        client = server.http_client()
        await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": client.cookies["liaison_csrf"],
            },
        )
        assert response.status_code == 401
        assert "liaison_session" not in response.cookies
        await client.aclose()


async def test_forms_and_api_need_the_csrf_token(server: Server) -> None:
    client = server.http_client()
    await client.get("/login")
    response = await client.post("/login", data={"username": "aino", "password": PASSWORD})
    assert response.status_code == 403
    aino = await server.client("aino")
    response = await aino.http.patch("/api/me/presence", json={"note": "x"})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    response = await aino.api(
        "PATCH", "/api/me/presence", json={"note": "x"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert response.status_code == 403
    response = await aino.api(
        "PATCH", "/api/me/presence", json={"note": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    await client.aclose()


async def test_pages_need_a_login(server: Server) -> None:
    async with server.http_client() as client:
        for path in ("/", "/me", "/admin", f"/people/{server.people['aino']}"):
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert (await client.get("/api/people")).status_code == 401


async def test_pages_render_and_forbid_external_resources(server: Server) -> None:
    aino = await server.client("aino")
    for path in ("/", "/me", f"/people/{server.people['bertil']}"):
        response = await aino.http.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "http://" not in response.text and "https://" not in response.text
    assert (await aino.http.get("/admin")).status_code == 403


async def test_language_is_finnish_by_default_and_switchable(server: Server) -> None:
    aino = await server.client("aino")
    page = (await aino.http.get("/")).text
    assert '<html lang="fi">' in page and "Hakemisto" in page
    await aino.http.post("/language", data={"language": "sv", "csrf_token": aino.csrf, "next": "/"})
    page = (await aino.http.get("/")).text
    assert '<html lang="sv">' in page and "Katalog" in page
    # Remembered per user: a new login elsewhere gets Swedish too.
    again = await server.client("aino")
    assert '<html lang="sv">' in (await again.http.get("/")).text
    await aino.http.post("/language", data={"language": "en", "csrf_token": aino.csrf, "next": "/"})
    assert "Directory" in (await aino.http.get("/")).text


async def test_directory_search(server: Server) -> None:
    aino = await server.client("aino")

    async def names(query: str) -> list[str]:
        response = await aino.api("GET", f"/api/people?{query}")
        assert response.status_code == 200
        return sorted(p["first_name"] for p in response.json()["people"])

    assert await names("q=bert") == ["Bertil"]
    assert await names("q=ratkaisu") == ["Bertil", "Daniel"]
    assert await names("benefit=housing_allowance") == ["Bertil"]
    assert await names("area=Järvi-Suomi") == ["Cecilia"]
    assert await names("q=kuusilahti") == ["Cecilia"]
    assert await names("role=supervisor") == ["Eeva"]
    assert await names("q=%25") == []
    # Benefits and roles by their Finnish and Swedish names; accents optional.
    assert await names("q=asumistuki") == ["Bertil"]
    assert await names("q=bostadsbidrag") == ["Bertil"]
    assert await names("q=sosiaalityontekija") == ["Cecilia"]
    assert await names("q=esihenkilö") == ["Eeva"]
    assert await names("q=JÄRVI-suomen") == ["Cecilia"]
    everyone = (await aino.api("GET", "/api/people")).json()["people"]
    assert all("presence" in p for p in everyone)
    assert (await aino.api("GET", "/api/people?organisation=abc")).status_code == 400


async def test_profile_and_tags_update_and_are_searchable(server: Server) -> None:
    bertil = await server.client("bertil")
    response = await bertil.api(
        "PATCH",
        "/api/me/profile",
        json={"ask_me_about": "Asumistuen tulorajat", "tags": ["vuokravakuus"]},
    )
    assert response.status_code == 200, response.text
    aino = await server.client("aino")
    found = (await aino.api("GET", "/api/people?q=vuokravakuus")).json()["people"]
    assert [p["first_name"] for p in found] == ["Bertil"]
    assert (await bertil.api("PATCH", "/api/me/profile", json={"salary": 1})).status_code == 400
    assert (await bertil.api("PATCH", "/api/me/profile", json={"tags": "x"})).status_code == 400
    assert (await bertil.api("PATCH", "/api/me/profile", content=b"nonsense")).status_code == 400


async def test_a_profile_has_one_rule_for_the_api_and_the_import(server: Server) -> None:
    """The person's own change is held to the directory import's limits: as many tags and
    as long a text as an import may give, and one more is refused, never cut."""
    from liaison.domain import directory

    bertil = await server.client("bertil")
    most = [f"t{n}".ljust(directory.MAX_TAG_CHARS, "x") for n in range(directory.MAX_TAGS)]
    longest = "a" * directory.MAX_LENGTHS["ask_me_about"]
    response = await bertil.api(
        "PATCH", "/api/me/profile", json={"tags": most, "ask_me_about": longest}
    )
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == most and response.json()["ask_me_about"] == longest
    for over in (
        {"tags": [*most, "one more"]},
        {"tags": [most[0] + "x"]},
        {"ask_me_about": longest + "a"},
        {"title": "t" * (directory.MAX_LENGTHS["title"] + 1)},
        {"work_phone": "0" * (directory.MAX_LENGTHS["work_phone"] + 1)},
    ):
        refused = await bertil.api("PATCH", "/api/me/profile", json=over)
        assert refused.status_code == 400 and refused.json()["error"] == "bad_field", over
    kept = (await bertil.api("GET", f"/api/people/{server.people['bertil']}")).json()
    assert kept["tags"] == most and kept["ask_me_about"] == longest


async def test_photo_upload_and_fallback(server: Server) -> None:
    bertil = await server.client("bertil")
    person = (await bertil.api("GET", f"/api/people/{server.people['bertil']}")).json()
    assert person["photo_url"] is None  # the page shows initials instead
    response = await bertil.api(
        "POST", "/api/me/photo", files={"photo": ("me.png", PNG, "image/png")}
    )
    assert response.status_code == 200
    person = (await bertil.api("GET", f"/api/people/{server.people['bertil']}")).json()
    photo = await bertil.http.get(person["photo_url"])
    assert photo.content == PNG and photo.headers["content-type"] == "image/png"
    bad = await bertil.api(
        "POST", "/api/me/photo", files={"photo": ("x.png", b"<svg/>", "image/png")}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "bad_photo"


async def test_openapi_document_lists_the_endpoints(server: Server) -> None:
    async with server.http_client() as client:
        document = (await client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/people", "/api/conversations", "/api/admin/import", "/api/me/presence"):
        assert path in document["paths"], path


def xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_admin_imports_xlsx_with_dry_run_first(server: Server) -> None:
    admin = await server.client("admin")
    data = xlsx(
        [
            ["email", "first_name", "last_name", "organisation", "organisation_kind", "roles"],
            ["uusi@kela.example", "Ulla", "Uusi", "Kela", "kela", "decision_expert"],
        ]
    )
    files = {"file": ("lista.xlsx", data, "application/octet-stream")}
    dry = await admin.api("POST", "/api/admin/import", files=files, data={"dry_run": "true"})
    assert dry.status_code == 200 and dry.json()["created"] == 1 and not dry.json()["applied"]
    assert (await admin.api("GET", "/api/people?q=ulla")).json()["people"] == []
    real = await admin.api("POST", "/api/admin/import", files=files)
    assert real.json()["applied"] is True
    assert len((await admin.api("GET", "/api/people?q=ulla")).json()["people"]) == 1


async def test_an_import_with_errors_changes_nothing(server: Server) -> None:
    admin = await server.client("admin")
    csv = (
        "email;first_name;last_name;organisation;roles\n"
        "hyva@kela.example;Hyvä;Rivi;Kela;decision_expert\n"
        "huono-osoite;Huono;Rivi;Kela;decision_expert\n"
        "toinen@kela.example;Toinen;Rivi;Kela;astronaut\n"
    ).encode()
    response = await admin.api(
        "POST", "/api/admin/import", files={"file": ("l.csv", csv, "text/csv")}
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["line"] for e in errors} == {3, 4}
    assert (await admin.api("GET", "/api/people?q=hyvä")).json()["people"] == []
    aino = await server.client("aino")
    forbidden = await aino.api(
        "POST", "/api/admin/import", files={"file": ("l.csv", csv, "text/csv")}
    )
    assert forbidden.status_code == 403


async def test_admin_creates_and_reenables_accounts(server: Server) -> None:
    admin = await server.client("admin")
    imported = await admin.api(
        "POST",
        "/api/admin/import",
        files={
            "file": (
                "l.csv",
                b"email;first_name;last_name;organisation\nf@kela.example;Frida;F;Kela\n",
                "text/csv",
            )
        },
    )
    assert imported.status_code == 200, imported.text
    person_id = (await admin.api("GET", "/api/people?q=frida")).json()["people"][0]["id"]
    weak = await admin.api(
        "POST",
        "/api/admin/accounts",
        json={"username": "frida", "password": "short", "person_id": person_id},
    )
    assert weak.status_code == 400
    created = await admin.api(
        "POST",
        "/api/admin/accounts",
        json={"username": "frida", "password": "long-enough-1", "person_id": person_id},
    )
    assert created.status_code == 201
    twice = await admin.api(
        "POST",
        "/api/admin/accounts",
        json={"username": "frida", "password": "long-enough-1", "person_id": person_id},
    )
    assert twice.status_code == 409
    frida = await server.client("frida", "long-enough-1")
    assert (await frida.api("GET", "/api/me")).status_code == 200


async def test_account_creation_checks_types(server: Server) -> None:
    admin = await server.client("admin")
    person_id = server.people["aino"]
    for body in (
        {"username": "x1", "password": "long-enough-1", "person_id": [person_id]},
        {
            "username": "x2",
            "password": "long-enough-1",
            "person_id": person_id,
            "is_admin": "false",
        },
        {"username": 5, "password": "long-enough-1", "person_id": person_id},
    ):
        response = await admin.api("POST", "/api/admin/accounts", json=body)
        assert response.status_code == 400, (body, response.text)
    nobody = {"username": "x3", "password": "long-enough-1", "person_id": 999999}
    response = await admin.api("POST", "/api/admin/accounts", json=nobody)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


async def test_presence_patch_refuses_unknown_or_empty_changes(server: Server) -> None:
    bertil = await server.client("bertil")
    for body in ({}, {"colour": "red"}, {"dnd_until": "2099-01-01T00:00:00+00:00"}):
        response = await bertil.api("PATCH", "/api/me/presence", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "bad_field"


async def test_nobody_is_pushed_out_of_a_pair_but_anyone_may_leave(server: Server) -> None:
    p = server.people
    aino = await server.client("aino")
    created = (
        await aino.api(
            "POST", "/api/conversations", json={"title": "Pari", "members": [p["bertil"]]}
        )
    ).json()
    url = f"/api/conversations/{created['id']}/members"
    assert (await aino.api("DELETE", f"{url}/{p['bertil']}")).status_code == 400
    assert (await aino.api("DELETE", f"{url}/{p['aino']}")).status_code == 204


async def test_a_database_that_does_not_answer_gets_a_clear_503(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    aino = await server.client("aino")

    async def down(*args: object) -> None:
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(server.core.chat, "summaries", down)
    with caplog.at_level("WARNING"):
        response = await aino.api("GET", "/api/conversations")
    assert response.status_code == 503
    assert response.json() == {
        "error": "unavailable",
        "reason": "the service cannot reach its database; try again",
    }
    assert "Traceback" not in caplog.text and "database unavailable" in caplog.text
    page = await aino.http.get("/")
    assert page.status_code in (200, 503)  # the page itself needs no summaries


async def test_the_session_is_looked_up_once_per_request_by_the_middleware(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authentication middleware settles the viewer once; routes only declare what
    they need. Static files never cost a lookup."""
    aino = await server.client("aino")
    accounts = server.core.accounts
    real = accounts.account_for_token
    calls: list[str | None] = []

    async def counted(token: str | None) -> object:
        calls.append(token)
        return await real(token)

    monkeypatch.setattr(accounts, "account_for_token", counted)
    assert (await aino.api("GET", "/api/me")).status_code == 200
    assert len(calls) == 1
    assert (await aino.api("PATCH", "/api/me/profile", json={"tags": ["a"]})).status_code == 200
    assert len(calls) == 2
    assert (await aino.http.get("/")).status_code == 200
    assert len(calls) == 3
    assert (await aino.http.get("/static/css/app.css")).status_code == 200
    assert len(calls) == 3
    async with server.http_client() as anonymous:
        assert (await anonymous.get("/api/me")).status_code == 401
    assert len(calls) == 3  # no cookie, nothing to look up


async def test_a_session_lookup_the_database_cannot_answer_is_a_clear_503(
    server: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    aino = await server.client("aino")

    async def down(token: str | None) -> None:
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(server.core.accounts, "account_for_token", down)
    with caplog.at_level("WARNING"):
        response = await aino.api("GET", "/api/me")
        page = await aino.http.get("/")
    assert response.status_code == 503
    assert response.json() == {
        "error": "unavailable",
        "reason": "the service cannot reach its database; try again",
    }
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    assert "Traceback" not in caplog.text and "database unavailable" in caplog.text


async def test_addresses_and_bodies_the_store_cannot_hold_are_refused(server: Server) -> None:
    aino = await server.client("aino")
    for path in ("/api/people?q=a%00b", "/api/people?q=%ff%fe", "/people/1%00"):
        response = await aino.http.get(path)
        assert response.status_code == 400 and response.json()["error"] == "bad_text", path
    # Ids beyond the store's INTEGER columns (32-bit on PostgreSQL) match no route.
    for too_big in (2**31, 2**40, 2**64):
        for path in (f"/api/people/{too_big}", f"/people/{too_big}/photo"):
            assert (await aino.http.get(path)).status_code == 404, path
    assert (await aino.http.get(f"/api/people/{2**31 - 1}")).status_code == 404
    assert (await aino.http.get(f"/api/conversations/1/messages?before={2**31}")).status_code == 400
    assert (await aino.http.get("/api/consultations?limit=99999999999999999999")).status_code == 400
    for body, code in (
        ('{"note": "\\ud800"}', "bad_text"),
        ('{"note": "a\\u0000"}', "bad_text"),
        ('{"person_id": 18446744073709551616}', "bad_field"),
        ('{"person_id": 2147483648}', "bad_field"),
        ("[" * 50000, "bad_request"),
    ):
        response = await aino.api(
            "PATCH" if "note" in body else "POST",
            "/api/me/presence" if "note" in body else "/api/conversations",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, (body[:40], response.text)
        assert response.json()["error"] == code, (body[:40], response.text)
