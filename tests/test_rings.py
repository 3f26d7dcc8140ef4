"""Rings over the protocol: offers, the accept race, timeouts, overflow, named contacts,
callbacks, consultations and restarts, against a running server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from liaison.domain import rings as domain
from liaison.protocol import server
from liaison.services.ring_config import apply_ring_config, read_document
from liaison.store import repositories as repo
from liaison.store.models import Consultation, RingQuestionGone, RingRouting
from tests.conftest import Server, Socket, database_of


def valid_code(ddmmyy: str = "010190", sign: str = "-", individual: str = "123") -> str:
    check = "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(ddmmyy + individual) % 31]
    return f"{ddmmyy}{sign}{individual}{check}"


def config(**ring_overrides: Any) -> dict[str, Any]:
    housing = {
        "id": "housing",
        "name": "Yleinen asumistuki",
        "benefit": "housing_allowance",
        "members": ["bertil@kela.example", "daniel@kela.example"],
        **ring_overrides,
    }
    return {
        "rings": [
            housing,
            {
                "id": "liaison-jarvi",
                "name": "Järvi-Suomen kuntayhteyshenkilöt",
                "kind": "liaison",
                "area": "Järvi-Suomi",
                "members": ["eeva@kela.example"],
            },
        ],
        "named_contacts": [
            {
                "area": "Järvi-Suomi",
                "side": "kela",
                "people": ["bertil@kela.example", "daniel@kela.example"],
            }
        ],
    }


async def with_rings(server: Server, data: dict[str, Any] | None = None) -> None:
    await apply_ring_config(server.core.db, read_document(data or config()))
    await server.core.rings.reload_rings()


async def status_becomes(server: Server, name: str, status: str) -> None:
    """Once the server has settled, others see this person with this status."""
    await server.settle()
    watcher = await server.client("admin")
    person = (await watcher.api("GET", f"/api/people/{server.people[name]}")).json()
    assert person["presence"]["status"] == status


async def until_status(sock: Socket, question_id: str, state: str) -> dict[str, Any]:
    """Askers get a question_status frame on every change; wait for this state."""
    while True:
        frame = await sock.expect("question_status")
        if frame["question"]["question_id"] == question_id and frame["question"]["state"] == state:
            return dict(frame["question"])


async def until_callback(sock: Socket, state: str) -> dict[str, Any]:
    while True:
        frame = await sock.expect("callback")
        if frame["callback"]["state"] == state:
            return dict(frame["callback"])


async def signed_in(server: Server, name: str, ring: str = "housing") -> Socket:
    sock = await (await server.client(name)).socket()
    await sock.send({"type": "ring_sign_in", "ring_id": ring, "signed_in": True})
    reply = await sock.expect("rings")
    assert next(r for r in reply["rings"] if r["id"] == ring)["signed_in"] is True
    return sock


def routing_locks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at each routing change of any node in this process."""
    locks: list[int] = []
    real = repo.lock_routing

    async def counted(db: Any, now: datetime) -> int:
        locks.append(1)
        return await real(db, now)

    monkeypatch.setattr(repo, "lock_routing", counted)
    return locks


async def test_members_whose_availability_changes_together_are_one_routing_turn(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three ring members come online while no routing turn has run yet (a reconnect
    storm): routing is told of all three in one turn, not one each."""
    await with_rings(server)
    await server.settle()
    locks = routing_locks(monkeypatch)
    members = [server.people[name] for name in ("bertil", "daniel", "eeva")]
    for person_id in members:
        await server.core.presence.client_heard(person_id, f"tab-{person_id}", True)
    await server.settle()
    assert len(locks) == 1
    for person_id in members:
        status = server.core.rings.router.member_status(person_id)
        assert status is not None and status.free


async def test_a_question_is_offered_and_the_first_accept_wins(server: Server) -> None:
    await with_rings(server)
    bertil, daniel = await signed_in(server, "bertil"), await signed_in(server, "daniel")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Tulorajat?", "ref": 1})
    status = (await aino.expect("question_status", ref=1))["question"]
    question_id = status["question_id"]
    offer_b = await bertil.expect("offer", question_id=question_id)
    await daniel.expect("offer", question_id=question_id)
    assert offer_b["question"] == "Tulorajat?" and offer_b["ring_name"] == "Yleinen asumistuki"
    await bertil.send({"type": "accept", "question_id": question_id})
    accepted = await bertil.expect("accepted")
    assert accepted["consultation"]["expert_id"] == server.people["bertil"]
    withdrawn = await daniel.expect("offer_withdrawn", question_id=question_id)
    assert withdrawn["reason"]
    await daniel.send({"type": "accept", "question_id": question_id})
    assert (await daniel.expect("error"))["code"] == "already_taken"
    # The asker is told, and a live conversation opens between the two.
    consultation = (await aino.expect("consultation"))["consultation"]
    assert consultation["state"] == "open" and consultation["conversation_id"]
    await aino.send(
        {
            "type": "send",
            "id": "c1",
            "conversation_id": consultation["conversation_id"],
            "body": "Kiitos!",
        }
    )
    await bertil.expect("message")
    # The expert shows busy while it is open, and free again after closing.
    await status_becomes(server, "bertil", "busy")
    rings = (await (await server.client("eeva")).api("GET", "/api/rings")).json()["rings"]
    assert next(r for r in rings if r["id"] == "housing")["waiting"] == 0
    await bertil.send(
        {
            "type": "close_consultation",
            "consultation_id": consultation["id"],
            "outcome": "answered",
            "topic": "statement",
            "legal_basis": "client_present",
        }
    )
    closed = (await bertil.expect("consultation_closed"))["consultation"]
    assert (
        closed["outcome"] == "answered"
        and closed["closed_at"]
        and closed["wait_seconds"] is not None
    )
    await status_becomes(server, "bertil", "available")


async def test_simultaneous_accepts_have_exactly_one_winner(server: Server) -> None:
    await with_rings(server)
    bertil, daniel = await signed_in(server, "bertil"), await signed_in(server, "daniel")
    aino = await (await server.client("aino")).socket()
    for round_number in range(20):
        await aino.send(
            {
                "type": "ask",
                "ring_id": "housing",
                "question": f"Kysymys {round_number}",
                "ref": round_number,
            }
        )
        question_id = (await aino.expect("question_status", ref=round_number))["question"][
            "question_id"
        ]
        await bertil.expect("offer", question_id=question_id)
        await daniel.expect("offer", question_id=question_id)
        await asyncio.gather(
            bertil.send({"type": "accept", "question_id": question_id}),
            daniel.send({"type": "accept", "question_id": question_id}),
        )
        results = []
        for sock in (bertil, daniel):
            while True:
                frame = await sock.recv()
                if frame["type"] == "accepted" or (
                    frame["type"] == "error" and frame.get("request_type") == "accept"
                ):
                    results.append(frame)
                    break
        winners = [f for f in results if f["type"] == "accepted"]
        assert len(winners) == 1, results
        winner = bertil if results[0]["type"] == "accepted" else daniel
        consultation_id = winners[0]["consultation"]["id"]
        await winner.send(
            {
                "type": "close_consultation",
                "consultation_id": consultation_id,
                "outcome": "answered",
                "topic": "discretion",
            }
        )
        await winner.expect("consultation_closed")


async def test_nobody_free_means_waiting_then_offered_on_sign_in(server: Server) -> None:
    await with_rings(server)
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Odottaako?"})
    status = (await aino.expect("question_status"))["question"]
    assert status["state"] == "waiting" and status["position"] == 1
    assert status["members_free"] == 0
    bertil = await signed_in(server, "bertil")
    await bertil.expect("offer", question_id=status["question_id"])
    await until_status(aino, status["question_id"], "offered")


async def test_do_not_disturb_is_never_offered(server: Server) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    await bertil.send({"type": "set_presence", "status": "dnd"})
    await bertil.expect("presence_set")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Kuka?"})
    question_id = (await aino.expect("question_status"))["question"]["question_id"]
    await bertil.no_frame("offer")
    await bertil.send({"type": "set_presence", "status": "available"})
    await bertil.expect("offer", question_id=question_id)


async def test_an_unanswered_offer_is_missed_and_moves_on(server: Server) -> None:
    await with_rings(server, config(method="serial", alert_seconds=1))
    bertil, daniel = await signed_in(server, "bertil"), await signed_in(server, "daniel")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Sarjassa"})
    question_id = (await aino.expect("question_status"))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    await server.advance(1)
    missed = await bertil.expect("offer_withdrawn", question_id=question_id)
    assert missed["reason"] == "missed"
    await daniel.expect("offer", question_id=question_id)
    await daniel.send({"type": "accept", "question_id": question_id})
    record = (await daniel.expect("accepted"))["consultation"]
    assert record["missed_offers"] == 1


async def test_queue_timeout_overflows_or_suggests_a_callback(server: Server) -> None:
    data = config(queue_timeout_seconds=1, overflow_ring_id="liaison-jarvi")
    await with_rings(server, data)
    eeva = await signed_in(server, "eeva", "liaison-jarvi")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Ylivuoto"})
    question_id = (await aino.expect("question_status"))["question"]["question_id"]
    await server.advance(1)
    offer = await eeva.expect("offer", question_id=question_id)
    assert offer["ring_id"] == "liaison-jarvi"
    # Without an overflow ring the asker is offered a callback request instead.
    data["rings"][1]["queue_timeout_seconds"] = 1
    data["rings"][1]["members"] = []
    await with_rings(server, config(queue_timeout_seconds=1))
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Ei vastaajaa", "ref": "q2"})
    second = (await aino.expect("question_status", ref="q2"))["question"]["question_id"]
    await server.advance(1)
    await until_status(aino, second, "timed_out")
    await aino.send({"type": "callback_create", "question_id": second, "due_minutes": 30})
    callback = (await aino.expect("callback_created"))["callback"]
    assert callback["owner_ring_id"] == "housing" and callback["state"] == "open"


async def test_callback_lifecycle_never_loses_a_request(server: Server) -> None:
    await with_rings(server)
    bertil = await (await server.client("bertil")).socket()
    aino = await (await server.client("aino")).socket()
    await aino.send(
        {
            "type": "callback_create",
            "owner_ring_id": "housing",
            "note": "Soita asiakkaasta",
            "due_minutes": 15,
        }
    )
    callback = (await aino.expect("callback_created"))["callback"]
    seen = (await bertil.expect("callback"))["callback"]
    assert seen["id"] == callback["id"]
    # The supervisor of the ring members' unit sees it too.
    eeva = await (await server.client("eeva")).socket()
    assert [c["id"] for c in eeva.welcome["callbacks"]] == [callback["id"]]
    cecilia = await (await server.client("cecilia")).socket()
    await cecilia.send(
        {"type": "callback_update", "callback_id": callback["id"], "state": "claimed"}
    )
    assert (await cecilia.expect("error"))["code"] == "not_found"
    await bertil.send(
        {"type": "callback_update", "callback_id": callback["id"], "state": "claimed"}
    )
    await until_callback(aino, "claimed")
    await bertil.send(
        {"type": "callback_update", "callback_id": callback["id"], "state": "could_not_reach"}
    )
    closed = await until_callback(aino, "could_not_reach")
    assert closed["state"] == "could_not_reach" and closed["closed_at"]
    await bertil.send({"type": "callback_update", "callback_id": callback["id"], "state": "done"})
    assert (await bertil.expect("error"))["code"] == "closed"


async def test_named_contacts_first_then_the_area_ring(server: Server) -> None:
    await with_rings(server)
    bertil = await (await server.client("bertil")).socket()
    cecilia = await (await server.client("cecilia")).socket()
    await cecilia.send({"type": "ask", "named": True, "question": "Yhteyshenkilölle"})
    status = (await cecilia.expect("question_status"))["question"]
    await bertil.expect("offer", question_id=status["question_id"])
    await bertil.send({"type": "decline", "question_id": status["question_id"]})
    await cecilia.send({"type": "cancel", "question_id": status["question_id"]})
    # Nobody named is free: the area's liaison ring takes it, never nobody.
    await bertil.close()
    await server.advance(1)  # the grace period for reloads
    await status_becomes(server, "bertil", "offline")
    eeva = await signed_in(server, "eeva", "liaison-jarvi")
    await cecilia.send({"type": "ask", "named": True, "question": "Kukaan ei vapaana", "ref": 2})
    fallback = (await cecilia.expect("question_status", ref=2))["question"]
    assert fallback["ring_id"] == "liaison-jarvi"
    await eeva.expect("offer", question_id=fallback["question_id"])


async def test_identity_codes_become_client_references(server: Server) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await (await server.client("aino")).socket()
    code = valid_code()
    await aino.send(
        {"type": "ask", "ring_id": "housing", "question": "Asiakas", "client_code": code[:-1] + "X"}
    )
    assert (await aino.expect("error"))["code"] == "invalid_identity_code"
    await aino.send(
        {"type": "ask", "ring_id": "housing", "question": f"Koskee {code}", "client_code": code}
    )
    question_id = (await aino.expect("question_status"))["question"]["question_id"]
    offer = await bertil.expect("offer", question_id=question_id)
    assert code not in offer["question"] and offer["client_ref"].startswith("AR-")
    assert offer["client_ref"] in offer["question"]


async def test_bad_ring_frames_get_clear_errors(server: Server) -> None:
    await with_rings(server)
    aino = await (await server.client("aino")).socket()
    cases = [
        ({"type": "ask", "ring_id": "nope", "question": "x"}, "not_found"),
        ({"type": "ask", "ring_id": "housing", "question": ""}, "bad_field"),
        ({"type": "ask", "ring_id": "housing", "question": "x" * 501}, "question_too_long"),
        ({"type": "ask", "ring_id": "housing", "question": "x", "urgency": "panic"}, "bad_field"),
        (
            {"type": "ask", "ring_id": "housing", "question": "x", "legal_basis": "whim"},
            "bad_field",
        ),
        ({"type": "ring_sign_in", "ring_id": "housing", "signed_in": True}, "not_allowed"),
        ({"type": "accept", "question_id": "missing"}, "not_found"),
        ({"type": "accept"}, "bad_field"),
        (
            {
                "type": "close_consultation",
                "consultation_id": 1,
                "outcome": "x",
                "topic": "statement",
            },
            "bad_field",
        ),
        ({"type": "callback_update", "callback_id": 1, "state": "lost"}, "bad_field"),
    ]
    for frame, code in cases:
        await aino.send(frame)
        error = await aino.expect("error")
        assert error["code"] == code, (frame, error)


async def test_a_waiting_question_survives_a_restart(server_factory: Any) -> None:
    async with server_factory() as srv:
        await with_rings(srv)
        aino = await (await srv.client("aino")).socket()
        await aino.send(
            {"type": "ask", "ring_id": "housing", "question": "Ennen uudelleenkäynnistystä"}
        )
        question_id = (await aino.expect("question_status"))["question"]["question_id"]
        database = database_of(srv)
        async with server_factory(**database) as again:
            # The first server is still up, but its clock stands still: only the new one
            # routes.
            again_aino = await (await again.client("aino")).socket()
            assert [q["question_id"] for q in again_aino.welcome["questions"]] == [question_id]
            bertil = await signed_in(again, "bertil")
            offer = await bertil.expect("offer", question_id=question_id)
            assert offer["question"] == "Ennen uudelleenkäynnistystä"


async def test_alert_time_with_a_controllable_clock(server_factory: Any) -> None:
    """The default 20 s alert time, without waiting 20 s: the test moves the clock."""
    async with server_factory() as srv:
        clock = srv.clock
        await with_rings(srv, config(method="serial"))
        bertil, daniel = await signed_in(srv, "bertil"), await signed_in(srv, "daniel")
        aino = await (await srv.client("aino")).socket()
        await aino.send({"type": "ask", "ring_id": "housing", "question": "Kello", "ref": 1})
        question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
        first = await bertil.expect("offer", question_id=question_id)
        assert datetime.fromisoformat(first["expires_at"]) == clock.now() + timedelta(seconds=20)
        await srv.advance(19)
        await bertil.no_frame("offer_withdrawn")
        await srv.advance(2)
        assert (await bertil.expect("offer_withdrawn", question_id=question_id))[
            "reason"
        ] == "missed"
        await daniel.expect("offer", question_id=question_id)


async def test_a_third_person_can_be_invited(server: Server) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Kolmas", "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    await bertil.send({"type": "accept", "question_id": question_id})
    consultation = (await bertil.expect("accepted"))["consultation"]
    cecilia = await (await server.client("cecilia")).socket()
    for bad, code in ((99999, "not_found"), (server.people["aino"], "bad_field")):
        await bertil.send(
            {"type": "invite", "consultation_id": consultation["id"], "person_id": bad}
        )
        assert (await bertil.expect("error"))["code"] == code
    await bertil.send(
        {
            "type": "invite",
            "consultation_id": consultation["id"],
            "person_id": server.people["cecilia"],
        }
    )
    invited = (await cecilia.expect("consultation"))["consultation"]
    assert invited["third_party_id"] == server.people["cecilia"]
    await aino.send(
        {
            "type": "send",
            "id": "3w",
            "conversation_id": consultation["conversation_id"],
            "body": "Hei kaikki",
        }
    )
    await cecilia.expect("message")


async def test_someone_taken_out_of_a_ring_is_no_longer_offered(server: Server) -> None:
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    await with_rings(server, config(members=["daniel@kela.example"]))
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Kenelle?"})
    await bertil.no_frame("offer")


@pytest.mark.parametrize("method", ["ring_all", "longest_idle", "round_robin", "serial"])
async def test_each_routing_method_over_the_socket(server: Server, method: str) -> None:
    await with_rings(server, config(method=method))
    bertil = await signed_in(server, "bertil")
    await server.advance(1)  # bertil has been free the longest
    daniel = await signed_in(server, "daniel")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": method, "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    if method == "ring_all":
        # Everyone free rings at once.
        await daniel.expect("offer", question_id=question_id)
        return
    # One at a time: the next member rings only after a refusal.
    await daniel.no_frame("offer")
    await bertil.send({"type": "decline", "question_id": question_id})
    await daniel.expect("offer", question_id=question_id)


async def test_queue_timeout_with_a_controllable_clock(server_factory: Any) -> None:
    """The default three-minute queue timeout, passed by moving the clock."""
    async with server_factory() as srv:
        clock = srv.clock
        await with_rings(srv)
        aino = await (await srv.client("aino")).socket()
        await aino.send({"type": "ask", "ring_id": "housing", "question": "Jonossa", "ref": 1})
        status = (await aino.expect("question_status", ref=1))["question"]
        assert datetime.fromisoformat(status["deadline"]) == clock.now() + timedelta(seconds=180)
        await srv.advance(179)
        assert srv.core.rings.question_status(status["question_id"]).state == "waiting"
        await srv.advance(1)
        timed_out = await until_status(aino, status["question_id"], "timed_out")
        assert timed_out["position"] is None


async def test_presence_changes_that_keep_a_member_free_do_not_rewrite_the_ring_state(
    server_factory: Any,
) -> None:
    """A new note (or available to busy) leaves routing as it was: no state write."""
    async with server_factory() as srv:
        await with_rings(srv)
        bertil = await signed_in(srv, "bertil")

        async def saved_at() -> Any:
            async with srv.core.db() as db:
                return await db.scalar(select(RingRouting.version))

        await srv.advance(1)
        before = await saved_at()
        await bertil.send({"type": "set_presence", "note": "Etätöissä"})
        await bertil.expect("presence_set")
        await srv.advance(1)
        assert await saved_at() == before
        await bertil.send({"type": "set_presence", "status": "away"})
        await bertil.expect("presence_set")
        await status_becomes(srv, "bertil", "away")
        assert await saved_at() != before  # no longer free: that is routed


async def test_nothing_stays_live_when_the_database_fails_a_save(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ask or an accept whose transaction fails leaves no trace: no question ringing
    without a record, no member left unofferable; the client is told, and the ring works
    again as soon as the database does."""
    from sqlalchemy.exc import OperationalError

    from liaison.services import rings as ring_service

    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await (await server.client("aino")).socket()
    real = ring_service.record_legs
    failing = {"on": True}

    async def flaky(*args: Any) -> None:
        if failing["on"]:
            raise OperationalError("INSERT", {}, Exception("the database went away"))
        await real(*args)

    monkeypatch.setattr(ring_service, "record_legs", flaky)
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Kuuluuko?", "ref": 1})
    error = await aino.expect("error", ref=1)
    assert error["code"] == "unavailable"
    await bertil.no_frame("offer")
    assert server.core.rings.router.open_questions() == []
    assert server.core.rings.questions_of(server.people["aino"]) == []
    housing = next(
        r for r in server.core.rings.rings_for(server.people["bertil"]) if r.id == "housing"
    )
    assert housing.members_free == 1

    failing["on"] = False
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Nyt?", "ref": 2})
    question_id = (await aino.expect("question_status", ref=2))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    # An accept that fails to save: the offer is still there to accept once it works.
    failing["on"] = True
    await bertil.send({"type": "accept", "question_id": question_id, "ref": 3})
    assert (await bertil.expect("error", ref=3))["code"] == "unavailable"
    assert server.core.rings.question_status(question_id).state == "offered"
    failing["on"] = False
    await bertil.send({"type": "accept", "question_id": question_id, "ref": 4})
    accepted = await bertil.expect("accepted", ref=4)
    assert accepted["consultation"]["expert_id"] == server.people["bertil"]
    async with server.core.db() as db:
        count = await db.scalar(select(func.count()).select_from(Consultation))
    assert count == 1  # the failed ask left no record either


async def test_a_consultation_stays_a_closed_circle(server: Server) -> None:
    """Only the invite brings a third person into a consultation, and it is recorded;
    nobody else, an admin included, joins or renames it, and an admin's change to another
    group returns nothing of its content."""
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino_client = await server.client("aino")
    aino = await aino_client.socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Piiri", "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    await bertil.send({"type": "accept", "question_id": question_id})
    consultation = (await bertil.expect("accepted"))["consultation"]
    conversation = consultation["conversation_id"]
    admin = await server.client("admin")
    for client in (aino_client, admin):
        added = await client.api(
            "POST",
            f"/api/conversations/{conversation}/members",
            json={"person_id": server.people["cecilia"]},
        )
        assert added.status_code == 403 and added.json()["error"] == "not_allowed"
        renamed = await client.api(
            "PATCH", f"/api/conversations/{conversation}", json={"title": "Toinen"}
        )
        assert renamed.status_code == 403
    # The invite is the way in, and the record says who came.
    await bertil.send(
        {
            "type": "invite",
            "consultation_id": consultation["id"],
            "person_id": server.people["daniel"],
        }
    )
    while (invited := (await aino.expect("consultation"))["consultation"])[
        "third_party_id"
    ] is None:
        pass  # the frame of the consultation opening
    assert invited["third_party_id"] == server.people["daniel"]

    # A group the admin is not in: renamed, and nothing of it comes back.
    group = await aino_client.api(
        "POST", "/api/conversations", json={"title": "Ryhmä", "members": [server.people["eeva"]]}
    )
    await aino.send(
        {"type": "send", "id": "secret1", "conversation_id": group.json()["id"], "body": "Sisältö"}
    )
    await aino.expect("ack", id="secret1")
    renamed = await admin.api(
        "PATCH", f"/api/conversations/{group.json()['id']}", json={"title": "Uusi nimi"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["last_message"] is None and "Sisältö" not in renamed.text


def test_every_question_event_has_an_effect() -> None:
    """The effects table (liaison/services/ring_effects.py) names every question event the
    router can emit: a new event type cannot be silently ignored by the ring service."""
    from typing import get_args

    from liaison.domain import rings as domain
    from liaison.services.ring_effects import EFFECTS

    assert set(EFFECTS) == set(get_args(domain.QuestionEvent))


def test_effects_change_the_record_and_address_the_frames() -> None:
    """An offer, a miss and an acceptance of one question, applied to its record without a
    database: the record and the frames are what the table says."""
    from liaison.domain import rings as domain
    from liaison.services.ring_effects import Effects, apply

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    record = Consultation(
        question_id="q1", asker_id=1, question="Kysymys", urgency="normal", missed_offers=0
    )
    fx = Effects(now, lambda ring_id: f"ring {ring_id}")
    events: list[domain.Event] = [
        domain.OfferMade("q1", "housing", 2, now + timedelta(seconds=20)),
        domain.OfferMissed("q1", "housing", 2),
        domain.MemberNotResponding(2, 1),
        domain.QuestionAccepted("q1", "housing", 1, 3, 25.0),
        domain.OfferMade("unknown", "housing", 2, now),
    ]
    apply(fx, events, {"q1": record})
    assert (record.offered_at, record.missed_offers) == (now, 1)
    # Taking it is the database's conditional update (repositories.accept_consultation).
    assert (record.state, record.expert_id) == (None, None)
    assert [(to, frame.__struct_config__.tag) for to, frame in fx.frames] == [
        ({2}, "offer"),
        ({2}, "offer_withdrawn"),
    ]
    offer, withdrawn = (frame for _, frame in fx.frames)
    assert isinstance(offer, server.Offer) and offer.ring_name == "ring housing"
    assert isinstance(withdrawn, server.OfferWithdrawn) and withdrawn.reason == "missed"
    assert [e.question_id for e in fx.accepted] == ["q1"]
    assert (fx.questions, fx.members) == ({"q1"}, {2})


async def test_a_refused_routing_change_reads_nothing_again(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bertil tries to cancel Aino's question: refused, and only that. The node's copy of
    the routing state is still the stored one, so the next change (Aino's own cancel)
    does not read every ring, member and open question again."""
    from liaison.store import repositories

    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Peru?", "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    await bertil.expect("offer", question_id=question_id)
    reads: list[int] = []
    real = repositories.load_routing

    async def counted(db: Any) -> Any:
        reads.append(1)
        return await real(db)

    monkeypatch.setattr(repositories, "load_routing", counted)
    await bertil.send({"type": "cancel", "question_id": question_id, "ref": 2})
    assert (await bertil.expect("error", ref=2))["code"] == "not_allowed"
    await aino.send({"type": "cancel", "question_id": question_id})
    await until_status(aino, question_id, "cancelled")
    await bertil.expect("offer_withdrawn", question_id=question_id, reason="cancelled")
    assert reads == []


async def test_the_rows_written_since_a_version_and_the_questions_closed_since(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a node holding a version reads (repositories.load_routing_changes): the
    pieces written after it, and the questions closed after it as None. A node further
    behind than the window of kept marks reads nothing here (it reads every row), and
    the marks older than the window go."""
    monkeypatch.setattr(repo, "GONE_KEPT", 3)
    now = server.clock.now()
    piece = [{"id": "q"}]

    def changes(questions: dict[str, Any]) -> domain.RouterChanges:
        return domain.RouterChanges(seq=1, rings={}, people={}, questions=questions)

    async with server.core.db.begin() as db:
        base = await repo.lock_routing(db, now)
        await repo.save_routing(db, changes({"q1": piece, "q2": piece}), base, now)
        await repo.save_routing(db, changes({"q1": None}), base + 1, now)
    async with server.core.db() as db:
        since_first = await repo.load_routing_changes(db, base + 1, base + 2)
        since_base = await repo.load_routing_changes(db, base, base + 2)
        too_old = await repo.load_routing_changes(db, base - 2, base + 2)
    assert since_first is not None and since_first.questions == {"q1": None}
    assert since_base is not None and since_base.questions == {"q1": None, "q2": piece}
    assert too_old is None
    # At a version divisible by 100 the marks older than the window are deleted.
    written = 100 * (base // 100 + 1)
    async with server.core.db.begin() as db:
        await repo.save_routing(db, changes({"q2": None}), written - 1, now)
    async with server.core.db() as db:
        marks = set((await db.scalars(select(RingQuestionGone.question_id))).all())
    assert marks == {"q2"}
