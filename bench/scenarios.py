"""The scenarios: each runs bounded in count and time against one started target and
returns one result row (a dict that goes into the table and the JSON as it is).

Every row carries the server's CPU (from /proc, over the scenario's window) beside the
load generator's own, so a figure is never read without knowing whether the generator
was the bottleneck.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench import proc
from bench.core import Client, Probe, bounded_all, latency_summary, now
from bench.liaison import RING_ID

BODY = "Hei! Onko asumistuen muutosilmoitus tarpeen, kun tulot muuttuvat? #"
GENERATOR_BUSY = 0.8  # of one core: above this the generator may be what limits a figure


class Target(Protocol):
    kind: str
    name: str
    pid: int

    def client(self, index: int, probe: Probe) -> Client: ...
    async def connect(self, client: Client, timeout: float = 60.0) -> None: ...
    def disconnect(self, client: Client) -> None: ...
    async def open_direct(self, a: Client, b: Client) -> Any: ...
    async def open_group(self, owner: Client, members: list[Client]) -> Any: ...
    async def prepare_watchers(self, subject: Client, watchers: list[Client]) -> None: ...
    def send_message(self, client: Client, conversation: Any, token: str, body: str) -> bool: ...
    def set_away(self, client: Client, away: bool) -> None: ...
    def is_away(self, status: str) -> bool: ...


@dataclass
class Stage:
    """One started target with its provisioned people; `clients[i]` is person i."""

    target: Any
    probe: Probe
    clients: list[Client]
    population: int
    directs: dict[tuple[int, int], Any] = field(default_factory=dict)
    baseline_rss_kib: int = 0
    connect_concurrency: int = 50
    seq: itertools.count[int] = field(default_factory=itertools.count)

    def connected(self) -> list[Client]:
        return [c for c in self.clients if c.connected]


class Window:
    """Server and generator CPU, the server's peak memory, frames and closes over a window."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.pid = stage.target.pid
        proc.reset_peak_rss(self.pid)
        self.meter = proc.Meter(self.pid).start()
        self.frames0, self.bytes0 = stage.probe.snapshot()
        self.closed0 = len(stage.probe.closed)

    def finish(self, scenario: str, label: str, ops: int, op: str, **fields: Any) -> dict[str, Any]:
        self.meter.stop()
        stage, m = self.stage, self.meter
        frames, sizes = stage.probe.snapshot()
        frames.subtract(self.frames0)
        sizes.subtract(self.bytes0)
        closed = Counter(code for _, _, code in stage.probe.closed[self.closed0 :])
        row: dict[str, Any] = {
            "target": stage.target.name,
            "scenario": scenario,
            "label": label,
            "connected": sum(1 for c in stage.clients if c.connected),
            "ops": ops,
            "op": op,
            "wall_s": round(m.wall, 3),
            "server_cpu_s": round(m.server_cpu, 3),
            "server_cpu_ms_per_op": round(m.server_cpu * 1000 / ops, 3) if ops else None,
            "server_cpu_pct": round(100 * m.server_cpu / m.wall, 1) if m.wall else None,
            "server_rss_mib": round(proc.rss_kib(self.pid) / 1024, 1),
            "server_peak_rss_mib": round(proc.peak_rss_kib(self.pid) / 1024, 1),
            "generator_cpu_s": round(m.own_cpu, 3),
            "generator_cpu_pct": round(100 * m.own_cpu / m.wall, 1) if m.wall else None,
            "frames_received": {k: v for k, v in sorted(frames.items()) if v},
            "bytes_received": {k: v for k, v in sorted(sizes.items()) if v},
            "closed": {str(code): n for code, n in sorted(closed.items())},
            "notes": [],
        }
        row.update(fields)
        if m.wall and m.own_cpu / m.wall > GENERATOR_BUSY:
            row["notes"].append("load generator above 80 % of a core: figures may be its limit")
        if row.get("sent"):
            row["delivered_pct"] = round(100.0 * row["delivered"] / row["sent"], 2)
        return row


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def quiet(stage: Stage, still: float = 1.0, limit: float = 60.0) -> None:
    """Waits until no frame has arrived for `still` seconds (at most `limit`), so a
    measurement does not start behind the setup's own traffic."""
    deadline = now() + limit
    last = -1
    while now() < deadline:
        frames = stage.probe.frames
        # Keep-alive answers never stop; they are not the setup's traffic.
        total = sum(frames.values()) - frames["heartbeat_ack"] - frames["iq"]
        if total == last:
            return
        last = total
        await asyncio.sleep(still)


async def wait_until(condition: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = now() + timeout
    while not condition():
        if now() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


# connect and idle


async def connect(stage: Stage, count: int, deadline: float) -> dict[str, Any]:
    """`count` people log in, open the socket and come online, at most
    `stage.connect_concurrency` at once; ends at `deadline` seconds whatever happened."""
    target, clients = stage.target, stage.clients[:count]
    stage.baseline_rss_kib = proc.rss_kib(target.pid)
    window = Window(stage)
    outcome = await bounded_all(
        clients, target.connect, stage.connect_concurrency, deadline_seconds=deadline
    )
    await settle(2.0)
    connected = len(outcome.connected)
    rss = proc.rss_kib(target.pid)
    row = window.finish(
        "connect",
        f"connect {count}",
        connected,
        "connection",
        sent=count,
        delivered=connected,
        latency={"connect": latency_summary(outcome.times)},
        failed=dict(outcome.failed),
        timed_out=outcome.timed_out,
        connect_wall_s=round(outcome.wall, 3),
        memory_per_connection_kib=round((rss - stage.baseline_rss_kib) / connected, 1)
        if connected
        else None,
        frames_per_connection=round(sum(window_frames(window).values()) / connected, 1)
        if connected
        else None,
        deadline_s=deadline,
    )
    if outcome.timed_out:
        row["notes"].append(f"{outcome.timed_out} not connected within {deadline:.0f} s")
    if getattr(target, "sessions", "login") == "ahead":
        row["notes"].append("sessions made ahead: no login in this figure")
    return row


def window_frames(window: Window) -> Counter[str]:
    frames, _ = window.stage.probe.snapshot()
    frames.subtract(window.frames0)
    return frames


async def idle(stage: Stage, seconds: float) -> dict[str, Any]:
    """Everyone connected sends only heartbeats (every 10 s, as the browser)."""
    await settle(2.0)
    window = Window(stage)
    await asyncio.sleep(seconds)
    n = sum(1 for c in stage.clients if c.connected)
    return window.finish("idle", f"idle {n} connected", 0, "second", idle_seconds=seconds)


# presence


async def presence(stage: Stage, watchers: int, rounds: int) -> dict[str, Any]:
    """One person flips between away and available; `watchers` people who show that person
    (their conversation partners; in Prosody, roster contacts) must each see every flip."""
    target, probe = stage.target, stage.probe
    subject = stage.clients[0]
    if not subject.connected:
        # Person 0 is the subject (Prosody's rosters are written for it): bring it online
        # if the connect scenario gave up on it.
        await target.connect(subject, 120.0)
    # Watchers are people 1..watchers, those online.
    watching = [c for c in stage.clients[1 : watchers + 1] if c.connected]
    if not watching:
        raise RuntimeError("none of the presence subject's watchers is online")
    await target.prepare_watchers(subject, watching)
    await quiet(stage)
    watcher_ids = {c.index for c in watching}
    state: dict[str, Any] = {"away": False, "start": 0.0, "seen": set()}
    per_recipient: list[float] = []
    last: list[float] = []

    def seen(client: Client, index: int, status: str, at: float) -> None:
        if index != subject.index or client.index not in watcher_ids:
            return
        if target.is_away(status) != state["away"] or client.index in state["seen"]:
            return
        state["seen"].add(client.index)
        per_recipient.append(at - state["start"])
        if len(state["seen"]) == len(watcher_ids):
            last.append(at - state["start"])

    probe.reset()
    probe.want_presence, probe.on_presence = True, seen
    window = Window(stage)
    delivered = 0
    for r in range(rounds):
        state.update(away=r % 2 == 0, start=now(), seen=set())
        target.set_away(subject, state["away"])
        await wait_until(lambda: len(state["seen"]) >= len(watcher_ids), 10.0)
        delivered += len(state["seen"])
        await asyncio.sleep(0.2)
    row = window.finish(
        "presence",
        f"presence to {len(watcher_ids)}"
        + ("" if len(watcher_ids) == watchers else f" of {watchers}"),
        rounds,
        "change",
        sent=rounds * len(watcher_ids),
        delivered=delivered,
        latency={
            "last_recipient": latency_summary(last),
            "per_recipient": latency_summary(per_recipient),
        },
    )
    probe.reset()
    return row


# messages


async def group(stage: Stage, size: int, messages: int, rate: float) -> dict[str, Any]:
    """One sender in a group of `size`: each message must reach the other size - 1."""
    target, probe = stage.target, stage.probe
    members = stage.connected()[:size]
    conversation = await target.open_group(members[0], members[1:])
    await quiet(stage)
    probe.reset()
    probe.want_messages = True
    window = Window(stage)
    run = next(stage.seq)
    start = now()
    for i in range(messages):
        await asyncio.sleep(max(0.0, start + i / rate - now()))
        token = f"g{run}-{i}"
        probe.sent(token, len(members) - 1, now())
        target.send_message(members[0], conversation, token, BODY + str(i))
    await wait_until(lambda: probe.outstanding() == 0, 15.0)
    row = window.finish(
        "group",
        f"group {len(members)}",
        messages,
        "message",
        sent=probe.sent_deliveries(),
        delivered=len(probe.delivery),
        messages=messages,
        rate_per_s=rate,
        latency={
            "per_recipient": latency_summary(probe.delivery),
            "last_recipient": latency_summary(probe.last_delivery),
            **({"ack": latency_summary(probe.ack)} if probe.ack else {}),
        },
    )
    probe.reset()
    return row


async def prepare_pairs(stage: Stage, among: list[Client]) -> list[tuple[Client, Client, Any]]:
    """Pairs (0,1), (2,3), ... of the given people, each with its direct conversation."""
    target = stage.target
    pairs = [(among[i], among[i + 1]) for i in range(0, len(among) - 1, 2)]
    missing = [(a, b) for a, b in pairs if (a.index, b.index) not in stage.directs]
    sem = asyncio.Semaphore(8)

    async def one(a: Client, b: Client) -> None:
        async with sem:
            stage.directs[(a.index, b.index)] = await target.open_direct(a, b)

    await asyncio.gather(*(one(a, b) for a, b in missing))
    return [(a, b, stage.directs[(a.index, b.index)]) for a, b in pairs]


async def send_chat(
    stage: Stage,
    pairs: list[tuple[Client, Client, Any]],
    rate: float,
    stop: asyncio.Event | None,
    seconds: float,
) -> tuple[int, int]:
    """Sends 1:1 messages at `rate` a second, spread over the pairs in both directions,
    for `seconds` or until `stop` is set; answers (attempted, refused by a closed socket)."""
    target, probe = stage.target, stage.probe
    run = next(stage.seq)
    start, sent, failed = now(), 0, 0
    while True:
        elapsed = now() - start
        if elapsed >= seconds or (stop is not None and stop.is_set()):
            return sent, failed
        due = int(elapsed * rate) + 1
        while sent < due:
            a, b, conversation = pairs[sent % len(pairs)]
            sender = a if (sent // len(pairs)) % 2 == 0 else b
            token = f"c{run}-{sent}"
            probe.sent(token, 1, now())
            if not target.send_message(sender, conversation, token, BODY + str(sent)):
                failed += 1
            sent += 1
        await asyncio.sleep(0.005)


async def chat(stage: Stage, rate: float, seconds: float, drain: float) -> dict[str, Any]:
    """1:1 chat at `rate` messages a second among everyone connected, in pairs; latency
    from send to the recipient's frame (and to the sender's ack where the protocol has one)."""
    probe = stage.probe
    among = stage.connected()
    pairs = await prepare_pairs(stage, among)
    await quiet(stage)
    probe.reset()
    probe.want_messages = True
    window = Window(stage)
    sent, refused = await send_chat(stage, pairs, rate, None, seconds)
    drained = await wait_until(lambda: probe.outstanding() == 0, drain)
    row = window.finish(
        "chat",
        f"1:1 {rate:g}/s among {len(among)}",
        sent,
        "message",
        sent=sent,
        delivered=len(probe.delivery),
        rate_per_s=rate,
        among=len(among),
        send_seconds=seconds,
        refused_closed_socket=refused,
        latency={
            "delivery": latency_summary(probe.delivery),
            **({"ack": latency_summary(probe.ack)} if probe.ack else {}),
        },
    )
    if not drained:
        row["notes"].append(f"not all delivered {drain:.0f} s after the last send")
    probe.reset()
    return row


# rings (Liaison only)


async def ring(stage: Stage, members: list[Client], asker: Client, rounds: int) -> dict[str, Any]:
    """A question to a ring of signed-in, free members: ask → every member's offer;
    one accepts → the acceptor's `accepted` and the asker's `consultation` (open)."""
    probe = stage.probe
    members = [c for c in members if c.connected]
    if not members or not asker.connected:
        raise RuntimeError("no ring member or no asker online")
    member_ids = {c.index for c in members}
    events: dict[str, Any] = {}

    def on_ring(client: Client, kind: str, frame: dict[str, Any], at: float) -> None:
        if kind == "rings":
            events.setdefault("signed_in", set()).add(client.index)
        elif kind == "offer" and client.index in member_ids:
            events.setdefault("offers", {})[client.index] = at
            events["question_id"] = frame["question_id"]
        elif kind == "accepted":
            events["accepted"] = at
            events["consultation_id"] = frame["consultation"]["id"]
        elif kind == "consultation" and client is asker:
            if frame["consultation"].get("state") == "open":
                events["asker_open"] = at
        elif kind == "consultation_closed":
            events["closed"] = at
        elif kind == "error":
            events.setdefault("errors", []).append(frame.get("code"))

    probe.reset()
    probe.want_ring, probe.on_ring = True, on_ring
    for c in members:
        c.send({"type": "ring_sign_in", "ring_id": RING_ID, "signed_in": True})  # type: ignore[attr-defined]
    await wait_until(lambda: len(events.get("signed_in", ())) >= len(members), 30.0)
    await settle(1.0)
    offer_each: list[float] = []
    offer_last: list[float] = []
    accept_reply: list[float] = []
    accept_asker: list[float] = []
    delivered = 0
    window = Window(stage)
    for r in range(rounds):
        for key in ("offers", "question_id", "accepted", "asker_open", "closed", "consultation_id"):
            events.pop(key, None)
        t_ask = now()
        asker.send({"type": "ask", "ring_id": RING_ID, "question": f"Kysymys {r}", "ref": r})  # type: ignore[attr-defined]
        await wait_until(lambda: len(events.get("offers", {})) >= len(members), 10.0)
        offers = events.get("offers", {})
        delivered += len(offers)
        offer_each += [t - t_ask for t in offers.values()]
        if len(offers) == len(members):
            offer_last.append(max(offers.values()) - t_ask)
        if not offers:
            continue
        preferred = members[r % len(members)]
        acceptor = (
            preferred
            if preferred.index in offers
            else next(c for c in members if c.index in offers)
        )
        t_accept = now()
        acceptor.send({"type": "accept", "question_id": events["question_id"]})  # type: ignore[attr-defined]
        await wait_until(lambda: "accepted" in events and "asker_open" in events, 10.0)
        if "accepted" in events:
            accept_reply.append(events["accepted"] - t_accept)
        if "asker_open" in events:
            accept_asker.append(events["asker_open"] - t_accept)
        if "consultation_id" in events:
            acceptor.send(  # type: ignore[attr-defined]
                {
                    "type": "close_consultation",
                    "consultation_id": events["consultation_id"],
                    "outcome": "answered",
                    "topic": "statement",
                }
            )
            await wait_until(lambda: "closed" in events, 10.0)
        await asyncio.sleep(0.3)  # the expert's busy status clears before the next question
    row = window.finish(
        "ring",
        f"ring of {len(members)}",
        rounds,
        "question",
        sent=rounds * len(members),
        delivered=delivered,
        latency={
            "offer_last_member": latency_summary(offer_last),
            "offer_per_member": latency_summary(offer_each),
            "accept_to_accepted": latency_summary(accept_reply),
            "accept_to_asker_consultation": latency_summary(accept_asker),
        },
        errors=Counter(events.get("errors", [])),
    )
    probe.reset()
    return row


# storms (Liaison only)


async def login_storm(
    stage: Stage, storm: list[Client], rate: float, deadline: float
) -> dict[str, Any]:
    """`len(storm)` people log in and connect at once while 1:1 chat runs at `rate` among
    everyone already connected: the others' message delay before and during the storm."""
    target, probe = stage.target, stage.probe
    among = stage.connected()
    pairs = await prepare_pairs(stage, among)
    await quiet(stage)
    probe.reset()
    probe.want_messages = True
    stop = asyncio.Event()
    chat_task = asyncio.create_task(send_chat(stage, pairs, rate, stop, deadline + 10))
    await asyncio.sleep(5.0)  # a baseline before the storm
    window = Window(stage)
    storm_start = now()
    outcome = await bounded_all(storm, target.connect, len(storm), deadline_seconds=deadline)
    storm_end = now()
    frames_in_storm = window_frames(window)
    await asyncio.sleep(2.0)
    stop.set()
    sent, refused = await chat_task
    await wait_until(lambda: probe.outstanding() == 0, 15.0)
    before = [
        lat for lat, t in zip(probe.delivery, probe.delivery_sent, strict=True) if t < storm_start
    ]
    during = [
        lat
        for lat, t in zip(probe.delivery, probe.delivery_sent, strict=True)
        if storm_start <= t <= storm_end
    ]
    chat_frames = frames_in_storm["message"] + frames_in_storm["ack"]
    other_frames = sum(frames_in_storm.values()) - chat_frames
    row = window.finish(
        "login_storm",
        f"login storm {len(storm)} + 1:1 {rate:g}/s among {len(among)}",
        len(outcome.connected),
        "login",
        sent=sent,
        delivered=len(probe.delivery),
        storm=len(storm),
        storm_connected=len(outcome.connected),
        storm_failed=dict(outcome.failed),
        storm_timed_out=outcome.timed_out,
        storm_wall_s=round(storm_end - storm_start, 3),
        frames_in_storm_besides_chat=other_frames,
        frames_per_login=round(other_frames / len(storm), 1) if storm else None,
        refused_closed_socket=refused,
        latency={
            "storm_login": latency_summary(outcome.times),
            "others_messages_before": latency_summary(before),
            "others_messages_during": latency_summary(during),
        },
    )
    probe.reset()
    for c in storm:
        target.disconnect(c)
    await settle(7.0)  # past the offline grace, so what follows starts quiet
    return row


async def reconnect_storm(stage: Stage, size: int, deadline: float) -> dict[str, Any]:
    """`size` connected people lose their sockets at once and reconnect (same session,
    hello, welcome); frames everyone receives meanwhile are counted for linearity in N."""
    target = stage.target
    storm = [c for c in stage.clients if c.connected][:size]
    window = Window(stage)
    for c in storm:
        target.disconnect(c)
    t0 = now()
    outcome = await bounded_all(storm, target.connect, len(storm), deadline_seconds=deadline)
    t1 = now()
    frames = window_frames(window)
    total = sum(frames.values())
    row = window.finish(
        "reconnect",
        f"reconnect storm {len(storm)}" + ("" if len(storm) == size else f" of {size}"),
        len(outcome.connected),
        "reconnect",
        sent=len(storm),
        delivered=len(outcome.connected),
        online_before=len(storm),
        storm_wall_s=round(t1 - t0, 3),
        failed=dict(outcome.failed),
        timed_out=outcome.timed_out,
        frames_in_storm=total,
        frames_per_reconnect=round(total / len(storm), 1) if storm else None,
        latency={"reconnect": latency_summary(outcome.times)},
    )
    await settle(7.0)
    return row
