"""The table, the Liaison/Prosody ratios, the growth table and plot, and the JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# The latency each scenario is judged by first; the others are listed under it.
MAIN_LATENCY = {
    "connect": "connect",
    "presence": "last_recipient",
    "group": "per_recipient",
    "chat": "delivery",
    "ring": "offer_last_member",
    "login_storm": "others_messages_during",
    "reconnect": "reconnect",
}


def _ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value >= 10000:
        return f"{value / 1000:.1f}s"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def delivered_text(row: dict[str, Any]) -> str:
    if "sent" not in row:
        return ""
    text = f"{row['delivered']}/{row['sent']}"
    if row["delivered"] != row["sent"]:
        text += " !!"
    return text


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'target':16} {'scenario':40} {'delivered':>15} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'max':>7} {'srv ms/op':>9} {'srv %':>6} {'peak MiB':>8} {'gen %':>6}  closed"
    )
    print()
    print(head)
    print("-" * len(head))
    for row in rows:
        main = row.get("latency", {}).get(MAIN_LATENCY.get(row["scenario"], ""), {})
        closed = ",".join(f"{k}x{v}" for k, v in row.get("closed", {}).items()) or "-"
        print(
            f"{row['target']:16} {row['label'][:40]:40} {delivered_text(row):>15} "
            f"{_ms(main.get('p50_ms')):>7} {_ms(main.get('p95_ms')):>7} "
            f"{_ms(main.get('p99_ms')):>7} {_ms(main.get('max_ms')):>7} "
            f"{_num(row.get('server_cpu_ms_per_op'), 2):>9} {_num(row.get('server_cpu_pct')):>6} "
            f"{_num(row.get('server_peak_rss_mib')):>8} "
            f"{_num(row.get('generator_cpu_pct')):>6}  {closed}"
        )
        for name, summary in row.get("latency", {}).items():
            if name == MAIN_LATENCY.get(row["scenario"]) or not summary.get("n"):
                continue
            print(
                f"{'':16}   {name[:37]:37} {summary['n']:>15} {_ms(summary['p50_ms']):>7} "
                f"{_ms(summary['p95_ms']):>7} {_ms(summary['p99_ms']):>7} "
                f"{_ms(summary['max_ms']):>7}"
            )
        extras = []
        for key in (
            "memory_per_connection_kib",
            "frames_per_connection",
            "frames_per_login",
            "frames_per_reconnect",
            "storm_wall_s",
            "connect_wall_s",
        ):
            if row.get(key) is not None:
                extras.append(f"{key}={row[key]}")
        if extras:
            print(f"{'':16}   {' '.join(extras)}")
        for note in row.get("notes", []):
            print(f"{'':16}   NOTE: {note}")
    short = [r for r in rows if "sent" in r and r["delivered"] != r["sent"]]
    if short:
        print()
        print("!" * 78)
        print("!! NOT EVERYTHING WAS DELIVERED (delivered/sent must be 100 %):")
        for r in short:
            print(
                f"!!   {r['target']}: {r['label']}: {delivered_text(r)} "
                f"({r.get('delivered_pct')} %)"
            )
        print("!" * 78)


RATIO_FIGURES = (
    ("p50 ms", lambda r: _main(r, "p50_ms")),
    ("p99 ms", lambda r: _main(r, "p99_ms")),
    ("server CPU ms/op", lambda r: r.get("server_cpu_ms_per_op")),
    ("server CPU %", lambda r: r.get("server_cpu_pct") if r["scenario"] == "idle" else None),
    ("KiB/connection", lambda r: r.get("memory_per_connection_kib")),
    ("delivered %", lambda r: r.get("delivered_pct")),
)


def _main(row: dict[str, Any], field: str) -> Any:
    return row.get("latency", {}).get(MAIN_LATENCY.get(row["scenario"], ""), {}).get(field)


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each Liaison figure over Prosody's for the same scenario and size in this run."""
    prosody = {r["key"]: r for r in rows if r["target"] == "prosody"}
    out = []
    for row in rows:
        other = prosody.get(row["key"])
        if row["target"] == "prosody" or other is None:
            continue
        for name, get in RATIO_FIGURES:
            mine, theirs = get(row), get(other)
            if mine is None or theirs is None or not isinstance(mine, int | float):
                continue
            if isinstance(mine, float) and math.isnan(mine):
                continue
            ratio = mine / theirs if theirs else None
            out.append(
                {
                    "target": row["target"],
                    "scenario": row["label"],
                    "figure": name,
                    "liaison": mine,
                    "prosody": theirs,
                    "ratio": round(ratio, 2) if ratio is not None else None,
                }
            )
    return out


def print_ratios(items: list[dict[str, Any]]) -> None:
    if not items:
        return
    print()
    print(
        f"{'Liaison / Prosody':16} {'scenario':40} {'figure':18} "
        f"{'Liaison':>10} {'Prosody':>10} {'ratio':>8}"
    )
    for item in items:
        ratio = "-" if item["ratio"] is None else f"{item['ratio']:.2f}x"
        print(
            f"{item['target']:16} {item['scenario'][:40]:40} {item['figure']:18} "
            f"{item['liaison']:>10.2f} {item['prosody']:>10.2f} {ratio:>8}"
        )


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How latency and CPU per operation grow with connections and with message rate."""
    out = []
    for row in rows:
        if ("latency" not in row and row["scenario"] != "idle") or "ops" not in row:
            continue  # a scenario that failed before measuring
        if row["scenario"] == "chat":
            lat = row["latency"]["delivery"]
            out.append(
                {
                    "target": row["target"],
                    "kind": "1:1 chat",
                    "connections": row["among"],
                    "rate_per_s": row["rate_per_s"],
                    "p50_ms": lat["p50_ms"],
                    "p99_ms": lat["p99_ms"],
                    "delivered_pct": row.get("delivered_pct"),
                    "server_cpu_ms_per_op": row["server_cpu_ms_per_op"],
                }
            )
        elif row["scenario"] == "connect":
            lat = row["latency"]["connect"]
            out.append(
                {
                    "target": row["target"],
                    "kind": "connect",
                    "connections": row["ops"],
                    "rate_per_s": None,
                    "p50_ms": lat["p50_ms"],
                    "p99_ms": lat["p99_ms"],
                    "delivered_pct": row.get("delivered_pct"),
                    "server_cpu_ms_per_op": row["server_cpu_ms_per_op"],
                    "memory_per_connection_kib": row.get("memory_per_connection_kib"),
                }
            )
        elif row["scenario"] == "idle":
            out.append(
                {
                    "target": row["target"],
                    "kind": "idle",
                    "connections": row["connected"],
                    "rate_per_s": None,
                    "server_cpu_pct": row["server_cpu_pct"],
                }
            )
    return sorted(
        out, key=lambda g: (g["kind"], g["target"], g["connections"], g["rate_per_s"] or 0)
    )


def print_growth(items: list[dict[str, Any]]) -> None:
    if not items:
        return
    print()
    print(
        f"{'growth':10} {'target':16} {'conns':>6} {'rate/s':>7} {'p50':>8} {'p99':>8} "
        f"{'deliv %':>8} {'srv ms/op':>9} {'other':>14}"
    )
    for g in items:
        other = ""
        if g.get("memory_per_connection_kib") is not None:
            other = f"{g['memory_per_connection_kib']} KiB/conn"
        if g.get("server_cpu_pct") is not None:
            other = f"{g['server_cpu_pct']} % CPU"
        print(
            f"{g['kind']:10} {g['target']:16} {g['connections']:>6} "
            f"{_num(g.get('rate_per_s'), 0):>7} {_ms(g.get('p50_ms')):>8} "
            f"{_ms(g.get('p99_ms')):>8} {_num(g.get('delivered_pct'), 1):>8} "
            f"{_num(g.get('server_cpu_ms_per_op'), 2):>9} {other:>14}"
        )


def plot(items: list[dict[str, Any]], path: Path) -> bool:
    """A PNG of latency and server CPU per operation against rate and connections."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (scripts/install adds it)")
        return False
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    chat = [g for g in items if g["kind"] == "1:1 chat"]
    # Against whichever varies more in this run: rate (one stage, several rates) or
    # connections (several stages, one rate).
    by_connections = len({g["connections"] for g in chat}) > len({g["rate_per_s"] for g in chat})
    x_key, fixed_key = (
        ("connections", "rate_per_s") if by_connections else ("rate_per_s", "connections")
    )
    x_label = "connections" if by_connections else "messages/s"
    series: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for g in chat:
        series.setdefault((g["target"], g[fixed_key]), []).append(g)
    for (target, fixed), points in sorted(series.items()):
        points.sort(key=lambda g: g[x_key])
        xs = [g[x_key] for g in points]
        label = f"{target}, {fixed:g}/s" if by_connections else f"{target}, {fixed} connected"
        axes[0][0].plot(xs, [g["p50_ms"] for g in points], "o--", label=f"{label} p50")
        axes[0][0].plot(xs, [g["p99_ms"] for g in points], "o-", label=f"{label} p99")
        axes[0][1].plot(xs, [g["server_cpu_ms_per_op"] for g in points], "o-", label=label)
    axes[0][0].set(
        title="1:1 chat latency (send → recipient)", xlabel=x_label, ylabel="ms", yscale="log"
    )
    axes[0][1].set(
        title="server CPU per 1:1 message", xlabel=x_label, ylabel="ms CPU", yscale="log"
    )
    by_target: dict[str, list[dict[str, Any]]] = {}
    for g in items:
        if g["kind"] == "connect":
            by_target.setdefault(g["target"], []).append(g)
    for target, points in sorted(by_target.items()):
        points.sort(key=lambda g: g["connections"])
        n = [g["connections"] for g in points]
        axes[1][0].plot(n, [g["server_cpu_ms_per_op"] for g in points], "o-", label=target)
        axes[1][1].plot(
            n, [g.get("memory_per_connection_kib") or 0 for g in points], "o-", label=target
        )
    axes[1][0].set(
        title="server CPU per connect (login unless made ahead)",
        xlabel="connections",
        ylabel="ms CPU",
        yscale="log",
    )
    axes[1][1].set(title="server memory per connection", xlabel="connections", ylabel="KiB")
    for ax in axes.flat:
        if ax.lines:
            ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def profile_summary(path: Path, top: int = 15) -> list[dict[str, Any]]:
    """The functions with the most samples in a py-spy speedscope file: self (the frame
    on top of the stack) and total (anywhere on the stack), as % of all samples."""
    document = json.loads(path.read_text())
    frames = document["shared"]["frames"]
    self_count: dict[int, float] = {}
    total_count: dict[int, float] = {}
    samples = 0.0
    for profile in document["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            samples += weight
            self_count[stack[-1]] = self_count.get(stack[-1], 0) + weight
            for index in set(stack):
                total_count[index] = total_count.get(index, 0) + weight
    ranked = sorted(self_count.items(), key=lambda kv: -kv[1])[:top]
    return [
        {
            "function": frames[i]["name"],
            "where": f"{frames[i].get('file', '')}:{frames[i].get('line', '')}",
            "self_pct": round(100 * n / samples, 1),
            "total_pct": round(100 * total_count[i] / samples, 1),
        }
        for i, n in ranked
    ]


def print_profile(path: Path, items: list[dict[str, Any]]) -> None:
    print(f"\nprofile {path.name}: functions by self samples (all threads)")
    print(f"{'self %':>7} {'total %':>8}  function")
    for item in items:
        where = item["where"].split("site-packages/")[-1]
        print(f"{item['self_pct']:>7} {item['total_pct']:>8}  {item['function']}  ({where})")
