"""What one routing change costs as questions pile up: `python -m bench.ring_cost`.

The issue behind it: the router's state was one JSON document rewritten whole on every
change, and ask + accept went from 20 ms to 294 ms as kept questions went from 20 to 420.
The state is now rows written piece by piece (docs/rings.md). This drives the ring
service of one node (no sockets: the service's own calls, on a manual clock) on the
database given (default: a SQLite file in a temporary directory), and prints the median
and 95th percentile of ask + accept while other questions are open (waiting in another
ring) and after many have been answered and closed. Bounded: a few thousand changes.

    .venv/bin/python -m bench.ring_cost [--database-url URL] [--rounds 40] [--taken 400]
        [--open 200,800]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.services.ring_config import apply_ring_config, read_document
from liaison.store.models import Person

PEOPLE = "\n".join(
    [
        "email;first_name;last_name;title;organisation;organisation_type",
        "asker@kela.example;Asker;One;Etuuskäsittelijä;Kela;kela",
        "expert@kela.example;Expert;Two;Asiantuntija;Kela;kela",
        "away@kela.example;Away;Three;Asiantuntija;Kela;kela",
    ]
)
RINGS = {
    "rings": [
        # The expert takes every question asked here at once (no limit in practice).
        {
            "id": "fast",
            "name": "Fast",
            "members": ["expert@kela.example"],
            "max_concurrent": 100000,
        },
        # Nobody free: questions asked here stay open, and routing carries them.
        {
            "id": "parked",
            "name": "Parked",
            "members": ["away@kela.example"],
            "queue_timeout_seconds": 86400,
        },
    ]
}


async def measure(core: Core, asker: int, expert: int, rounds: int) -> list[float]:
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        status = await core.rings.ask(asker, "fast", f"Kysymys {n}")
        await core.rings.accept(expert, status.question_id)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(label: str, times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return f"{label:44} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"


async def main(database_url: str, rounds: int, taken: int, open_counts: list[int]) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = Settings(
        database_url=database_url,
        pseudonym_secret="bench-ring-cost-secret-0123456789",
        password_time_cost=1,
        password_memory_kib=8,
        password_parallelism=1,
        heartbeat_timeout_seconds=86400.0,
    )
    core = Core(settings, clock)
    await core.open()
    await import_directory(core.db, "bench.csv", PEOPLE.encode(), dry_run=False)
    await apply_ring_config(core.db, read_document(RINGS))
    await core.stop()
    core = Core(settings, clock)
    await core.start()
    try:
        async with core.db() as db:
            rows = (await db.execute(select(Person.email, Person.id))).all()
        ids = {email.split("@")[0]: pid for email, pid in rows}
        asker, expert = ids["asker"], ids["expert"]
        # The expert is free: connected (a presence report) and signed in.
        await core.presence.client_heard(expert, "bench", True)
        await core.settle()
        await core.rings.sign_in(expert, "fast", True)
        await core.settle()
        print(summary("no other question", await measure(core, asker, expert, rounds)))
        for open_questions in open_counts:
            while len(core.rings.router.open_questions()) < open_questions:
                await core.rings.ask(asker, "parked", "Odottaa")
            label = f"{open_questions} other questions open"
            print(summary(label, await measure(core, asker, expert, rounds)))
        await measure(core, asker, expert, taken)
        label = f"{open_counts[-1]} open, {taken} more asked and taken"
        print(summary(label, await measure(core, asker, expert, rounds)))
    finally:
        await core.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--taken", type=int, default=400, help="questions taken before the last")
    parser.add_argument(
        "--open", default="200,800", help="other questions open, comma-separated, ascending"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'rings.db'}"
        open_counts = [int(n) for n in args.open.split(",")]
        asyncio.run(main(url, args.rounds, args.taken, open_counts))
