"""Rings that reach people, over the protocol: live ring counts by subscription, the
asker told of every move of their question, members who stop responding, phone-hours
rings, the missed list, and consultations that remind and close themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from liaison.clock import ManualClock
from liaison.domain import rings as domain
from liaison.services.hub import LiveConnection
from tests.conftest import Server, Socket
from tests.test_rings import config, signed_in, status_becomes, valid_code, with_rings

# The browser-free servers here move minutes at a time: heartbeats must not expire.
PATIENT = {"heartbeat_timeout_seconds": 3600.0, "idle_away_seconds": 3600}


async def summary_of(sock: Socket, ring_id: str = "housing", **fields: Any) -> dict[str, Any]:
    """The next ring_summary frame of this ring (with these values, if given)."""
    while True:
        ring = (await sock.expect("ring_summary"))["ring"]
        if ring["id"] == ring_id and all(ring[k] == v for k, v in fields.items()):
            return dict(ring)


async def ask(sock: Socket, question: str, ref: int, **extra: Any) -> dict[str, Any]:
    await sock.send(
        {"type": "ask", "ring_id": "housing", "question": question, "ref": ref, **extra}
    )
    return dict((await sock.expect("question_status", ref=ref))["question"])


async def status_where(sock: Socket, question_id: str, **fields: Any) -> dict[str, Any]:
    """The asker's next status of this question with these values (the reply to `ask` and
    the push from the same change may come in either order)."""
    while True:
        frame = await sock.expect("question_status")
        status = frame["question"]
        if status["question_id"] == question_id and all(status[k] == v for k, v in fields.items()):
            return dict(status)


# ---------------------------------------------------------------- ring counts by subscription


async def test_ring_counts_reach_subscribers_only_and_only_when_they_change(
    server: Server,
) -> None:
    await with_rings(server)
    watcher = await (await server.client("aino")).socket()
    await watcher.send({"type": "rings_subscribe", "ref": "s"})
    reply = await watcher.expect("rings", ref="s")
    housing = next(r for r in reply["rings"] if r["id"] == "housing")
    assert (housing["members_signed_in"], housing["members_free"], housing["waiting"]) == (0, 0, 0)
    assert reply["ring_member"] == {"not_responding": False, "missed_in_row": 0}
    # A tab that did not subscribe (a chat window, a bot) hears nothing of rings.
    quiet = await (await server.client("cecilia")).socket()

    bertil = await signed_in(server, "bertil")
    counts = await summary_of(watcher)
    assert counts == {
        "id": "housing",
        "members_signed_in": 1,
        "members_free": 1,
        "members_not_responding": 0,
        "waiting": 0,
        "oldest_wait_seconds": None,
        "estimated_wait_seconds": None,
    }
    # Only counts: nothing about this viewer or the members.
    assert "signed_in" not in counts and "member" not in counts
    await ask(quiet, "Laskutus?", 1)
    counts = await summary_of(watcher)
    assert counts["waiting"] == 1 and counts["members_free"] == 1
    # Time alone changes nothing that is sent: the oldest wait is counted up by clients.
    await server.advance(5)
    await watcher.no_frame("ring_summary")
    await bertil.send({"type": "set_presence", "status": "dnd"})
    counts = await summary_of(watcher)
    assert counts["members_free"] == 0 and counts["members_signed_in"] == 1
    await quiet.no_frame("ring_summary")
    await quiet.no_frame("rings_changed")

    await watcher.send({"type": "rings_unsubscribe"})
    await bertil.send({"type": "set_presence", "status": "available"})
    await bertil.expect("offer")
    await watcher.no_frame("ring_summary")


class Collector:
    """A connection of the hub's that keeps what it is sent (no socket needed)."""

    def __init__(self, person_id: int) -> None:
        self.person_id = person_id
        self.key = "collector"
        self.session = ""
        self.topics = {"rings"}
        self.named: set[int] = set()
        self.partners: set[int] = set()
        self.watching: set[int] = set()
        self.frames: list[str] = []

    def push(self, text: str) -> None:
        self.frames.append(text)

    def close(self, code: int, reason: str) -> None:
        pass


async def test_a_burst_of_changes_is_one_summary_per_ring(server: Server) -> None:
    await with_rings(server)
    core = server.core
    collector = Collector(server.people["aino"])
    connection: LiveConnection = collector
    await core.hub.attach(connection)
    core.rings.subscribe_counts()
    # While the scheduler is busy (here: held), changes pile up and go out together.
    async with core.scheduler._firing:
        await core.rings.sign_in(server.people["bertil"], "housing", True)
        await core.rings.sign_in(server.people["daniel"], "housing", True)
        await core.rings.ask(server.people["aino"], "housing", "Kaksi kerralla?")
    await server.settle()
    summaries = [f for f in collector.frames if '"ring_summary"' in f and '"housing"' in f]
    assert len(summaries) == 1, summaries
    assert '"waiting":1' in summaries[0] and '"members_signed_in":2' in summaries[0]
    await core.hub.detach(connection)
    core.rings.unsubscribe_counts()


# ---------------------------------------------------------------- the asker's question


async def test_the_asker_hears_every_move_of_their_question(server: Server) -> None:
    await with_rings(server)
    aino = await (await server.client("aino")).socket()
    cecilia = await (await server.client("cecilia")).socket()
    daniel = await (await server.client("daniel")).socket()
    first = await ask(aino, "Ensimmäinen", 1)
    mine = await ask(cecilia, "Toinen", 2)
    assert (mine["position"], mine["queue_length"], mine["ringing"]) == (2, 2, 0)
    # An urgent question goes ahead: Cecilia is told without asking.
    await ask(daniel, "Kiireellinen", 3, urgency="urgent")
    await status_where(cecilia, mine["question_id"], position=3, queue_length=3)
    # The first one is cancelled: one place up.
    await aino.send({"type": "cancel", "question_id": first["question_id"]})
    await status_where(cecilia, mine["question_id"], position=2, queue_length=2)
    # Nothing changes for her when nothing about her question changes, and a question
    # asked behind hers is not a change of it (one frame to each asker in the queue per
    # question asked); the ring's live counts say how many wait.
    await server.advance(3)
    await ask(aino, "Kolmas", 4)
    await cecilia.no_frame("question_status")
    # A member becoming free is news too, and so is the question starting to ring.
    bertil = await signed_in(server, "bertil")
    await bertil.expect("offer")
    await status_where(cecilia, mine["question_id"], members_signed_in=1)


async def test_a_count_that_moves_with_no_routing_event_still_reaches_the_asker(
    server: Server,
) -> None:
    """Bertil asks the ring he is signed in to: he is free but never offered his own
    question. He turns do-not-disturb: no offer to withdraw, no routing event, yet the
    members free of his question went from one to none, and he is told (the ring's queue
    signature moved: RingRouter.queue_signatures)."""
    await with_rings(server)
    bertil = await signed_in(server, "bertil")
    mine = await ask(bertil, "Oma kysymys", 1)
    assert (mine["members_free"], mine["ringing"]) == (1, 0)
    await bertil.send({"type": "set_presence", "status": "dnd", "ref": 2})
    await status_where(bertil, mine["question_id"], members_free=0, ringing=0)


async def test_a_ring_renamed_reaches_the_askers_waiting_in_it(server: Server) -> None:
    """The ring's name is part of what an asker is shown: renamed while her question
    waits, Cecilia is told the new name at once, not with the next event in the ring."""
    await with_rings(server)
    cecilia = await (await server.client("cecilia")).socket()
    mine = await ask(cecilia, "Odottaa", 1)
    assert mine["ring_name"] == "Yleinen asumistuki"
    await status_where(cecilia, mine["question_id"], ring_name="Yleinen asumistuki")
    await cecilia.no_frame("question_status")
    await with_rings(server, config(name="Asumistuki (yleinen)"))
    await status_where(cecilia, mine["question_id"], ring_name="Asumistuki (yleinen)")


# ---------------------------------------------------------------- not responding


async def test_a_member_who_lets_offers_ring_out_is_taken_out_until_they_resume(
    server_factory: Any,
) -> None:
    async with server_factory(**PATIENT) as srv:
        await with_rings(srv, config(method="serial", alert_seconds=20, queue_timeout_seconds=600))
        bertil = await signed_in(srv, "bertil")
        daniel = await signed_in(srv, "daniel")
        watcher = await (await srv.client("aino")).socket()
        await watcher.send({"type": "rings_subscribe"})
        await watcher.expect("rings")
        cecilia = await (await srv.client("cecilia")).socket()
        first = await ask(cecilia, "Ensimmäinen", 1)
        await bertil.expect("offer", question_id=first["question_id"])
        await srv.advance(20)
        await bertil.expect("offer_withdrawn", reason="missed")
        await daniel.send({"type": "accept", "question_id": first["question_id"]})
        await daniel.expect("accepted")
        # A second question rings out on Bertil too: two in a row.
        second = await ask(cecilia, "Toinen", 2)
        await bertil.expect("offer", question_id=second["question_id"])
        await srv.advance(20)
        state = await bertil.expect("ring_member")
        assert state == {"type": "ring_member", "not_responding": True, "missed_in_row": 2}
        await summary_of(watcher, members_not_responding=1, members_free=0)
        # The asker's question is not held up by him: it waits for someone who answers.
        await srv.advance(60)
        await bertil.no_frame("offer")
        # His supervisor sees it on the load view, now, ring by ring and by name.
        eeva = await srv.client("eeva")
        load = (await eeva.api("GET", "/api/load")).json()
        housing = next(r for r in load["rings"] if r["ring_id"] == "housing")
        assert housing["now"]["not_responding"] == 1
        people = (await eeva.api("GET", "/api/load/rings/housing/people")).json()
        assert people["suppressed"] is True  # two members: no figures, by design
        # One action brings him back, and the waiting question rings for him at once.
        await bertil.send({"type": "ring_resume", "ref": "r"})
        assert (await bertil.expect("ring_member", ref="r"))["not_responding"] is False
        await bertil.expect("offer", question_id=second["question_id"])
        # The missed list says what he missed and what became of it.
        missed = (await (await srv.client("bertil")).api("GET", "/api/rings/missed")).json()
        rows = missed["missed"]
        assert [r["question"] for r in rows] == ["Toinen", "Ensimmäinen"]
        assert rows[1]["state"] == "open" and rows[1]["expert_id"] == srv.people["daniel"]
        assert rows[0]["outcome"] == "missed" and rows[0]["asker_id"] == srv.people["cecilia"]


async def test_offers_a_colleague_took_are_not_in_the_missed_list(server: Server) -> None:
    await with_rings(server)
    bertil, daniel = await signed_in(server, "bertil"), await signed_in(server, "daniel")
    aino = await (await server.client("aino")).socket()
    question = await ask(aino, "Kumpi ehtii?", 1)
    await bertil.expect("offer")
    await daniel.send({"type": "accept", "question_id": question["question_id"]})
    await bertil.expect("offer_withdrawn", reason="taken")
    body = (await (await server.client("bertil")).api("GET", "/api/rings/missed")).json()
    assert body == {"missed": []}


# ---------------------------------------------------------------- phone-hours rings

# Monday 2 March 2026, 10:00 in Helsinki.
MONDAY_10 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_a_phone_hours_ring_rings_members_only_within_their_hours(
    server_factory: Any,
) -> None:
    # Hours pass in one step: the socket stays counted meanwhile.
    patient = {"heartbeat_timeout_seconds": 6 * 3600.0, "idle_away_seconds": 6 * 3600}
    async with server_factory(clock=ManualClock(MONDAY_10), **patient) as srv:
        await with_rings(
            srv, config(phone_hours_only=True, alert_seconds=600, queue_timeout_seconds=6 * 3600)
        )
        bertil = await signed_in(srv, "bertil")
        # Hours this afternoon only: signed in and available, yet not offered now.
        await bertil.send(
            {"type": "set_presence", "phone_hours": [{"day": 0, "start": "13:00", "end": "15:00"}]}
        )
        aino = await (await srv.client("aino")).socket()
        question = await ask(aino, "Iltapäivällä?", 1)
        await bertil.no_frame("offer")
        assert question["members_free"] == 0
        # From 13:00 on he is.
        srv.clock.advance(3 * 3600 - 1)
        await bertil.no_frame("offer")
        srv.clock.advance(1)
        await bertil.expect("offer", question_id=question["question_id"])
        # Changing his hours while it rings: outside them, the offer is withdrawn.
        await bertil.send(
            {"type": "set_presence", "phone_hours": [{"day": 1, "start": "09:00", "end": "10:00"}]}
        )
        await bertil.expect("offer_withdrawn", reason="unavailable")


# ---------------------------------------------------------------- consultations that end


async def closed_consultation(sock: Socket) -> dict[str, Any] | None:
    """The consultation frame announcing a close among what has come, if any."""
    await sock.server.settle()
    for frame in sock.pending:
        if frame["type"] == "consultation" and frame["consultation"]["state"] == "closed":
            return dict(frame["consultation"])
    return None


async def open_consultation(srv: Server) -> tuple[Socket, Socket, dict[str, Any]]:
    bertil = await signed_in(srv, "bertil")
    aino = await (await srv.client("aino")).socket()
    question = await ask(aino, "Tuleeko päätös?", 1)
    await bertil.expect("offer")
    await bertil.send({"type": "accept", "question_id": question["question_id"]})
    consultation = (await bertil.expect("accepted"))["consultation"]
    return aino, bertil, consultation


async def test_an_idle_consultation_reminds_then_closes_itself(server_factory: Any) -> None:
    settings = {"consultation_reminder_seconds": 60, "consultation_auto_close_seconds": 180}
    async with server_factory(**PATIENT, **settings) as srv:
        await with_rings(srv)
        aino, bertil, consultation = await open_consultation(srv)
        await status_becomes(srv, "bertil", "busy")
        await srv.advance(59)
        await bertil.no_frame("consultation_reminder")
        await srv.advance(1)
        reminder = await bertil.expect("consultation_reminder")
        assert reminder["consultation_id"] == consultation["id"]
        assert reminder["conversation_id"] == consultation["conversation_id"]
        # Only the expert is reminded: the asker is not asked to close.
        await aino.no_frame("consultation_reminder")
        # A message is activity: the clock starts again from it.
        await srv.advance(10)
        await aino.send(
            {
                "type": "send",
                "id": "m1",
                "conversation_id": consultation["conversation_id"],
                "body": "Vielä yksi asia",
            }
        )
        await aino.expect("ack")
        await srv.advance(119)  # 180 s after the accept: it stays open
        assert await closed_consultation(bertil) is None
        reminder = await bertil.expect("consultation_reminder")  # 60 s after the message
        # "Keep open" from the expert starts it again too.
        await bertil.send({"type": "consultation_keep_open", "consultation_id": consultation["id"]})
        kept = (await bertil.expect("consultation"))["consultation"]
        assert kept["kept_open_at"] and kept["state"] == "open"
        await srv.advance(179)
        assert await closed_consultation(aino) is None
        await srv.advance(1)
        closed = await closed_consultation(aino)
        assert closed is not None
        assert (closed["state"], closed["outcome"], closed["topic"]) == (
            "closed",
            "not_recorded",
            None,
        )
        # The expert is free again, and the log says what happened.
        await status_becomes(srv, "bertil", "available")
        log = (await (await srv.client("aino")).api("GET", "/api/consultations")).json()
        assert log["consultations"][0]["outcome"] == "not_recorded"
        ended = await (await srv.client("aino")).api("GET", "/api/consultations/conversations")
        assert ended.json()["conversations"] == [
            {
                "conversation_id": consultation["conversation_id"],
                "consultation_id": consultation["id"],
                "state": "closed",
                "closed_at": closed["closed_at"],
            }
        ]
        # And the next question rings for him.
        await ask(aino, "Seuraava", 2)
        await bertil.expect("offer")


async def test_the_expert_closes_and_the_asker_adds_notes(server: Server) -> None:
    await with_rings(server)
    aino, bertil, consultation = await open_consultation(server)
    closing = {
        "type": "close_consultation",
        "consultation_id": consultation["id"],
        "outcome": "answered",
        "topic": "statement",
    }
    await aino.send({**closing, "ref": "a"})
    error = await aino.expect("error", ref="a")
    assert error["code"] == "not_allowed"
    code = valid_code()
    await aino.send(
        {
            "type": "consultation_note",
            "consultation_id": consultation["id"],
            "note": f"Soitan {code}",
        }
    )
    noted = (await bertil.expect("consultation"))["consultation"]
    assert noted["asker_note"].startswith("Soitan AR-") and code not in noted["asker_note"]
    # Only the asker writes the note; the expert keeps it open, the asker cannot.
    await bertil.send(
        {"type": "consultation_note", "consultation_id": consultation["id"], "note": "x", "ref": 1}
    )
    assert (await bertil.expect("error", ref=1))["code"] == "not_found"
    await aino.send(
        {"type": "consultation_keep_open", "consultation_id": consultation["id"], "ref": 2}
    )
    assert (await aino.expect("error", ref=2))["code"] == "not_allowed"
    await aino.send(
        {"type": "consultation_note", "consultation_id": consultation["id"], "note": 5, "ref": 3}
    )
    assert (await aino.expect("error", ref=3))["code"] == "bad_field"
    await bertil.send({**closing, "ref": "b"})
    closed = (await bertil.expect("consultation_closed", ref="b"))["consultation"]
    assert closed["state"] == "closed" and closed["asker_note"] == noted["asker_note"]


def test_the_router_events_about_members_carry_no_question() -> None:
    # The service sends these to the person; the log and legs skip them.
    event = domain.MemberNotResponding(7, 2)
    assert event.to_dict() == {"kind": "member_not_responding", "person_id": 7, "missed_in_row": 2}
