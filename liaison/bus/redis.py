"""Redis pub/sub bus: any number of nodes share one Redis server.

Two connections per node, each owned by one task:

- the **publisher** drains one bounded queue and sends what waits there as one pipeline of
  `PUBLISH` commands. One connection, one task: Redis delivers what one connection
  published in the order it was published, on every channel, so a node's messages keep
  their order (and `idle()`'s marker comes back after everything published before it).
- the **subscriber** holds the node's channels (`SUBSCRIBE`) and hands every message to
  the handler, one at a time. When its connection drops (Redis restarted, killed, the
  network) it connects again by itself, waiting longer after each failed attempt (up to
  `MAX_BACKOFF_SECONDS`), and subscribes every channel it holds again.

Pub/sub keeps nothing: what is published while a node's subscriber is away is not
delivered to it, and what is published while Redis is unreachable is dropped (counted,
logged once per outage). Either way the bus tells its gap handler once it delivers again
(the subscriber holds its channels anew; the publisher answers again after dropping), so
that the node can catch up from the database. Nothing waits on Redis without bound:
connecting, writing and reading a reply each have a timeout, and the queues are bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.exceptions import RedisError

from liaison.bus.base import GapHandler, Handler

log = logging.getLogger(__name__)

# Connecting, and writing or reading one reply, give up after this long.
IO_TIMEOUT_SECONDS = 5.0
# A subscribe() waits this long for Redis to confirm, then returns: the channel is held
# and is subscribed again on the next connection.
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
# Reconnection attempts: at once, then after waits that double up to this.
MIN_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 5.0
# At most this many PUBLISH commands go in one pipeline; channels per SUBSCRIBE command.
BATCH = 500
CHUNK = 1000
# Raised by Redis or the socket when a connection fails (refused, reset, timed out).
LOST = (RedisError, OSError, asyncio.TimeoutError)


async def _connect(conn: AbstractConnection) -> None:
    await conn.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


async def _discard(conn: AbstractConnection | None) -> None:
    if conn is not None:
        with contextlib.suppress(*LOST):
            await conn.disconnect(nowait=True)


class RedisBus:
    def __init__(self, url: str, namespace: str, queue_size: int = 10000) -> None:
        self._url = url
        self._prefix = f"{namespace}:"
        self.node_channel = f"node:{secrets.token_hex(8)}"
        self._handler: Handler | None = None
        self._on_gap: GapHandler | None = None
        # Gap handlers running (held here so that they are not garbage-collected).
        self._gap_tasks: set[asyncio.Task[None]] = set()
        # Logical channels held; the subscriber subscribes them again after a reconnect.
        self._channels: set[str] = set()
        # subscribe() calls waiting for Redis's confirmation, by wire channel.
        self._confirming: dict[str, list[asyncio.Future[None]]] = {}
        # idle() markers on their way: True when it came back, False when it was lost.
        self._markers: dict[str, asyncio.Future[bool]] = {}
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=queue_size)
        self._publisher: asyncio.Task[None] | None = None
        self._pub_conn: AbstractConnection | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._subscriber: asyncio.Task[None] | None = None
        self._sub_conn: AbstractConnection | None = None
        # One writer at a time on the subscriber's connection, in call order.
        self._sub_lock = asyncio.Lock()
        # Set while the subscriber is connected and holds its channels.
        self.subscribed = asyncio.Event()
        # Set once the subscriber's first attempt has held the channels or failed.
        self._tried = asyncio.Event()
        # Clear from a failed publish until Redis answers again (publish drops meanwhile).
        self.publishing = asyncio.Event()
        self.publishing.set()
        self._stopped = False
        # Messages dropped in the current publishing outage; connections the subscriber
        # has made (each counted once it holds the node's channels again).
        self.dropped = 0
        self.connections = 0
        self._probe: Redis | None = None

    # ------------------------------------------------------------ connections

    def _connection(self, role: str) -> AbstractConnection:
        options: dict[str, Any] = dict(parse_url(self._url))
        kind: type[AbstractConnection] = options.pop("connection_class", Connection)
        options.setdefault("socket_connect_timeout", IO_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", IO_TIMEOUT_SECONDS)
        # RESP2: published messages come as plain replies on the subscriber's connection
        # (RESP3 makes them push messages, which redis-py routes elsewhere).
        options["protocol"] = 2
        # Named, so an operator (or a test) can tell the node's connections apart.
        options["client_name"] = f"{self._prefix}{self.node_channel}:{role}"
        return kind(**options)

    def _wire(self, channel: str) -> str:
        return self._prefix + channel

    # ------------------------------------------------------------ life cycle

    async def start(self, handler: Handler, on_gap: GapHandler | None = None) -> None:
        self._handler = handler
        self._on_gap = on_gap
        self._stopped = False
        self.publishing.set()
        self._channels.add(self.node_channel)
        self._start_publisher()
        self._subscriber = asyncio.create_task(self._subscribe_loop(), name="redis-bus-subscriber")
        # A node starts holding its channels, unless Redis does not answer: then it starts
        # anyway (not ready) and the subscriber keeps trying.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._tried.wait(), SUBSCRIBE_TIMEOUT_SECONDS)

    def _start_publisher(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_loop(), name="redis-bus-publisher")

    async def stop(self) -> None:
        if self._publisher is not None and self.publishing.is_set():
            # What was published before stopping still leaves, within the write timeout.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox.join(), IO_TIMEOUT_SECONDS)
        self._stopped = True
        for task in (self._subscriber, self._publisher, self._reconnector):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._subscriber = self._publisher = self._reconnector = None
        for gap in list(self._gap_tasks):
            gap.cancel()
        await _discard(self._pub_conn)
        self._pub_conn = None
        self.subscribed.clear()
        self._fail_markers()
        if self._probe is not None:
            await self._probe.aclose()
            self._probe = None

    async def ready(self) -> bool:
        if self._subscriber is None or not self.subscribed.is_set() or not self.publishing.is_set():
            return False
        if self._probe is None:
            self._probe = Redis.from_url(
                self._url,
                max_connections=2,
                socket_connect_timeout=IO_TIMEOUT_SECONDS,
                socket_timeout=IO_TIMEOUT_SECONDS,
            )
        try:
            return bool(await self._probe.ping())
        except LOST:
            return False

    # ------------------------------------------------------------ publishing

    async def publish(self, channel: str, message: str) -> None:
        if self._stopped or not self.publishing.is_set():
            self._drop(channel, message)
            return
        self._start_publisher()
        # Waits while the queue is full: the publisher sends (within its timeouts) or drops.
        await self._outbox.put((channel, message))

    def _drop(self, channel: str, message: str = "") -> None:
        if channel == self.node_channel:
            marker = self._markers.pop(message, None)
            if marker is not None and not marker.done():
                marker.set_result(False)
            return
        if not self._stopped:
            self.dropped += 1

    async def _publish_loop(self) -> None:
        """Always takes what is queued: sends it, or drops it while Redis is unreachable
        (so a full queue empties at once and no publisher waits on an outage)."""
        try:
            while True:
                batch = [await self._outbox.get()]
                while len(batch) < BATCH and not self._outbox.empty():
                    batch.append(self._outbox.get_nowait())
                try:
                    if not self.publishing.is_set():
                        for channel, message in batch:
                            self._drop(channel, message)
                        continue
                    if self._pub_conn is None:
                        self._pub_conn = self._connection("publish")
                        await _connect(self._pub_conn)
                    conn = self._pub_conn
                    commands = [("PUBLISH", self._wire(c), m) for c, m in batch]
                    await conn.send_packed_command(conn.pack_commands(commands), False)
                    for _ in batch:
                        await conn.read_response()
                except LOST as error:
                    await _discard(self._pub_conn)
                    self._pub_conn = None
                    self._outage(error, batch)
                except Exception:
                    # Not Redis's doing (a bug): this batch is lost, the publisher goes on.
                    log.exception("the bus dropped %d messages it could not send", len(batch))
                    await _discard(self._pub_conn)
                    self._pub_conn = None
                finally:
                    for _ in batch:
                        self._outbox.task_done()
        finally:
            await _discard(self._pub_conn)
            self._pub_conn = None

    def _outage(self, error: BaseException, batch: list[tuple[str, str]]) -> None:
        """Publishing failed: this batch is dropped, and so is what is published until
        Redis answers again (another task tries, waiting longer each time). Logged once."""
        self.publishing.clear()
        log.error(
            "the bus (Redis) cannot be reached (%s): messages are dropped until it answers",
            type(error).__name__,
        )
        for channel, message in batch:
            self._drop(channel, message)
        self._reconnector = asyncio.create_task(
            self._reconnect_publisher(), name="redis-bus-reconnect"
        )

    async def _reconnect_publisher(self) -> None:
        backoff = MIN_BACKOFF_SECONDS
        while True:
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            conn = self._connection("publish")
            try:
                await _connect(conn)
                await conn.send_command("PING")
                await conn.read_response()
            except LOST:
                await _discard(conn)
                continue
            log.warning("the bus (Redis) answers again; %d messages were dropped", self.dropped)
            self._pub_conn = conn
            dropped, self.dropped = self.dropped, 0
            self.publishing.set()
            if dropped:
                self._gap(dropped=True)
            return

    # ------------------------------------------------------------ subscribing

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = [c for c in channels if c not in self._channels]
        if not new:
            return
        self._channels.update(new)
        if self._subscriber is None:
            return  # start() subscribes them
        loop = asyncio.get_running_loop()
        waiting: list[tuple[str, asyncio.Future[None]]] = []
        for channel in new:
            future: asyncio.Future[None] = loop.create_future()
            self._confirming.setdefault(self._wire(channel), []).append(future)
            waiting.append((self._wire(channel), future))
        try:
            if not await self._command("SUBSCRIBE", new):
                return  # no connection now: the next one subscribes them
            await asyncio.wait_for(
                asyncio.gather(*(f for _, f in waiting)), SUBSCRIBE_TIMEOUT_SECONDS
            )
        except LOST:
            pass  # held: subscribed again when the subscriber reconnects
        finally:
            for wire, future in waiting:
                futures = self._confirming.get(wire, [])
                if future in futures:
                    futures.remove(future)
                if not futures:
                    self._confirming.pop(wire, None)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = [c for c in channels if c in self._channels]
        if not gone:
            return
        self._channels.difference_update(gone)
        with contextlib.suppress(*LOST):
            await self._command("UNSUBSCRIBE", gone)

    async def _command(self, command: str, channels: list[str]) -> bool:
        """On the subscriber's connection, if it has one (False: the next connection
        subscribes what is held then)."""
        async with self._sub_lock:
            conn = self._sub_conn
            if conn is None:
                return False
            for start in range(0, len(channels), CHUNK):
                wires = [self._wire(c) for c in channels[start : start + CHUNK]]
                await conn.send_command(command, *wires)
            return True

    async def _subscribe_loop(self) -> None:
        backoff = 0.0
        lost = False
        while True:
            conn = self._connection("subscribe")
            try:
                await _connect(conn)
                async with self._sub_lock:
                    self._sub_conn = conn
                    # The node's own channel last: its confirmation says all are held.
                    held = [*sorted(self._channels - {self.node_channel}), self.node_channel]
                    for start in range(0, len(held), CHUNK):
                        wires = [self._wire(c) for c in held[start : start + CHUNK]]
                        await conn.send_command("SUBSCRIBE", *wires)
                if lost:
                    log.warning("the bus (Redis) subscriber is connected again")
                lost = False
                backoff = 0.0
                await self._read(conn)
            except LOST as error:
                if not lost:
                    log.warning(
                        "the bus (Redis) subscriber lost its connection (%s); reconnecting",
                        type(error).__name__,
                    )
                lost = True
                self._tried.set()
            except Exception:
                # Not Redis's doing (a bug): the subscriber starts over rather than stop.
                log.exception("the bus (Redis) subscriber failed; reconnecting")
                lost = True
                self._tried.set()
            finally:
                self._sub_conn = None
                self.subscribed.clear()
                # What was on its way back is lost with the connection: idle() asks again.
                self._fail_markers()
                with contextlib.suppress(*LOST):
                    await conn.disconnect(nowait=True)
            await asyncio.sleep(backoff)
            backoff = min(max(backoff * 2, MIN_BACKOFF_SECONDS), MAX_BACKOFF_SECONDS)

    async def _read(self, conn: AbstractConnection) -> None:
        node_wire = self._wire(self.node_channel)
        skip = len(self._prefix)
        while True:
            reply = await conn.read_response(timeout=math.inf)
            if not isinstance(reply, list) or len(reply) < 3:
                continue
            kind, wire = reply[0], reply[1].decode()
            if kind == b"message":
                text = reply[2].decode()
                if wire == node_wire:
                    marker = self._markers.pop(text, None)
                    if marker is not None and not marker.done():
                        marker.set_result(True)
                    continue
                channel = wire[skip:]
                # Let go of since (its UNSUBSCRIBE may not have reached Redis yet): nothing
                # more of it is handed over, as on the memory bus.
                if self._handler is not None and channel in self._channels:
                    try:
                        await self._handler(channel, text)
                    except Exception:
                        log.exception("bus handler failed")
            elif kind == b"subscribe":
                for future in self._confirming.pop(wire, []):
                    if not future.done():
                        future.set_result(None)
                if wire == node_wire:
                    # Subscribed last: every channel of the node is held from here.
                    self.connections += 1
                    self.subscribed.set()
                    self._tried.set()
                    if self.connections > 1:
                        self._gap(dropped=False)  # what came while away never will

    def _gap(self, dropped: bool) -> None:
        """Tells the gap handler, in a task of its own: the reader and the publisher go on."""
        if self._on_gap is None or self._stopped:
            return

        async def tell(on_gap: GapHandler) -> None:
            try:
                await on_gap(dropped)
            except Exception:
                log.exception("the bus's gap handler failed")

        task = asyncio.create_task(tell(self._on_gap), name="redis-bus-gap")
        self._gap_tasks.add(task)
        task.add_done_callback(self._gap_tasks.discard)

    # ------------------------------------------------------------ settling

    def _fail_markers(self) -> None:
        markers, self._markers = self._markers, {}
        for marker in markers.values():
            if not marker.done():
                marker.set_result(False)

    async def idle(self) -> None:
        """A marker on this node's own channel, sent by the publisher after everything
        published before it, comes back after all of that has been handled; if it was lost
        on the way (a dropped connection), another is sent once the subscriber is back."""
        if self._subscriber is None:
            return
        while True:
            await self.subscribed.wait()
            await self.publishing.wait()
            token = secrets.token_hex(8)
            marker: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._markers[token] = marker
            if not self.subscribed.is_set():
                self._markers.pop(token, None)
                continue
            await self.publish(self.node_channel, token)
            if await marker:
                return
