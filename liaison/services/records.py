"""The consultation log's and callback requests' records as frames and the API show them,
the words they are checked against, and the client reference every ring service computes
the same way. Shared by the ring services (liaison/services/rings.py, consultations.py,
callbacks.py, named_contacts.py) so none of them needs another for a record's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from liaison.domain import identity
from liaison.domain.errors import Refused
from liaison.domain.text import is_row_id
from liaison.domain.vocabulary import CallbackState, LegalBasis, Outcome, Topic, values
from liaison.store.models import CallbackRequest, Consultation

# The vocabularies, from their one source (liaison/domain/vocabulary.py).
OUTCOMES = values(Outcome)
TOPICS = values(Topic)
LEGAL_BASES = values(LegalBasis)
CALLBACK_STATES = values(CallbackState)
OPEN_CALLBACK_STATES = CALLBACK_STATES[:2]
# A question, a note on a consultation, a callback's note.
MAX_QUESTION_CHARS = 500


class RecordError(Refused):
    """A field of a ring record that cannot be right."""


def client_reference(code: object, secret: Callable[[], bytes]) -> str | None:
    """The pseudonym of a personal identity code; None when no code was given (the
    secret is asked for only when there is a code: it may be missing in a demo)."""
    if code in (None, ""):
        return None
    if not isinstance(code, str):
        raise RecordError("bad_field", "client_code must be text")
    try:
        return identity.pseudonymise(code, secret())
    except identity.InvalidIdentityCode as e:
        raise RecordError(
            "invalid_identity_code",
            f"that is not a valid personal identity code ({e.reason})",
        ) from None


def valid_consultation_id(value: object) -> int:
    if not is_row_id(value):
        raise RecordError("bad_field", "consultation_id must be a whole number from 0 to 2^31-1")
    return value


def valid_question_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise RecordError("bad_field", "question_id must be text")
    return value


def consultation_dict(c: Consultation) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    wait = (c.accepted_at - c.asked_at).total_seconds() if c.accepted_at else None
    handle = (
        (c.closed_at - c.accepted_at).total_seconds() if c.closed_at and c.accepted_at else None
    )
    return {
        "id": c.id,
        "question_id": c.question_id,
        "kind": c.kind,
        "ring_id": c.ring_id,
        "asker_id": c.asker_id,
        "expert_id": c.expert_id,
        "third_party_id": c.third_party_id,
        "conversation_id": c.conversation_id,
        "question": c.question,
        "urgency": c.urgency,
        "client_ref": c.client_ref,
        "legal_basis": c.legal_basis,
        "state": c.state,
        "asked_at": iso(c.asked_at),
        "offered_at": iso(c.offered_at),
        "accepted_at": iso(c.accepted_at),
        "closed_at": iso(c.closed_at),
        "wait_seconds": wait,
        "handle_seconds": handle,
        "missed_offers": c.missed_offers,
        "outcome": c.outcome,
        "topic": c.topic,
        "asker_note": c.asker_note,
        "kept_open_at": iso(c.kept_open_at),
        "reminded_at": iso(c.reminded_at),
    }


def callback_dict(c: CallbackRequest) -> dict[str, Any]:
    return {
        "id": c.id,
        "consultation_id": c.consultation_id,
        "created_by": c.created_by,
        "owner_person_id": c.owner_person_id,
        "owner_ring_id": c.owner_ring_id,
        "note": c.note,
        "client_ref": c.client_ref,
        "state": c.state,
        "claimed_by": c.claimed_by,
        "due_at": c.due_at.isoformat(),
        "created_at": c.created_at.isoformat(),
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }
