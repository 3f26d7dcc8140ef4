"""The load view over HTTP and the WebSocket: figures from a scripted day, checked against
numbers this test computes by itself, and who may see what."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from liaison.clock import ManualClock
from liaison.protocol import load as load_shapes
from tests.conftest import Client, Server, Socket, database_of
from tests.test_rings import config, signed_in, valid_code, with_rings

# 23:58 in Helsinki (UTC+2 in November): the script crosses local midnight, not UTC's.
START = datetime(2026, 11, 23, 21, 58, tzinfo=UTC)
MEMBERS = ["bertil@kela.example", "daniel@kela.example", "aino@kela.example"]
# The scripted day's ring: everyone in it is eeva's (or eeva), so she sees every row.
EEVAS = ["bertil@kela.example", "daniel@kela.example", "eeva@kela.example"]
# The script moves the clock by minutes; members' heartbeats must not expire meanwhile.
PATIENT = {"heartbeat_timeout_seconds": 3600.0, "idle_away_seconds": 3600}


@dataclass
class Asked:
    """What the script did to one question, for the expected figures."""

    day: str
    hour: int
    outcome: str = "waiting"
    wait: float | None = None
    missed: int = 0
    declined: int = 0


def expected_figures(questions: list[Asked], target: int = 60) -> dict[str, Any]:
    """The documented definitions, written out again independently of the server's code."""
    answered = [q.wait for q in questions if q.outcome == "answered" and q.wait is not None]
    within = sum(1 for w in answered if w <= target)
    eligible = len(answered) + sum(
        1
        for q in questions
        if q.outcome in ("timed_out", "overflowed")
        or (q.outcome == "cancelled" and (q.wait or 0) > target)
    )
    ranked = sorted(answered)
    return {
        "offered": len(questions),
        "answered": len(answered),
        "cancelled": sum(q.outcome == "cancelled" for q in questions),
        "timed_out": sum(q.outcome == "timed_out" for q in questions),
        "overflowed": 0,
        "waiting": sum(q.outcome == "waiting" for q in questions),
        "missed_offers": sum(q.missed for q in questions),
        "declined_offers": sum(q.declined for q in questions),
        "answered_within_target": within,
        "service_level": within / eligible if eligible else None,
        "answered_share": len(answered) / len(questions) if questions else None,
        "average_wait_seconds": sum(answered) / len(answered) if answered else None,
        "p90_wait_seconds": ranked[math.ceil(0.9 * len(ranked)) - 1] if ranked else None,
    }


class Script:
    """Drives the ring with a hand-moved clock; every step waits for its own frame."""

    def __init__(self, server: Server, clock: ManualClock) -> None:
        self.server, self.clock = server, clock
        self.questions: dict[str, Asked] = {}

    def at(self, seconds: float) -> None:
        target = START + timedelta(seconds=seconds)
        assert target >= self.clock.now()
        self.clock.advance((target - self.clock.now()).total_seconds())

    def local(self) -> datetime:
        return self.clock.now().astimezone(self.server.core.load.zone)

    async def ask(self, asker: Socket, text: str, code: str | None = None) -> str:
        frame: dict[str, Any] = {"type": "ask", "ring_id": "housing", "question": text, "ref": 1}
        if code:
            frame["client_code"] = code
        await asker.send(frame)
        question_id = str((await asker.expect("question_status", ref=1))["question"]["question_id"])
        local = self.local()
        self.questions[question_id] = Asked(local.date().isoformat(), local.hour)
        return question_id

    async def accept(self, expert: Socket, question_id: str) -> int:
        await offered(expert, question_id)
        await expert.send({"type": "accept", "question_id": question_id})
        consultation = (await expert.expect("accepted"))["consultation"]
        q = self.questions[question_id]
        q.outcome = "answered"
        q.wait = datetime.fromisoformat(consultation["accepted_at"]).timestamp() - (
            datetime.fromisoformat(consultation["asked_at"]).timestamp()
        )
        return int(consultation["id"])

    async def close(self, expert: Socket, consultation_id: int) -> None:
        await expert.send(
            {
                "type": "close_consultation",
                "consultation_id": consultation_id,
                "outcome": "answered",
                "topic": "statement",
            }
        )
        await expert.expect("consultation_closed")

    async def miss(self, expert: Socket, question_id: str, at: float) -> None:
        await expert.expect("offer", question_id=question_id)
        self.at(at)
        frame = await expert.expect("offer_withdrawn", question_id=question_id)
        assert frame["reason"] == "missed"
        self.questions[question_id].missed += 1


async def offered(sock: Socket, question_id: str) -> None:
    """The offer may have come already, ahead of the reply an earlier step waited for."""
    seen = [f for f in sock.seen if f["type"] == "offer" and f["question_id"] == question_id]
    if not seen:
        await sock.expect("offer", question_id=question_id)


async def member(server: Server, name: str) -> Socket:
    sock = await (await server.client(name)).socket()
    await sock.send({"type": "ring_sign_in", "ring_id": "housing", "signed_in": True})
    await sock.expect("rings")
    return sock


async def get(client: Client, path: str) -> dict[str, Any]:
    response = await client.api("GET", path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ring_of(body: dict[str, Any], ring_id: str = "housing") -> dict[str, Any]:
    return next(r for r in body["rings"] if r["ring_id"] == ring_id)


async def test_a_scripted_day_gives_the_figures_computed_here(server_factory: Any) -> None:
    clock = ManualClock(START)
    async with server_factory(clock=clock, **PATIENT) as srv:
        await with_rings(srv, config(method="serial", members=EEVAS))
        s = Script(srv, clock)
        bertil, daniel = await member(srv, "bertil"), await member(srv, "daniel")
        asker = await srv.client("cecilia")
        cecilia = await asker.socket()
        eeva = await srv.client("eeva")
        watcher = await eeva.socket()
        await watcher.send({"type": "load_subscribe", "ref": 7})
        first = await watcher.expect("load", ref=7)
        assert ring_of(first)["today"]["offered"] == 0

        # 23:58 local, the day before: answered in 5 s.
        q0 = await s.ask(cecilia, "Eilinen kysymys")
        s.at(5)
        c0 = await s.accept(bertil, q0)
        s.at(6)
        await s.close(bertil, c0)

        # After local midnight (still 22:00 UTC): the day under test.
        s.at(130)
        q1 = await s.ask(cecilia, "Ensimmäinen", valid_code())
        s.at(140)
        c1 = await s.accept(bertil, q1)  # 10 s; bertil is now busy
        s.at(150)
        q2 = await s.ask(cecilia, "Toinen")  # serial: daniel, who lets it ring out
        await s.miss(daniel, q2, 171)
        s.at(180)
        await cecilia.send({"type": "cancel", "question_id": q2})
        while (await cecilia.expect("question_status"))["question"]["state"] != "cancelled":
            pass
        s.questions[q2].outcome, s.questions[q2].wait = "cancelled", 30.0
        s.at(190)
        q3 = await s.ask(cecilia, "Kolmas")
        await daniel.expect("offer", question_id=q3)
        s.at(195)
        await daniel.send({"type": "decline", "question_id": q3})
        s.questions[q3].declined += 1
        s.at(200)
        await s.close(bertil, c1)  # bertil is free: the declined question goes to him
        s.at(205)
        c3 = await s.accept(bertil, q3)  # 15 s
        s.at(210)
        q4 = await s.ask(cecilia, "Neljäs")
        await s.miss(daniel, q4, 231)
        s.at(391)  # past the 180 s queue timeout
        while (await cecilia.expect("question_status"))["question"]["state"] != "timed_out":
            pass
        s.questions[q4].outcome = "timed_out"
        await daniel.send({"type": "ring_sign_in", "ring_id": "housing", "signed_in": False})
        await daniel.expect("rings")
        s.at(400)
        q5 = await s.ask(cecilia, "Viides")  # nobody free: it waits
        s.at(480)
        await s.close(bertil, c3)
        s.at(485)
        await s.accept(bertil, q5)  # 85 s: answered, but not within the 60 s target
        s.at(490)
        await s.ask(cecilia, "Kuudes")  # still waiting at the end
        await cecilia.send(
            {"type": "callback_create", "owner_ring_id": "housing", "due_minutes": 1, "ref": 2}
        )
        await cecilia.expect("callback_created", ref=2)
        s.at(500)

        today = [q for q in s.questions.values() if q.day == "2026-11-24"]
        yesterday = [q for q in s.questions.values() if q.day == "2026-11-23"]
        assert len(today) == 6 and len(yesterday) == 1
        want = expected_figures(today)
        # The script is built to reach every kind of figure; a sanity check of the script.
        assert want["service_level"] == 0.5 and want["p90_wait_seconds"] == 85.0

        body = await get(eeva, "/api/load")
        assert body["day"] == "2026-11-24"
        housing = ring_of(body)
        assert housing["today"] == want
        assert housing["suppressed"] is False and housing["members"] == 3
        assert housing["now"] == {
            "signed_in": 1,
            "free": 0,
            "waiting": 1,
            "ringing": 0,
            "not_responding": 0,
            "longest_wait_seconds": 10.0,
        }
        assert housing["callbacks"] == {"open": 1, "overdue": 0}
        s.at(560)
        later = ring_of(await get(eeva, "/api/load"))
        assert later["callbacks"] == {"open": 1, "overdue": 1}
        assert later["now"]["longest_wait_seconds"] == 70.0

        # The live frames ended on the same figures, and never carried text or clients.
        await srv.settle()
        frames = [f for f in watcher.pending if f["type"] == "load_ring"]
        assert frames and frames[-1]["ring"]["today"] == want
        raw = json.dumps(watcher.seen)
        for text in ("Ensimmäinen", "Kolmas", "Kuudes", valid_code(), "AR-"):
            assert text not in raw

        # The consultation log of the same day says the same.
        log = await get(asker, "/api/consultations")
        records = [
            c
            for c in log["consultations"]
            if c["asked_at"] >= "2026-11-23T22:00:00" and c["kind"] == "ring"
        ]
        assert len(records) == want["offered"]
        answered_waits = [c["wait_seconds"] for c in records if c["accepted_at"]]
        assert len(answered_waits) == want["answered"]
        assert sum(answered_waits) / len(answered_waits) == want["average_wait_seconds"]
        assert sum(c["missed_offers"] for c in records) == want["missed_offers"]
        states = [c["state"] for c in records]
        assert states.count("cancelled") == want["cancelled"]
        assert states.count("timed_out") == want["timed_out"]
        assert states.count("waiting") == want["waiting"]

        # History: a week by day, the last two days with their own questions.
        week = await get(eeva, "/api/load/rings/housing/history?days=7&by=day")
        assert [b["start"][:10] for b in week["buckets"]] == [f"2026-11-{d}" for d in range(18, 25)]
        assert all(b["start"].endswith("+02:00") for b in week["buckets"])
        assert week["buckets"][-1] | {"start": None} == want | {"start": None}
        assert week["buckets"][-2]["offered"] == 1
        assert week["buckets"][-2]["average_wait_seconds"] == 5.0
        assert week["total"] == expected_figures(today + yesterday)
        assert week["busiest_hours"] == [{"hour": 0, "offered": 6}, {"hour": 23, "offered": 1}]
        assert sum(h["offered"] for h in week["hour_of_day"]) == 7

        hours = await get(eeva, "/api/load/rings/housing/history?days=30&by=hour")
        assert len(hours["buckets"]) == 30 * 24
        busy = {b["start"]: b["offered"] for b in hours["buckets"] if b["offered"]}
        assert busy == {"2026-11-23T23:00:00+02:00": 1, "2026-11-24T00:00:00+02:00": 6}

        response = await eeva.api("GET", "/api/load/rings/housing/history.csv?days=7&by=day")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 7 and rows[-1]["ring_id"] == "housing"
        assert rows[-1]["offered"] == "6" and rows[-1]["service_level"] == "0.5"
        assert rows[-2]["answered"] == "1" and rows[0]["average_wait_seconds"] == ""

        # Per person: bertil answered three today; daniel missed two and declined one.
        people = await get(eeva, "/api/load/rings/housing/people?days=1")
        assert people["suppressed"] is False
        by_name = {p["name"]: p for p in people["people"]}
        assert set(by_name) == {"Bertil Bostad", "Daniel Duuni", "Eeva Esihenkilö"}
        assert by_name["Bertil Bostad"] | {"person_id": 0} == {
            "name": "Bertil Bostad",
            "person_id": 0,
            "offers": 3,
            "answered": 3,
            "missed": 0,
            "declined": 0,
            "not_responding": False,
        }
        daniel_row = by_name["Daniel Duuni"]

        assert (daniel_row["offers"], daniel_row["answered"]) == (3, 0)
        assert (daniel_row["missed"], daniel_row["declined"]) == (2, 1)
        week_people = await get(eeva, "/api/load/rings/housing/people?days=7")
        assert {p["name"]: p["answered"] for p in week_people["people"]}["Bertil Bostad"] == 4


async def test_the_figures_survive_a_restart(server_factory: Any) -> None:
    clock = ManualClock(START)
    async with server_factory(clock=clock, **PATIENT) as srv:
        await with_rings(srv, config(members=MEMBERS))
        bertil = await member(srv, "bertil")
        asker = await (await srv.client("cecilia")).socket()
        s = Script(srv, clock)
        q = await s.ask(asker, "Ennen")
        s.at(12)
        await s.accept(bertil, q)
        s.at(20)
        await s.ask(asker, "Jää jonoon")
        before = ring_of(await get(await srv.client("eeva"), "/api/load"))
        database = database_of(srv)
        async with server_factory(clock=clock, **PATIENT, **database) as again:
            after = ring_of(await get(await again.client("eeva"), "/api/load"))
    assert after["today"] == before["today"]
    assert after["today"]["answered"] == 1 and after["today"]["waiting"] == 1
    assert after["now"]["waiting"] == 1


async def ring_frame(sock: Socket, wanted: Any) -> dict[str, Any]:
    """The first housing ring in a load_ring frame that satisfies `wanted`."""
    while True:
        ring: dict[str, Any] = (await sock.expect("load_ring"))["ring"]
        if ring["ring_id"] == "housing" and wanted(ring):
            return ring


def three_rings() -> dict[str, Any]:
    """housing: 3 members, two of them eeva's; liaison-jarvi: eeva alone; pair: bertil
    (eeva's) and cecilia (nobody's)."""
    data = config(members=MEMBERS)
    data["rings"].append(
        {
            "id": "pair",
            "name": "Työttömyysturva",
            "benefit": "unemployment_security",
            "members": ["bertil@kela.example", "cecilia@hva.example"],
        }
    )
    return data


async def status(client: Client, path: str) -> tuple[int, dict[str, Any]]:
    response = await client.api("GET", path)
    return response.status_code, response.json()


async def test_who_sees_which_figures(server: Server) -> None:
    await with_rings(server, three_rings())
    c = {name: await server.client(name) for name in ("admin", "eeva", "bertil", "cecilia")}
    history = "/api/load/rings/{}/history?days=7"

    # Admin: every ring, the small ones without their figures, and nobody's own figures.
    admin = await get(c["admin"], "/api/load")
    assert {r["ring_id"]: r["suppressed"] for r in admin["rings"]} == {
        "housing": False,
        "liaison-jarvi": True,
        "pair": True,
    }
    assert ring_of(admin, "pair")["today"] is None
    assert ring_of(admin, "pair")["now"]["signed_in"] == 0
    assert (await status(c["admin"], history.format("housing")))[0] == 200
    assert await status(c["admin"], history.format("pair")) == (
        403,
        {"error": "suppressed", "reason": "this ring has fewer than 3 members"},
    )
    admin_people = await get(c["admin"], "/api/load/rings/housing/people")
    assert admin_people["people"] == []

    # Eeva supervises bertil and daniel: housing, and her own one-person ring, in full;
    # pair only suppressed (she is not cecilia's supervisor).
    eeva = await get(c["eeva"], "/api/load")
    assert {r["ring_id"]: r["suppressed"] for r in eeva["rings"]} == {
        "housing": False,
        "liaison-jarvi": False,
        "pair": True,
    }
    assert (await status(c["eeva"], history.format("liaison-jarvi")))[0] == 200
    # housing's third member, aino, is not eeva's: the ring's totals minus bertil's and
    # daniel's rows would be aino's, so eeva gets no rows at all (docs/load.md).
    rows = await get(c["eeva"], "/api/load/rings/housing/people")
    assert rows["suppressed"] is True and rows["people"] == []
    # Fewer than 3 members: no per-person figures, even for the supervisor.
    assert await get(c["eeva"], "/api/load/rings/liaison-jarvi/people") == {
        "ring_id": "liaison-jarvi",
        "days": 1,
        "suppressed": True,
        "people": [],
    }

    # A member who supervises nobody: no rings, only their own row and figures.
    assert (await get(c["bertil"], "/api/load"))["rings"] == []
    assert await status(c["bertil"], history.format("housing")) == (
        403,
        {"error": "not_allowed", "reason": "only supervisors of the ring's units and admins"},
    )
    own = (await get(c["bertil"], "/api/load/rings/housing/people"))["people"]
    assert [r["name"] for r in own] == ["Bertil Bostad"]
    mine = await get(c["bertil"], "/api/load/me?days=7")
    assert [r["ring_id"] for r in mine["rings"]] == ["housing", "pair"]
    assert mine["rings"][0] | {"name": ""} == {
        "ring_id": "housing",
        "name": "",
        "offers": 0,
        "answered": 0,
        "missed": 0,
        "declined": 0,
    }

    # Someone from the other side who supervises nobody in these rings sees none of them.
    assert (await get(c["cecilia"], "/api/load"))["rings"] == []
    assert (await status(c["cecilia"], history.format("housing")))[0] == 403
    assert (await status(c["cecilia"], "/api/load/rings/housing/history.csv"))[0] == 403
    assert (await get(c["cecilia"], "/api/load/rings/housing/people"))["people"] == []

    # Not logged in: nothing at all.
    async with server.http_client() as anonymous:
        assert (await anonymous.get("/api/load")).status_code == 401
        assert (await anonymous.get(history.format("housing"))).status_code == 401


async def test_bad_requests_get_clear_errors(server: Server) -> None:
    await with_rings(server, three_rings())
    eeva = await server.client("eeva")
    cases = {
        "/api/load/rings/nope/history": (404, "not_found"),
        "/api/load/rings/housing/history?days=8": (400, "bad_field"),
        "/api/load/rings/housing/history?days=0": (400, "bad_field"),
        "/api/load/rings/housing/people?days=0": (400, "bad_field"),
        "/api/load/rings/housing/history?by=week": (400, "bad_field"),
        "/api/load/rings/housing/history.csv?days=14": (400, "bad_field"),
        "/api/load/rings/housing/people?days=2": (400, "bad_field"),
        "/api/load/rings/nope/people": (404, "not_found"),
        "/api/load/me?days=365": (400, "bad_field"),
    }
    for path, (code, error) in cases.items():
        got, body = await status(eeva, path)
        assert (got, body["error"]) == (code, error), path
    got = await eeva.api("GET", "/api/load/rings/housing/history?days=seven")
    assert got.status_code == 400
    sock = await eeva.socket()
    await sock.send({"type": "load_subscribe", "ref": "x"})
    assert (await sock.expect("load", ref="x"))["rings"]
    # A second subscribe on the same connection is harmless; so is unsubscribing twice.
    await sock.send({"type": "load_subscribe", "ref": "y"})
    await sock.expect("load", ref="y")
    await sock.send({"type": "load_unsubscribe"})
    await sock.send({"type": "load_unsubscribe"})
    await sock.send({"type": "heartbeat", "ref": 1})
    await sock.expect("heartbeat_ack")
    assert not [f for f in sock.seen if f["type"] == "error"]


async def test_live_frames_go_only_to_subscribed_viewers_who_may_see_the_ring(
    server: Server,
) -> None:
    await with_rings(server, three_rings())
    bertil = await member(server, "bertil")
    eeva_client, admin_client = await server.client("eeva"), await server.client("admin")
    eeva, eeva_elsewhere = await eeva_client.socket(), await eeva_client.socket()
    admin = await admin_client.socket()
    for sock in (eeva, admin, bertil):
        await sock.send({"type": "load_subscribe"})
        await sock.expect("load")
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Salainen sisältö", "ref": 1})
    question_id = (await aino.expect("question_status", ref=1))["question"]["question_id"]
    for sock in (eeva, admin):
        ring = await ring_frame(sock, lambda r: r["now"]["waiting"] == 1)
        assert ring["ring_id"] == "housing" and ring["today"]["offered"] == 1
    # Not subscribed on that connection, or not allowed to see the ring: nothing.
    await eeva_elsewhere.no_frame("load_ring")
    await bertil.no_frame("load_ring")

    await bertil.send({"type": "accept", "question_id": question_id})
    await bertil.expect("accepted")
    ring = await ring_frame(eeva, lambda r: r["today"]["answered"] == 1)
    assert ring["now"]["waiting"] == 0
    # Nothing changes any more: nothing more is sent.
    await eeva.no_frame("load_ring")
    await eeva.send({"type": "load_unsubscribe"})
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Toinen", "ref": 2})
    await aino.expect("question_status", ref=2)
    await admin.expect("load_ring")
    await eeva.no_frame("load_ring")
    assert "Salainen" not in json.dumps(admin.seen + eeva.seen)

    # A one-person ring: its supervisor gets the figures live, the admin only the queue.
    await eeva.send({"type": "load_subscribe"})
    await eeva.expect("load")
    await aino.send({"type": "ask", "ring_id": "liaison-jarvi", "question": "Pieni", "ref": 3})
    await aino.expect("question_status", ref=3)
    for sock, today in ((eeva, 1), (admin, None)):
        while True:
            ring = (await sock.expect("load_ring"))["ring"]
            if ring["ring_id"] == "liaison-jarvi" and ring["now"]["waiting"] == 1:
                break
        assert ring["suppressed"] is (today is None)
        assert (ring["today"] or {}).get("offered") == today


async def test_the_openapi_shapes_are_the_answers(server: Server) -> None:
    """Each answer decodes strictly as the model its OpenAPI schema is generated from, and
    has exactly the schema's fields, nested ones too."""
    await with_rings(server, three_rings())
    await member(server, "bertil")
    admin = await server.client("admin")
    document = await get(admin, "/api/openapi.json")
    schemas = document["components"]["schemas"]

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            return resolved(schemas[schema["$ref"].rsplit("/", 1)[1]])
        nullable = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        return resolved(nullable[0]) if nullable else schema

    def same_fields(value: Any, schema: dict[str, Any]) -> None:
        schema = resolved(schema)
        if isinstance(value, dict):
            assert set(value) == set(schema["properties"]), schema.get("title")
            for name, item in value.items():
                same_fields(item, schema["properties"][name])
        elif isinstance(value, list):
            for item in value:
                same_fields(item, schema["items"])

    answers = {
        "/api/load": load_shapes.LoadSnapshot,
        "/api/load/rings/{ring_id}/history": load_shapes.LoadHistory,
        "/api/load/rings/{ring_id}/people": load_shapes.LoadPeople,
        "/api/load/me": load_shapes.LoadMine,
    }
    for template, model in answers.items():
        response = await admin.api("GET", template.replace("{ring_id}", "housing"))
        assert response.status_code == 200, response.text
        msgspec.json.decode(response.content, type=model, strict=True)
        operation = document["paths"][template]["get"]
        shape = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert shape == {"$ref": f"#/components/schemas/{model.__name__}"}
        same_fields(response.json(), shape)
    assert ring_of(await get(admin, "/api/load"))["today"] is not None


async def test_a_named_contact_ring_is_a_ring_like_the_others(server: Server) -> None:
    await with_rings(server, three_rings())
    await member(server, "bertil")  # a named contact online: the named ring is used
    cecilia = await (await server.client("cecilia")).socket()
    await cecilia.send({"type": "ask", "named": True, "question": "Yhteyshenkilölle", "ref": 1})
    status = (await cecilia.expect("question_status", ref=1))["question"]
    named = status["ring_id"]
    assert named.startswith("named:kela:")
    # Its two contacts are both eeva's people: she sees it in full, the admin does not.
    eeva = ring_of(await get(await server.client("eeva"), "/api/load"), named)
    assert (eeva["kind"], eeva["members"], eeva["suppressed"]) == ("named", 2, False)
    assert eeva["today"]["offered"] == 1 and eeva["now"]["ringing"] == 1
    admin = ring_of(await get(await server.client("admin"), "/api/load"), named)
    assert admin["suppressed"] is True and admin["today"] is None


async def test_figures_change_with_time_alone(server_factory: Any) -> None:
    """Overdue callbacks and a new day reach a watcher without any other event."""
    clock = ManualClock(START)
    async with server_factory(clock=clock) as srv:
        await with_rings(srv, config(members=MEMBERS))
        watcher = await (await srv.client("eeva")).socket()
        await watcher.send({"type": "load_subscribe"})
        await watcher.expect("load")
        cecilia = await (await srv.client("cecilia")).socket()
        await cecilia.send({"type": "ask", "ring_id": "housing", "question": "Yöllä", "ref": 1})
        await cecilia.expect("question_status", ref=1)
        await cecilia.send(
            {"type": "callback_create", "owner_ring_id": "housing", "due_minutes": 1, "ref": 2}
        )
        await cecilia.expect("callback_created", ref=2)
        ring = await ring_frame(watcher, lambda r: r["callbacks"]["open"] == 1)
        assert ring["callbacks"]["overdue"] == 0 and ring["today"]["offered"] == 1

        # The figures are recomputed at the two moments they change by themselves, and
        # only then: the callback's due time (23:59 local) and midnight.
        await srv.advance(59)
        await watcher.no_frame("load_ring")
        await srv.advance(1)
        ring = await ring_frame(watcher, lambda r: r["callbacks"]["overdue"] == 1)
        assert ring["today"]["offered"] == 1
        await srv.advance(59)
        await watcher.no_frame("load_ring")
        await srv.advance(1)  # 00:00 local: a new day, with yesterday's question waiting
        ring = await ring_frame(watcher, lambda r: r["today"]["offered"] == 0)
        assert ring["now"]["waiting"] == 1 and ring["callbacks"]["overdue"] == 1


async def test_rights_follow_the_directory_at_once(server: Server) -> None:
    """An import that makes daniel a supervisor and eeva no longer one changes what each
    watches without a restart; a ring change over the admin API is in force at once."""
    from tests.conftest import DIRECTORY_CSV

    await with_rings(server, three_rings())
    daniel = await (await server.client("daniel")).socket()
    eeva = await (await server.client("eeva")).socket()
    for sock in (daniel, eeva):
        await sock.send({"type": "load_subscribe", "ref": "s"})
    assert (await daniel.expect("load", ref="s"))["rings"] == []
    assert "housing" in {r["ring_id"] for r in (await eeva.expect("load", ref="s"))["rings"]}

    changed = DIRECTORY_CSV.replace(
        "Itä;decision_expert;unemployment_security", "Itä;supervisor;unemployment_security"
    ).replace("Itä;supervisor;;fi", "Itä;decision_expert;;fi")
    assert changed != DIRECTORY_CSV
    admin = await server.client("admin")
    response = await admin.api(
        "POST", "/api/admin/import", files={"file": ("hakemisto.csv", changed.encode())}
    )
    assert response.status_code == 200, response.text
    now_daniel = (await daniel.expect("load"))["rings"]
    assert "housing" in {r["ring_id"] for r in now_daniel}
    assert (await eeva.expect("load"))["rings"] == []
    aino = await (await server.client("aino")).socket()
    await aino.send({"type": "ask", "ring_id": "housing", "question": "Kuka näkee?", "ref": 1})
    await aino.expect("question_status", ref=1)
    await daniel.expect("load_ring")
    await eeva.no_frame("load_ring")

    # Rings over the admin API: cecilia joins housing and is offered its next question.
    data = three_rings()
    data["rings"][0]["members"] = [*MEMBERS, "cecilia@hva.example"]
    response = await admin.api("PUT", "/api/admin/rings", json=data)
    assert response.status_code == 200, response.text
    cecilia = await signed_in(server, "cecilia")
    # The question waiting since before she joined rings for her now.
    assert (await cecilia.expect("offer"))["question"] == "Kuka näkee?"
    bad = await admin.api("PUT", "/api/admin/rings", json={"rings": [{"id": "x"}]})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_field"


def test_every_question_event_has_its_effect_on_the_record_of_legs() -> None:
    from typing import get_args

    from liaison.domain import rings as domain
    from liaison.services.ring_legs import LEG_EFFECTS

    assert set(LEG_EFFECTS) == set(get_args(domain.QuestionEvent))


def test_the_offers_withdrawn_when_a_question_is_taken_are_recorded() -> None:
    """ring_all: the acceptance ends the leg before the others' offers are withdrawn;
    those offers still count in each member's own figures (docs/load.md)."""
    from liaison.domain.rings import RingConfig, RingRouter
    from liaison.services.ring_legs import legs_and_offers
    from liaison.store.models import RingOffer

    now = START
    router = RingRouter()
    router.add_ring(RingConfig(id="h", name="H", method="ring_all"))
    events = []
    for person in (1, 2, 3):
        events += router.sign_in("h", person, now) + router.set_availability(
            person, True, None, now
        )
    events += router.ask("q", "h", 9, "Kysymys", "normal", now)
    open_legs: dict[Any, Any] = {}
    legs_and_offers(router, events, now, open_legs)
    taken = router.accept("q", 1, now)
    offers = [
        row
        for row in legs_and_offers(router, taken.events, now, open_legs)
        if isinstance(row, RingOffer)
    ]
    assert sorted((o.person_id, o.outcome) for o in offers) == [
        (1, "accepted"),
        (2, "withdrawn"),
        (3, "withdrawn"),
    ]
