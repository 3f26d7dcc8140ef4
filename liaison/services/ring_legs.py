"""Writes the load view's record of ring events: one leg per question per ring visited,
and one row per ended offer. Called by the ring service inside the transaction that
saves the router state, so the record and the state never disagree (docs/load.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

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


@dataclass(slots=True)
class _Batch:
    """One batch of events being written: the legs open before it, those it ends, the
    rows it adds."""

    router: domain.RingRouter
    now: datetime
    open_legs: dict[tuple[str, str], RingLeg]
    new: list[RingLeg | RingOffer] = field(default_factory=list)
    # Legs that end in this batch: the other members' offers of an accepted question are
    # withdrawn after the acceptance, and still belong to it.
    ended: dict[tuple[str, str], RingLeg] = field(default_factory=dict)
    trails: dict[str, list[domain.Question]] = field(default_factory=dict)

    def stay(self, question_id: str, ring_id: str) -> domain.Question | None:
        """The question's latest stay in this ring (one copy of its trail per batch)."""
        if question_id not in self.trails:
            try:
                self.trails[question_id] = self.router.question_trail(question_id)
            except domain.UnknownQuestion:
                self.trails[question_id] = []
        return next((e for e in reversed(self.trails[question_id]) if e.ring_id == ring_id), None)

    def leg(self, question_id: str, ring_id: str) -> RingLeg | None:
        """The leg open (or ended in this batch); None for a question from before this
        record existed: nothing to update."""
        key = (question_id, ring_id)
        return self.open_legs.get(key) or self.ended.get(key)

    def end(self, leg: RingLeg, outcome: str, wait: float | None = None) -> None:
        leg.outcome, leg.ended_at = outcome, self.now
        leg.wait_seconds = wait if wait is not None else (self.now - leg.asked_at).total_seconds()
        key = (leg.question_id, leg.ring_id)
        self.ended[key] = self.open_legs.pop(key)

    def offer_ended(self, event: OfferEnd, outcome: str, reason: str | None = None) -> None:
        stay = self.stay(event.question_id, event.ring_id)
        offers = [] if stay is None else [o for o in stay.offers if o.person_id == event.person_id]
        offer = offers[-1] if offers else None
        self.new.append(
            RingOffer(
                question_id=event.question_id,
                ring_id=event.ring_id,
                person_id=event.person_id,
                offered_at=offer.offered_at if offer else self.now,
                # A missed offer ended when its alert time ran out, not when the timer noticed.
                ended_at=(offer.ended_at if offer else None) or self.now,
                outcome=outcome,
                reason=reason,
            )
        )


def legs_and_offers(
    router: domain.RingRouter,
    events: Sequence[domain.Event],
    now: datetime,
    open_legs: dict[tuple[str, str], RingLeg],
) -> list[RingLeg | RingOffer]:
    """The record the events imply, without I/O: updates the legs in `open_legs` (keyed
    by question and ring) in place, drops those that end, adds those that open, and
    returns the new rows (legs opened, offers ended). The demo's invented history
    (liaison/demo.py) goes through here too, so both have one model of ring outcomes.
    Events about a member (not responding, back) have no entry: they leave no leg."""
    batch = _Batch(router, now, open_legs)
    for event in events:
        effect = LEG_EFFECTS.get(type(event))
        if effect is not None:
            effect(batch, event)
    return batch.new


def _queued(b: _Batch, event: domain.QuestionQueued) -> None:
    stay = b.stay(event.question_id, event.ring_id)
    if stay is None:
        return
    leg = RingLeg(
        question_id=event.question_id,
        ring_id=event.ring_id,
        urgency=stay.urgency,
        asked_at=stay.created_at,
        entered_at=stay.entered_ring_at,
        outcome="waiting",
        missed_offers=0,
        declined_offers=0,
        target_answer_seconds=next(
            (c.target_answer_seconds for c in b.router.rings() if c.id == event.ring_id), 60
        ),
    )
    b.new.append(leg)
    b.open_legs[(event.question_id, event.ring_id)] = leg


def _offer_made(b: _Batch, event: domain.OfferMade) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        leg.first_offered_at = leg.first_offered_at or b.now


def _offer_missed(b: _Batch, event: domain.OfferMissed) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        leg.missed_offers += 1
        b.offer_ended(event, "missed")


def _offer_declined(b: _Batch, event: domain.OfferDeclined) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        leg.declined_offers += 1
        b.offer_ended(event, "declined")


def _offer_withdrawn(b: _Batch, event: domain.OfferWithdrawn) -> None:
    if b.leg(event.question_id, event.ring_id):
        b.offer_ended(event, "withdrawn", event.reason)


def _accepted(b: _Batch, event: domain.QuestionAccepted) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        leg.answered_by = event.person_id
        b.end(leg, "answered", event.wait_seconds)
        b.offer_ended(event, "accepted")


def _overflowed(b: _Batch, event: domain.QuestionOverflowed) -> None:
    if leg := b.leg(event.question_id, event.from_ring):
        b.end(leg, "overflowed")


def _cancelled(b: _Batch, event: domain.QuestionCancelled) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        b.end(leg, "cancelled")


def _timed_out(b: _Batch, event: domain.QuestionTimedOut) -> None:
    if leg := b.leg(event.question_id, event.ring_id):
        b.end(leg, "timed_out")


# Every question event's effect on the load view's record (tests/test_load.py checks none
# is missing), as ring_effects.EFFECTS is for the consultation record.
LEG_EFFECTS: dict[type[Any], Callable[[_Batch, Any], None]] = {
    domain.QuestionQueued: _queued,
    domain.OfferMade: _offer_made,
    domain.OfferMissed: _offer_missed,
    domain.OfferDeclined: _offer_declined,
    domain.OfferWithdrawn: _offer_withdrawn,
    domain.QuestionAccepted: _accepted,
    domain.QuestionOverflowed: _overflowed,
    domain.QuestionCancelled: _cancelled,
    domain.QuestionTimedOut: _timed_out,
}
