"""A reconnect storm over two nodes: `python -m bench.storm_nodes`.

Two `liaison serve` processes share one PostgreSQL schema and one Redis namespace, as the
production shape runs them (docker-compose.yml). People connect with sessions made ahead,
alternately to each node, and each shows `--watch` others (a `watch` in the hello, as the
page sends it), chosen at random, so most of whom they show are on the other node. Once
the service is quiet, every socket drops at once and connects again to the same node.

Measured over the storm, for each number of people: the wall time until every welcome,
the frames the clients received, the PUBLISH commands Redis handled (INFO commandstats:
every bus message, deliveries and control messages alike), and the CPU seconds of each
node. The issue behind it: a storm's cost must grow in proportion to the people, not
faster. `--code DIR` runs the nodes from another checkout (a commit before a change), the
harness and the clients staying the same. Bounded: each storm has a deadline.

    .venv/bin/python -m bench.storm_nodes [--people 500,1000,2000] [--watch 10] [--code DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import tempfile
from pathlib import Path
from typing import Any

import redis

from bench import proc
from bench.core import Probe, bounded_all, now
from bench.liaison import LiaisonClient, LiaisonTarget

REDIS_URL = "redis://127.0.0.1:6379/0"
STORM_DEADLINE = 180.0


def publishes(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


async def quiet(probe: Probe, still: float = 2.0, limit: float = 60.0) -> None:
    """Until no frame has arrived for `still` seconds (or `limit` passed)."""
    deadline = now() + limit
    last = sum(probe.frames.values())
    quiet_since = now()
    while now() < deadline:
        await asyncio.sleep(0.25)
        count = sum(probe.frames.values())
        if count != last:
            last, quiet_since = count, now()
        elif now() - quiet_since >= still:
            return


async def main(people: list[int], watch: int, code: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="storm-nodes-"))
    namespace = f"storm-{secrets.token_hex(4)}"
    a = LiaisonTarget("postgres", workdir, sessions="ahead")
    b = LiaisonTarget("postgres", workdir, sessions="ahead")
    bus = {"LIAISON_BUS_URL": f"{REDIS_URL}?namespace={namespace}"}
    if code:
        bus["PYTHONPATH"] = str(Path(code).resolve())
    a.env.update(bus)
    # One service: the same database, schema and secrets; its own port.
    b.env = {**a.env, "LIAISON_PORT": str(b.port)}
    b.schema, b.database_url = "", a.database_url
    rds = redis.Redis.from_url(REDIS_URL)
    most = max(people)
    probe = Probe()
    try:
        await a.provision(most, ring_members=[], sessions_ahead=most)
        b.session_tokens, b.person_ids = a.session_tokens, a.person_ids
        await a.start()
        await b.start()
        clients: list[LiaisonClient] = []
        rng = random.Random(7)
        print(f"nodes {a.pid} and {b.pid}; each person shows {watch} others")
        print(
            f"{'people':>7} {'storm s':>8} {'frames':>8} {'/person':>8} "
            f"{'publishes':>10} {'/person':>8} {'CPU A s':>8} {'CPU B s':>8} {'CPU/person ms':>14}"
        )
        for size in sorted(people):
            new = []
            for index in range(len(clients), size):
                client = (a if index % 2 == 0 else b).client(index, probe)
                clients.append(client)
                new.append(client)
            ids = [c.person_id for c in clients]
            for client in clients:
                client.watch = rng.sample(ids, min(watch, len(ids)))
            outcome = await bounded_all(
                new, lambda c: c.target.connect(c), 200, deadline_seconds=STORM_DEADLINE
            )
            if len(outcome.connected) != len(new):
                raise RuntimeError(f"only {len(outcome.connected)} of {len(new)} connected")
            await quiet(probe)
            frames0, published0 = sum(probe.frames.values()), publishes(rds)
            cpu0 = (proc.cpu_seconds(a.pid), proc.cpu_seconds(b.pid))
            for client in clients:
                client.target.disconnect(client)
            t0 = now()
            outcome = await bounded_all(
                clients, lambda c: c.target.connect(c), len(clients), STORM_DEADLINE
            )
            wall = now() - t0
            await quiet(probe)
            frames = sum(probe.frames.values()) - frames0
            published = publishes(rds) - published0
            cpu = (proc.cpu_seconds(a.pid) - cpu0[0], proc.cpu_seconds(b.pid) - cpu0[1])
            done = len(outcome.connected)
            print(
                f"{size:>7} {wall:>8.2f} {frames:>8} {frames / size:>8.1f} {published:>10} "
                f"{published / size:>8.1f} {cpu[0]:>8.2f} {cpu[1]:>8.2f} "
                f"{1000 * sum(cpu) / size:>14.1f}" + ("" if done == size else f"  ({done} back)")
            )
    finally:
        await b.stop()
        await a.stop()
        a.cleanup()
        b.cleanup()
        rds.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", default="500,1000,2000")
    parser.add_argument("--watch", type=int, default=10)
    parser.add_argument("--code", default="", help="run the nodes from this checkout")
    args = parser.parse_args()
    sizes = [int(n) for n in args.people.split(",")]
    asyncio.run(main(sizes, args.watch, args.code))
