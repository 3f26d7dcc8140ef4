"""Log hygiene: a personal identity code never reaches a log line in clear.

Codes can arrive where nobody meant them to go (a search typed into a URL, a frame
type); the filter rewrites every record of the loggers it guards before output.
"""

from __future__ import annotations

import logging
from typing import Any

from liaison.domain.identity import find_identity_codes

REPLACEMENT = "[identity code]"


class RedactIdentityCodes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        matches = find_identity_codes(message)
        if matches:
            for match in reversed(matches):
                message = message[: match.start()] + REPLACEMENT + message[match.end() :]
            record.msg, record.args = message, None
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
    redactor = RedactIdentityCodes()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redactor.filter(record)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later; their text is checked at the handlers.
            record.exc_text = None
        return record

    logging.setLogRecordFactory(redacted_record)
