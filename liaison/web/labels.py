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
    }
