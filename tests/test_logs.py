"""Every log record is redacted, whichever logger makes it, without breaking its shape."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from urllib.parse import quote

import pytest
from uvicorn.logging import AccessFormatter

from liaison.logs import REPLACEMENT, guard_logs
from tests.test_rings import valid_code


def digits_of(code: str) -> str:
    return code[:6] + code[7:10]


def test_codes_are_redacted_from_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    guard_logs()
    code = valid_code("240688", "-", "318")
    with caplog.at_level(logging.INFO):
        logging.getLogger("liaison.services.example").warning("asked about %s today", code)
        logging.getLogger("some.library").info(f"raw {code.lower()}")
        # A wrong check character does not make it any less a code.
        mistyped = code[:-1] + ("X" if code[-1] != "X" else "Y")
        logging.getLogger("liaison").warning("order %s", mistyped)
    assert digits_of(code) not in caplog.text
    assert caplog.text.count(REPLACEMENT) == 3


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's HTTP protocol makes it (uvicorn/protocols/http/*_impl.py)."""
    return logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    "spelling",
    [
        lambda code: code,
        lambda code: quote(code, safe=""),  # every sign as %2D, %2B ...
        lambda code: "".join(f"%{b:02X}" for b in code.encode()),  # everything encoded
        lambda code: code[:6] + "%E2%80%93" + code[7:],  # an en dash, encoded
        lambda code: code[:6] + "%252D" + code[7:],  # encoded twice (a nested next=...)
        lambda code: code[:3] + "%E2%80%8B" + code[3:],  # a zero-width space inside
        lambda code: code[:6] + "+" + code[7:],  # "+" for a space in a query string
    ],
)
@pytest.mark.parametrize("sign", ["+", "-", "A", "Y"])
def test_access_log_lines_are_redacted_and_still_formatted(
    sign: str, spelling: Callable[[str], str]
) -> None:
    guard_logs()
    code = valid_code("150385" if sign != "A" else "150305", sign, "234")
    path = f"/login?next=/api/people%3Fq%3D{spelling(code)}&q={spelling(code)}"
    record = access_record(path)
    # The shape uvicorn's AccessFormatter unpacks is kept: five arguments, the status an int.
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[4] == 200
    line = AccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    ).format(record)
    assert line.startswith("INFO:") and line.endswith("200 OK")
    assert "GET /login?next=/api/people%3Fq%3D" in line
    assert line.count(REPLACEMENT) == 2
    assert digits_of(code) not in line
    assert digits_of(code) not in line.replace("%", "").replace("3D", "")


def test_access_record_without_a_code_is_untouched() -> None:
    guard_logs()
    record = access_record("/api/people?q=Virtanen&limit=20")
    assert record.args == ("127.0.0.1:5000", "GET", "/api/people?q=Virtanen&limit=20", "1.1", 200)


def test_tracebacks_and_odd_arguments_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    guard_logs()
    code = valid_code("311299", "+", "789")
    log = logging.getLogger("liaison.example")
    with caplog.at_level(logging.INFO):
        try:
            int(code)
        except ValueError:
            # The exception's message quotes the value; the traceback is redacted too.
            log.exception("parsing failed")
        log.info("frame %r", {"body": code.lower()})
        log.info("pieces %s-%s%s", code[:6], code[7:10], code[10])  # split across arguments
        log.info("%(who)s asked", {"who": code})
    assert digits_of(code) not in caplog.text
    assert "ValueError" in caplog.text and "Traceback" in caplog.text
    assert caplog.text.count(REPLACEMENT) == 4
    assert sys.exc_info() == (None, None, None)


def test_numbers_keep_their_type() -> None:
    guard_logs()
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "%d %.1f %s", (12, 1.5, None), None
    )
    assert record.getMessage() == "12 1.5 None"


def test_overload_messages_are_logged_once_per_burst() -> None:
    """At the connection limit every refused try would log a line (accept() a traceback
    too): one line per burst, then a count."""
    import logging

    from liaison.logs import OncePerBurst

    now = [0.0]
    burst = OncePerBurst(seconds=10, now=lambda: now[0])

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.WARNING, "", 0, msg, (), None)

    first = record("Exceeded concurrency limit.")
    assert burst.filter(first) and first.getMessage() == "Exceeded concurrency limit."
    assert not any(burst.filter(record("Exceeded concurrency limit.")) for _ in range(500))
    assert burst.filter(record("something else"))
    now[0] = 10.0
    after = record("Exceeded concurrency limit.")
    assert burst.filter(after)
    assert after.getMessage() == "Exceeded concurrency limit. (500 more like it in the last burst)"


def test_connections_are_capped_below_the_descriptor_limit() -> None:
    import resource

    from liaison.cli import RESERVED_DESCRIPTORS, connection_limit
    from liaison.config import Settings

    limit = connection_limit(Settings())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft == hard  # raised for the server
    assert limit == max(100, hard - RESERVED_DESCRIPTORS)
    assert connection_limit(Settings(max_connections=50)) == 50
