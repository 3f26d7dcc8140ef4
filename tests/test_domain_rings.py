from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from liaison.domain.rings import (
    DuplicateQuestion,
    Event,
    MemberNotResponding,
    MemberResumed,
    Method,
    NotAsker,
    OfferDeclined,
    OfferMade,
    OfferMissed,
    OfferWithdrawn,
    QuestionAccepted,
    QuestionCancelled,
    QuestionOverflowed,
    QuestionQueued,
    QuestionTimedOut,
    RingConfig,
    RingRouter,
    RouterChanges,
    RouterParts,
    UnknownQuestion,
    UnknownRing,
    UnredactedIdentityCode,
)

ASKER = 900


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def kinds(events: Sequence[Event]) -> list[str]:
    return [e.kind for e in events]


def offered_to(events: Sequence[Event]) -> list[int]:
    return [e.person_id for e in events if isinstance(e, OfferMade)]


def make_router(
    clock: FakeClock,
    method: Method = "ring_all",
    members: Sequence[int] = (1, 2, 3),
    **config: Any,
) -> RingRouter:
    router = RingRouter()
    router.add_ring(RingConfig(id="asumistuki", name="Yleinen asumistuki", method=method, **config))
    for person in members:
        router.sign_in("asumistuki", person, clock.now)
    return router


def ask(router: RingRouter, clock: FakeClock, qid: str = "q1", **kw: Any) -> list[Event]:
    return router.ask(
        qid,
        kw.pop("ring_id", "asumistuki"),
        kw.pop("asker_id", ASKER),
        kw.pop("text", "Miten vuokravakuus huomioidaan?"),
        kw.pop("urgency", "normal"),
        clock.now,
    )


# --- routing methods -----------------------------------------------------------------


def test_ring_all_first_accept_wins_and_others_are_withdrawn() -> None:
    clock = FakeClock()
    router = make_router(clock)
    events = ask(router, clock)
    assert kinds(events) == ["question_queued", "offer_made", "offer_made", "offer_made"]
    assert offered_to(events) == [1, 2, 3]
    assert router.question("q1").state == "offered"

    clock.advance(5)
    outcome = router.accept("q1", 2, clock.now)
    assert outcome.won and outcome.accepted_by == 2 and outcome.reason is None
    accepted = [e for e in outcome.events if isinstance(e, QuestionAccepted)]
    assert accepted == [QuestionAccepted("q1", "asumistuki", ASKER, 2, 5.0)]
    withdrawn = [e for e in outcome.events if isinstance(e, OfferWithdrawn)]
    assert [(e.person_id, e.reason) for e in withdrawn] == [(1, "taken"), (3, "taken")]
    q = router.question("q1")
    assert (q.state, q.accepted_by, q.accepted_at) == ("accepted", 2, clock.now)
    assert [o.outcome for o in q.offers] == ["withdrawn", "accepted", "withdrawn"]


def test_simultaneous_accepts_have_exactly_one_winner() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1, 2, 3, 4))
    ask(router, clock)
    outcomes = [router.accept("q1", p, clock.now) for p in (3, 1, 4, 2, 3)]
    assert [o.won for o in outcomes] == [True, False, False, False, False]
    assert {o.reason for o in outcomes[1:]} == {"already_taken"}
    assert all(o.accepted_by == 3 for o in outcomes)
    assert router.member_status(3) is not None
    assert router.member_status(3).load == 1  # type: ignore[union-attr]


def test_accept_refusals() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2))
    ask(router, clock)
    assert router.accept("nope", 1, clock.now).reason == "unknown"
    outcome = router.accept("q1", 2, clock.now)  # serial: only 1 has the offer
    assert (outcome.won, outcome.reason) == (False, "not_offered")
    router.cancel("q1", ASKER, clock.now)
    assert router.accept("q1", 1, clock.now).reason == "closed"


def test_longest_idle_order() -> None:
    clock = FakeClock()
    router = make_router(clock, method="longest_idle", members=())
    for person in (3, 1, 2):  # 3 has been idle longest, then 1, then 2
        router.sign_in("asumistuki", person, clock.now)
        clock.advance(10)
    events = ask(router, clock)
    assert offered_to(events) == [3]
    assert offered_to(router.decline("q1", 3, clock.now)) == [1]
    assert offered_to(router.decline("q1", 1, clock.now)) == [2]


def test_longest_idle_prefers_whoever_finished_longest_ago() -> None:
    clock = FakeClock()
    router = make_router(clock, method="longest_idle", members=(1, 2))
    for person in (1, 2):
        router.set_availability(person, True, 1, clock.now)  # both in a consultation
    clock.advance(30)
    router.consultation_ended(2, clock.now)
    clock.advance(30)
    router.consultation_ended(1, clock.now)
    assert offered_to(ask(router, clock)) == [2]


def test_round_robin_rotates_across_questions() -> None:
    clock = FakeClock()
    router = make_router(clock, method="round_robin", max_concurrent=5)
    got = []
    for n in range(5):
        events = ask(router, clock, qid=f"q{n}")
        [person] = offered_to(events)
        got.append(person)
        assert router.accept(f"q{n}", person, clock.now).won
        clock.advance(1)
    assert got == [1, 2, 3, 1, 2]


def test_round_robin_moves_on_after_decline() -> None:
    clock = FakeClock()
    router = make_router(clock, method="round_robin")
    assert offered_to(ask(router, clock)) == [1]
    assert offered_to(router.decline("q1", 1, clock.now)) == [2]
    assert offered_to(router.decline("q1", 2, clock.now)) == [3]


def test_serial_order_then_rest_by_id() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2, 3, 4), serial_order=[3, 1])
    assert offered_to(ask(router, clock)) == [3]
    assert offered_to(router.decline("q1", 3, clock.now)) == [1]
    assert offered_to(router.decline("q1", 1, clock.now)) == [2]
    assert offered_to(router.decline("q1", 2, clock.now)) == [4]
    # Serial restarts from the top for each question.
    assert offered_to(ask(router, clock, qid="q2")) == [3]


# --- refusals and timers --------------------------------------------------------------


def test_alert_expiry_is_missed_and_moves_on() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", alert_seconds=20)
    ask(router, clock)
    clock.advance(19)
    assert router.tick(clock.now) == []
    clock.advance(1)
    events = router.tick(clock.now)
    assert events == [
        OfferMissed("q1", "asumistuki", 1),
        OfferMade("q1", "asumistuki", 2, clock.now + timedelta(seconds=20)),
    ]
    clock.advance(20)
    assert kinds(router.tick(clock.now)) == ["offer_missed", "offer_made"]
    assert router.missed_offers("q1") == 2
    assert router.question("q1").missed_count == 2
    assert router.member_status(1).missed_offers == 1  # type: ignore[union-attr]
    assert router.ring_status("asumistuki", clock.now).counters.missed_offers == 2


def test_late_accept_after_expiry_loses_even_without_tick() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2))
    ask(router, clock)
    clock.advance(25)  # caller's timer was late: nobody ticked at 20 s
    outcome = router.accept("q1", 1, clock.now)
    assert (outcome.won, outcome.reason) == (False, "not_offered")
    assert kinds(outcome.events) == ["offer_missed", "offer_made"]
    assert router.accept("q1", 2, clock.now).won


def test_decliner_reoffered_only_after_others_and_a_pause() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2), alert_seconds=20)
    ask(router, clock)
    router.decline("q1", 1, clock.now)  # -> 2
    clock.advance(5)
    events = router.decline("q1", 2, clock.now)
    assert offered_to(events) == []  # both refused; 1 pauses until t=20
    assert router.question("q1").state == "waiting"
    assert router.next_deadline() == clock.now - timedelta(seconds=5) + timedelta(seconds=20)
    clock.advance(15)
    assert offered_to(router.tick(clock.now)) == [1]
    # 2 has refused once, 1 twice now: 2 is next, but only once 2's pause ends (t=25).
    assert offered_to(router.decline("q1", 1, clock.now)) == []
    assert router.next_deadline() == clock.now + timedelta(seconds=5)
    clock.advance(5)
    assert offered_to(router.tick(clock.now)) == [2]


def test_single_member_decline_does_not_ring_again_at_once() -> None:
    clock = FakeClock()
    router = make_router(clock, method="longest_idle", members=(1,), alert_seconds=20)
    ask(router, clock)
    assert offered_to(router.decline("q1", 1, clock.now)) == []
    clock.advance(19)
    assert router.tick(clock.now) == []
    clock.advance(1)
    assert offered_to(router.tick(clock.now)) == [1]


def test_queue_timeout_overflows_to_next_ring() -> None:
    clock = FakeClock()
    router = make_router(
        clock, method="serial", members=(1,), overflow_ring_id="varalla", queue_timeout_seconds=60
    )
    router.add_ring(RingConfig(id="varalla", name="Varalla", queue_timeout_seconds=120))
    router.sign_in("varalla", 7, clock.now)
    router.set_availability(7, False, None, clock.now)
    ask(router, clock)
    created = clock.now
    clock.advance(60)
    events = router.tick(clock.now)
    # Nobody ticked in between: the 20 s offer expires first, then the queue times out.
    assert events == [
        OfferMissed("q1", "asumistuki", 1),
        QuestionOverflowed("q1", ASKER, "asumistuki", "varalla"),
        QuestionQueued("q1", "varalla", ASKER, 1),
    ]
    old, new = router.question_trail("q1")
    assert (old.ring_id, old.state, old.overflowed_to) == ("asumistuki", "overflowed", "varalla")
    assert (new.ring_id, new.state, new.overflowed_from) == ("varalla", "waiting", "asumistuki")
    assert new.created_at == created
    assert new.deadline == clock.now + timedelta(seconds=120)
    assert router.queue("asumistuki") == []
    assert router.queue("varalla") == ["q1"]
    # The old ring's member cannot take it any more; the overflow ring's member can.
    assert router.accept("q1", 1, clock.now).reason == "not_offered"
    assert offered_to(router.set_availability(7, True, None, clock.now)) == [7]
    outcome = router.accept("q1", 7, clock.now)
    assert outcome.won
    assert next(e for e in outcome.events if isinstance(e, QuestionAccepted)).wait_seconds == 60


def test_queue_timeout_without_overflow_suggests_callback() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(), queue_timeout_seconds=180)
    ask(router, clock)
    clock.advance(179)
    assert router.tick(clock.now) == []
    clock.advance(1)
    assert router.tick(clock.now) == [QuestionTimedOut("q1", "asumistuki", ASKER, True)]
    assert router.question("q1").state == "timed_out"
    assert router.next_deadline() is None
    assert router.accept("q1", 1, clock.now).reason == "closed"


def test_overflow_cycle_stops() -> None:
    clock = FakeClock()
    router = RingRouter()
    router.add_ring(RingConfig("a", "A", overflow_ring_id="b", queue_timeout_seconds=10))
    router.add_ring(RingConfig("b", "B", overflow_ring_id="c", queue_timeout_seconds=10))
    router.add_ring(RingConfig("c", "C", overflow_ring_id="a", queue_timeout_seconds=10))
    ask(router, clock, ring_id="a")
    seen: list[Event] = []
    for _ in range(5):
        clock.advance(10)
        seen += router.tick(clock.now)
    overflowed = [(e.from_ring, e.to_ring) for e in seen if isinstance(e, QuestionOverflowed)]
    assert overflowed == [("a", "b"), ("b", "c")]
    assert [e for e in seen if isinstance(e, QuestionTimedOut)] == [
        QuestionTimedOut("q1", "c", ASKER)
    ]
    assert [e.state for e in router.question_trail("q1")] == [
        "overflowed",
        "overflowed",
        "timed_out",
    ]


def test_overflow_to_unknown_ring_times_out() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(), overflow_ring_id="missing", queue_timeout_seconds=10)
    ask(router, clock)
    clock.advance(10)
    assert kinds(router.tick(clock.now)) == ["question_timed_out"]


# --- waiting, priority, load ---------------------------------------------------------


def test_waiting_question_offered_when_member_becomes_eligible() -> None:
    clock = FakeClock()
    router = make_router(clock, method="longest_idle", members=(1,))
    router.set_availability(1, False, None, clock.now)  # in a meeting
    events = ask(router, clock)
    assert kinds(events) == ["question_queued"]
    assert events[0] == QuestionQueued("q1", "asumistuki", ASKER, 1)
    assert router.question("q1").state == "waiting"
    clock.advance(3)
    assert offered_to(router.set_availability(1, True, None, clock.now)) == [1]


def test_waiting_question_offered_on_sign_in_and_consultation_end() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1,))
    ask(router, clock, qid="q1")
    assert router.accept("q1", 1, clock.now).won
    assert offered_to(ask(router, clock, qid="q2")) == []  # 1 is at the limit
    assert offered_to(router.sign_in("asumistuki", 2, clock.now)) == [2]
    router.decline("q2", 2, clock.now)
    assert offered_to(router.consultation_ended(1, clock.now)) == [1]


def test_urgent_before_normal_and_fifo_within() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1,))
    router.set_availability(1, False, None, clock.now)
    for qid, urgency in [("n1", "normal"), ("u1", "urgent"), ("n2", "normal"), ("u2", "urgent")]:
        ask(router, clock, qid=qid, urgency=urgency)
        clock.advance(1)
    positions = {q: router.queue_status(q, clock.now).position for q in ("n1", "u1", "n2", "u2")}
    assert positions == {"u1": 1, "u2": 2, "n1": 3, "n2": 4}
    # Every open question's status in one pass is what each one's own says.
    assert router.queue_statuses(clock.now) == {
        q: router.queue_status(q, clock.now) for q in ("n1", "u1", "n2", "u2")
    }
    # Of the rings asked for only, from the place asked for on; none asked for, none.
    assert set(router.queue_statuses(clock.now, {"asumistuki": 3})) == {"n1", "n2"}
    assert router.queue_statuses(clock.now, {}) == {}
    assert router.queue("asumistuki") == ["u1", "u2", "n1", "n2"]
    order = []
    router.set_availability(1, True, 0, clock.now)
    for _ in range(4):
        [q] = [q for q in ("n1", "u1", "n2", "u2") if router.question(q).state == "offered"]
        order.append(q)
        assert router.accept(q, 1, clock.now).won
        router.consultation_ended(1, clock.now)
    assert order == ["u1", "u2", "n1", "n2"]


def test_member_with_outstanding_offer_gets_no_second_offer() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1,))
    assert offered_to(ask(router, clock, qid="q1")) == [1]
    assert offered_to(ask(router, clock, qid="q2")) == []
    events = router.decline("q1", 1, clock.now)
    assert OfferMade("q2", "asumistuki", 1, clock.now + timedelta(seconds=20)) in events


def test_load_limit() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1,), max_concurrent=2)
    ask(router, clock, qid="q1")
    assert router.accept("q1", 1, clock.now).won
    assert offered_to(ask(router, clock, qid="q2")) == [1]  # load 1 < 2
    assert router.accept("q2", 1, clock.now).won
    assert offered_to(ask(router, clock, qid="q3")) == []  # load 2 = limit
    assert router.ring_status("asumistuki", clock.now).members_free == ()
    # A caller-reported load replaces the router's count.
    assert offered_to(router.set_availability(1, True, 0, clock.now)) == [1]
    # Reaching the limit while ringing withdraws the offer.
    events = router.set_availability(1, True, 2, clock.now)
    assert events == [OfferWithdrawn("q3", "asumistuki", 1, "unavailable")]


def test_becoming_unavailable_or_signing_out_withdraws_and_moves_on() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial")
    ask(router, clock)
    events = router.set_availability(1, False, None, clock.now)
    assert events[0] == OfferWithdrawn("q1", "asumistuki", 1, "unavailable")
    assert offered_to(events) == [2]
    events = router.sign_out("asumistuki", 2, clock.now)
    assert events[0] == OfferWithdrawn("q1", "asumistuki", 2, "signed_out")
    assert offered_to(events) == [3]
    # Withdrawn is not a refusal: 1 gets it again right away once back.
    router.decline("q1", 3, clock.now)
    assert offered_to(router.set_availability(1, True, None, clock.now)) == [1]


def test_asker_is_never_offered_own_question() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1, 2))
    assert offered_to(ask(router, clock, asker_id=1)) == [2]


def test_decline_is_recorded() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2))
    ask(router, clock)
    events = router.decline("q1", 1, clock.now)
    assert events[0] == OfferDeclined("q1", "asumistuki", 1)
    assert router.question("q1").declined_count == 1
    assert router.member_status(1).declined_offers == 1  # type: ignore[union-attr]
    assert router.decline("q1", 1, clock.now) == []  # no live offer: no-op


def test_cancel() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1, 2))
    ask(router, clock)
    with pytest.raises(NotAsker):
        router.cancel("q1", 1, clock.now)
    with pytest.raises(UnknownQuestion):
        router.cancel("zz", ASKER, clock.now)
    events = router.cancel("q1", ASKER, clock.now)
    assert events == [
        OfferWithdrawn("q1", "asumistuki", 1, "cancelled"),
        OfferWithdrawn("q1", "asumistuki", 2, "cancelled"),
        QuestionCancelled("q1", "asumistuki", ASKER),
    ]
    assert router.question("q1").state == "cancelled"
    assert router.cancel("q1", ASKER, clock.now) == []
    assert router.next_deadline() is None


def test_input_errors_change_nothing() -> None:
    clock = FakeClock()
    router = make_router(clock)
    before = router.parts()
    with pytest.raises(UnknownRing):
        router.sign_in("nope", 1, clock.now)
    with pytest.raises(UnknownRing):
        ask(router, clock, ring_id="nope")
    with pytest.raises(ValueError):
        router.tick(datetime(2026, 1, 5, 9, 0))  # naive time
    with pytest.raises(ValueError):
        ask(router, clock, urgency="whenever")
    assert router.parts() == before
    ask(router, clock)
    with pytest.raises(DuplicateQuestion):
        ask(router, clock)


def test_question_text_with_identity_code_is_refused() -> None:
    clock = FakeClock()
    router = make_router(clock)
    checks = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    code = f"010190-123{checks[int('010190123') % 31]}"
    with pytest.raises(UnredactedIdentityCode) as info:
        ask(router, clock, text=f"Asiakas {code} kysyy")
    assert code not in str(info.value)
    assert router.queue("asumistuki") == []


# --- ring_all rounds (docs/rings.md "Refusals") ------------------------------------------


def test_ring_all_rings_everyone_again_once_all_have_declined() -> None:
    clock = FakeClock()
    router = make_router(clock, alert_seconds=20)
    assert offered_to(ask(router, clock)) == [1, 2, 3]
    router.decline("q1", 1, clock.now)
    clock.advance(3)
    router.decline("q1", 2, clock.now)
    clock.advance(4)
    # Until the last refusal nothing re-rings: 3 is still ringing.
    assert offered_to(router.decline("q1", 3, clock.now)) == []
    # The pause counts from the last refusal (t=7), not from the first (t=0).
    assert router.next_deadline() == clock.now + timedelta(seconds=20)
    clock.advance(13)
    assert router.tick(clock.now) == []  # t=20: the first decliner's own pause is over
    clock.advance(7)
    # t=27: a new round rings all three at once, not just whoever refused first.
    assert offered_to(router.tick(clock.now)) == [1, 2, 3]
    assert router.question("q1").state == "offered"


def test_ring_all_rings_out_then_rings_all_again_after_the_pause() -> None:
    clock = FakeClock()
    router = RingRouter(not_responding_after=0)
    router.add_ring(RingConfig(id="asumistuki", name="Yleinen asumistuki", alert_seconds=20))
    for person in (1, 2):
        router.sign_in("asumistuki", person, clock.now)
    ask(router, clock)
    clock.advance(20)
    assert kinds(router.tick(clock.now)) == ["offer_missed", "offer_missed"]
    clock.advance(20)
    assert offered_to(router.tick(clock.now)) == [1, 2]


def test_ring_all_a_member_new_to_the_round_rings_at_once() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1, 2))
    ask(router, clock)
    router.decline("q1", 1, clock.now)
    # 3 signs in while 2 still rings: 3 joins this round at once; 1 waits for the next.
    assert offered_to(router.sign_in("asumistuki", 3, clock.now)) == [3]
    router.decline("q1", 2, clock.now)
    clock.advance(1)
    router.decline("q1", 3, clock.now)
    clock.advance(20)
    assert offered_to(router.tick(clock.now)) == [1, 2, 3]


# --- not responding --------------------------------------------------------------------


def test_missing_offers_in_a_row_takes_a_member_out_of_routing() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2), alert_seconds=20)
    ask(router, clock)  # rings 1
    clock.advance(20)
    events = router.tick(clock.now)  # 1 missed once: still in routing; 2 rings now
    assert kinds(events) == ["offer_missed", "offer_made"]
    router.decline("q1", 2, clock.now)
    clock.advance(20)
    assert offered_to(router.tick(clock.now)) == [1]  # the re-offer after the pause
    clock.advance(20)
    events = router.tick(clock.now)
    assert MemberNotResponding(1, 2) in events
    status = router.member_status(1)
    assert status is not None and status.not_responding and status.missed_in_row == 2
    assert router.ring_status("asumistuki", clock.now).members_not_responding == (1,)
    assert router.ring_status("asumistuki", clock.now).members_free == (2,)
    # The asker is not held up: the question moves to 2 and never comes back to 1.
    assert offered_to(events) == [2]
    router.decline("q1", 2, clock.now)
    clock.advance(20)
    assert offered_to(router.tick(clock.now)) == [2]


def test_an_answer_resets_the_count_and_resume_or_sign_in_brings_a_member_back() -> None:
    clock = FakeClock()
    router = make_router(
        clock, method="serial", members=(1,), alert_seconds=20, queue_timeout_seconds=1000
    )
    ask(router, clock)
    clock.advance(20)
    router.tick(clock.now)  # missed once
    clock.advance(20)
    router.tick(clock.now)  # offered again after the pause
    router.decline("q1", 1, clock.now)  # an answer: the count starts over
    assert router.member_status(1).missed_in_row == 0  # type: ignore[union-attr]
    clock.advance(20)
    router.tick(clock.now)
    clock.advance(20)
    router.tick(clock.now)  # missed once
    clock.advance(20)
    router.tick(clock.now)
    clock.advance(20)
    events = router.tick(clock.now)  # missed twice in a row
    assert MemberNotResponding(1, 2) in events
    clock.advance(60)
    assert offered_to(router.tick(clock.now)) == []  # waits for them, never rings them
    events = router.resume(1, clock.now)
    assert events[0] == MemberResumed(1)
    assert offered_to(events) == [1]
    # Resuming when responding changes nothing and says nothing.
    assert router.resume(1, clock.now) == []
    clock.advance(20)
    router.tick(clock.now)
    clock.advance(20)
    router.tick(clock.now)
    clock.advance(20)
    assert MemberNotResponding(1, 2) in router.tick(clock.now)
    # Signing into a ring is an answer too.
    assert MemberResumed(1) in router.sign_in("asumistuki", 1, clock.now)


def test_not_responding_after_zero_never_takes_anyone_out() -> None:
    clock = FakeClock()
    router = RingRouter(not_responding_after=0)
    router.add_ring(RingConfig(id="r", name="R", method="serial", alert_seconds=20))
    router.sign_in("r", 1, clock.now)
    router.ask("q", "r", ASKER, "kysymys", "normal", clock.now)
    for _ in range(6):
        clock.advance(20)
        assert not any(isinstance(e, MemberNotResponding) for e in router.tick(clock.now))
    assert not router.member_status(1).not_responding  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        RingRouter(not_responding_after=-1)


def test_withdrawn_offers_do_not_count_as_missed() -> None:
    clock = FakeClock()
    router = make_router(clock, members=(1, 2), alert_seconds=20)
    for qid in ("a", "b", "c"):
        ask(router, clock, qid=qid)
        router.accept(qid, 2, clock.now)  # 1's offer is withdrawn: taken
        router.consultation_ended(2, clock.now)
    assert router.member_status(1).missed_in_row == 0  # type: ignore[union-attr]


# --- phone hours --------------------------------------------------------------------------


def test_a_phone_hours_ring_offers_only_members_within_their_hours() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2), phone_hours_only=True)
    router.set_phone_hours(1, False, clock.now)
    assert offered_to(ask(router, clock)) == [2]
    assert router.ring_status("asumistuki", clock.now).members_free == (2,)
    router.decline("q1", 2, clock.now)
    clock.advance(5)
    # 1's hours begin: offered at once.
    assert offered_to(router.set_phone_hours(1, True, clock.now)) == [1]
    # Hours ending withdraws a ringing offer, as becoming unavailable does.
    events = router.set_phone_hours(1, False, clock.now)
    assert OfferWithdrawn("q1", "asumistuki", 1, "unavailable") in events
    # Another ring that does not ask about phone hours offers 1 regardless.
    router.add_ring(RingConfig(id="muu", name="Muu", method="serial"))
    router.sign_in("muu", 1, clock.now)
    assert offered_to(router.ask("q2", "muu", ASKER, "toinen", "normal", clock.now)) == [1]


def test_queue_status_counts_who_it_rings() -> None:
    clock = FakeClock()
    router = make_router(clock)
    ask(router, clock)
    assert router.queue_status("q1", clock.now).ringing == 3
    router.decline("q1", 1, clock.now)
    assert router.queue_status("q1", clock.now).ringing == 2


# --- persistence ---------------------------------------------------------------------


Step = Callable[[RingRouter, FakeClock], list[Event]]


def scenario() -> list[Step]:
    def setup(r: RingRouter, c: FakeClock) -> list[Event]:
        r.add_ring(
            RingConfig(
                "tt",
                "Työttömyysturva",
                method="round_robin",
                overflow_ring_id="varalla",
                queue_timeout_seconds=100,
            )
        )
        r.add_ring(RingConfig("varalla", "Varalla", method="longest_idle"))
        out: list[Event] = []
        for p in (1, 2, 3):
            out += r.sign_in("tt", p, c.now)
        out += r.sign_in("varalla", 9, c.now)
        out += r.set_availability(9, False, None, c.now)
        return out

    def ask_two(r: RingRouter, c: FakeClock) -> list[Event]:
        out = r.ask("a", "tt", ASKER, "kysymys A", "normal", c.now)
        c.advance(2)
        out += r.ask("b", "tt", ASKER + 1, "kysymys B", "urgent", c.now)
        c.advance(1)
        return out + r.ask("c", "tt", ASKER + 2, "kysymys C", "normal", c.now)

    def decline_and_wait(r: RingRouter, c: FakeClock) -> list[Event]:
        out = r.decline("b", 2, c.now)
        c.advance(25)
        return out + r.tick(c.now)

    def accept_some(r: RingRouter, c: FakeClock) -> list[Event]:
        out: list[Event] = []
        for person in (1, 2, 3):
            for qid in ("a", "b"):
                res = r.accept(qid, person, c.now)
                out += res.events
        return out

    def later(r: RingRouter, c: FakeClock) -> list[Event]:
        c.advance(120)
        out = r.tick(c.now)
        out += r.set_availability(9, True, None, c.now)
        return out + r.accept("c", 9, c.now).events

    return [setup, ask_two, decline_and_wait, accept_some, later]


def stored(router: RingRouter) -> RouterParts:
    """The router's pieces as the store gives them back: each one through JSON (a row's
    key stays what its column holds)."""
    parts = router.parts()

    def through_json(value: Any) -> Any:
        return json.loads(json.dumps(value))

    return RouterParts(
        seq=parts.seq,
        rings={k: through_json(v) for k, v in parts.rings.items()},
        people={k: through_json(v) for k, v in parts.people.items()},
        questions={k: through_json(v) for k, v in parts.questions.items()},
    )


def run(restart_after: int | None) -> tuple[list[dict[str, Any]], RouterParts]:
    clock = FakeClock()
    router = RingRouter()
    log: list[dict[str, Any]] = []
    for i, step in enumerate(scenario()):
        log += [e.to_dict() for e in step(router, clock)]
        if restart_after == i:
            router = RingRouter.from_parts(stored(router))
    return log, router.parts()


@pytest.mark.parametrize("restart_after", [0, 1, 2, 3, 4])
def test_restart_mid_scenario_gives_same_outcomes(restart_after: int) -> None:
    assert run(restart_after) == run(None)


def test_round_trip_preserves_state_and_timers() -> None:
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2))
    ask(router, clock)
    router.decline("q1", 1, clock.now)
    router.set_phone_hours(2, False, clock.now)
    clock.advance(20)
    router.tick(clock.now)
    restored = RingRouter.from_parts(stored(router))
    assert restored.parts() == router.parts()
    assert restored.next_deadline() == router.next_deadline()
    assert restored.question_trail("q1") == router.question_trail("q1")
    assert restored.rings() == router.rings()


def test_event_to_dict() -> None:
    clock = FakeClock()
    event = OfferMade("q1", "tt", 4, clock.now)
    assert event.to_dict() == {
        "kind": "offer_made",
        "question_id": "q1",
        "ring_id": "tt",
        "person_id": 4,
        "expires_at": "2026-01-05T09:00:00+00:00",
    }
    assert QuestionTimedOut("q1", "tt", 5).to_dict()["callback_suggested"] is True


# --- timers and status ---------------------------------------------------------------


def test_next_deadline() -> None:
    clock = FakeClock()
    start = clock.now
    router = make_router(clock, members=(), alert_seconds=20, queue_timeout_seconds=180)
    assert router.next_deadline() is None
    ask(router, clock)
    assert router.next_deadline() == start + timedelta(seconds=180)
    clock.advance(10)
    router.sign_in("asumistuki", 1, clock.now)
    assert router.next_deadline() == start + timedelta(seconds=30)  # the offer's expiry
    clock.advance(5)
    ask(router, clock, qid="q2")
    assert router.next_deadline() == start + timedelta(seconds=30)
    router.accept("q1", 1, clock.now)
    assert router.next_deadline() == start + timedelta(seconds=180 + 15)  # q2 queue timeout
    # Ticking exactly at next_deadline applies that timer.
    clock.now = router.next_deadline()  # type: ignore[assignment]
    assert kinds(router.tick(clock.now)) == ["question_timed_out"]
    assert router.next_deadline() is None


def test_queue_status_and_estimate() -> None:
    clock = FakeClock()
    router = make_router(
        clock, method="serial", members=(1, 2), max_concurrent=10, alert_seconds=40
    )
    # Three answered questions, each after 30 s, give the estimator its samples.
    for n in range(3):
        ask(router, clock, qid=f"old{n}")
        clock.advance(30)
        assert router.accept(f"old{n}", 1, clock.now).won
    status = router.ring_status("asumistuki", clock.now)
    assert status.counters.answered == 3
    assert status.counters.answered_within_target == 3
    assert status.estimated_wait_seconds == 30.0
    for p in (1, 2):
        router.set_availability(p, False, None, clock.now)
    for n in range(3):
        ask(router, clock, qid=f"q{n}")
        clock.advance(1)
    qs = router.queue_status("q2", clock.now)
    assert (qs.position, qs.queue_length) == (3, 3)
    assert (qs.members_signed_in, qs.members_free) == (2, 0)
    assert qs.waited_seconds == 1
    assert qs.estimated_wait_seconds == 60.0  # median 30 s x ceil(3 / 2)
    assert qs.to_dict()["position"] == 3
    assert router.queue_status("q0", clock.now).estimated_wait_seconds == 30.0
    ring = router.ring_status("asumistuki", clock.now)
    assert (ring.waiting, ring.offered, ring.oldest_wait_seconds) == (3, 0, 3)
    assert ring.members_signed_in == (1, 2)
    json.dumps(ring.to_dict())
    closed = router.queue_status("old0", clock.now)
    assert (closed.position, closed.state, closed.deadline) == (None, "accepted", None)


def test_estimate_unknown_without_history_or_members() -> None:
    clock = FakeClock()
    router = make_router(clock, members=())
    ask(router, clock)
    assert router.queue_status("q1", clock.now).estimated_wait_seconds is None
    router.sign_in("asumistuki", 1, clock.now)
    assert router.queue_status("q1", clock.now).estimated_wait_seconds is None


def test_purge_closed() -> None:
    clock = FakeClock()
    router = make_router(clock)
    ask(router, clock, qid="q1")
    ask(router, clock, qid="q2")
    router.cancel("q1", ASKER, clock.now)
    clock.advance(1)
    assert router.purge_closed(clock.now) == ["q1"]
    with pytest.raises(UnknownQuestion):
        router.question("q1")
    assert router.question("q2").is_open


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        RingConfig("a", "A", method="lottery")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RingConfig("a", "A", overflow_ring_id="a")
    with pytest.raises(ValueError):
        RingConfig("a", "A", alert_seconds=0)
    with pytest.raises(ValueError):
        RingConfig("a", "A", serial_order=[1, 1])
    config = RingConfig("a", "A", method="serial", serial_order=[3, 1])
    assert config.serial_order == (3, 1)
    assert RingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_the_saved_state_leaves_closed_questions_out() -> None:
    """What is saved on every change grows with the open questions only: closed ones live
    on in the consultation log, and routing does not need them."""
    clock = FakeClock()
    router = make_router(clock, members=(1, 2))
    ask(router, clock, "done")
    assert router.accept("done", 1, clock.now).won
    router.consultation_ended(1, clock.now)
    ask(router, clock, "open")
    saved = stored(router)
    assert list(saved.questions) == ["open"]
    assert router.question("done").state == "accepted"  # still answered from memory
    restored = RingRouter.from_parts(saved)
    assert restored.next_deadline() == router.next_deadline()
    # The answered question still counts in the ring's recent waits (the estimate).
    assert (
        restored.ring_status("asumistuki", clock.now).counters
        == router.ring_status("asumistuki", clock.now).counters
    )
    assert restored.accept("open", 2, clock.now).won


# --- an input costs what it touches -----------------------------------------------------


def _without_retry(parts: RouterParts) -> RouterParts:
    """The pieces but the re-offer times (a ring nothing changed in keeps one that a
    pass over every ring would have cleared: it then comes, and routes nothing)."""
    questions = {
        qid: [{**e, "retry_at": None} for e in chain] for qid, chain in parts.questions.items()
    }
    return RouterParts(parts.seq, parts.rings, parts.people, questions)


def _open_id(router: RingRouter, pick: int) -> str:
    """One of the open questions (the same one of two routers holding the same state)."""
    ids = [q.id for q in router.open_questions()]
    return ids[pick % len(ids)] if ids else "none"


def _offered(router: RingRouter, pick: int) -> tuple[str, int]:
    """A live offer: its question and the member it rings for."""
    offers = [(q.id, o.person_id) for q in router.open_questions() for o in q.live_offers]
    return offers[pick % len(offers)] if offers else ("none", 1)


def _a_busy_day(seed: int) -> list[Callable[[RingRouter, FakeClock], Any]]:
    """Random inputs of every kind over four rings (each routing method, an overflow,
    phone hours, two at once), eight members and three askers."""
    rng = random.Random(seed)
    people = list(range(1, 9))
    rings = ["a", "b", "c", "d"]
    steps: list[Callable[[RingRouter, FakeClock], Any]] = []
    for n in range(160):
        roll = rng.random()
        person, ring = rng.choice(people), rng.choice(rings)
        pick = rng.randrange(1000)
        if roll < 0.18:
            urgency = "urgent" if rng.random() < 0.2 else "normal"
            asker = rng.choice([ASKER, ASKER + 1, 3])

            def step(r: RingRouter, c: FakeClock, q: str = f"q{n}", **kw: Any) -> Any:
                return r.ask(q, kw["ring"], kw["asker"], "?", kw["urgency"], c.now)

            steps.append(
                lambda r, c, s=step, k={"ring": ring, "asker": asker, "urgency": urgency}: s(
                    r, c, **k
                )
            )
        elif roll < 0.33:
            if rng.random() < 0.8:
                steps.append(lambda r, c, k=pick: r.accept(*_offered(r, k), c.now).events)
            else:
                steps.append(
                    lambda r, c, k=pick, p=person: r.accept(_open_id(r, k), p, c.now).events
                )
        elif roll < 0.43:
            steps.append(lambda r, c, k=pick: r.decline(*_offered(r, k), c.now))
        elif roll < 0.48:
            steps.append(lambda r, c, k=pick: r.cancel(_open_id(r, k), ASKER, c.now))
        elif roll < 0.56:
            steps.append(lambda r, c, g=ring, p=person: r.sign_in(g, p, c.now))
        elif roll < 0.60:
            steps.append(lambda r, c, g=ring, p=person: r.sign_out(g, p, c.now))
        elif roll < 0.70:
            free = rng.random() < 0.7
            steps.append(lambda r, c, p=person, f=free: r.set_availability(p, f, None, c.now))
        elif roll < 0.74:
            inside = rng.random() < 0.6
            steps.append(lambda r, c, p=person, i=inside: r.set_phone_hours(p, i, c.now))
        elif roll < 0.80:
            steps.append(lambda r, c, p=person: r.consultation_ended(p, c.now))
        elif roll < 0.83:
            steps.append(lambda r, c, p=person: r.resume(p, c.now))
        elif roll < 0.85:
            limit = rng.choice([1, 2, 3])

            def configure(r: RingRouter, c: FakeClock, g: str = ring, n: int = limit) -> Any:
                config = r.config(g)
                assert config is not None
                r.add_ring(replace(config, max_concurrent=n))
                return r.tick(c.now)

            steps.append(configure)
        else:
            seconds = rng.choice([1, 5, 10, 20, 31, 60])
            steps.append(lambda r, c, s=seconds: r.tick(c.advance(s)))
    return steps


def _busy_router() -> RingRouter:
    router = RingRouter()
    router.add_ring(
        RingConfig(
            "a", "A", "ring_all", alert_seconds=20, queue_timeout_seconds=90, overflow_ring_id="b"
        )
    )
    router.add_ring(RingConfig("b", "B", "round_robin", alert_seconds=15, max_concurrent=2))
    router.add_ring(
        RingConfig("c", "C", "serial", serial_order=(5, 2, 7), queue_timeout_seconds=120)
    )
    router.add_ring(RingConfig("d", "D", "longest_idle", alert_seconds=10, phone_hours_only=True))
    return router


@pytest.mark.parametrize("seed", range(12))
def test_routing_only_what_an_input_touched_decides_as_routing_everything(seed: int) -> None:
    """After every input of a random day, the router that settles only the rings and
    members the input changed gives the same events as a router made from the same
    state, which settles every ring and member (from_parts); its next deadline is never
    later; each asker's open questions, each ring's queue and counts are the same as
    counted from the open questions; and the pieces `changes()` hands out, applied one change after another, are
    the whole state."""
    clock = FakeClock()
    router = _busy_router()
    saved = stored(router)
    mirror = {"rings": dict(saved.rings), "people": dict(saved.people), "questions": {}}
    router.changes()
    for step in _a_busy_day(seed):
        everything = RingRouter.from_parts(stored(router))
        at = clock.now
        try:
            events = step(router, clock)
        except (NotAsker, UnknownQuestion, UnknownRing):
            continue
        clock.now = at
        reference = step(everything, clock)
        assert [e.to_dict() for e in events] == [e.to_dict() for e in reference]
        assert _without_retry(router.parts()) == _without_retry(everything.parts())
        for asker in (ASKER, ASKER + 1, 3):
            mine = [q.id for q in everything.open_questions() if q.asker_id == asker]
            assert router.open_questions_of(asker) == mine
        for ring_id in ("a", "b", "c", "d"):
            waiting = [q for q in everything.open_questions() if q.ring_id == ring_id]
            status = router.ring_status(ring_id, clock.now)
            assert (status.waiting, status.offered) == (
                sum(q.state == "waiting" for q in waiting),
                sum(q.state == "offered" for q in waiting),
            )
            oldest = min((q.created_at for q in waiting), default=None)
            assert status.oldest_wait_seconds == (
                None if oldest is None else (clock.now - oldest).total_seconds()
            )
            in_order = sorted(waiting, key=lambda q: q.queue_key())
            assert router.queue(ring_id) == [q.id for q in in_order]
        expected = everything.next_deadline()
        deadline = router.next_deadline()
        assert (deadline is None) == (expected is None)
        assert deadline is None or expected is None or deadline <= expected
        changes = json.loads(json.dumps(asdict(router.changes())))
        for kind in ("rings", "people", "questions"):
            for key, piece in changes[kind].items():
                if piece is None:
                    mirror[kind].pop(key)
                else:
                    mirror[kind][key] = piece
        whole = json.loads(json.dumps(asdict(router.parts())))
        assert {k: mirror[k] for k in ("rings", "people", "questions")} == {
            k: whole[k] for k in ("rings", "people", "questions")
        }


def test_a_ring_reconfigured_withdraws_offers_its_members_can_no_longer_take() -> None:
    """A member with a consultation open is offered a question of a ring that allows
    two at once; the ring is set to one at a time: the offer is withdrawn, and the
    question goes to a member who can take it."""
    clock = FakeClock()
    router = make_router(clock, method="serial", members=(1, 2), max_concurrent=2)
    ask(router, clock, "first")
    assert router.accept("first", 1, clock.now).won
    router.set_availability(2, False, None, clock.now)
    assert offered_to(ask(router, clock, "second")) == [1]
    config = router.config("asumistuki")
    assert config is not None
    router.add_ring(replace(config, max_concurrent=1))
    assert [e.to_dict() for e in router.tick(clock.now)] == [
        OfferWithdrawn("second", "asumistuki", 1, "unavailable").to_dict()
    ]
    assert offered_to(router.set_availability(2, True, None, clock.now)) == [2]


def test_a_change_hands_out_only_the_pieces_it_touched() -> None:
    """With many questions waiting in a ring nobody can answer, a question asked and
    taken in another ring changes that question, its ring and the member who took it,
    and nothing else."""
    clock = FakeClock()
    router = RingRouter()
    router.add_ring(RingConfig("fast", "Fast", max_concurrent=1000))
    router.add_ring(RingConfig("parked", "Parked"))
    router.sign_in("fast", 1, clock.now)
    router.sign_in("parked", 2, clock.now)
    router.set_availability(2, False, None, clock.now)
    for n in range(200):
        router.ask(f"p{n}", "parked", ASKER, "?", "normal", clock.now)
    router.changes()
    router.ask("f", "fast", ASKER, "?", "normal", clock.now)
    assert router.accept("f", 1, clock.now).won
    changes = router.changes()
    assert set(changes.rings) == {"fast"}
    assert set(changes.people) == {1}
    assert changes.questions == {}  # asked and closed between two saves: nothing to write
    router.ask("g", "fast", ASKER, "?", "normal", clock.now)
    changes = router.changes()
    assert set(changes.questions) == {"g"} and set(changes.people) == set()
    assert router.accept("g", 1, clock.now).won
    assert router.changes().questions == {"g": None}


def test_another_nodes_changes_applied_give_its_state() -> None:
    """A node that applies the pieces another saved holds the same state, with the
    same queues, offers and timers, without routing anything."""
    clock = FakeClock()
    writer = _busy_router()
    reader = _busy_router()
    for step in _a_busy_day(3)[:80]:
        try:
            step(writer, clock)
        except (NotAsker, UnknownQuestion, UnknownRing):
            continue
        changes = writer.changes()
        reader.apply(RouterChanges(**json.loads(json.dumps(asdict(changes)))))
        assert reader.parts() == writer.parts()
        assert reader.next_deadline() is None or reader.next_deadline() >= (
            writer.next_deadline() or reader.next_deadline()
        )
        for question in writer.open_questions():
            assert reader.queue_status(question.id, clock.now) == writer.queue_status(
                question.id, clock.now
            )
    assert reader.changes() == RouterChanges(writer.changes().seq, {}, {}, {})
