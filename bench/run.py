"""Benchmarks over real sockets on loopback: `scripts/bench`.

Prints medians (and the 90th percentile) for:
- message: one sender, N receivers in the conversation's group; time from send to the
  last receiver's frame, and the sender's ack;
- presence fan-out: one status change seen by N connected viewers;
- load view: a question asked until a subscribed supervisor's load_ring frame (this
  includes the deliberate 0.25 s coalescing window), and the HTTP history of a ring
  with 30 days of recorded questions;
- memory: resident set growth per open, idle connection.
Every loop is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from liaison.services.ring_config import apply_ring_config
from liaison.store.models import RingLeg
from tests.conftest import Server, Socket, running_server


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summary(name: str, samples: list[float]) -> float:
    samples = sorted(samples)
    median = statistics.median(samples)
    p90 = samples[int(len(samples) * 0.9) - 1] if len(samples) >= 10 else samples[-1]
    print(f"{name:46} median {median * 1000:8.2f} ms   p90 {p90 * 1000:8.2f} ms   n={len(samples)}")
    return median


async def bench_messages(server: Server, rounds: int) -> float:
    names = ["aino", "bertil", "cecilia", "daniel", "eeva"]
    clients = [await server.client(n) for n in names]
    sockets = [await c.socket() for c in clients]
    response = await clients[0].api(
        "POST",
        "/api/conversations",
        json={"title": "Bench", "members": [server.people[n] for n in names[1:]]},
    )
    conversation_id = response.json()["id"]
    for s in sockets[1:]:
        await s.expect("conversation")
    sender, receivers = sockets[0], sockets[1:]
    ack_times, fanout_times = [], []
    for i in range(rounds):
        start = time.perf_counter()
        await sender.send(
            {"type": "send", "id": f"b{i}", "conversation_id": conversation_id, "body": "x"}
        )
        await sender.expect("ack", id=f"b{i}")
        ack_times.append(time.perf_counter() - start)
        for r in receivers:
            await r.expect("message")
        fanout_times.append(time.perf_counter() - start)
    for s in sockets:
        await s.close()
    summary("message: send → ack", ack_times)
    return summary(f"message: send → {len(receivers)} receivers", fanout_times)


async def bench_presence(server: Server, viewers: int, rounds: int) -> float:
    aino = await server.client("aino")
    watchers: list[Socket] = [await aino.socket() for _ in range(viewers)]
    bertil = await (await server.client("bertil")).socket()
    pid = server.people["bertil"]
    await bertil.send({"type": "set_presence", "status": "available"})
    await bertil.expect("presence_set")
    times = []
    for i in range(rounds):
        status = "away" if i % 2 == 0 else "available"
        start = time.perf_counter()
        await bertil.send({"type": "set_presence", "status": status})
        for w in watchers:
            await w.expect("presence", person_id=pid, status=status)
        times.append(time.perf_counter() - start)
    for w in [*watchers, bertil]:
        await w.close()
    return summary(f"presence: change → {viewers} viewers", times)


async def bench_memory(server: Server, connections: int) -> float:
    aino = await server.client("aino")
    before = rss_mib()
    sockets = [await aino.socket() for _ in range(connections)]
    await asyncio.sleep(0.5)
    after = rss_mib()
    per = (after - before) * 1024 / connections
    print(f"{'memory: per idle connection (server + client)':46} {per:8.1f} KiB   n={connections}")
    for s in sockets:
        await s.close()
    return per


async def bench_load(server: Server, rounds: int, legs_per_day: int) -> None:
    people = ["bertil@kela.example", "daniel@kela.example", "aino@kela.example"]
    ring = {"id": "housing", "name": "Asumistuki", "benefit": "housing_allowance"}
    await apply_ring_config(server.core.db, {"rings": [{**ring, "members": people}]})
    await server.core.rings.reload_rings()
    now = server.core.clock.now()
    async with server.core.db.begin() as db:
        for n in range(30 * legs_per_day):
            at = now - timedelta(days=n // legs_per_day, minutes=n % legs_per_day)
            answered = n % 10 != 0
            db.add(
                RingLeg(
                    question_id=f"bench-{n}",
                    ring_id="housing",
                    asked_at=at,
                    entered_at=at,
                    ended_at=at + timedelta(seconds=5 + n % 90),
                    outcome="answered" if answered else "timed_out",
                    wait_seconds=float(5 + n % 90) if answered else 180.0,
                    missed_offers=n % 3,
                    declined_offers=0,
                    target_answer_seconds=60,
                )
            )
    eeva = await server.client("eeva")
    watcher = await eeva.socket()
    await watcher.send({"type": "load_subscribe"})
    await watcher.expect("load")
    asker = await (await server.client("cecilia")).socket()
    live = []
    for i in range(rounds):
        start = time.perf_counter()
        await asker.send({"type": "ask", "ring_id": "housing", "question": f"q{i}", "ref": i})
        reply = await asker.expect("question_status", ref=i)
        while (await watcher.expect("load_ring"))["ring"]["today"]["waiting"] != 1:
            pass
        live.append(time.perf_counter() - start)
        await asker.send({"type": "cancel", "question_id": reply["question"]["question_id"]})
        while (await watcher.expect("load_ring"))["ring"]["today"]["waiting"] != 0:
            pass
    summary("load: ask → supervisor's load_ring", live)
    for path, label in (
        ("/api/load", "load: GET /api/load (today)"),
        ("/api/load/rings/housing/history?days=30&by=hour", "load: 30-day history by hour"),
        ("/api/load/rings/housing/history?days=7&by=day", "load: 7-day history by day"),
    ):
        times = []
        for _ in range(max(5, rounds)):
            start = time.perf_counter()
            response = await eeva.api("GET", path)
            assert response.status_code == 200, response.text
            times.append(time.perf_counter() - start)
        summary(f"{label} ({30 * legs_per_day} legs)", times)
    await watcher.close()
    await asker.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--legs-per-day", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with running_server(Path(tmp), rate_burst=100000, rate_per_second=100000.0) as server:
            one = await bench_messages(server, args.rounds)
            small = await bench_presence(server, 5, args.rounds // 4)
            large = await bench_presence(server, args.viewers, args.rounds // 4)
            label = f"ratio: presence fan-out {args.viewers} vs 5 viewers"
            print(f"{label:46} {large / small:8.2f}x")
            print(f"{'ratio: presence fan-out vs one message':46} {large / one:8.2f}x")
            await bench_load(server, args.rounds // 10, args.legs_per_day)
            await bench_memory(server, args.connections)


if __name__ == "__main__":
    asyncio.run(main())
