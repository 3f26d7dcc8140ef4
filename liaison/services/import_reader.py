"""Reads and checks an import file in a child process, within a time and memory budget.

A spreadsheet is a program's output the server did not write: a 1.6 KB XLSX can claim a
million rows, a zip can inflate a thousandfold. So the parse runs in a process of its
own (started with "spawn": a fresh interpreter, nothing of the server's state), one at a
time, with its address space capped (RLIMIT_AS) and killed when it overruns its wall
time. The server's event loop only waits in a thread; the database write stays in the
server (``liaison.services.directory_import``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from liaison.config import Settings
from liaison.domain.directory import (
    MAX_FILE_BYTES,
    N_,
    ImportFileError,
    PersonRow,
    RowError,
    Table,
    read_sheet,
    validate_rows,
)

__all__ = ["ParsedFile", "ReadLimits", "parse_file", "read_in_child"]

log = logging.getLogger(__name__)

# One reader at a time: a second import waits for the first one's child to end.
_one_at_a_time = threading.Lock()


# The child's exit code when it ran out of its memory budget before it could report it.
MEMORY_EXIT = 3


@dataclass(frozen=True)
class ReadLimits:
    """The budget of one file's reading: its size, wall seconds (from the child's start)
    and the memory the child may take beyond what it has when it begins (0: no limit)."""

    seconds: float = 30.0
    memory_bytes: int = 512 * 1024 * 1024
    file_bytes: int = MAX_FILE_BYTES

    @classmethod
    def of(cls, settings: Settings) -> ReadLimits:
        return cls(settings.import_seconds, settings.import_memory_bytes, settings.max_import_bytes)


@dataclass
class ParsedFile:
    """A read and checked file: the table's notes (its rows dropped), the valid rows and
    every error. ``rows`` counts the data rows read."""

    table: Table
    rows: int
    valid: list[PersonRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_file(
    filename: str,
    data: bytes,
    sheet: str | None,
    org_kinds: Mapping[str, str],
    unit_kinds: Mapping[tuple[str, str], str],
    max_bytes: int = MAX_FILE_BYTES,
) -> ParsedFile:
    """Reads and validates in this process; raises ImportFileError for an unreadable file."""
    table = read_sheet(filename, data, sheet, max_bytes)
    valid, errors = validate_rows(table.rows, org_kinds, unit_kinds)
    rows = len(table.rows)
    table.rows = []  # not needed any more, and not worth sending back
    return ParsedFile(table, rows, valid, errors)


def read_in_child(
    limits: ReadLimits,
    filename: str,
    data: bytes,
    sheet: str | None,
    org_kinds: Mapping[str, str],
    unit_kinds: Mapping[tuple[str, str], str],
) -> ParsedFile:
    """``parse_file`` in a child process; blocks, so call it from a thread.

    Raises ImportFileError for a bad file and for a file that overran the budget.
    """
    with _one_at_a_time:
        outcome = _run_child(
            limits,
            (filename, data, sheet, dict(org_kinds), dict(unit_kinds), limits.file_bytes),
        )
    kind, value = outcome
    if kind == "ok":
        assert isinstance(value, ParsedFile)
        return value
    if kind == "file_error":
        assert isinstance(value, tuple)
        message, values = value
        raise ImportFileError(message, **values)
    if kind == "timeout":
        raise ImportFileError(
            N_(
                "reading the file took longer than {seconds} seconds and was stopped; "
                "save it again from Excel as .xlsx or CSV, or split it"
            ),
            seconds=f"{limits.seconds:g}",
        )
    if kind == "memory":
        raise ImportFileError(
            N_(
                "reading the file needed more than {mib} MiB of memory and was stopped; "
                "save it again from Excel as .xlsx or CSV, or split it"
            ),
            mib=limits.memory_bytes // (1024 * 1024),
        )
    log.warning("the import reader stopped unexpectedly (%s)", value)
    raise ImportFileError(N_("the file could not be read (the reader stopped); try CSV instead"))


def _run_child(limits: ReadLimits, args: tuple[Any, ...]) -> tuple[str, object]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, limits.memory_bytes, *args), daemon=True, name="import"
    )
    process.start()
    sender.close()  # the child holds its own end; EOF here then means the child is gone
    try:
        if not receiver.poll(limits.seconds):
            return ("timeout", None)
        try:
            outcome: tuple[str, object] = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            if process.exitcode == MEMORY_EXIT:
                return ("memory", None)
            # Killed by the kernel (e.g. out of memory) or crashed before it could answer.
            return ("crash", f"exit code {process.exitcode}")
        return outcome
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()


def _child(
    conn: Connection,
    memory_bytes: int,
    filename: str,
    data: bytes,
    sheet: str | None,
    org_kinds: dict[str, str],
    unit_kinds: dict[tuple[str, str], str],
    max_bytes: int,
) -> None:
    """The child's whole life: cap memory, parse, send one outcome, exit."""
    # The libraries are loaded before the cap, which is for the file's reading. openpyxl
    # loads numpy when it is installed; one BLAS thread keeps numpy's buffers small.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import openpyxl  # noqa: F401

    try:
        try:
            if memory_bytes:
                _cap_address_space(memory_bytes)
            outcome: tuple[str, object] = (
                "ok",
                parse_file(filename, data, sheet, org_kinds, unit_kinds, max_bytes),
            )
        except ImportFileError as exc:
            # The template and its values, for the parent to raise again as they were.
            outcome = ("file_error", (exc.message, exc.values))
        except MemoryError:
            outcome = ("memory", None)
        except Exception as exc:  # reported by kind only: the file's text stays out of logs
            outcome = ("crash", type(exc).__name__)
        del data
        conn.send(outcome)
        conn.close()
    except MemoryError:
        # Out of budget even for saying so (the outcome's pickling, the interpreter's own
        # bookkeeping): the exit code says it instead.
        os._exit(MEMORY_EXIT)


def _cap_address_space(extra: int) -> None:
    """RLIMIT_AS at what the child has mapped now plus ``extra``."""
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    limit = mapped + extra
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
