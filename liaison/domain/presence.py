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
    # The node that holds the connection, None for this node. A client of this node is
    # kept live by its own heartbeats; one of another node by that node's heartbeats
    # (a client's heartbeats never leave its node).
    node: str | None = None


@dataclass(slots=True)
class NodeRecord:
    """Another node, as heard on the bus: when last, and which of its clients this node
    holds reports of."""

    last_heard: datetime
    clients: set[tuple[int, str]] = field(default_factory=set)


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
    """Live clients of the people this node follows, cluster-wide: this node's clients
    from their own reports, other nodes' clients from the changes those nodes send, kept
    live by each node's heartbeat, so the heartbeats of a client stay on its node."""

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
        # Other nodes, and when each may have fallen silent (one entry per node: one
        # that turns out to have been heard since is put back at its new time).
        self._nodes: dict[str, NodeRecord] = {}
        self._node_silence: deque[tuple[datetime, str]] = deque()

    def heard(
        self,
        person_id: int,
        client_key: str,
        active: bool,
        now: datetime,
        node: str | None = None,
    ) -> bool:
        """A client connected, sent a heartbeat or changed between active and idle (on
        this node, or on `node`, which said so).

        Returns True when this only renewed a live report that says the same, so nobody's
        status can have changed (the common heartbeat: nothing to recompute, nothing to
        tell other nodes)."""
        reports = self._clients.setdefault(person_id, {})
        old = reports.get(client_key)
        renewed = (
            old is not None
            and old.active == active
            and old.gone_at is None
            and old.node == node
            and self._counts(old, now)
        )
        reports[client_key] = ClientReport(active, now, node=node)
        if node is None:
            _push(self._silence, (now + self.heartbeat_timeout, person_id, client_key))
        else:
            self._node(node, now).clients.add((person_id, client_key))
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
            now - self._heard_at(r) < self.heartbeat_timeout
        )

    def _heard_at(self, r: ClientReport) -> datetime:
        node = self._nodes.get(r.node) if r.node is not None else None
        return r.last_heard if node is None else max(r.last_heard, node.last_heard)

    # ------------------------------------------------------------ other nodes

    def _node(self, node: str, now: datetime) -> NodeRecord:
        record = self._nodes.get(node)
        if record is None:
            record = self._nodes[node] = NodeRecord(now)
            _push(self._node_silence, (now + self.heartbeat_timeout, node))
        elif record.last_heard < now:
            record.last_heard = now
        return record

    def node_heard(self, node: str, now: datetime) -> bool:
        """A message from another node, stamped `now` by it: it is alive, which keeps its
        clients live.

        Returns True when the node was not known (new, or given up as dead after a
        silence): ask it for its clients (`node_clients`)."""
        known = node in self._nodes
        self._node(node, now)
        return not known

    def nodes(self, since: datetime | None = None) -> set[str]:
        """The other nodes not given up, or only those heard at or after `since`."""
        return {n for n, r in self._nodes.items() if since is None or r.last_heard >= since}

    def node_clients(
        self,
        node: str,
        reports: dict[tuple[int, str], ClientReport],
        now: datetime,
        people: set[int] | None = None,
    ) -> set[int]:
        """The clients another node holds of `people` (None: of everyone), as it answered
        when asked: they replace what this node had heard of that node's clients of those
        people. Returns the people whose reports changed."""
        record = self._node(node, now)
        changed: set[int] = set()
        stale = {c for c in record.clients if people is None or c[0] in people}
        for person_id, key in stale - set(reports):
            if self._forget(person_id, key):
                changed.add(person_id)
        for (person_id, key), report in reports.items():
            report.node = node
            if self._clients.get(person_id, {}).get(key) != report:
                changed.add(person_id)
            self._clients.setdefault(person_id, {})[key] = report
            record.clients.add((person_id, key))
            if report.gone_at is not None:
                _push(self._grace, (report.gone_at + self.offline_grace, person_id, key))
        return changed

    def forget_others(self, person_id: int) -> bool:
        """Drops what other nodes said of this person's clients (this node stops following
        them: their changes no longer come here, so the reports would go stale). Returns
        whether there were any."""
        keys = [k for k, r in self._clients.get(person_id, {}).items() if r.node is not None]
        for key in keys:
            self._forget(person_id, key)
        return bool(keys)

    def local_clients(
        self, now: datetime, people: set[int] | None = None
    ) -> dict[tuple[int, str], ClientReport]:
        """This node's clients that count now, of `people` (None: of everyone): what it
        sends when asked for them. A cost in the people asked about, not in everyone."""
        persons = self._clients if people is None else (p for p in people if p in self._clients)
        return {
            (person_id, key): r
            for person_id in persons
            for key, r in self._clients[person_id].items()
            if r.node is None and self._counts(r, now)
        }

    def _forget(self, person_id: int, key: str) -> ClientReport | None:
        reports = self._clients.get(person_id)
        report = reports.pop(key, None) if reports else None
        if reports is not None and not reports:
            del self._clients[person_id]
        if report is not None and report.node is not None:
            node = self._nodes.get(report.node)
            if node is not None:
                node.clients.discard((person_id, key))
        return report

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
        if self._node_silence:
            fronts.append(self._node_silence[0][0])
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
                self._forget(person_id, key)
                expired.people.add(person_id)
                if report.gone_at is None:
                    expired.silent.append((person_id, key, self._heard_at(report)))
        while self._node_silence and self._node_silence[0][0] <= now:
            _, node = self._node_silence.popleft()
            record = self._nodes[node]
            if now - record.last_heard < self.heartbeat_timeout:
                _push(self._node_silence, (record.last_heard + self.heartbeat_timeout, node))
                continue
            # A node not heard for a heartbeat timeout is dead (killed, cut off): its
            # clients stop counting everywhere else, last seen when it was last heard.
            del self._nodes[node]
            expired.nodes.add(node)
            for person_id, key in record.clients:
                report = self._forget(person_id, key)
                if report is None:
                    continue
                expired.people.add(person_id)
                last = max(report.last_heard, record.last_heard)
                expired.silent.append((person_id, key, report.gone_at or last))
        return expired

    def people(self) -> list[int]:
        return list(self._clients)


def _push(queue: deque[Any], entry: tuple[Any, ...]) -> None:
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
    # Other nodes given up as dead.
    nodes: set[str] = field(default_factory=set)


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
