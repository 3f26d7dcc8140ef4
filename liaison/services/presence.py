"""Presence service: feeds the pure tracker from the bus and pushes changed views to clients.

With several nodes, presence is by interest: a node follows a person (holds their
presence channel, `presence:<id>`, where the nodes that hold the person's clients send
what changes, and where changes to their settings go) only while some local connection
shows them, while they are a ring member and this node tells routing of every member
(the first node alive: services/rings.py), or for a while after someone here looked them
up or last showed them (the directory's answers, named contacts, a reload). When it
starts to follow someone it asks every node for their clients (`roll`), and answers to
it come on its own channel, and it reads their stored settings; when it stops, it
forgets what other nodes said of them. See docs/presence.md.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain import presence as domain
from liaison.domain.errors import Refused
from liaison.protocol import server
from liaison.protocol.client import SetPresence
from liaison.protocol.people import PresenceView
from liaison.protocol.reference import CloseCode
from liaison.services.errors import UNAVAILABLE
from liaison.services.hub import Hub, encode, node_channel, presence_channel
from liaison.services.scheduler import Scheduler
from liaison.store import repositories as repo

# A client that falls silent is closed with this once its report expires (docs/protocol.md).
CLOSE_HEARTBEAT_TIMEOUT = CloseCode.HEARTBEAT_TIMEOUT
# Report deadlines are rounded up to this, so a thousand heartbeats make one wake-up.
DEADLINE_STEP = timedelta(seconds=1)
# Last-seen times of closed connections are stored together, at most this late.
LAST_SEEN_DELAY = timedelta(seconds=1)
# Someone looked up, or no longer shown by any connection here, is followed this long
# after: a reload, a reconnect or the next search finds them followed still (no roll, no
# subscribing again), and a node lets go only of people nobody here has shown for a while.
FOLLOW_LEASE = timedelta(minutes=5)
# Answers to a roll are waited for at most this long (in seconds, of the event loop): a
# node that stopped answering is given up only after the heartbeat timeout.
ROLL_WAIT = 1.0

log = logging.getLogger(__name__)


class PresenceError(Refused):
    """Refused by the presence service."""


# The settings a change may carry, and how each crosses the bus as JSON (dates as ISO text).
_DATES: dict[str, Callable[[str], Any]] = {
    "dnd_until": datetime.fromisoformat,
    "last_seen_at": datetime.fromisoformat,
    "out_of_office_until": date.fromisoformat,
}


def _changes_to_json(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if key in _DATES and value is not None else value
        for key, value in changes.items()
    }


def _changes_from_json(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _DATES[key](value) if key in _DATES and value is not None else value
        for key, value in data.items()
    }


class PresenceService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        scheduler: Scheduler,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.tracker = domain.PresenceTracker(
            offline_grace=timedelta(seconds=settings.offline_grace_seconds),
            heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_seconds),
        )
        self._settings: dict[int, domain.PresenceSettings] = {}
        self._views: dict[int, PresenceView] = {}
        # Do-not-disturb end times (lazily checked against the settings when due).
        self._dnd_ends: list[tuple[datetime, int]] = []
        # Called with (person_id, view) whenever a person's view changes (rings use it).
        self.listeners: list[Callable[[int, PresenceView], None]] = []
        # Called when other nodes were given up as dead (the first node alive may be
        # this one now).
        self.node_listeners: list[Callable[[], None]] = []
        self.zone = ZoneInfo(settings.time_zone)
        self._day = clock.now().astimezone(self.zone).date()
        # Last-seen times of closed connections, to be stored (see client_gone).
        self._unsaved_last_seen: dict[int, datetime] = {}
        self._save_last_seen_at: datetime | None = None
        self.scheduler = scheduler
        # What other nodes hear of this node's clients: the changes, on each person's
        # presence channel, and a heartbeat of the node on `all`, which keeps all its
        # clients live for them; a client's own heartbeats stay here.
        self.node_id = hub.node_id
        self._beat = timedelta(seconds=settings.heartbeat_interval_seconds)
        self._beat_at: datetime | None = None
        # Whom this node follows (several nodes; module docstring): the people whose
        # presence channel it holds, why (ring members; kept until when: looked up, or
        # shown here until lately), and the follows whose roll is still on its way, so
        # that a view is given once complete.
        self._followed: set[int] = set()
        self._members: set[int] = set()
        self._kept: dict[int, datetime] = {}
        self._kept_ends: deque[tuple[datetime, int]] = deque()
        self._following: dict[int, asyncio.Future[None]] = {}
        self._batch: tuple[set[int], asyncio.Future[None]] | None = None
        self._channels = asyncio.Lock()
        self._rolls: dict[int, tuple[set[str], asyncio.Future[None]]] = {}
        self._roll_ids = itertools.count(1)
        # Settings changes heard of people whose stored settings are being read as this
        # node starts to follow them: applied again over what the read returns.
        self._reading: dict[int, list[dict[str, Any]]] = {}
        hub.watch_listeners.append(self._on_watching)
        hub.on("client", self._on_client)
        hub.on("node", self._on_node)
        hub.on("roll", self._on_roll)
        hub.on("clients", self._on_clients)
        hub.on("settings", self._on_settings)
        scheduler.add("presence", self._next_deadline, self._on_time)
        scheduler.add("last seen", lambda: self._save_last_seen_at, self.save_last_seen)
        scheduler.add("node heartbeat", lambda: self._beat_at, self._heartbeat)

    async def start(self) -> None:
        async with self.db() as db:
            self._settings = await repo.presence_settings(db)
            for person_id in await repo.person_ids(db):
                self._settings.setdefault(person_id, domain.PresenceSettings())
        now = self.clock.now()
        for person_id, s in self._settings.items():
            self._views[person_id] = self._stamped(person_id, now)
            self._track_dnd(person_id, s)
        if self.config.several_nodes:
            # Nobody is followed yet (connections, ring members and looks will ask for
            # their people); an empty roll makes the live nodes known at once.
            await self.hub.publish({"k": "roll", "n": self.node_id, "p": []})
            await self._heartbeat(now)

    async def reload_people(self) -> None:
        """After a directory import: give new people a view (offline until they connect)."""
        async with self.db() as db:
            ids = await repo.person_ids(db)
        now = self.clock.now()
        for person_id in ids:
            if person_id not in self._views:
                self._settings.setdefault(person_id, domain.PresenceSettings())
                self._views[person_id] = self._stamped(person_id, now)

    # ------------------------------------------------------------ time

    def _next_deadline(self) -> datetime | None:
        deadlines = [self._next_midnight()]
        report = self.tracker.next_deadline()
        if report is not None:
            # Rounded up, so reports that expire close together are handled in one go.
            step = DEADLINE_STEP.total_seconds()
            seconds = -(-report.timestamp() // step) * step
            deadlines.append(datetime.fromtimestamp(seconds, report.tzinfo))
        if self._dnd_ends:
            deadlines.append(self._dnd_ends[0][0])
        if self._kept_ends:
            deadlines.append(self._kept_ends[0][0])
        return min(deadlines)

    def _next_midnight(self) -> datetime:
        """Out of office ends at the users' midnight, not at UTC's."""
        return datetime.combine(self._day + timedelta(days=1), time(), self.zone)

    async def _on_time(self, now: datetime) -> None:
        expired = self.tracker.expire(now)
        changed = expired.people
        for person_id, key, last_heard in expired.silent:
            self._last_seen(person_id, last_heard)
            for conn in self.hub.connections_of(person_id):
                if conn.key == key:
                    conn.close(CLOSE_HEARTBEAT_TIMEOUT, "no heartbeat received in time")
        while self._dnd_ends and self._dnd_ends[0][0] <= now:
            _, person_id = heapq.heappop(self._dnd_ends)
            changed.add(person_id)
        today = now.astimezone(self.zone).date()
        if today != self._day:
            self._day = today
            changed |= {p for p, s in self._settings.items() if s.out_of_office_until}
        self._refresh(changed, now)
        if expired.nodes:
            for node_listener in self.node_listeners:
                node_listener()
        ended: set[int] = set()
        while self._kept_ends and self._kept_ends[0][0] <= now:
            _, person_id = self._kept_ends.popleft()
            until = self._kept[person_id]
            if until > now:
                self._kept_ends.append((until, person_id))
                continue
            del self._kept[person_id]
            ended.add(person_id)
        self._unfollow(ended)

    def _last_seen(self, person_id: int, at: datetime) -> None:
        settings = self._settings.setdefault(person_id, domain.PresenceSettings())
        if settings.last_seen_at is None or settings.last_seen_at < at:
            settings.last_seen_at = at

    def _track_dnd(self, person_id: int, s: domain.PresenceSettings) -> None:
        if s.manual_status == domain.DND and s.dnd_until is not None:
            heapq.heappush(self._dnd_ends, (s.dnd_until, person_id))

    # ------------------------------------------------------------ reading

    def shown(self, person_id: int) -> PresenceView:
        """The person's presence as every client is shown it."""
        view = self._views.get(person_id)
        if view is None:
            # Someone this node has not computed yet (imported by another process).
            view = self._views[person_id] = self._stamped(person_id, self.clock.now())
        return view

    def leads(self) -> bool:
        """Whether this node is the first by id of the nodes alive (those not given up):
        the one that does what every node following someone could do alike."""
        return all(self.node_id < node for node in self.tracker.nodes())

    def views(self, people: set[int], since: datetime | None = None) -> list[PresenceView]:
        """The views of these people (only those that changed at or after `since`); ids of
        nobody in the directory are left out."""
        views = [self.shown(p) for p in sorted(people) if p in self._settings]
        if since is None:
            return views
        return [v for v in views if datetime.fromisoformat(v.changed_at) >= since]

    def settings_of(self, person_id: int) -> domain.PresenceSettings:
        return self._settings.get(person_id) or domain.PresenceSettings()

    def _compute(
        self, person_id: int, now: datetime, settings: domain.PresenceSettings | None = None
    ) -> dict[str, Any]:
        s = settings or self.settings_of(person_id)
        online = self.tracker.is_online(person_id, now)
        status = domain.effective_status(s, online, self.tracker.is_idle(person_id, now), now)
        last_seen = self.tracker.last_heard(person_id) or s.last_seen_at
        # Out of office ends at the users' midnight, not at UTC's.
        today = now.astimezone(self.zone).date()
        return domain.presence_view(person_id, s, status, last_seen, today)

    def _stamped(self, person_id: int, now: datetime) -> PresenceView:
        """A view as first computed, marked as changed now."""
        return _shaped(self._compute(person_id, now), now.isoformat())

    def _refresh(self, people: set[int] | list[int], now: datetime) -> None:
        stamp = now.isoformat()
        for person_id in people:
            old = self._views.get(person_id)
            view = _shaped(self._compute(person_id, now), old.changed_at if old else stamp)
            if view == old:
                continue
            view.changed_at = stamp
            self._views[person_id] = view
            # Every node computes the same view from the same bus; each tells those of its
            # own connections that show this person, and nobody else.
            self.hub.deliver_watchers(person_id, encode(server.Presence.of(view)))
            for listener in self.listeners:
                listener(person_id, view)

    # ------------------------------------------------------------ clients

    async def client_heard(self, person_id: int, key: str, active: bool) -> None:
        """A client of this node connected, sent a heartbeat, or turned active or idle."""
        now = self.clock.now()
        before = self.tracker.next_deadline()
        if self.tracker.heard(person_id, key, active, now):
            return  # a heartbeat that changes nothing: nothing to recompute or to tell
        self._deadline_moved(before)
        self._settings.setdefault(person_id, domain.PresenceSettings())
        self._refresh([person_id], now)
        await self._tell_nodes({"p": person_id, "c": key, "a": active, "t": now.isoformat()})

    async def client_gone(self, person_id: int, key: str) -> None:
        now = self.clock.now()
        before = self.tracker.next_deadline()
        if self.tracker.gone(person_id, key, now):
            self._last_seen(person_id, now)
        self._deadline_moved(before)
        self._refresh([person_id], now)
        await self._tell_nodes({"p": person_id, "c": key, "g": True, "t": now.isoformat()})
        # Stored within a second with the others that closed meanwhile (a reconnect
        # storm is one write, not one per socket); kept in memory until then.
        if not self._unsaved_last_seen:
            self._save_last_seen_at = now + LAST_SEEN_DELAY
            self.scheduler.wake()
        self._unsaved_last_seen[person_id] = now

    def _deadline_moved(self, before: datetime | None) -> None:
        after = self.tracker.next_deadline()
        if after is not None and (before is None or after < before):
            self.scheduler.wake()

    async def _tell_nodes(self, change: dict[str, Any]) -> None:
        """To the nodes that follow this person (and only to them)."""
        if self.config.several_nodes:
            await self.hub.publish(
                {"k": "client", "n": self.node_id, **change}, presence_channel(change["p"])
            )

    async def _heartbeat(self, now: datetime) -> None:
        """This node is alive (once an interval): its clients stay live elsewhere."""
        self._beat_at = now + self._beat
        await self.hub.publish({"k": "node", "n": self.node_id, "t": now.isoformat()})

    async def save_last_seen(self, now: datetime | None = None) -> None:
        seen, self._unsaved_last_seen = self._unsaved_last_seen, {}
        self._save_last_seen_at = None
        if seen:
            async with self.db.begin() as db:
                await repo.touch_last_seen(db, seen)

    async def _on_client(self, message: dict[str, Any]) -> None:
        """A change to a client of another node."""
        node = str(message["n"])
        if node == self.node_id:
            return
        person_id, key = int(message["p"]), str(message["c"])
        if not self._follows(person_id):
            return  # on its way while this node let the channel go
        at = datetime.fromisoformat(message["t"])
        before = self.tracker.next_deadline()
        if self.tracker.node_heard(node, at):
            self._roll_soon(node)
        if message.get("g"):
            if self.tracker.gone(person_id, key, at):
                self._last_seen(person_id, at)
        elif self.tracker.heard(person_id, key, bool(message.get("a")), at, node):
            return
        self._deadline_moved(before)
        self._settings.setdefault(person_id, domain.PresenceSettings())
        self._refresh([person_id], self.clock.now())

    async def _on_node(self, message: dict[str, Any]) -> None:
        """Another node's heartbeat: its clients stay live here."""
        node = str(message["n"])
        if node == self.node_id:
            return
        before = self.tracker.next_deadline()
        if self.tracker.node_heard(node, datetime.fromisoformat(message["t"])):
            self._roll_soon(node)
        self._deadline_moved(before)

    def _roll_soon(self, node: str) -> None:
        """A node not known until now (started, or back after it was given up as dead):
        its clients of everyone this node follows. Not waited for here: its answer comes
        through the bus, as this message did."""
        if self._followed:
            self.scheduler.spawn(self._roll(None, node), "presence roll")

    async def _on_roll(self, message: dict[str, Any]) -> None:
        """A node asks for this node's clients: of the people listed (`p`), or of all."""
        asker = str(message["n"])
        if asker == self.node_id or message.get("to", self.node_id) != self.node_id:
            return
        now = self.clock.now()
        asked = None if message.get("p") is None else {int(p) for p in message["p"]}
        reports = [
            [
                person_id,
                key,
                r.active,
                r.last_heard.isoformat(),
                r.gone_at.isoformat() if r.gone_at else None,
            ]
            for (person_id, key), r in self.tracker.local_clients(now, asked).items()
        ]
        answer: dict[str, Any] = {
            "k": "clients",
            "n": self.node_id,
            "i": message.get("i"),
            "t": now.isoformat(),
            "r": reports,
        }
        if asked is not None:
            answer["p"] = sorted(asked)
        await self.hub.publish(answer, node_channel(asker))

    async def _on_clients(self, message: dict[str, Any]) -> None:
        """Another node's clients (of the people asked for), as it answered a roll."""
        node = str(message["n"])
        if node == self.node_id:
            return
        asked = None if message.get("p") is None else {int(p) for p in message["p"]}
        reports = {
            (int(p), str(key)): domain.ClientReport(
                bool(active),
                datetime.fromisoformat(heard),
                datetime.fromisoformat(gone) if gone else None,
            )
            for p, key, active, heard, gone in message["r"]
            if self._follows(int(p))
        }
        people = None if asked is None else {p for p in asked if self._follows(p)}
        before = self.tracker.next_deadline()
        changed = self.tracker.node_clients(
            node, reports, datetime.fromisoformat(message["t"]), people
        )
        self._deadline_moved(before)
        for person_id in changed:
            self._settings.setdefault(person_id, domain.PresenceSettings())
        self._refresh(changed, self.clock.now())
        waiting = self._rolls.get(message.get("i") or 0)
        if waiting is not None:
            nodes, done = waiting
            nodes.discard(node)
            if not nodes and not done.done():
                done.set_result(None)

    # ------------------------------------------------------------ following

    def _follows(self, person_id: int) -> bool:
        """Whether this node has all of this person's reports (with one node, everyone's)."""
        return not self.config.several_nodes or person_id in self._followed

    def _wanted(self, person_id: int) -> bool:
        return self.hub.watched(person_id) or person_id in self._members or person_id in self._kept

    def _on_watching(self, people: set[int], watched: bool) -> None:
        if watched:
            self._follow(people)
        else:
            self._keep(people)

    def follow_members(self, people: set[int]) -> None:
        """Ring members this node tells routing of (all of them, on the first node
        alive; none on the others), whoever shows them here."""
        gone, self._members = self._members - people, set(people)
        self._follow(people)
        self._keep(gone)

    async def look(self, people: Iterable[int]) -> None:
        """Before answering with these people's presence (the directory, named contacts):
        followed, for FOLLOW_LEASE at least, and complete once this returns."""
        if not self.config.several_nodes:
            return
        people = set(people)
        self._keep(people)
        self._follow(people)
        await self.complete(people)

    def _keep(self, people: set[int]) -> None:
        """Followed until FOLLOW_LEASE from now at least (then let go, if nothing else
        wants them)."""
        if not self.config.several_nodes:
            return
        until = self.clock.now() + FOLLOW_LEASE
        if not self._kept_ends:
            self.scheduler.wake()
        for person_id in people:
            if person_id not in self._kept:
                # One entry per person: a later lease moves the end, seen when it comes.
                self._kept_ends.append((until, person_id))
            self._kept[person_id] = until

    async def complete(self, people: Iterable[int]) -> None:
        """Returns once the nodes have answered for these people (those this node has
        just started to follow), so that their views are given whole, not a moment early."""
        waiting = {self._following[p] for p in people if p in self._following}
        for done in waiting:
            await asyncio.shield(done)

    def _follow(self, people: set[int]) -> None:
        if not self.config.several_nodes:
            return
        new = people - self._followed
        if not new:
            return
        self._followed |= new
        if self._batch is None:
            # Follows asked for until the task runs (a reconnect storm's welcomes) go in
            # one batch: one subscribe, one roll.
            self._batch = (set(), asyncio.get_running_loop().create_future())
            self.scheduler.spawn(self._start_following(), "presence follow")
        batch, done = self._batch
        batch |= new
        for person_id in new:
            self._following[person_id] = done

    async def _start_following(self) -> None:
        """Holds the batch's channels, then asks every node for their clients; done once
        all the nodes heard of have answered (or ROLL_WAIT passed)."""
        assert self._batch is not None
        (people, done), self._batch = self._batch, None
        held: set[int] = set()
        try:
            async with self._channels:
                held = {p for p in people if p in self._followed}
                for person_id in held:
                    self._reading.setdefault(person_id, [])
                await self.hub.hold([presence_channel(p) for p in sorted(held)])
            if held:
                await self._roll(held)
                await self._read_settings(held)
                self._refresh({p for p in held if p in self._followed}, self.clock.now())
        finally:
            for person_id in people:
                if self._following.get(person_id) is done:
                    del self._following[person_id]
            for person_id in held:
                self._reading.pop(person_id, None)
            if not done.done():
                done.set_result(None)

    async def _read_settings(self, people: set[int]) -> None:
        """The settings of people this node starts to follow, as stored: their changes go
        only to the nodes that follow them, so what this node held may be old. Read after
        their channel is held; a change heard since is applied again over the read (the
        read may have begun before that change was written)."""
        try:
            async with self.db() as db:
                stored = await repo.presence_settings(db, people)
        except UNAVAILABLE as e:
            log.warning("presence settings could not be read: %s", type(e).__name__)
            return
        for person_id in people:
            settings = stored.get(person_id) or domain.PresenceSettings()
            for changes in self._reading.pop(person_id, []):
                settings = replace(settings, **changes)
            self._merge(person_id, settings)

    def _merge(self, person_id: int, settings: domain.PresenceSettings) -> bool:
        """Settings as stored (and derived) replace those held; whether they differ. Last
        seen is written a second late: the later of the two is the truth."""
        held = self.settings_of(person_id)
        if held.last_seen_at and (
            settings.last_seen_at is None or settings.last_seen_at < held.last_seen_at
        ):
            settings = replace(settings, last_seen_at=held.last_seen_at)
        if settings == held and person_id in self._settings:
            return False
        self._settings[person_id] = settings
        self._track_dnd(person_id, settings)
        return True

    def _unfollow(self, people: set[int]) -> None:
        """Those no longer wanted: their channels let go, other nodes' reports of them
        forgotten (they would go stale here)."""
        if not self.config.several_nodes:
            return
        gone = {p for p in people if p in self._followed and not self._wanted(p)}
        if not gone:
            return
        self._followed -= gone
        for person_id in gone:
            self.tracker.forget_others(person_id)
        self.scheduler.spawn(self._stop_following(gone), "presence unfollow")

    async def _stop_following(self, people: set[int]) -> None:
        async with self._channels:
            # Followed again meanwhile: kept.
            gone = sorted(p for p in people if p not in self._followed)
            if gone:
                await self.hub.let_go([presence_channel(p) for p in gone])

    async def _roll(self, people: set[int] | None, node: str | None = None) -> None:
        """Asks the nodes (or one) for their clients of these people (None: of all), and
        waits for the answers of every node heard of (at most ROLL_WAIT)."""
        roll_id = next(self._roll_ids)
        # Every node answers; those heard lately are waited for (one silent for two
        # heartbeat intervals is most likely dead, and would hold every welcome here).
        expected = self.tracker.nodes(self.clock.now() - 2 * self._beat) if node is None else {node}
        done = asyncio.get_running_loop().create_future()
        self._rolls[roll_id] = (expected, done)
        message: dict[str, Any] = {"k": "roll", "n": self.node_id, "i": roll_id}
        if people is not None:
            message["p"] = sorted(people)
        if node is not None:
            message["to"] = node
        try:
            await self.hub.publish(message)
            if expected:
                await asyncio.wait_for(done, ROLL_WAIT)
        except TimeoutError:
            log.info("%d nodes did not answer a presence roll in time", len(expected))
        finally:
            del self._rolls[roll_id]

    # ------------------------------------------------------------ settings

    async def update(self, person_id: int, changes: SetPresence) -> PresenceView:
        """Applies a person's own changes (status, note, out of office, phone hours), from
        `set_presence` or PATCH /api/me/presence (its fields, decoded at the edge)."""
        if all(getattr(changes, f) is UNSET for f in changes.__struct_fields__ if f != "ref"):
            raise PresenceError("bad_field", "nothing to change")
        if changes.dnd_until is not UNSET and changes.status != domain.DND:
            raise PresenceError("bad_field", "dnd_until goes with status dnd")
        now = self.clock.now()
        # Only the fields the person changed are stored and sent: a change made at the
        # same time elsewhere (busy from a consultation, another tab's note, last seen)
        # is to other fields and survives, whichever arrives first.
        fields: dict[str, Any] = {}
        if changes.status is not UNSET:
            status = changes.status
            if status not in domain.MANUAL_STATUSES:
                raise PresenceError("bad_status", "status must be available, away or dnd")
            fields["manual_status"] = status
            fields["dnd_until"] = None
            if status == domain.DND and changes.dnd_until:
                until = _parse_datetime(changes.dnd_until, "dnd_until")
                if until <= now:
                    raise PresenceError("bad_field", "dnd_until must be in the future")
                fields["dnd_until"] = until
        if changes.note is not UNSET:
            fields["note"] = _clean_note(changes.note, "note", self.config.secret_key)
        if changes.out_of_office_until is not UNSET:
            value = changes.out_of_office_until
            try:
                fields["out_of_office_until"] = date.fromisoformat(value) if value else None
            except ValueError:
                raise PresenceError(
                    "bad_field", "out_of_office_until must be a date YYYY-MM-DD"
                ) from None
        if changes.out_of_office_note is not UNSET:
            fields["out_of_office_note"] = _clean_note(
                changes.out_of_office_note, "out_of_office_note", self.config.secret_key
            )
        if changes.phone_hours is not UNSET:
            try:
                fields["phone_hours"] = domain.validate_phone_hours(
                    msgspec.to_builtins(changes.phone_hours)
                )
            except ValueError as e:
                raise PresenceError("bad_field", str(e)) from None
        async with self.db.begin() as db:
            await repo.save_presence_fields(db, person_id, fields)
        await self._tell_settings(person_id, _changes_to_json(fields))
        s = replace(self.settings_of(person_id), **fields)
        return _shaped(self._compute(person_id, now, s), now.isoformat())

    async def set_busy(self, person_id: int, busy: bool) -> None:
        """For consultations: busy while a person has one open (that field alone), told
        once the consultation is written (a node that starts to follow them reads it)."""
        await self._tell_settings(person_id, {"busy": busy})

    async def _tell_settings(self, person_id: int, changes: dict[str, Any]) -> None:
        """A change to some of a person's settings, to the nodes that follow them (this
        one among them, if it does) on their presence channel; with one node, here."""
        message = {"k": "settings", "p": person_id, "s": changes}
        if self.config.several_nodes:
            await self.hub.publish(message, presence_channel(person_id))
        else:
            await self._on_settings(message)

    async def catch_up(self) -> None:
        """After the bus lost messages (changes made on other nodes among them): the
        settings as stored, busy as derived from open consultations; the views that
        differ are pushed as any change is; every node is asked for its clients again."""
        async with self.db() as db:
            stored = await repo.presence_settings(db)
        changed = {
            person_id
            for person_id in set(self._settings) | set(stored)
            if self._merge(person_id, stored.get(person_id) or domain.PresenceSettings())
        }
        self._refresh(changed, self.clock.now())
        if self._followed:
            # Changes of other nodes' clients may have been lost too: all of them, again
            # (not waited for: this runs where bus messages are handled, answers too).
            self.scheduler.spawn(self._roll(None), "presence roll")

    async def _on_settings(self, message: dict[str, Any]) -> None:
        """A change to some of a person's settings, merged into what this node holds."""
        person_id = int(message["p"])
        changed = _changes_from_json(message["s"])
        reading = self._reading.get(person_id)
        if reading is not None:
            reading.append(changed)
        self._settings[person_id] = settings = replace(self.settings_of(person_id), **changed)
        self._track_dnd(person_id, settings)
        self._refresh([person_id], self.clock.now())


def _parse_datetime(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PresenceError("bad_field", f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise PresenceError("bad_field", f"{name} must include a time zone")
    return parsed


NOTE_MAX = 200  # the columns' size


def _clean_note(note: str, name: str, secret: Callable[[], bytes]) -> str:
    """A note as stored and shown to everyone: trimmed, identity codes replaced
    (docs/consultations.md), at most NOTE_MAX characters in that form."""
    note, _ = identity.redact_identity_codes(note.strip(), secret)
    if len(note) > NOTE_MAX:
        raise PresenceError("bad_field", f"{name} must be text of at most {NOTE_MAX} characters")
    return note


def _shaped(view: dict[str, Any], changed_at: str) -> PresenceView:
    """The domain's view (liaison/domain/presence.py) as it is sent."""
    return msgspec.convert({**view, "changed_at": changed_at}, PresenceView)
