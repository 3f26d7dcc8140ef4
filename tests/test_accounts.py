"""Accounts that resist guessing, and session hygiene (docs/accounts.md), over real HTTP.

Login throttling: waits that grow, then a timed lock, per username and per address,
state in the database, locks an administrator sees and lifts; a password check for
unknown usernames too; an audit log of logins and identity-code lookups without the code.
Sessions: the CSRF token is bound to the session and new at login; every cookie, and every
deletion, carries the same flags.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
from sqlalchemy import select

from liaison.domain.identity import pseudonymise
from liaison.store.models import AuditEvent, LoginThrottle
from tests.conftest import PASSWORD, TEST_SECRET, Client, Server, database_of
from tests.test_rings import valid_code

# Small figures, so a test reaches the lock in a few attempts.
THROTTLE: dict[str, Any] = {
    "login_free_failures": 2,
    "login_lock_after": 5,
    "login_lock_seconds": 600,
    "address_free_failures": 50,
    "address_lock_after": 100,
}


async def attempt(server: Server, username: str, password: str) -> httpx.Response:
    """One login from a new browser: the form, then the post."""
    async with server.http_client() as http:
        await http.get("/login")
        return await http.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": http.cookies["liaison_csrf"],
            },
        )


async def audit_rows(server: Server) -> list[AuditEvent]:
    async with server.core.db() as db:
        return list((await db.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


# ---------------------------------------------------------------- throttling


async def test_waits_grow_then_the_username_locks_until_the_clock_passes_it(
    server_factory: Any,
) -> None:
    async with server_factory(**THROTTLE) as srv:
        accounts = srv.core.accounts
        # Two failures cost nothing but the failure.
        for _ in range(2):
            assert (await attempt(srv, "aino", "wrong-password")).status_code == 401
        waits = []
        for _ in range(3):
            checks = accounts.verifications
            refused = await attempt(srv, "aino", PASSWORD)
            # Refused unchecked, even with the right password, and told how long to wait.
            assert refused.status_code == 429 and accounts.verifications == checks
            waits.append(int(refused.headers["retry-after"]))
            assert f"odota {waits[-1]} s" in refused.text
            srv.clock.advance(waits[-1])
            assert (await attempt(srv, "aino", "wrong-password")).status_code == 401
        assert waits == [1, 2, 4]
        # The fifth failure locked the username: the right password is refused too.
        locked = await attempt(srv, "aino", PASSWORD)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "600"
        assert "lukittu 10 minuutiksi" in locked.text
        srv.clock.advance(599)
        assert (await attempt(srv, "aino", PASSWORD)).status_code == 429
        srv.clock.advance(1)
        assert (await attempt(srv, "aino", PASSWORD)).status_code == 303


async def test_a_burst_of_guesses_is_judged_one_by_one(server_factory: Any) -> None:
    figures = THROTTLE | {"address_free_failures": 3, "address_lock_after": 6}
    async with server_factory(**figures) as srv:
        accounts = srv.core.accounts
        names = [f"guess{n}" for n in range(12)]
        answers = await asyncio.gather(*(attempt(srv, n, "wrong-password") for n in names))
        # Only the address's free failures were checked; the rest had to wait.
        assert sorted(r.status_code for r in answers) == [401] * 3 + [429] * 9
        assert accounts.verifications == 3


async def test_a_lock_survives_a_restart(server_factory: Any) -> None:
    async with server_factory(**THROTTLE) as srv:
        for _ in range(2):
            await attempt(srv, "bertil", "wrong-password")
        for wait in (1, 2, 4):
            srv.clock.advance(wait)
            await attempt(srv, "bertil", "wrong-password")
        assert (await attempt(srv, "bertil", PASSWORD)).status_code == 429
        # A second server on the same database (the first one's state is in the store).
        async with server_factory(**THROTTLE, **database_of(srv), clock=srv.clock) as again:
            assert (await attempt(again, "bertil", PASSWORD)).status_code == 429
            assert [lock.key for lock in await again.core.logins.locks()] == ["bertil"]


async def test_a_right_password_starts_the_username_afresh(server_factory: Any) -> None:
    async with server_factory(**THROTTLE) as srv:
        for _ in range(2):
            await attempt(srv, "aino", "wrong-password")
        srv.clock.advance(1)
        assert (await attempt(srv, "aino", PASSWORD)).status_code == 303
        # Counted on from before, the next attempts would wait; afresh, two are free.
        for _ in range(2):
            assert (await attempt(srv, "aino", "wrong-password")).status_code == 401
        assert (await attempt(srv, "aino", "wrong-password")).status_code == 429


async def test_one_address_guessing_many_usernames_is_throttled_and_locked(
    server_factory: Any,
) -> None:
    figures = THROTTLE | {"address_free_failures": 3, "address_lock_after": 6}
    async with server_factory(**figures) as srv:
        names = iter(["aino", "bertil", "cecilia", "nobody", "daniel", "eeva", "x", "y"])
        for _ in range(3):
            assert (await attempt(srv, next(names), "wrong-password")).status_code == 401
        # A username never tried before is refused: the address must wait.
        refused = await attempt(srv, "eeva", PASSWORD)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        for wait in (1, 2, 4):
            srv.clock.advance(wait)
            assert (await attempt(srv, next(names), "wrong-password")).status_code == 401
        locked = await attempt(srv, "eeva", PASSWORD)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "600"
        locks = await srv.core.logins.locks()
        assert [(lock.kind, lock.key) for lock in locks] == [("address", "127.0.0.1")]


async def test_an_administrator_sees_the_lock_and_lifts_it(server_factory: Any) -> None:
    async with server_factory(**THROTTLE) as srv:
        admin = await srv.client("admin")
        aino = await srv.client("aino")
        for _ in range(2):
            await attempt(srv, "Aino", "wrong-password")
        for wait in (1, 2, 4):
            srv.clock.advance(wait)
            await attempt(srv, "aino", "wrong-password")
        # Not for anyone else to see.
        assert (await aino.api("GET", "/api/admin/locks")).status_code == 403
        locks = (await admin.api("GET", "/api/admin/locks")).json()["locks"]
        assert [(lock["kind"], lock["key"], lock["failures"]) for lock in locks] == [
            ("username", "aino", 5)
        ]
        until = srv.clock.now().timestamp() + 600
        assert httpx_time(locks[0]["locked_until"]) == until
        assert (await aino.api("DELETE", f"/api/admin/locks/{locks[0]['id']}")).status_code == 403
        lifted = await admin.api("DELETE", f"/api/admin/locks/{locks[0]['id']}")
        assert lifted.status_code == 204
        assert (await admin.api("GET", "/api/admin/locks")).json()["locks"] == []
        again = await admin.api("DELETE", f"/api/admin/locks/{locks[0]['id']}")
        assert again.status_code == 404 and again.json()["error"] == "not_found"
        assert (await attempt(srv, "aino", PASSWORD)).status_code == 303
        unlocked = [e for e in await audit_rows(srv) if e.kind == "unlocked"]
        assert [(e.username, e.detail) for e in unlocked] == [("admin", "username: aino")]
        # The admin view has the lock list and the audit log.
        page = await admin.http.get("/admin")
        assert 'id="lock-list"' in page.text and 'id="audit-list"' in page.text
        await admin.close()
        await aino.close()


def httpx_time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()


async def test_an_unknown_username_costs_a_password_check_too(server: Server) -> None:
    accounts = server.core.accounts
    for username in ("aino", "nobody-at-all"):
        before = accounts.verifications
        assert (await attempt(server, username, "wrong-password")).status_code == 401
        assert accounts.verifications == before + 1, username


# ---------------------------------------------------------------- the audit log


async def test_logins_locks_and_lookups_are_audited_without_the_code(
    server_factory: Any,
) -> None:
    code = valid_code("150385", "-", "912")
    async with server_factory(**THROTTLE) as srv:
        assert (await attempt(srv, "aino", "wrong-password")).status_code == 401
        aino = await srv.client("aino")
        # A code typed as a username is kept only as its pseudonym.
        assert (await attempt(srv, code, "wrong-password")).status_code == 401
        found = await aino.api("POST", "/api/consultations/lookup", json={"client_code": code})
        assert found.status_code == 200
        assert (await aino.api("GET", "/api/people", params={"q": code})).status_code == 200
        for _ in range(2):
            await attempt(srv, "cecilia", "wrong-password")
        for wait in (1, 2, 4):
            srv.clock.advance(wait)
            await attempt(srv, "cecilia", "wrong-password")
        assert (await attempt(srv, "cecilia", PASSWORD)).status_code == 429

        ref = pseudonymise(code, TEST_SECRET.encode())
        rows = await audit_rows(srv)
        kinds = [(e.kind, e.username) for e in rows]
        assert kinds[:5] == [
            ("login_failed", "aino"),
            ("login_succeeded", "aino"),
            ("login_failed", ref),
            ("client_lookup", "aino"),
            ("people_search", "aino"),
        ]
        assert ("locked", "cecilia") in kinds and kinds[-1] == ("login_refused", "cecilia")
        assert rows[-1].detail == "locked"
        lookup = next(e for e in rows if e.kind == "client_lookup")
        assert lookup.detail == f"{ref} (0 found)" and lookup.account_id is not None
        assert all(e.address == "127.0.0.1" for e in rows if e.kind.startswith("login"))
        digits = code.replace("-", "")[:6]
        stored = [str(v) for e in rows for v in vars(e).values()]
        async with srv.core.db() as db:
            stored += [t.key for t in (await db.scalars(select(LoginThrottle))).all()]
        assert not [s for s in stored if digits in s]

        # Administrators read it, newest first, a page at a time.
        admin = await srv.client("admin")
        assert (await aino.api("GET", "/api/admin/audit")).status_code == 403
        first = (await admin.api("GET", "/api/admin/audit", params={"limit": 3})).json()
        assert [e["kind"] for e in first["events"]] == [
            "login_succeeded",
            "login_refused",
            "locked",
        ]
        assert all(digits not in str(e) for e in first["events"])
        second = (
            await admin.api("GET", "/api/admin/audit", params={"before": first["next_before"]})
        ).json()
        assert second["next_before"] is None
        assert len(first["events"]) + len(second["events"]) == len(rows) + 1
        await aino.close()
        await admin.close()


async def test_the_audit_log_is_purged_after_its_retention(server_factory: Any) -> None:
    async with server_factory(audit_retention_days=30) as srv:
        await attempt(srv, "aino", "wrong-password")
        assert len(await audit_rows(srv)) == 1
        # The server's own purger runs as the clock passes.
        srv.clock.advance(30 * 86400 - 1)
        await srv.core.settle()
        assert len(await audit_rows(srv)) == 1
        srv.clock.advance(3601)
        await srv.core.settle()
        assert await audit_rows(srv) == []
        assert srv.core.purger.last_counts is not None
        assert srv.core.purger.last_counts["audit_log"] == 1


# ---------------------------------------------------------------- CSRF and cookies


async def test_the_csrf_token_is_new_at_login_and_bound_to_the_session(server: Server) -> None:
    aino = Client(server, "aino")
    await aino.http.get("/login")
    before = aino.csrf
    assert (await aino.login()).status_code == 303
    after = aino.csrf
    assert after != before
    note = {"json": {"note": "Puhelinaika 9-11"}}
    stale = await aino.api("PATCH", "/api/me/presence", headers={"X-CSRF-Token": before}, **note)
    assert stale.status_code == 403 and stale.json()["error"] == "forbidden"
    assert (await aino.api("PATCH", "/api/me/presence", **note)).status_code == 200
    # The page carries the same token.
    assert f'content="{after}"' in (await aino.http.get("/me")).text
    # Another session's token is refused, even another session of the same person.
    bertil = await server.client("bertil")
    other = await aino.api(
        "PATCH", "/api/me/presence", headers={"X-CSRF-Token": bertil.csrf}, **note
    )
    assert other.status_code == 403
    aino_again = await server.client("aino")
    assert aino_again.csrf != after
    again = await aino.api(
        "PATCH", "/api/me/presence", headers={"X-CSRF-Token": aino_again.csrf}, **note
    )
    assert again.status_code == 403
    for client in (aino, bertil, aino_again):
        await client.close()


async def test_a_token_the_server_did_not_make_is_refused(server: Server) -> None:
    forged = secrets.token_urlsafe(30)
    # Before login: the same made-up value in the cookie and the form (the double submit
    # alone used to pass with any 20 to 100 characters).
    async with server.http_client(cookies={"liaison_csrf": forged}) as http:
        response = await http.post(
            "/login", data={"username": "aino", "password": PASSWORD, "csrf_token": forged}
        )
        assert response.status_code == 403 and "liaison_session" not in response.cookies
        # A signed-looking token with a wrong signature is no better.
        http.cookies.set("liaison_csrf", "a.abc.def")
        response = await http.post(
            "/login", data={"username": "aino", "password": PASSWORD, "csrf_token": "a.abc.def"}
        )
        assert response.status_code == 403
    # After login: a made-up token in the cookie and the header.
    aino = await server.client("aino")
    aino.http.cookies.delete("liaison_csrf")
    aino.http.cookies.set("liaison_csrf", forged)
    refused = await aino.api("PATCH", "/api/me/presence", json={"note": "x"})
    assert refused.status_code == 403
    # Non-ASCII in the header is a refusal too, not a server error.
    refused = await aino.api(
        "PATCH",
        "/api/me/presence",
        json={"note": "x"},
        headers={"X-CSRF-Token": "ääkköset".encode()},
    )
    assert refused.status_code == 403
    await aino.close()


def cookie_flags(header: str) -> tuple[str, frozenset[str]]:
    """The cookie's name and its attributes (lower case, values of Max-Age/expires aside)."""
    name = header.split("=", 1)[0]
    attributes = [a.strip().lower() for a in header.split(";")[1:]]
    kept = frozenset(a for a in attributes if not a.startswith(("max-age", "expires")))
    return name, kept


async def set_cookies_of_a_visit(server: Server) -> list[httpx.Response]:
    """Every response of a visit that sets cookies: the form, the login, the language,
    the logout (which deletes the session cookie)."""
    responses = []
    async with server.http_client() as http:

        def header() -> dict[str, str]:
            # Secure cookies are not sent back over plain HTTP by httpx: sent by hand.
            return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}

        cookies: dict[str, str] = {}

        def keep(response: httpx.Response) -> httpx.Response:
            for raw in response.headers.get_list("set-cookie"):
                name, value = raw.split(";", 1)[0].split("=", 1)
                cookies[name] = value.strip('"')
            responses.append(response)
            return response

        keep(await http.get("/login", headers=header()))
        form = {"username": "aino", "password": PASSWORD}
        keep(
            await http.post(
                "/login", data=form | {"csrf_token": cookies["liaison_csrf"]}, headers=header()
            )
        )
        keep(
            await http.post(
                "/language",
                data={"language": "sv", "next": "/", "csrf_token": cookies["liaison_csrf"]},
                headers=header(),
            )
        )
        keep(
            await http.post(
                "/logout", data={"csrf_token": cookies["liaison_csrf"]}, headers=header()
            )
        )
    return responses


async def test_every_cookie_and_every_deletion_carries_the_same_flags(
    server_factory: Any,
) -> None:
    for secure in (False, True):
        async with server_factory(cookie_secure=secure) as srv:
            responses = await set_cookies_of_a_visit(srv)
        headers = [h for r in responses for h in r.headers.get_list("set-cookie")]
        flags = {cookie_flags(h) for h in headers}
        expected = {"httponly", "samesite=lax", "path=/"} | ({"secure"} if secure else set())
        assert {name for name, _ in flags} == {"liaison_csrf", "liaison_session", "liaison_lang"}
        assert all(kept == expected for _, kept in flags), flags
        logout = responses[-1].headers.get_list("set-cookie")
        deleted = [h for h in logout if h.startswith("liaison_session=")]
        assert len(deleted) == 1 and "max-age=0" in deleted[0].lower()
        assert [r.status_code for r in responses] == [200, 303, 303, 303]


async def test_password_hashing_runs_at_a_lower_priority_than_the_event_loop(
    server: Server,
) -> None:
    """argon2's lanes inherit their thread's niceness: a login storm must not take the
    cores from everyone else's messages (docs/accounts.md)."""
    import os
    import threading

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop_niceness = niceness()
    hashing_niceness = await server.core.accounts._in_hash_thread(niceness)
    assert hashing_niceness >= min(loop_niceness + 10, 19)
    # and the hash still works from that thread
    hashed = await server.core.accounts.hash_password("a-password-123")
    assert server.core.accounts.hasher.verify(hashed, "a-password-123")
