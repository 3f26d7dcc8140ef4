"""The consultation log's and callback requests' records as frames and the API show them
(the Structs of liaison/protocol/rings.py, built from their rows), the vocabularies, and
the client reference every ring service computes the same way. Shared by the ring
services (liaison/services/rings.py, consultations.py, callbacks.py, named_contacts.py)
so none of them needs another for a record's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from liaison.domain import identity
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import (
    CallbackState,
    ConsultationKind,
    ConsultationState,
    LegalBasis,
    Outcome,
    RecordedOutcome,
    Topic,
    Urgency,
    values,
)
from liaison.protocol import rings as shapes
from liaison.store.models import CallbackRequest, Consultation

# The vocabularies, from their one source (liaison/domain/vocabulary.py), for the pages
# and the demo; frames and bodies are checked against the enums themselves.
OUTCOMES = values(Outcome)
TOPICS = values(Topic)
LEGAL_BASES = values(LegalBasis)
OPEN_CALLBACK_STATES = values(CallbackState)[:2]
# A question, a note on a consultation, a callback's note.
MAX_QUESTION_CHARS = 500


class RecordError(Refused):
    """A field of a ring record that cannot be right."""


def client_reference(code: str | None, secret: Callable[[], bytes]) -> str | None:
    """The pseudonym of a personal identity code; None when no code was given (the
    secret is asked for only when there is a code: it may be missing in a demo)."""
    if not code:
        return None
    try:
        return identity.pseudonymise(code, secret())
    except identity.InvalidIdentityCode as e:
        raise RecordError(
            "invalid_identity_code",
            f"that is not a valid personal identity code ({e.reason})",
        ) from None


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def consultation_record(c: Consultation) -> shapes.Consultation:
    wait = (c.accepted_at - c.asked_at).total_seconds() if c.accepted_at else None
    handle = (
        (c.closed_at - c.accepted_at).total_seconds() if c.closed_at and c.accepted_at else None
    )
    # The row's columns are plain text; the record says which vocabulary each is.
    return shapes.Consultation(
        id=c.id,
        question_id=c.question_id,
        kind=ConsultationKind(c.kind),
        ring_id=c.ring_id,
        asker_id=c.asker_id,
        expert_id=c.expert_id,
        third_party_id=c.third_party_id,
        conversation_id=c.conversation_id,
        question=c.question,
        urgency=Urgency(c.urgency),
        client_ref=c.client_ref,
        legal_basis=LegalBasis(c.legal_basis) if c.legal_basis else None,
        state=ConsultationState(c.state),
        asked_at=c.asked_at.isoformat(),
        offered_at=iso(c.offered_at),
        accepted_at=iso(c.accepted_at),
        closed_at=iso(c.closed_at),
        wait_seconds=wait,
        handle_seconds=handle,
        missed_offers=c.missed_offers,
        outcome=RecordedOutcome(c.outcome) if c.outcome else None,
        topic=Topic(c.topic) if c.topic else None,
        asker_note=c.asker_note,
        kept_open_at=iso(c.kept_open_at),
        reminded_at=iso(c.reminded_at),
    )


def callback_record(c: CallbackRequest) -> shapes.CallbackRequest:
    return shapes.CallbackRequest(
        id=c.id,
        consultation_id=c.consultation_id,
        created_by=c.created_by,
        owner_person_id=c.owner_person_id,
        owner_ring_id=c.owner_ring_id,
        note=c.note,
        client_ref=c.client_ref,
        state=CallbackState(c.state),
        claimed_by=c.claimed_by,
        due_at=c.due_at.isoformat(),
        created_at=c.created_at.isoformat(),
        closed_at=iso(c.closed_at),
    )
