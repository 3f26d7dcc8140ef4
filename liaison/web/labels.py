"""Display names for the directory's codes; the English text is the gettext message id."""

from __future__ import annotations

from liaison.web.i18n import gettext_


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


STATUS = {
    "available": N_("Available"),
    "busy": N_("Busy"),
    "dnd": N_("Do not disturb"),
    "away": N_("Away"),
    "offline": N_("Offline"),
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
OUTCOMES = {
    "answered": N_("Answered"),
    "needs_follow_up": N_("Needs follow-up"),
    "forwarded": N_("Forwarded"),
    "callback_needed": N_("Callback needed"),
    # Closed by itself after idling (liaison/domain/consultations.py); never chosen.
    "not_recorded": N_("Not recorded"),
}
TOPICS = {
    "statement": N_("Statement"),
    "missing_attachment": N_("Missing attachment"),
    "clients_situation": N_("Client's situation"),
    "discretion": N_("Discretion"),
    "urgent_need": N_("Urgent need"),
    "request_to_expedite": N_("Request to expedite"),
}
LEGAL_BASES = {
    "client_consent": N_("Client's consent"),
    "client_present": N_("Client present"),
    "necessity_sa_18": N_("Necessary under the Social Assistance Act §18"),
}
CALLBACK_STATES = {
    "open": N_("Open"),
    "claimed": N_("Claimed"),
    "done": N_("Done"),
    "could_not_reach": N_("Could not reach"),
}
URGENCY = {"normal": N_("Normal"), "urgent": N_("Urgent")}
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
