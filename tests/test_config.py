"""Settings come from the environment; a bad value names its variable."""

from __future__ import annotations

import pytest

from liaison.config import ConfigError, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.bus_url == "memory://"
    assert settings.default_language == "fi"
    assert settings.heartbeat_timeout_seconds <= 30


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "LIAISON_PORT": "9000",
            "LIAISON_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "LIAISON_COOKIE_SECURE": "true",
            "LIAISON_DEFAULT_LANGUAGE": "sv",
            "LIAISON_RESUME_MAX_MESSAGES": "50",
        }
    )
    assert settings.port == 9000
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.cookie_secure is True
    assert settings.default_language == "sv"
    assert settings.resume_max_messages == 50


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIAISON_PORT", "eighty"),
        ("LIAISON_PORT", "0"),
        ("LIAISON_COOKIE_SECURE", "maybe"),
        ("LIAISON_DEFAULT_LANGUAGE", "de"),
        ("LIAISON_LOG_LEVEL", "loud"),
        ("LIAISON_BUS_URL", "kafka://x"),
        ("LIAISON_TIME_ZONE", "Mars/Olympus"),
        ("LIAISON_HEARTBEAT_TIMEOUT_SECONDS", "5"),
        ("LIAISON_RATE_PER_SECOND", "-1"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert "LIAISON_" in str(error.value)
