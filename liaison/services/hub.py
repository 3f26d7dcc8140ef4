"""Live connections of this node, and delivery of frames to them through the bus.

A frame is encoded to JSON once, where the event happens; every node receives
that text from the bus and hands the same string to each local recipient.

A bus message is a JSON header, then, for a delivery, a newline and the frame's text as it
goes to the sockets: the frame is never escaped into the header nor decoded on the way
(compact JSON has no raw newline, so the first one ends the header).

Channels, so that a node receives only what some local connection needs: a delivery to
people goes on each person's channel (`person:<id>`), which a node holds while it holds a
connection of that person; the changes of a person's clients and settings go on their
presence channel (`presence:<id>`), which a node holds while it follows that person
(services/presence.py); answers meant for one node go on its own channel (`to:<node>`); a
delivery to everyone (topic broadcasts: ring summaries) and the services' other control
messages (`node`, `roll`, `members`, `close`, ...) go on the shared channel `all`, which
every node holds.

The bus may lose messages (Redis unreachable or restarted). Nothing the database holds is
lost with them, so a node that missed messages, or whose messages were dropped (then it
tells every node with a `gap` message), catches up: the services reload what they cache
(`gap_listeners`: presence settings and busy, routing rows), and every local connection is closed
with RESYNC, to reconnect and resume from its cursors against the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import msgspec

from liaison.bus.base import Bus
from liaison.protocol import server
from liaison.protocol.reference import CloseCode

log = logging.getLogger(__name__)

BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


# Frames and bus messages are written by the protocol's one encoder.
encode = server.encode

# Every node holds this channel: control messages and deliveries to everyone.
SHARED = "all"


def person_channel(person_id: int) -> str:
    return f"person:{person_id}"


def presence_channel(person_id: int) -> str:
    return f"presence:{person_id}"


def node_channel(node_id: str) -> str:
    return f"to:{node_id}"


class LiveConnection(Protocol):
    person_id: int
    key: str
    # The login session it was opened with (a hash), so logging out can close it.
    session: str
    # Optional streams this connection asked for (e.g. "load"); see Hub.send(topic=...).
    topics: set[str]
    # Whose presence this connection gets (see Hub.watch): the people it named in its
    # latest `watch`, and the members of its conversations, besides its own person.
    named: set[int]
    partners: set[int]
    watching: set[int]

    def push(self, text: str) -> None:
        """Queue a frame; a connection whose queue is full closes itself."""

    def close(self, code: int, reason: str) -> None: ...


class Hub:
    def __init__(self, bus: Bus, node_id: str) -> None:
        self.bus = bus
        self.node_id = node_id
        self._local: dict[int, dict[str, LiveConnection]] = {}
        # person id -> this node's connections that show that person's presence
        self._watchers: dict[int, set[LiveConnection]] = {}
        self._handlers: dict[str, BusHandler] = {}
        # Messages received, by channel (what a node pays for; tests count it).
        self.received: Counter[str] = Counter()
        # The last frame delivered: the next envelope carrying the same frame (the same
        # delivery to another person here) hands the same string to its connections.
        self._last_frame = ""
        # People whose channel this node is subscribing to now (their first connection here).
        self._subscribing: dict[int, asyncio.Event] = {}
        # Called after the bus lost messages, before the connections are closed to resume.
        self.gap_listeners: list[Callable[[], Awaitable[None]]] = []
        # Times this node caught up after lost messages (tests and operators read it).
        self.gaps = 0
        # Called with (people, True) when a person gets their first watcher on this node,
        # (people, False) when they lose their last (presence follows people by it).
        self.watch_listeners: list[Callable[[set[int], bool], None]] = []

    def on(self, kind: str, handler: BusHandler) -> None:
        self._handlers[kind] = handler

    async def start(self) -> None:
        await self.bus.start(self._receive, self._on_gap)
        await self.bus.subscribe(
            [SHARED, node_channel(self.node_id), *(person_channel(p) for p in self._local)]
        )

    async def _on_gap(self, dropped: bool) -> None:
        if dropped:
            # Others missed what this node published: every node catches up, this one too.
            await self.publish({"k": "gap"})
        else:
            await self.catch_up()

    async def catch_up(self) -> None:
        """The bus lost messages: caches from the store, then every connection resumes."""
        self.gaps += 1
        for listener in self.gap_listeners:
            try:
                await listener()
            except Exception:
                # The store unreachable, say: the connections still resume, from it.
                log.exception("catching up after lost bus messages failed")
        conns = [c for conns in self._local.values() for c in conns.values()]
        log.warning("the bus lost messages: %d connections asked to resume", len(conns))
        for conn in conns:
            conn.close(CloseCode.RESYNC, "messages were lost between nodes: resume")

    async def _receive(self, channel: str, text: str) -> None:
        self.received[channel] += 1
        header, _, frame = text.partition("\n")
        message = msgspec.json.decode(header)
        kind = message.get("k")
        if kind == "deliver":
            if frame == self._last_frame:
                frame = self._last_frame
            else:
                self._last_frame = frame
            self.deliver_local(message.get("to"), frame, message.get("t"))
            return
        if kind == "gap":
            await self.catch_up()
            return
        handler = self._handlers.get(kind)
        if handler is None:
            log.warning("bus message of unknown kind %r dropped", kind)
            return
        await handler(message)

    async def publish(self, message: dict[str, Any], channel: str = SHARED) -> None:
        """A control message: to every node, or to the nodes that hold `channel`."""
        await self.bus.publish(channel, encode(message))

    async def hold(self, channels: list[str]) -> None:
        """Receives these channels too, from the moment this returns."""
        await self.bus.subscribe(channels)

    async def let_go(self, channels: list[str]) -> None:
        await self.bus.unsubscribe(channels)

    async def send(
        self,
        to: Iterable[int] | None,
        frame: server.ServerFrame,
        topic: str | None = None,
    ) -> None:
        """Deliver a frame to every connection of these people (None: everyone), on every node.

        With a topic, only to those of their connections that subscribed to it. The frame
        is encoded once; each person's channel gets its own small header before it."""
        text = encode(frame)
        if to is None:
            header: dict[str, Any] = {"k": "deliver", "to": None}
            if topic is not None:
                header["t"] = topic
            await self.bus.publish(SHARED, encode(header) + "\n" + text)
            return
        for person_id in dict.fromkeys(to):
            header = {"k": "deliver", "to": [person_id]}
            if topic is not None:
                header["t"] = topic
            await self.bus.publish(person_channel(person_id), encode(header) + "\n" + text)

    async def attach(self, connection: LiveConnection) -> None:
        """A connection of this node; its person's deliveries come here from now on (the
        first connection of a person subscribes to their channel, and returns once that
        is in force, so nothing published after it is missed)."""
        person_id = connection.person_id
        conns = self._local.setdefault(person_id, {})
        first = not conns
        conns[connection.key] = connection
        if not first:
            # A second tab opened while the first one's subscription is on its way waits too.
            pending = self._subscribing.get(person_id)
            if pending is not None:
                await pending.wait()
            return
        done = self._subscribing[person_id] = asyncio.Event()
        try:
            await self.bus.subscribe([person_channel(person_id)])
        finally:
            done.set()
            if self._subscribing.get(person_id) is done:
                del self._subscribing[person_id]

    def watch(self, connection: LiveConnection, named: set[int] | None = None) -> set[int]:
        """Recomputes whom the connection watches (with a new list it named, if given);
        returns the people it did not watch before."""
        if named is not None:
            connection.named = named
        people = {connection.person_id, *connection.partners, *connection.named}
        return self._set_watching(connection, people)

    def add_partners(self, connection: LiveConnection, people: set[int]) -> set[int]:
        connection.partners |= people
        return self.watch(connection)

    def watch_each_other(self, members: frozenset[int]) -> None:
        """Members of one conversation: their connections on this node watch each other."""
        for person_id in members:
            for conn in self.connections_of(person_id):
                self.add_partners(conn, set(members))

    def _set_watching(self, connection: LiveConnection, people: set[int]) -> set[int]:
        added = people - connection.watching
        unwatched: set[int] = set()
        for person_id in connection.watching - people:
            watchers = self._watchers.get(person_id)
            if watchers is not None:
                watchers.discard(connection)
                if not watchers:
                    del self._watchers[person_id]
                    unwatched.add(person_id)
        first: set[int] = set()
        for person_id in added:
            watchers = self._watchers.setdefault(person_id, set())
            if not watchers:
                first.add(person_id)
            watchers.add(connection)
        connection.watching = set(people)
        for listener in self.watch_listeners:
            if first:
                listener(first, True)
            if unwatched:
                listener(unwatched, False)
        return added

    def watched(self, person_id: int) -> bool:
        """Whether some connection of this node shows this person."""
        return person_id in self._watchers

    def deliver_watchers(self, person_id: int, text: str) -> None:
        """To this node's connections that show this person: a cost per watcher, not per
        connection on the node."""
        for conn in list(self._watchers.get(person_id, ())):
            conn.push(text)

    async def detach(self, connection: LiveConnection) -> bool:
        """Returns True when that was the person's last connection on this node (which
        then no longer receives their channel)."""
        self._set_watching(connection, set())
        conns = self._local.get(connection.person_id)
        if conns is None:
            return True
        conns.pop(connection.key, None)
        if not conns:
            del self._local[connection.person_id]
            await self.bus.unsubscribe([person_channel(connection.person_id)])
            return True
        return False

    def deliver_local(self, to: list[int] | None, text: str, topic: str | None = None) -> None:
        people = self._local.values() if to is None else (self._local.get(p, {}) for p in to)
        for conns in list(people):
            for conn in list(conns.values()):
                if topic is None or topic in conn.topics:
                    conn.push(text)

    def connections_of(self, person_id: int) -> list[LiveConnection]:
        return list(self._local.get(person_id, {}).values())

    def connection_count(self) -> int:
        return sum(len(c) for c in self._local.values())
