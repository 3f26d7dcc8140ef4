"""Writes the load view's record of ring events: one leg per question per ring visited,
and one row per ended offer. Called by the ring service inside the transaction that
saves the router state, so the record and the state never disagree (docs/load.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.domain import rings as domain
from liaison.store.models import RingLeg, RingOffer

# The events that end one member's offer.
OfferEnd: TypeAlias = (
    domain.OfferMissed | domain.OfferDeclined | domain.OfferWithdrawn | domain.QuestionAccepted
)


async def record_legs(
    db: AsyncSession, router: domain.RingRouter, all_events: list[domain.Event], now: datetime
) -> None:
    events = [e for e in all_events if not isinstance(e, domain.MemberEvent)]
    if not events:
        return
    question_ids = {e.question_id for e in events}
    open_legs = {
        (leg.question_id, leg.ring_id): leg
        for leg in await db.scalars(
            select(RingLeg).where(
                RingLeg.question_id.in_(question_ids), RingLeg.outcome == "waiting"
            )
        )
    }
    db.add_all(legs_and_offers(router, events, now, open_legs))


def legs_and_offers(
    router: domain.RingRouter,
    events: Sequence[domain.Event],
    now: datetime,
    open_legs: dict[tuple[str, str], RingLeg],
) -> list[RingLeg | RingOffer]:
    """The record the events imply, without I/O: updates the legs in `open_legs` (keyed
    by question and ring) in place, drops those that end, adds those that open, and
    returns the new rows (legs opened, offers ended). The demo's invented history
    (liaison/demo.py) goes through here too, so both have one model of ring outcomes."""
    new: list[RingLeg | RingOffer] = []
    targets = {c.id: c.target_answer_seconds for c in router.rings()}
    trails: dict[str, list[domain.Question]] = {}

    def entry(question_id: str, ring_id: str) -> domain.Question | None:
        """The question's latest stay in this ring (one copy of its trail per call)."""
        if question_id not in trails:
            try:
                trails[question_id] = router.question_trail(question_id)
            except domain.UnknownQuestion:
                trails[question_id] = []
        return next((e for e in reversed(trails[question_id]) if e.ring_id == ring_id), None)

    # Legs that end in this batch: the other members' offers of an accepted question are
    # withdrawn after the acceptance, and still belong to it.
    ended: dict[tuple[str, str], RingLeg] = {}

    def end(leg: RingLeg, outcome: str, wait: float | None = None) -> None:
        leg.outcome, leg.ended_at = outcome, now
        leg.wait_seconds = wait if wait is not None else (now - leg.asked_at).total_seconds()
        ended[(leg.question_id, leg.ring_id)] = open_legs.pop((leg.question_id, leg.ring_id))

    for event in events:
        if isinstance(event, domain.MemberEvent):
            continue  # about a member (not responding, back), not about a question
        if isinstance(event, domain.QuestionQueued):
            stay = entry(event.question_id, event.ring_id)
            if stay is None:
                continue
            leg = RingLeg(
                question_id=event.question_id,
                ring_id=event.ring_id,
                urgency=stay.urgency,
                asked_at=stay.created_at,
                entered_at=stay.entered_ring_at,
                outcome="waiting",
                missed_offers=0,
                declined_offers=0,
                target_answer_seconds=targets.get(event.ring_id, 60),
            )
            new.append(leg)
            open_legs[(event.question_id, event.ring_id)] = leg
            continue
        ring_id = event.from_ring if isinstance(event, domain.QuestionOverflowed) else event.ring_id
        current = open_legs.get((event.question_id, ring_id)) or ended.get(
            (event.question_id, ring_id)
        )
        if current is None:
            # A question from before this record existed: nothing to update.
            continue
        if isinstance(event, domain.OfferMade):
            current.first_offered_at = current.first_offered_at or now
        elif isinstance(event, domain.OfferMissed | domain.OfferDeclined | domain.OfferWithdrawn):
            outcome = event.kind.removeprefix("offer_")
            if outcome == "missed":
                current.missed_offers += 1
            elif outcome == "declined":
                current.declined_offers += 1
            new.append(_offer_row(entry(event.question_id, ring_id), event, outcome, now))
        elif isinstance(event, domain.QuestionAccepted):
            current.answered_by = event.person_id
            end(current, "answered", event.wait_seconds)
            new.append(_offer_row(entry(event.question_id, ring_id), event, "accepted", now))
        elif isinstance(event, domain.QuestionOverflowed):
            end(current, "overflowed")
        elif isinstance(event, domain.QuestionCancelled):
            end(current, "cancelled")
        elif isinstance(event, domain.QuestionTimedOut):
            end(current, "timed_out")
    return new


def _offer_row(
    stay: domain.Question | None,
    event: OfferEnd,
    outcome: str,
    now: datetime,
) -> RingOffer:
    offers = [] if stay is None else [o for o in stay.offers if o.person_id == event.person_id]
    offer = offers[-1] if offers else None
    return RingOffer(
        question_id=event.question_id,
        ring_id=event.ring_id,
        person_id=event.person_id,
        offered_at=offer.offered_at if offer else now,
        # A missed offer ended when its alert time ran out, not when the timer noticed.
        ended_at=(offer.ended_at if offer else None) or now,
        outcome=outcome,
        reason=event.reason if isinstance(event, domain.OfferWithdrawn) else None,
    )
