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
            "LIAISON_BUS_URL": "redis://redis:6379/0?namespace=liaison-prod",
        }
    )
    assert settings.port == 9000
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.cookie_secure is True
    assert settings.default_language == "sv"
    assert settings.resume_max_messages == 50
    assert settings.bus_url == "redis://redis:6379/0?namespace=liaison-prod"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIAISON_PORT", "eighty"),
        ("LIAISON_PORT", "0"),
        ("LIAISON_COOKIE_SECURE", "maybe"),
        ("LIAISON_DEFAULT_LANGUAGE", "de"),
        ("LIAISON_LOG_LEVEL", "loud"),
        ("LIAISON_BUS_URL", "kafka://x"),
        ("LIAISON_BUS_URL", "redis://127.0.0.1:6379/0?namespace=two words"),
        ("LIAISON_TIME_ZONE", "Mars/Olympus"),
        ("LIAISON_HEARTBEAT_TIMEOUT_SECONDS", "5"),
        ("LIAISON_RATE_PER_SECOND", "-1"),
        ("LIAISON_RING_NOT_RESPONDING_AFTER", "-1"),
        ("LIAISON_CONSULTATION_AUTO_CLOSE_SECONDS", "600"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert "LIAISON_" in str(error.value)


def test_passwords_are_hashed_with_production_cost_outside_the_tests() -> None:
    """The tests lower argon2's cost to save minutes; a server never does."""
    import argon2

    settings = Settings.from_env({"LIAISON_PASSWORD_TIME_COST": "1"})
    profile = argon2.profiles.RFC_9106_LOW_MEMORY
    assert (
        settings.password_time_cost,
        settings.password_memory_kib,
        settings.password_parallelism,
    ) == (profile.time_cost, profile.memory_cost, profile.parallelism)
    hashed = argon2.PasswordHasher(
        settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism
    ).hash("long enough password")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
