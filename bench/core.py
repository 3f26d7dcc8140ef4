"""What every target and scenario shares: simulated clients, the probe that times what they
receive, heartbeats, bounded connecting, and percentiles."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.wsclient import WsConnection

now = time.monotonic


@dataclass
class Pending:
    sent_at: float
    expected: int
    got: int = 0
    acked: bool = False
    last_at: float = 0.0


class Probe:
    """Collects what the simulated clients receive; scenarios say what they wait for.

    Clients hand over only what a scenario asked for (`want_*`), so frames nobody waits
    for are counted by type and size, never parsed.
    """

    def __init__(self) -> None:
        self.frames: Counter[str] = Counter()
        self.frame_bytes: Counter[str] = Counter()
        self.closed: list[tuple[float, int, int]] = []  # (time, client index, close code)
        self.reset()

    def reset(self) -> None:
        self.want_messages = False
        self.want_presence = False
        self.want_ring = False
        self.pending: dict[str, Pending] = {}
        self.delivery: list[float] = []  # send → each expected recipient
        self.delivery_sent: list[float] = []  # when each of those was sent
        self.last_delivery: list[float] = []  # send → the last expected recipient
        self.ack: list[float] = []  # send → the sender's acknowledgement
        self.unexpected = 0
        self.on_presence: Callable[[Client, int, str, float], None] | None = None
        self.on_ring: Callable[[Client, str, dict[str, Any], float], None] | None = None

    # counting

    def frame(self, kind: str, size: int) -> None:
        self.frames[kind] += 1
        self.frame_bytes[kind] += size

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        return Counter(self.frames), Counter(self.frame_bytes)

    # messages

    def sent(self, token: str, expected: int, at: float) -> None:
        self.pending[token] = Pending(at, expected)

    def message(self, token: str, at: float) -> None:
        p = self.pending.get(token)
        if p is None or p.got >= p.expected:
            self.unexpected += 1
            return
        p.got += 1
        p.last_at = at
        self.delivery.append(at - p.sent_at)
        self.delivery_sent.append(p.sent_at)
        if p.got == p.expected:
            self.last_delivery.append(at - p.sent_at)

    def acked(self, token: str, at: float) -> None:
        p = self.pending.get(token)
        if p is not None and not p.acked:
            p.acked = True
            self.ack.append(at - p.sent_at)

    def outstanding(self) -> int:
        return sum(p.expected - p.got for p in self.pending.values())

    def sent_deliveries(self) -> int:
        return sum(p.expected for p in self.pending.values())


class Client:
    """One simulated person of a target; the target subclasses it for its protocol."""

    def __init__(self, index: int, probe: Probe) -> None:
        self.index = index
        self.probe = probe
        self.conn: WsConnection | None = None
        self.ready: asyncio.Future[None] | None = None
        self.beat_due = 0.0

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.is_open

    def closed(self, conn: WsConnection) -> None:
        # Only closes the client did not ask for are figures (a storm closes on purpose).
        if conn.close_code is not None and not conn.closed_by_client:
            self.probe.closed.append((now(), self.index, conn.close_code))


class Heartbeats:
    """Sends each connected client's keep-alive every `interval`, spread evenly in buckets,
    so the generator does not wake once per client."""

    TICK = 0.2

    def __init__(self, interval: float, beat: Callable[[Client], None]) -> None:
        self.interval = interval
        self.beat = beat
        self.buckets: list[set[Client]] = [set() for _ in range(max(1, int(interval / self.TICK)))]
        self.next = 0
        self.task: asyncio.Task[None] | None = None

    def add(self, client: Client) -> None:
        self.buckets[client.index % len(self.buckets)].add(client)

    def remove(self, client: Client) -> None:
        self.buckets[client.index % len(self.buckets)].discard(client)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.TICK)
            bucket = self.buckets[self.next]
            self.next = (self.next + 1) % len(self.buckets)
            for client in bucket:
                if client.connected:
                    self.beat(client)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


@dataclass
class ConnectOutcome:
    connected: list[Any] = field(default_factory=list)
    failed: Counter[str] = field(default_factory=Counter)
    times: list[float] = field(default_factory=list)
    wall: float = 0.0
    timed_out: int = 0


async def bounded_all(
    items: Iterable[Any],
    job: Callable[[Any], Awaitable[None]],
    concurrency: int,
    deadline_seconds: float,
) -> ConnectOutcome:
    """Runs `job` for each item with at most `concurrency` at once; whatever has not
    finished by the deadline is cancelled and counted as timed out."""
    outcome = ConnectOutcome()
    semaphore = asyncio.Semaphore(concurrency)
    start = now()

    async def one(item: Any) -> None:
        async with semaphore:
            t0 = now()
            try:
                await job(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failed connect is a figure, not a crash
                outcome.failed[_reason(e)] += 1
                return
            outcome.times.append(now() - t0)
            outcome.connected.append(item)

    tasks = [asyncio.create_task(one(item)) for item in items]
    if tasks:
        _, not_done = await asyncio.wait(tasks, timeout=deadline_seconds)
        for task in not_done:
            task.cancel()
        await asyncio.gather(*not_done, return_exceptions=True)
        outcome.timed_out = len(not_done)
    outcome.wall = now() - start
    return outcome


def _reason(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text[:120]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


def latency_summary(values: list[float]) -> dict[str, float | int]:
    s = sorted(values)
    ms = 1000.0
    return {
        "n": len(s),
        "p50_ms": percentile(s, 0.50) * ms,
        "p95_ms": percentile(s, 0.95) * ms,
        "p99_ms": percentile(s, 0.99) * ms,
        "max_ms": s[-1] * ms if s else float("nan"),
    }
