"""Log hygiene: a personal identity code never reaches a log line in clear.

Codes can arrive where nobody meant them to go (a search typed into a URL, a request
path, an exception's message); every record of the process is rewritten as it is made,
with the same scanner as every other input (``liaison.domain.identity``), which also
reads percent-encoded text such as the access log's paths and query strings.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from liaison.domain.identity import REDACTION_MARK, redact_identity_codes

REPLACEMENT = REDACTION_MARK


def _scrub(text: str) -> str:
    return redact_identity_codes(text, None)[0]


def _scrub_arg(value: Any) -> Any:
    """One format argument, redacted; its type kept unless it had a code to lose
    (numbers cannot hold one: the century sign is never a digit)."""
    if isinstance(value, str):
        return _scrub(value)
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    scrubbed = _scrub(text)
    return value if scrubbed == text else scrubbed


def redact_record(record: logging.LogRecord) -> None:
    """Redacts a record in place, keeping its shape: ``msg`` and each of ``args``
    separately, so formatters that read the arguments themselves (uvicorn's access
    log unpacks five of them) still work; then, for a code split between the pieces,
    the whole message. A traceback or stack is formatted now and redacted as text."""
    if isinstance(record.msg, str):
        record.msg = _scrub(record.msg)
    else:
        record.msg = _scrub_arg(record.msg)
    if isinstance(record.args, Mapping):
        record.args = {key: _scrub_arg(value) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(value) for value in record.args)
    if record.args:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = ""  # a malformed call: logging reports it as it always does
        scrubbed = _scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()  # no args: the message is not %-formatted
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = _scrub("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = _scrub(record.stack_info)


class RedactIdentityCodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False


def guard_logs() -> None:
    """Redacts every log record of the process as it is made, whichever logger makes it
    (a logger's own filters would miss records of its children)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(redacted_record)


# Messages written once per refused connection when the server is at its limits: under a
# storm they would be thousands of lines (and, for accept(), a traceback each).
BURST_MESSAGES = ("Exceeded concurrency limit.", "socket.accept() out of system resource")
BURST_SECONDS = 10.0


class OncePerBurst(logging.Filter):
    """Lets the first of a burst of the same overload message through; the rest within
    `seconds` are counted, and the next one after that says how many there were."""

    def __init__(self, seconds: float = BURST_SECONDS, now: Callable[[], float] = time.monotonic):
        super().__init__()
        self.seconds = seconds
        self.now = now
        self._since: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if not message.startswith(BURST_MESSAGES):
            return True
        now = self.now()
        started = self._since.get(message)
        if started is not None and now - started < self.seconds:
            self._suppressed[message] = self._suppressed.get(message, 0) + 1
            return False
        self._since[message] = now
        suppressed = self._suppressed.pop(message, 0)
        if suppressed:
            record.msg = f"{message} ({suppressed} more like it in the last burst)"
            record.args = ()
        record.exc_info = record.exc_text = None  # the traceback says nothing new
        return True


def quiet_bursts() -> None:
    """Overload messages are logged once per burst (call after the server set up its
    loggers)."""
    for name in ("uvicorn.error", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerBurst) for f in logger.filters):
            logger.addFilter(OncePerBurst())
