"""Log hygiene: a personal identity code never reaches a log line in clear.

Codes can arrive where nobody meant them to go (a search typed into a URL, a frame
type); the filter rewrites every record of the loggers it guards before output.
"""

from __future__ import annotations

import logging

from liaison.domain.identity import find_identity_codes

GUARDED_LOGGERS = ("uvicorn.access", "uvicorn.error", "liaison", "")
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


def guard_logs() -> None:
    """Installs the filter once on the loggers the service writes to."""
    redactor = RedactIdentityCodes()
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactIdentityCodes) for f in logger.filters):
            logger.addFilter(redactor)
