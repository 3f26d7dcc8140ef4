"""Display names for the directory's codes; the English text is the gettext message id."""

from __future__ import annotations

from enum import StrEnum

from liaison.domain.vocabulary import (
    CallbackState,
    LegalBasis,
    PresenceStatus,
    RecordedOutcome,
    Topic,
    Urgency,
)
from liaison.web.i18n import gettext_


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


STATUS: dict[str, str] = {
    PresenceStatus.AVAILABLE: N_("Available"),
    PresenceStatus.BUSY: N_("Busy"),
    PresenceStatus.DND: N_("Do not disturb"),
    PresenceStatus.AWAY: N_("Away"),
    PresenceStatus.OFFLINE: N_("Offline"),
}
BENEFITS = {
    "basic_social_assistance": N_("Basic social assistance"),
    "housing_allowance": N_("General housing allowance"),
    "unemployment_security": N_("Unemployment security"),
    "pensioners_housing_allowance": N_("Pensioners' housing allowance"),
    "sickness_allowance": N_("Sickness allowance"),
    "rehabilitation": N_("Rehabilitation"),
    "child_benefits": N_("Child benefits"),
    "student_financial_aid": N_("Student financial aid"),
}
ROLES = {
    "service_specialist": N_("Service specialist"),
    "decision_expert": N_("Decision expert"),
    "municipal_liaison": N_("Municipal liaison"),
    "social_worker": N_("Social worker"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
}
ORGANISATION_KINDS = {"kela": N_("Kela"), "social_services": N_("Social services")}
OUTCOMES: dict[str, str] = {
    RecordedOutcome.ANSWERED: N_("Answered"),
    RecordedOutcome.NEEDS_FOLLOW_UP: N_("Needs follow-up"),
    RecordedOutcome.FORWARDED: N_("Forwarded"),
    RecordedOutcome.CALLBACK_NEEDED: N_("Callback needed"),
    # Closed by itself after idling (liaison/domain/consultations.py); never chosen.
    RecordedOutcome.NOT_RECORDED: N_("Not recorded"),
}
TOPICS: dict[str, str] = {
    Topic.STATEMENT: N_("Statement"),
    Topic.MISSING_ATTACHMENT: N_("Missing attachment"),
    Topic.CLIENTS_SITUATION: N_("Client's situation"),
    Topic.DISCRETION: N_("Discretion"),
    Topic.URGENT_NEED: N_("Urgent need"),
    Topic.REQUEST_TO_EXPEDITE: N_("Request to expedite"),
}
LEGAL_BASES: dict[str, str] = {
    LegalBasis.CLIENT_CONSENT: N_("Client's consent"),
    LegalBasis.CLIENT_PRESENT: N_("Client present"),
    LegalBasis.NECESSITY_SA_18: N_("Necessary under the Social Assistance Act §18"),
}
CALLBACK_STATES: dict[str, str] = {
    CallbackState.OPEN: N_("Open"),
    CallbackState.CLAIMED: N_("Claimed"),
    CallbackState.DONE: N_("Done"),
    CallbackState.COULD_NOT_REACH: N_("Could not reach"),
}
URGENCY: dict[str, str] = {Urgency.NORMAL: N_("Normal"), Urgency.URGENT: N_("Urgent")}
WEEKDAYS = [
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
]


def translated() -> dict[str, dict[str, str] | list[str]]:
    """All labels in the current language, for the page's scripts."""
    return {
        "status": {k: gettext_(v) for k, v in STATUS.items()},
        "benefits": {k: gettext_(v) for k, v in BENEFITS.items()},
        "roles": {k: gettext_(v) for k, v in ROLES.items()},
        "organisation_kinds": {k: gettext_(v) for k, v in ORGANISATION_KINDS.items()},
        "weekdays": [gettext_(d) for d in WEEKDAYS],
        "outcomes": {k: gettext_(v) for k, v in OUTCOMES.items()},
        "topics": {k: gettext_(v) for k, v in TOPICS.items()},
        "legal_bases": {k: gettext_(v) for k, v in LEGAL_BASES.items()},
        "callback_states": {k: gettext_(v) for k, v in CALLBACK_STATES.items()},
        "urgency": {k: gettext_(v) for k, v in URGENCY.items()},
    }


# Each vocabulary beside its labels: tests/test_vocabulary.py holds their keys equal.
VOCABULARY_LABELS: tuple[tuple[type[StrEnum], dict[str, str]], ...] = (
    (PresenceStatus, STATUS),
    (RecordedOutcome, OUTCOMES),
    (Topic, TOPICS),
    (LegalBasis, LEGAL_BASES),
    (CallbackState, CALLBACK_STATES),
    (Urgency, URGENCY),
)
