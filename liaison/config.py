"""Settings, read once from environment variables (documented in docs/configuration.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
BUS_SCHEMES = ("memory://",)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///liaison.db"
    # PostgreSQL only: the schema to use (search_path), e.g. one per test run.
    database_schema: str = ""
    bus_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = 8000
    # Demo mode (`liaison demo`): a built-in pseudonym secret is allowed.
    demo: bool = False
    # Key of the client-reference pseudonyms (HMAC-SHA-256); required outside demo mode.
    pseudonym_secret: str = ""
    message_retention_days: int = 90
    consultation_retention_days: int = 1825
    purge_interval_seconds: int = 3600
    # Secure cookies are forced on with this; otherwise they follow the request scheme.
    cookie_secure: bool = False
    session_days: int = 14
    # Extra origins allowed for WebSockets and unsafe HTTP methods, besides the server's own.
    allowed_origins: tuple[str, ...] = ()
    idle_away_seconds: int = 600
    # A ring member who lets this many offers ring out in a row is "not responding" (0: never).
    ring_not_responding_after: int = 2
    # An open consultation idle this long reminds its expert; this long closes it (0: never).
    consultation_reminder_seconds: int = 1200
    consultation_auto_close_seconds: int = 5400
    heartbeat_interval_seconds: float = 10.0
    heartbeat_timeout_seconds: float = 30.0
    # A vanished connection is reported offline only after this, so reloads never flash offline.
    offline_grace_seconds: float = 5.0
    max_message_chars: int = 4000
    max_frame_bytes: int = 65536
    max_photo_bytes: int = 2 * 1024 * 1024
    # Directory import: the file's size, and the reading child's wall time and memory.
    max_import_bytes: int = 10 * 1024 * 1024
    import_seconds: float = 30.0
    import_memory_bytes: int = 512 * 1024 * 1024
    max_group_members: int = 12
    # People a connection may name in `watch` (besides itself and its conversations).
    max_watch: int = 1000
    # Connections (and requests) served at once; beyond it new ones get 503 at once. 0: the
    # process's file-descriptor limit (raised to its hard limit at start) less 200.
    max_connections: int = 0
    # permessage-deflate: off by default, as it costs about 100-300 KiB of zlib state per
    # connection for frames that are mostly small (docs/performance.md).
    ws_compression: bool = False
    rate_per_second: float = 10.0
    rate_burst: int = 40
    flood_disconnect_after: int = 50
    outbox_size: int = 1000
    history_page_size: int = 50
    resume_max_messages: int = 1000
    default_language: str = "fi"
    # The users' time zone: out of office ends at their midnight.
    time_zone: str = "Europe/Helsinki"
    log_level: str = "info"
    # Argon2id cost: argon2-cffi's defaults (RFC 9106's second recommended profile). Only
    # the tests lower them, to save minutes of CPU; tests/test_config.py holds them here.
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_parallelism: int = 4
    # Password hashes computed at once (each in a thread, off the event loop); one leaves
    # the other core of a small server to everyone else during a login storm.
    password_hash_concurrency: int = 1
    # Login throttling (docs/accounts.md): failures without a wait, then doubling waits,
    # then a lock, per username and (with looser figures) per client address.
    login_free_failures: int = 3
    login_lock_after: int = 10
    login_lock_seconds: int = 900
    address_free_failures: int = 20
    address_lock_after: int = 100
    # The audit log of logins and identity-code lookups is kept this long.
    audit_retention_days: int = 365

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        # An empty variable means "not set", so it falls back to the default.
        e = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}
        base = cls()
        origins = tuple(
            o.strip() for o in e.get("LIAISON_ALLOWED_ORIGINS", "").split(",") if o.strip()
        )
        language = e.get("LIAISON_DEFAULT_LANGUAGE", base.default_language)
        if language not in ("fi", "sv", "en"):
            raise ConfigError(f"LIAISON_DEFAULT_LANGUAGE must be fi, sv or en, got {language!r}")
        log_level = e.get("LIAISON_LOG_LEVEL", base.log_level).lower()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LIAISON_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        bus_url = e.get("LIAISON_BUS_URL", base.bus_url)
        if not bus_url.startswith(BUS_SCHEMES):
            raise ConfigError(f"LIAISON_BUS_URL must start with {' or '.join(BUS_SCHEMES)}")
        time_zone = e.get("LIAISON_TIME_ZONE", base.time_zone)
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"LIAISON_TIME_ZONE {time_zone!r} is not a known time zone") from None
        settings = cls(
            database_url=e.get("LIAISON_DATABASE_URL", base.database_url),
            database_schema=e.get("LIAISON_DATABASE_SCHEMA", base.database_schema),
            bus_url=bus_url,
            demo=_bool(e, "LIAISON_DEMO", base.demo),
            pseudonym_secret=e.get("LIAISON_PSEUDONYM_SECRET", base.pseudonym_secret),
            message_retention_days=_int(
                e, "LIAISON_MESSAGE_RETENTION_DAYS", base.message_retention_days, 1
            ),
            consultation_retention_days=_int(
                e, "LIAISON_CONSULTATION_RETENTION_DAYS", base.consultation_retention_days, 1
            ),
            purge_interval_seconds=_int(
                e, "LIAISON_PURGE_INTERVAL_SECONDS", base.purge_interval_seconds, 1
            ),
            host=e.get("LIAISON_HOST", base.host),
            port=_int(e, "LIAISON_PORT", base.port, 1),
            cookie_secure=_bool(e, "LIAISON_COOKIE_SECURE", base.cookie_secure),
            session_days=_int(e, "LIAISON_SESSION_DAYS", base.session_days, 1),
            allowed_origins=origins,
            idle_away_seconds=_int(e, "LIAISON_IDLE_AWAY_SECONDS", base.idle_away_seconds, 10),
            ring_not_responding_after=_int(
                e, "LIAISON_RING_NOT_RESPONDING_AFTER", base.ring_not_responding_after, 0
            ),
            consultation_reminder_seconds=_int(
                e, "LIAISON_CONSULTATION_REMINDER_SECONDS", base.consultation_reminder_seconds, 0
            ),
            consultation_auto_close_seconds=_int(
                e,
                "LIAISON_CONSULTATION_AUTO_CLOSE_SECONDS",
                base.consultation_auto_close_seconds,
                0,
            ),
            heartbeat_interval_seconds=_float(
                e, "LIAISON_HEARTBEAT_INTERVAL_SECONDS", base.heartbeat_interval_seconds
            ),
            heartbeat_timeout_seconds=_float(
                e, "LIAISON_HEARTBEAT_TIMEOUT_SECONDS", base.heartbeat_timeout_seconds
            ),
            offline_grace_seconds=_float(
                e, "LIAISON_OFFLINE_GRACE_SECONDS", base.offline_grace_seconds
            ),
            max_message_chars=_int(e, "LIAISON_MAX_MESSAGE_CHARS", base.max_message_chars, 1),
            max_frame_bytes=_int(e, "LIAISON_MAX_FRAME_BYTES", base.max_frame_bytes, 1024),
            max_photo_bytes=_int(e, "LIAISON_MAX_PHOTO_BYTES", base.max_photo_bytes, 1024),
            max_import_bytes=_int(e, "LIAISON_MAX_IMPORT_BYTES", base.max_import_bytes, 1024),
            import_seconds=_float(e, "LIAISON_IMPORT_SECONDS", base.import_seconds),
            import_memory_bytes=_int(e, "LIAISON_IMPORT_MEMORY_BYTES", base.import_memory_bytes, 0),
            max_group_members=_int(e, "LIAISON_MAX_GROUP_MEMBERS", base.max_group_members, 3),
            max_watch=_int(e, "LIAISON_MAX_WATCH", base.max_watch, 10),
            ws_compression=_bool(e, "LIAISON_WS_COMPRESSION", base.ws_compression),
            max_connections=_int(e, "LIAISON_MAX_CONNECTIONS", base.max_connections, 0),
            rate_per_second=_float(e, "LIAISON_RATE_PER_SECOND", base.rate_per_second),
            rate_burst=_int(e, "LIAISON_RATE_BURST", base.rate_burst, 1),
            flood_disconnect_after=_int(
                e, "LIAISON_FLOOD_DISCONNECT_AFTER", base.flood_disconnect_after, 1
            ),
            outbox_size=_int(e, "LIAISON_OUTBOX_SIZE", base.outbox_size, 10),
            history_page_size=_int(e, "LIAISON_HISTORY_PAGE_SIZE", base.history_page_size, 1),
            resume_max_messages=_int(e, "LIAISON_RESUME_MAX_MESSAGES", base.resume_max_messages, 1),
            login_free_failures=_int(e, "LIAISON_LOGIN_FREE_FAILURES", base.login_free_failures, 0),
            login_lock_after=_int(e, "LIAISON_LOGIN_LOCK_AFTER", base.login_lock_after, 1),
            login_lock_seconds=_int(e, "LIAISON_LOGIN_LOCK_SECONDS", base.login_lock_seconds, 1),
            address_free_failures=_int(
                e, "LIAISON_ADDRESS_FREE_FAILURES", base.address_free_failures, 0
            ),
            address_lock_after=_int(e, "LIAISON_ADDRESS_LOCK_AFTER", base.address_lock_after, 1),
            audit_retention_days=_int(
                e, "LIAISON_AUDIT_RETENTION_DAYS", base.audit_retention_days, 1
            ),
            default_language=language,
            time_zone=time_zone,
            log_level=log_level,
        )
        reminder = settings.consultation_reminder_seconds
        auto_close = settings.consultation_auto_close_seconds
        if reminder and auto_close and reminder >= auto_close:
            raise ConfigError(
                "LIAISON_CONSULTATION_REMINDER_SECONDS must be below "
                "LIAISON_CONSULTATION_AUTO_CLOSE_SECONDS (or 0 for no reminder)"
            )
        for free, lock, name in (
            (settings.login_free_failures, settings.login_lock_after, "LOGIN"),
            (settings.address_free_failures, settings.address_lock_after, "ADDRESS"),
        ):
            if free >= lock:
                raise ConfigError(
                    f"LIAISON_{name}_FREE_FAILURES must be below LIAISON_{name}_LOCK_AFTER"
                )
        if settings.heartbeat_interval_seconds >= settings.heartbeat_timeout_seconds:
            raise ConfigError(
                "LIAISON_HEARTBEAT_INTERVAL_SECONDS must be below LIAISON_HEARTBEAT_TIMEOUT_SECONDS"
            )
        return settings

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def secret_key(self) -> bytes:
        """The pseudonym key; refuses to run without one outside demo mode."""
        if self.pseudonym_secret:
            if len(self.pseudonym_secret) < 16:
                raise ConfigError("LIAISON_PSEUDONYM_SECRET must be at least 16 characters")
            return self.pseudonym_secret.encode()
        if self.demo:
            return b"liaison-demo-only-pseudonym-key"
        raise ConfigError(
            "LIAISON_PSEUDONYM_SECRET is required (a long random string kept secret; "
            "changing it changes every client reference); only `liaison demo` runs without it"
        )
