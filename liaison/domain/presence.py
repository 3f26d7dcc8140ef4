"""Presence: per-client reports merged into one status per person.

After Zulip's design: each client (tab or device) reports whether its user is
active, and when it was last heard. A person's status is computed from those
reports and the person's own settings at the moment it is asked, so no timer
has to flip anyone offline and no race between tabs can leave a wrong state.
See docs/presence.md.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from liaison.domain.vocabulary import ManualStatus, PresenceStatus, values

AVAILABLE = PresenceStatus.AVAILABLE.value
BUSY = PresenceStatus.BUSY.value
DND = PresenceStatus.DND.value
AWAY = PresenceStatus.AWAY.value
OFFLINE = PresenceStatus.OFFLINE.value
STATUSES = values(PresenceStatus)
# What a person may choose themselves; busy comes from consultations, offline from absence.
MANUAL_STATUSES = values(ManualStatus)


@dataclass(slots=True)
class ClientReport:
    active: bool
    last_heard: datetime
    # Set when the connection closed; the client still counts during the grace period.
    gone_at: datetime | None = None


@dataclass(slots=True)
class PresenceSettings:
    manual_status: str = AVAILABLE
    dnd_until: datetime | None = None
    note: str = ""
    out_of_office_until: date | None = None
    out_of_office_note: str = ""
    phone_hours: list[dict[str, Any]] = field(default_factory=list)
    last_seen_at: datetime | None = None
    # Open consultations; set by the consultation service (rings).
    busy: bool = False


class PresenceTracker:
    """Live clients of every person, cluster-wide, fed by client reports."""

    def __init__(self, offline_grace: timedelta, heartbeat_timeout: timedelta) -> None:
        self.offline_grace = offline_grace
        self.heartbeat_timeout = heartbeat_timeout
        self._clients: dict[int, dict[str, ClientReport]] = {}
        # When a report may stop counting, in the order the reports came: one queue for
        # the heartbeat timeout, one for the grace period after closing. Within a queue
        # every deadline is the same length after its report, so arrival order is
        # deadline order: queues, not a heap, and a heartbeat costs O(1). Entries that a
        # newer report made stale are skipped when they come due.
        self._silence: deque[tuple[datetime, int, str]] = deque()
        self._grace: deque[tuple[datetime, int, str]] = deque()

    def heard(self, person_id: int, client_key: str, active: bool, now: datetime) -> bool:
        """A client connected, sent a heartbeat or changed between active and idle.

        Returns True when this only renewed a live report that says the same, so nobody's
        status can have changed (the common heartbeat: nothing to recompute)."""
        reports = self._clients.setdefault(person_id, {})
        old = reports.get(client_key)
        renewed = (
            old is not None
            and old.active == active
            and old.gone_at is None
            and self._counts(old, now)
        )
        reports[client_key] = ClientReport(active, now)
        _push(self._silence, (now + self.heartbeat_timeout, person_id, client_key))
        return renewed

    def gone(self, person_id: int, client_key: str, now: datetime) -> bool:
        """A client closed; False when its report had already expired (it fell silent)."""
        report = self._clients.get(person_id, {}).get(client_key)
        if report is None:
            return False
        report.gone_at = now
        _push(self._grace, (now + self.offline_grace, person_id, client_key))
        return True

    def _counts(self, r: ClientReport, now: datetime) -> bool:
        return (r.gone_at is None or now - r.gone_at < self.offline_grace) and (
            now - r.last_heard < self.heartbeat_timeout
        )

    def _live(self, person_id: int, now: datetime) -> list[ClientReport]:
        return [r for r in self._clients.get(person_id, {}).values() if self._counts(r, now)]

    def is_online(self, person_id: int, now: datetime) -> bool:
        return bool(self._live(person_id, now))

    def is_idle(self, person_id: int, now: datetime) -> bool:
        """True when every live client reports its user idle."""
        live = self._live(person_id, now)
        return bool(live) and not any(r.active for r in live)

    def last_heard(self, person_id: int) -> datetime | None:
        reports = self._clients.get(person_id)
        if not reports:
            return None
        return max((r.gone_at or r.last_heard) for r in reports.values())

    def next_deadline(self) -> datetime | None:
        """The earliest moment a report may stop counting (it may turn out still live)."""
        fronts = [queue[0][0] for queue in (self._silence, self._grace) if queue]
        return min(fronts, default=None)

    def expire(self, now: datetime) -> Expired:
        """Forgets the reports that stopped counting by `now`.

        Returns the people whose status may have changed, and the clients that fell
        silent (not closed) past the heartbeat timeout, which the server disconnects."""
        expired = Expired()
        for queue in (self._silence, self._grace):
            while queue and queue[0][0] <= now:
                _, person_id, key = queue.popleft()
                reports = self._clients.get(person_id)
                report = reports.get(key) if reports else None
                if reports is None or report is None or self._counts(report, now):
                    continue
                del reports[key]
                if not reports:
                    del self._clients[person_id]
                expired.people.add(person_id)
                if report.gone_at is None:
                    expired.silent.append((person_id, key, report.last_heard))
        return expired

    def people(self) -> list[int]:
        return list(self._clients)


def _push(queue: deque[tuple[datetime, int, str]], entry: tuple[datetime, int, str]) -> None:
    """Appends in deadline order. Times normally only grow; one stamped by another node's
    clock may be a little behind, and goes in from the right, a step or two."""
    if not queue or queue[-1][0] <= entry[0]:
        queue.append(entry)
        return
    index = len(queue) - 1
    while index > 0 and queue[index - 1][0] > entry[0]:
        index -= 1
    queue.insert(index, entry)


@dataclass(slots=True)
class Expired:
    people: set[int] = field(default_factory=set)
    # Clients that stopped reporting without closing: (person, client key, last heard).
    silent: list[tuple[int, str, datetime]] = field(default_factory=list)


def effective_status(settings: PresenceSettings, online: bool, idle: bool, now: datetime) -> str:
    """The one status others see; the order of the checks is the precedence of the states."""
    if not online:
        return OFFLINE
    if settings.manual_status == DND and (settings.dnd_until is None or settings.dnd_until > now):
        return DND
    if settings.busy:
        return BUSY
    if settings.manual_status == AWAY or idle:
        return AWAY
    return AVAILABLE


def presence_view(
    person_id: int,
    settings: PresenceSettings,
    status: str,
    last_seen: datetime | None,
    today: date,
) -> dict[str, Any]:
    """The presence of one person as every client receives it (see docs/protocol.md)."""
    dnd_until = settings.dnd_until if status == DND else None
    ooo = settings.out_of_office_until
    in_ooo = ooo is not None and ooo >= today
    return {
        "person_id": person_id,
        "status": status,
        "note": settings.note,
        "dnd_until": dnd_until.isoformat() if dnd_until else None,
        "out_of_office_until": ooo.isoformat() if in_ooo and ooo else None,
        "out_of_office_note": settings.out_of_office_note if in_ooo else "",
        "phone_hours": settings.phone_hours,
        "last_seen": last_seen.isoformat() if last_seen and status == OFFLINE else None,
    }


def validate_phone_hours(value: Any) -> list[dict[str, Any]]:
    """Weekly phone hours: a list of {day: 0-6 (Monday 0), start: "HH:MM", end: "HH:MM"}."""
    if not isinstance(value, list) or len(value) > 28:
        raise ValueError("phone_hours must be a list of at most 28 entries")
    result = []
    for entry in value:
        if not isinstance(entry, dict):
            raise ValueError("each phone hours entry must be an object")
        day, start, end = entry.get("day"), entry.get("start"), entry.get("end")
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise ValueError("phone hours day must be 0 (Monday) to 6 (Sunday)")
        if not (_is_hhmm(start) and _is_hhmm(end)) or not str(start) < str(end):
            raise ValueError("phone hours need start and end as HH:MM, start before end")
        result.append({"day": day, "start": start, "end": end})
    return sorted(result, key=lambda e: (e["day"], e["start"]))


def _is_hhmm(value: Any) -> bool:
    # ASCII only: str.isdigit() also accepts full-width and superscript digits.
    if not isinstance(value, str) or not value.isascii() or len(value) != 5 or value[2] != ":":
        return False
    hh, mm = value[:2], value[3:]
    return hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60
