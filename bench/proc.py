"""What a process costs, read from /proc: CPU seconds, resident memory, its peak, fd limit."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process so far (children not included)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces; fields after the closing parenthesis are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS:")


def peak_rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmHWM:")


def reset_peak_rss(pid: int) -> bool:
    """Starts VmHWM afresh (Linux: writing 5 to clear_refs); False where not permitted."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def open_files_limit(pid: int) -> int:
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 0


def raise_open_files_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; child processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def own_cpu_seconds() -> float:
    return time.process_time()


@dataclass
class Meter:
    """CPU of the server and of this load generator over one measured window."""

    pid: int
    server_cpu0: float = 0.0
    own_cpu0: float = 0.0
    wall0: float = 0.0
    server_cpu: float = 0.0
    own_cpu: float = 0.0
    wall: float = 0.0

    def start(self) -> Meter:
        self.server_cpu0 = cpu_seconds(self.pid)
        self.own_cpu0 = own_cpu_seconds()
        self.wall0 = time.monotonic()
        return self

    def stop(self) -> Meter:
        self.server_cpu = cpu_seconds(self.pid) - self.server_cpu0
        self.own_cpu = own_cpu_seconds() - self.own_cpu0
        self.wall = time.monotonic() - self.wall0
        return self
