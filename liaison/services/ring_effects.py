"""What the ring router's events mean outside the router: how each question event changes
its consultation record, and which frames go to whom. One entry per event type in
`EFFECTS`, so what an event does is read in one place, not found in a chain of checks.

The ring service (liaison/services/rings.py) applies them inside the transaction that
saves the router state, with every record the events concern fetched in one query; the
frames are sent once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.domain import rings as domain
from liaison.domain.vocabulary import OfferEndReason, Urgency
from liaison.protocol import server
from liaison.store.models import Consultation


@dataclass(slots=True)
class Effects:
    """What one batch of events implies, gathered while the records are changed."""

    now: datetime
    ring_name: Callable[[str], str]
    # (to whom, frame), in the order of the events
    frames: list[tuple[set[int], server.ServerFrame]] = field(default_factory=list)
    # Questions taken: their consultations open once the records are saved.
    accepted: list[domain.QuestionAccepted] = field(default_factory=list)
    # Questions whose askers hear their status.
    questions: set[str] = field(default_factory=set)
    # Members whose own standing in routing changed (`ring_member` frame).
    members: set[int] = field(default_factory=set)


def offer_frame(c: Consultation, event: domain.OfferMade, ring_name: str) -> server.Offer:
    return server.Offer(
        question_id=c.question_id,
        ring_id=event.ring_id,
        ring_name=ring_name,
        asker_id=c.asker_id,
        question=c.question,
        urgency=Urgency(c.urgency),
        client_ref=c.client_ref,
        expires_at=event.expires_at.isoformat(),
    )


def _queued(fx: Effects, c: Consultation, event: domain.QuestionQueued) -> None:
    """Only the asker's status changes (its place in the queue)."""


def _offer_made(fx: Effects, c: Consultation, event: domain.OfferMade) -> None:
    c.offered_at = c.offered_at or fx.now
    fx.frames.append(({event.person_id}, offer_frame(c, event, fx.ring_name(event.ring_id))))


def _withdrawn(fx: Effects, question_id: str, person_id: int, reason: str) -> None:
    frame = server.OfferWithdrawn(question_id=question_id, reason=OfferEndReason(reason))
    fx.frames.append(({person_id}, frame))


def _offer_missed(fx: Effects, c: Consultation, event: domain.OfferMissed) -> None:
    c.missed_offers += 1
    _withdrawn(fx, event.question_id, event.person_id, "missed")


def _offer_declined(fx: Effects, c: Consultation, event: domain.OfferDeclined) -> None:
    _withdrawn(fx, event.question_id, event.person_id, "declined")


def _offer_withdrawn(fx: Effects, c: Consultation, event: domain.OfferWithdrawn) -> None:
    _withdrawn(fx, event.question_id, event.person_id, event.reason)


def _accepted(fx: Effects, c: Consultation, event: domain.QuestionAccepted) -> None:
    # The record opens by a conditional update (repositories.accept_consultation): the
    # database, not this node's router alone, decides which accept took it.
    fx.accepted.append(event)


def _overflowed(fx: Effects, c: Consultation, event: domain.QuestionOverflowed) -> None:
    c.ring_id = event.to_ring


def _timed_out(fx: Effects, c: Consultation, event: domain.QuestionTimedOut) -> None:
    c.state, c.closed_at = "timed_out", fx.now


def _cancelled(fx: Effects, c: Consultation, event: domain.QuestionCancelled) -> None:
    c.state, c.closed_at = "cancelled", fx.now


# Every question event's effect on its record (tests/test_rings.py checks none is missing).
EFFECTS: dict[type[Any], Callable[[Effects, Consultation, Any], None]] = {
    domain.QuestionQueued: _queued,
    domain.OfferMade: _offer_made,
    domain.OfferMissed: _offer_missed,
    domain.OfferWithdrawn: _offer_withdrawn,
    domain.OfferDeclined: _offer_declined,
    domain.QuestionAccepted: _accepted,
    domain.QuestionOverflowed: _overflowed,
    domain.QuestionTimedOut: _timed_out,
    domain.QuestionCancelled: _cancelled,
}


async def records_of(db: AsyncSession, events: Sequence[domain.Event]) -> dict[str, Consultation]:
    """The records these events concern, in one query (an offer to 30 members is 30
    events about one question)."""
    question_ids = sorted({e.question_id for e in events if not isinstance(e, domain.MemberEvent)})
    if not question_ids:
        return {}
    query = select(Consultation).where(Consultation.question_id.in_(question_ids))
    return {c.question_id: c for c in await db.scalars(query)}


def apply(fx: Effects, events: Sequence[domain.Event], records: dict[str, Consultation]) -> None:
    """Changes the records as the events say and gathers who is to hear what."""
    for event in events:
        if isinstance(event, domain.MemberEvent):
            fx.members.add(event.person_id)
            continue
        c = records.get(event.question_id)
        if c is None:
            # No record behind the question: nothing to change, nobody to tell.
            continue
        fx.questions.add(event.question_id)
        EFFECTS[type(event)](fx, c, event)
