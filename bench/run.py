"""Benchmarks over real sockets on loopback: `scripts/bench --help`; see docs/performance.md.

Starts Liaison (`liaison serve`, a process of its own, on SQLite and/or PostgreSQL) and
Prosody (Debian's package, its own configuration), provisions their people, drives them
with simulated clients over WebSockets, and prints a table, the Liaison/Prosody ratios and
a growth table; writes bench/results/<timestamp>.json and a PNG plot beside it.
Everything is bounded in count and time and targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import proc, report, scenarios
from bench.core import Probe
from bench.liaison import LiaisonTarget
from bench.prosody import ProsodyTarget

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("connect", "idle", "presence", "group", "ring", "chat", "login_storm", "reconnect")
LIAISON_ONLY = {"ring", "login_storm", "reconnect"}


@dataclass
class StagePlan:
    """One fresh server with `population` people connected, and what runs at that size."""

    population: int
    scenarios: tuple[str, ...]
    chat_rates: list[float]
    reconnect_sizes: list[int] = field(default_factory=list)


@dataclass
class Sizes:
    idle_seconds: float = 15.0
    presence_watchers: int = 500
    presence_rounds: int = 20
    group_size: int = 200
    group_messages: int = 30
    group_rate: float = 5.0
    ring_members: int = 30
    ring_rounds: int = 20
    chat_seconds: float = 20.0
    chat_drain: float = 20.0
    login_storm: int = 200
    storm_deadline: float = 180.0


def plan(args: argparse.Namespace) -> tuple[list[StagePlan], Sizes]:
    sizes = Sizes()
    everything = SCENARIOS
    if args.quick:
        sizes = Sizes(
            idle_seconds=5,
            presence_watchers=100,
            presence_rounds=6,
            group_size=50,
            group_messages=10,
            ring_members=10,
            ring_rounds=4,
            chat_seconds=5,
            chat_drain=10,
            login_storm=50,
            storm_deadline=60,
        )
        stages = [StagePlan(200, everything, [50.0], [50, 100])]
    elif args.full:
        stages = [
            StagePlan(1000, everything, [50.0, 200.0], [500, 1000]),
            StagePlan(
                2000,
                ("connect", "idle", "chat", "reconnect"),
                [200.0, 1000.0, 2000.0],
                [1000, 2000],
            ),
            StagePlan(5000, ("connect", "idle"), []),
            StagePlan(10000, ("connect", "idle", "chat"), [200.0, 1000.0, 2000.0]),
        ]
    else:
        stages = [StagePlan(1000, everything, [50.0, 200.0], [500, 1000])]
    if args.connections:
        rates = args.rates or stages[0].chat_rates
        stages = [
            StagePlan(n, everything, rates, sorted({max(1, n // 2), n})) for n in args.connections
        ]
    elif args.rates:
        for s in stages:
            s.chat_rates = args.rates
    if args.scenario:
        wanted = set(args.scenario) | {"connect"}  # the others need people online
        for s in stages:
            s.scenarios = tuple(x for x in s.scenarios if x in wanted)
    if args.chat_seconds:
        sizes.chat_seconds = args.chat_seconds
    return stages, sizes


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_mib"] = int(line.split()[1]) // 1024
    with contextlib.suppress(Exception):
        out = subprocess.run(["dpkg-query", "-W", "prosody"], capture_output=True, text=True)
        info["prosody"] = out.stdout.strip()
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    return info


async def run_stage(
    target: Any, stage_plan: StagePlan, sizes: Sizes, args: argparse.Namespace, stamp: str
) -> list[dict[str, Any]]:
    n = stage_plan.population
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    is_liaison = target.kind == "liaison"
    wanted = [s for s in stage_plan.scenarios if is_liaison or s not in LIAISON_ONLY]
    storm = sizes.login_storm if is_liaison and "login_storm" in wanted else 0
    ring_members = list(range(max(1, n - 1 - sizes.ring_members), n - 1))
    watchers = min(sizes.presence_watchers, n - 1)
    print(f"\n== {target.name}: {n} people ({', '.join(wanted)})", flush=True)
    t0 = time.monotonic()
    if is_liaison:
        # Sessions made ahead (if asked for) for the stage's people only: the storm logs in.
        await target.provision(n + storm, ring_members, sessions_ahead=n)
    else:
        await target.provision(n + storm, (0, list(range(1, watchers + 1))))
    print(f"   provisioned {n + storm} people in {time.monotonic() - t0:.1f} s", flush=True)
    await target.start()
    print(
        f"   {target.name} pid {target.pid}, open files limit {proc.open_files_limit(target.pid)}",
        flush=True,
    )
    probe = Probe()
    clients = [target.client(i, probe) for i in range(n + storm)]
    stage = scenarios.Stage(target, probe, clients, n, connect_concurrency=args.concurrency)
    deadline = args.connect_deadline or min(900.0, max(120.0, n * 0.6))

    async def measured(name: str, key: str, job: Any) -> None:
        profiling = args.profile == name and is_liaison
        if profiling:
            suffix = "svg" if args.profile_format == "flamegraph" else "json"
            out = RESULTS / f"{stamp}-{target.name}-{key.replace(':', '-')}.{suffix}"
            await target.start_profile(out, args.profile_format, args.profile_idle)
            print(f"   profiling {name} with py-spy into {out}", flush=True)
        started = time.monotonic()
        try:
            row = await job
        except Exception as e:
            traceback.print_exc()
            row = {
                "target": target.name,
                "scenario": name,
                "label": f"{name} (failed)",
                "notes": [f"scenario failed: {type(e).__name__}: {e}"],
            }
        finally:
            if profiling:
                await target.stop_profile()
                if args.profile_format == "speedscope" and out.exists():
                    summary = report.profile_summary(out)
                    report.print_profile(out, summary)
                    profiles[out.name] = summary
        row["key"] = key
        row["population"] = n
        rows.append(row)
        main = row.get("latency", {}).get(report.MAIN_LATENCY.get(name, ""), {})
        print(
            f"   {row['label']}: {report.delivered_text(row)} "
            f"p50 {report._ms(main.get('p50_ms'))} p99 {report._ms(main.get('p99_ms'))} (ms), "
            f"server {row.get('server_cpu_ms_per_op')} ms CPU/op, "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )

    try:
        await measured("connect", f"connect:{n}", scenarios.connect(stage, n, deadline))
        if "idle" in wanted:
            await measured("idle", f"idle:{n}", scenarios.idle(stage, sizes.idle_seconds))
        if "presence" in wanted:
            await measured(
                "presence",
                f"presence:{watchers}:{n}",
                scenarios.presence(stage, watchers, sizes.presence_rounds),
            )
        if "group" in wanted:
            size = min(sizes.group_size, n)
            await measured(
                "group",
                f"group:{size}:{n}",
                scenarios.group(stage, size, sizes.group_messages, sizes.group_rate),
            )
        if "ring" in wanted:
            members = [clients[i] for i in ring_members]
            await measured(
                "ring",
                f"ring:{len(members)}:{n}",
                scenarios.ring(stage, members, clients[n - 1], sizes.ring_rounds),
            )
        # Storms last: on the current server they leave few people online.
        if "chat" in wanted:
            for rate in stage_plan.chat_rates:
                await measured(
                    "chat",
                    f"chat:{rate:g}:{n}",
                    scenarios.chat(stage, rate, sizes.chat_seconds, sizes.chat_drain),
                )
        if "reconnect" in wanted:
            for size in stage_plan.reconnect_sizes:
                await measured(
                    "reconnect",
                    f"reconnect:{size}:{n}",
                    scenarios.reconnect_storm(stage, min(size, n), deadline),
                )
        if "login_storm" in wanted:
            rate = min(stage_plan.chat_rates or [50.0])
            await measured(
                "login_storm",
                f"login_storm:{storm}:{n}",
                scenarios.login_storm(stage, clients[n : n + storm], rate, sizes.storm_deadline),
            )
    finally:
        for c in clients:
            if c.conn is not None:
                c.conn.abort()
        warnings = target.log_warnings()
        await target.stop()
        for row in rows:
            row.setdefault("server_log", warnings)
            if profiles and row["scenario"] == args.profile:
                row["profile"] = profiles
        if warnings:
            print(f"   server log warnings/errors: {sum(warnings.values())}", flush=True)
            for line, count in sorted(warnings.items(), key=lambda kv: -kv[1])[:5]:
                print(f"     {count:6} x {line}", flush=True)
        if not args.keep:
            target.cleanup()
    return rows


async def main_async(args: argparse.Namespace) -> int:
    # SIGTERM ends the run like Ctrl-C: the servers are stopped and their folders removed.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    soft, hard = proc.raise_open_files_limit()
    stages, sizes = plan(args)
    host = machine()  # with the load average before the run
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    biggest = max(s.population + sizes.login_storm for s in stages)
    print(f"open files limit: {soft} (hard {hard}); the largest stage needs about {biggest + 100}")
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"load average now: {' '.join(load)} (this machine has {os.cpu_count()} cores; "
        "other processes' load skews the figures)"
    )
    if soft < biggest + 100:
        print("!! the open files limit is below what the largest stage needs: connects will fail")
    targets: list[Any] = []
    workdir = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
    names = args.targets
    for db in args.db:
        if "liaison" in names:
            targets.append(
                lambda db=db: LiaisonTarget(
                    db, workdir, deflate=not args.no_deflate, sessions=args.sessions
                )
            )
    if "prosody" in names:
        ProsodyTarget.ensure_installed()
        targets.append(lambda: ProsodyTarget(workdir))
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        for stage_plan in stages:
            for make in targets:
                rows += await run_stage(make(), stage_plan, sizes, args, stamp)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report.print_table(rows)
    ratio_items = report.ratios(rows)
    report.print_ratios(ratio_items)
    growth_items = report.growth(rows)
    report.print_growth(growth_items)
    out = args.out or RESULTS / f"{stamp}.json"
    png = out.with_suffix(".png")
    plotted = report.plot(growth_items, png)
    report.write_json(
        out,
        {
            "started_at": stamp,
            "command": " ".join(["scripts/bench", *sys.argv[1:]]),
            "duration_s": round(time.monotonic() - started, 1),
            "machine": host,
            "load_average_at_end": Path("/proc/loadavg").read_text().split()[:3],
            "open_files_limit": {"soft": soft, "hard": hard},
            "generator": {
                "event_loop": type(asyncio.get_running_loop()).__module__,
                "websocket": "websockets sans-I/O on asyncio.Protocol",
                "permessage_deflate": not args.no_deflate,
                "liaison_sessions": args.sessions,
            },
            "sizes": sizes.__dict__,
            "stages": [s.__dict__ for s in stages],
            "rows": rows,
            "ratios": ratio_items,
            "growth": growth_items,
        },
    )
    print(f"\nwrote {out}" + (f" and {png}" if plotted else ""))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="200 people, every scenario small (about 2 minutes)"
    )
    size.add_argument(
        "--full",
        action="store_true",
        help="also 2,000, 5,000 and 10,000 connected and 1,000-2,000 msg/s",
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only these (repeatable); connect always runs",
    )
    p.add_argument(
        "--targets",
        type=lambda s: s.split(","),
        default=["liaison", "prosody"],
        help="liaison,prosody (default both)",
    )
    p.add_argument(
        "--db",
        type=lambda s: s.split(","),
        default=["sqlite"],
        help="sqlite,postgres (default sqlite)",
    )
    p.add_argument(
        "--connections",
        type=lambda s: [int(x) for x in s.split(",")],
        help="stage sizes, e.g. 500,1000",
    )
    p.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.split(",")],
        help="1:1 chat rates, e.g. 50,200",
    )
    p.add_argument("--chat-seconds", type=float, help="how long each chat rate sends (default 20)")
    p.add_argument(
        "--concurrency", type=int, default=50, help="connects in flight at once (default 50)"
    )
    p.add_argument(
        "--connect-deadline",
        type=float,
        help="seconds allowed for a stage's connect (default 0.6 per person, 120-900)",
    )
    p.add_argument(
        "--sessions",
        choices=("login", "ahead"),
        help="Liaison clients log in before connecting (login; default) or use sessions made "
        "in bulk beforehand (ahead; default with --full, where 10,000 logins would take "
        "argon2's time 10,000 times); the login storm always logs in",
    )
    p.add_argument(
        "--no-deflate", action="store_true", help="do not offer permessage-deflate (browsers do)"
    )
    p.add_argument(
        "--profile", choices=SCENARIOS, help="run Liaison under py-spy during this scenario"
    )
    p.add_argument("--profile-format", choices=("flamegraph", "speedscope"), default="flamegraph")
    p.add_argument(
        "--profile-idle", action="store_true", help="include idle threads in the profile"
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the servers' working directories and logs"
    )
    p.add_argument(
        "--out", type=Path, help="JSON file to write (default bench/results/<timestamp>.json)"
    )
    args = p.parse_args(argv)
    unknown = set(args.targets) - {"liaison", "prosody"} or set(args.db) - {"sqlite", "postgres"}
    if unknown:
        p.error(f"unknown target or database: {', '.join(sorted(unknown))}")
    if args.sessions is None:
        args.sessions = "ahead" if args.full else "login"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.run(main_async(args))  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
