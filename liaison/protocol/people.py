"""The shapes of people, presence and administration that the server sends: typed once.

The services build these; the frames of liaison/protocol/server.py and the JSON API's
responses (liaison/web/api.py) carry them; the OpenAPI components and the JSON Schema of
the protocol are generated from them (scripts/docs). A field added here is sent,
documented and typed with nothing else to write.

Times are sent as the ISO 8601 text the services have always sent (`+00:00`, not `Z`),
so they are `str` here, with their format in the schema.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from liaison.domain.vocabulary import (
    AuditKind,
    Language,
    LockKind,
    OrganisationKind,
    PresenceStatus,
    UnitKind,
)

Time = Annotated[
    str,
    Meta(description="ISO 8601 time with its offset", extra_json_schema={"format": "date-time"}),
]
Day = Annotated[str, Meta(description="ISO 8601 date", extra_json_schema={"format": "date"})]
HHMM = Annotated[str, Meta(pattern=r"^[0-2][0-9]:[0-5][0-9]$")]


class Shape(msgspec.Struct, kw_only=True):
    """A shape the server sends: every field is always there (null when it has no value)."""


class PhoneHours(msgspec.Struct, forbid_unknown_fields=True):
    """One weekly phone-hours slot. Stored and shown as entered; no time zone."""

    day: Annotated[int, Meta(ge=0, le=6, description="0 = Monday ... 6 = Sunday")]
    start: Annotated[HHMM, Meta(description="HH:MM, before end")]
    end: Annotated[HHMM, Meta(description="HH:MM, after start")]


class PresenceView(msgspec.Struct):
    """The presence of one person, as every viewer sees it (docs/presence.md)."""

    person_id: int
    status: Annotated[PresenceStatus, Meta(description="the effective status")]
    note: Annotated[str, Meta(description="status note, at most 200 characters")]
    dnd_until: Annotated[
        Time | None, Meta(description="end of do-not-disturb; set only while status is dnd")
    ]
    out_of_office_until: Annotated[
        Day | None,
        Meta(
            description="last day out of office; null when not (or no longer) out. The day "
            "ends at midnight in LIAISON_TIME_ZONE"
        ),
    ]
    out_of_office_note: Annotated[str, Meta(description="empty unless out of office")]
    phone_hours: Annotated[list[PhoneHours], Meta(description="sorted by day and start")]
    last_seen: Annotated[
        Time | None, Meta(description="when last connected; only while status is offline")
    ]
    changed_at: Annotated[
        Time,
        Meta(description="when this view last changed (a cursor for catching up, protocol.md)"),
    ]


class OrganisationRef(Shape):
    """The organisation a person belongs to."""

    id: int
    name: str
    kind: OrganisationKind


class Unit(Shape):
    """A unit of an organisation."""

    id: int
    name: str
    kind: UnitKind
    area: Annotated[str, Meta(description="area served; may be empty")]


class Person(Shape):
    """A directory entry."""

    id: int
    first_name: str
    last_name: str
    name: Annotated[str, Meta(description="first_name and last_name")]
    title: str
    email: str
    organisation: OrganisationRef
    unit: Unit | None
    area: Annotated[str, Meta(description="the unit's area, or empty")]
    roles: list[str]
    benefits: list[str]
    languages: Annotated[list[str], Meta(description="two-letter codes")]
    tags: list[str]
    work_phone: str
    ask_me_about: str
    photo_url: Annotated[
        str | None, Meta(description="relative URL of the photo; null when there is none")
    ]


class PersonWithPresence(Person):
    """A directory entry with the person's presence now."""

    presence: PresenceView


class Organisation(Shape):
    """An organisation with its units."""

    id: int
    name: str
    kind: OrganisationKind
    units: Annotated[list[Unit], Meta(description="sorted by name")]


class Me(Shape):
    """The logged-in account and its directory entry."""

    username: str
    is_admin: bool
    language: Annotated[Language | None, Meta(description="chosen interface language")]
    person: PersonWithPresence


class People(Shape):
    """Directory search results, sorted by last and first name."""

    people: list[PersonWithPresence]


class Organisations(Shape):
    """Organisations sorted by name, and every area."""

    organisations: list[Organisation]
    areas: Annotated[list[str], Meta(description="distinct non-empty unit areas, sorted")]


# ---------------------------------------------------------------- administration


class Account(Shape):
    """A login of a directory person."""

    id: int
    username: str
    person_id: int
    name: str
    is_admin: bool
    disabled: bool


class Accounts(Shape):
    accounts: Annotated[list[Account], Meta(description="sorted by username")]


class NewAccountCreated(Shape):
    id: int
    username: str


class AccountDisabled(Shape):
    disabled: bool


class LoginLock(Shape):
    """A username or address locked out of logging in now (docs/accounts.md)."""

    id: int
    kind: LockKind
    key: Annotated[
        str,
        Meta(
            description="the username as typed (lower case; an identity code as its "
            "pseudonym), or the client address"
        ),
    ]
    failures: Annotated[int, Meta(ge=0)]
    locked_until: Time


class LoginLocks(Shape):
    locks: Annotated[list[LoginLock], Meta(description="the soonest to open first")]


class AuditEvent(Shape):
    """One event of the audit log: a login or an identity-code lookup."""

    id: int
    at: Time
    kind: AuditKind
    account_id: int | None
    username: Annotated[str, Meta(description="the account's, or the one typed at a failed login")]
    address: Annotated[str, Meta(description="the client's address")]
    detail: Annotated[
        str, Meta(description="a lock's key, or a lookup's client reference and result count")
    ]


class AuditPage(Shape):
    """A page of the audit log, newest first."""

    events: list[AuditEvent]
    next_before: Annotated[
        int | None, Meta(description="pass as `before` for the next, older page")
    ]


class RowError(Shape):
    """One problem in one row of an import file."""

    line: Annotated[int, Meta(description="line as in the spreadsheet; 0: the file as a whole")]
    column: str | None
    reason: Annotated[str, Meta(description="the problem, in English")]
    message: Annotated[
        str,
        Meta(
            description="the problem as a template with {name} slots: the catalogs' message "
            "id, so a client shows it in its reader's language"
        ),
    ]
    values: Annotated[dict[str, str], Meta(description="what fills the template's slots")]


class ImportReport(Shape):
    """What a directory import did, or in a dry run would do (docs/directory.md)."""

    dry_run: bool
    sheet: Annotated[str | None, Meta(description="the XLSX worksheet read; null for CSV")]
    hidden_sheets: Annotated[list[str], Meta(description="hidden worksheets that were not read")]
    header_line: Annotated[
        int, Meta(description="the line of the header row; 0 when the file was not read")
    ]
    skipped_lines: Annotated[
        list[int], Meta(description="non-empty lines above the header (a title block)")
    ]
    ignored_columns: Annotated[
        list[str], Meta(description="headers that name no known column; not read")
    ]
    merged_ranges: Annotated[
        int, Meta(description="merged cell ranges filled with their top-left value")
    ]
    rows: Annotated[int, Meta(description="data rows read")]
    created: Annotated[int, Meta(description="valid rows that add a person")]
    updated: Annotated[int, Meta(description="valid rows that change a person")]
    unchanged: Annotated[int, Meta(description="valid rows that change nothing")]
    organisations_created: list[str]
    units_created: list[str]
    units_updated: Annotated[
        list[str], Meta(description="existing units whose area the file changed")
    ]
    errors: list[RowError]
    applied: Annotated[
        bool, Meta(description="whether anything was written (no errors and not a dry run)")
    ]
