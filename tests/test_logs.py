"""Every log record is redacted, whichever logger makes it."""

from __future__ import annotations

import logging

import pytest

from liaison.logs import guard_logs
from tests.test_rings import valid_code


def test_codes_are_redacted_from_any_logger(caplog: pytest.LogCaptureFixture) -> None:
    guard_logs()
    code = valid_code("240688", "-", "318")
    with caplog.at_level(logging.INFO):
        logging.getLogger("liaison.services.example").warning("asked about %s today", code)
        logging.getLogger("some.library").info(f"raw {code.lower()}")
    assert code.lower() not in caplog.text.lower()
    assert caplog.text.count("[identity code]") == 2
    # Lookalikes with a wrong check character are left as they are.
    logging.getLogger("liaison").warning("order 240688-318X")
    assert "240688-318X" in caplog.text
