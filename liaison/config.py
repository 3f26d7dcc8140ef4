"""Settings: one typed model, read once from environment variables.

Each setting is written once, below: its type, default, rules and the text that
docs/configuration.md shows (`scripts/docs` generates the tables from it). Its variable
is `LIAISON_` and the field's name in capitals. An empty variable means "not set".
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from liaison.bus.base import url_problem
from liaison.domain.vocabulary import Language

ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
PREFIX = "LIAISON_"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Doc:
    """What docs/configuration.md says about one setting, and its rules."""

    group: str
    meaning: str
    example: str
    minimum: int | None = None
    choices: tuple[str, ...] = ()
    # A further check of the text: returns the message (without the variable's name) or None.
    check: Callable[[str], str | None] | None = None
    lower: bool = False
    # Shown instead of the default (e.g. "*(none)*").
    shown_default: str | None = None
    # False: no environment variable; only code (the tests) changes it.
    env: bool = True


def setting(default: Any, doc: Doc) -> Any:
    return field(default=default, metadata={"doc": doc})


def _zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone"
    return None


SERVER = "Server and storage"
SECURITY = "Sessions and security"
REAL_TIME = "Presence and real time"
RINGS = "Rings and consultations"
LIMITS = "Limits"
INTERFACE = "Interface"
RETENTION = "Client references and retention"
CODE_ONLY = "Set in code only"
GROUPS = (SERVER, SECURITY, REAL_TIME, RINGS, LIMITS, INTERFACE, RETENTION, CODE_ONLY)


@dataclass(frozen=True)
class Settings:
    database_url: str = setting(
        "sqlite+aiosqlite:///liaison.db",
        Doc(
            SERVER,
            "SQLAlchemy async database URL. SQLite (`sqlite+aiosqlite`) or PostgreSQL "
            "(`postgresql+asyncpg`). The default is `liaison.db` in the working directory; an "
            "absolute SQLite path has four slashes. The schema is migrated (Alembic) at every "
            "start and by `liaison migrate`, one process at a time (a PostgreSQL advisory "
            "lock; on SQLite one immediate transaction), so nodes may start together.",
            "postgresql+asyncpg://liaison:secret@db.example/liaison",
        ),
    )
    database_schema: str = setting(
        "",
        Doc(
            SERVER,
            "PostgreSQL only: the schema to use (set as `search_path`, created if missing). "
            "Empty: the database's default (`public`). Ignored for SQLite.",
            "liaison",
        ),
    )
    bus_url: str = setting(
        "memory://",
        Doc(
            SERVER,
            "The event bus. `memory://`: in this process, for one node. "
            "`redis://HOST:PORT/DB` (`rediss://` with TLS; user and password in the URL as "
            "Redis takes them): Redis pub/sub, so that several nodes on one database are one "
            "service (chat, presence, ring routing). "
            "The query parameter `namespace` (default `liaison`) is put in front of every "
            "channel name, so deployments (or test runs) can share one Redis without "
            "hearing each other: `redis://redis:6379/0?namespace=liaison-prod`. Another "
            "scheme is a configuration error. How nodes share the work, and what is not yet "
            "built: docs/architecture.md, the bus.",
            "redis://127.0.0.1:6379/0",
            check=url_problem,
        ),
    )
    host: str = setting(
        "127.0.0.1",
        Doc(
            SERVER,
            "Address `liaison serve` and `liaison demo` listen on. The command-line option "
            "`--host` overrides it.",
            "0.0.0.0",  # noqa: S104 (an example in the docs)
        ),
    )
    port: int = setting(8000, Doc(SERVER, "TCP port. `--port` overrides it.", "8080", minimum=1))
    log_level: str = setting(
        "info",
        Doc(
            SERVER,
            "Log level for uvicorn and the application, in any case; anything else is a "
            "configuration error.",
            "warning",
            choices=LOG_LEVELS,
            lower=True,
        ),
    )
    cookie_secure: bool = setting(
        False,
        Doc(
            SECURITY,
            "`true` marks the `liaison_session`, `liaison_csrf` and `liaison_lang` cookies "
            "`Secure` always. Otherwise they are `Secure` only when the request arrived over "
            "HTTPS (as uvicorn sees it; see the proxy note below). Set it to `true` in "
            "production.",
            "true",
        ),
    )
    session_days: int = setting(
        14,
        Doc(
            SECURITY,
            "Lifetime of a login session in days; also the session cookie's `Max-Age`. "
            "Expired sessions are deleted at the next login.",
            "7",
            minimum=1,
        ),
    )
    allowed_origins: tuple[str, ...] = setting(
        (),
        Doc(
            SECURITY,
            "Comma-separated list of extra origins (exactly `scheme://host[:port]`) allowed "
            "to open WebSockets and to send unsafe HTTP requests (POST, PUT, PATCH, DELETE). "
            "The server's own origin (the one whose host matches the `Host` header) is always "
            "allowed. Needed only when the page is served from another origin than the API, "
            "or when a proxy rewrites `Host`.",
            "https://liaison.kela.example,https://liaison.intra.example",
        ),
    )
    heartbeat_interval_seconds: float = setting(
        10.0,
        Doc(
            REAL_TIME,
            "How often clients are told (in `welcome.config`) to send a heartbeat. Must be "
            "below `LIAISON_HEARTBEAT_TIMEOUT_SECONDS` (configuration error otherwise).",
            "10",
        ),
    )
    heartbeat_timeout_seconds: float = setting(
        30.0,
        Doc(
            REAL_TIME,
            "A connection silent this long is closed (4010), and a client not heard from "
            "this long stops counting for presence. Must be above the interval (checked), "
            "with room for network delay (not checked); see presence.md.",
            "30",
        ),
    )
    offline_grace_seconds: float = setting(
        5.0,
        Doc(
            REAL_TIME,
            "A closed connection keeps counting this long, so a page reload does not show "
            "the person offline.",
            "5",
        ),
    )
    idle_away_seconds: int = setting(
        600,
        Doc(
            REAL_TIME,
            "Told to clients (`welcome.config`): after this long with the *computer* idle or "
            "locked a client reports itself idle; a person idle in every client is shown "
            "away. The browser client learns the computer's state from the Idle Detection "
            "API where the user allowed it (that API's shortest threshold is 60 s), never "
            "from input in its own tab; see presence.md.",
            "900",
            minimum=10,
        ),
    )
    outbox_size: int = setting(
        1000,
        Doc(
            REAL_TIME,
            "Frames queued for one WebSocket connection; a connection whose queue is full is "
            "closed with 1013 (too slow).",
            "1000",
            minimum=10,
        ),
    )
    login_free_failures: int = setting(
        3,
        Doc(
            SECURITY,
            "Failed logins of one username without a wait; after them each attempt waits "
            "1 s, 2 s, 4 s, ... at most 60 s ([accounts.md](accounts.md#throttling)). Must be "
            "below `LIAISON_LOGIN_LOCK_AFTER`.",
            "5",
            minimum=0,
        ),
    )
    login_lock_after: int = setting(
        10, Doc(SECURITY, "The failed login of one username that locks it.", "8", minimum=1)
    )
    login_lock_seconds: int = setting(
        900,
        Doc(
            SECURITY,
            "How long a lock lasts, and how long a quiet key keeps its count.",
            "1800",
            minimum=1,
        ),
    )
    address_free_failures: int = setting(
        20,
        Doc(
            SECURITY,
            "Failed logins from one address, whatever the usernames, without a wait. Must be "
            "below `LIAISON_ADDRESS_LOCK_AFTER`.",
            "50",
            minimum=0,
        ),
    )
    address_lock_after: int = setting(
        100, Doc(SECURITY, "The failed login from one address that locks it.", "200", minimum=1)
    )
    audit_retention_days: int = setting(
        365,
        Doc(
            SECURITY,
            "Days the audit log of logins and identity-code lookups is kept "
            "([accounts.md](accounts.md#audit-log)).",
            "730",
            minimum=1,
        ),
    )
    ring_not_responding_after: int = setting(
        2,
        Doc(
            RINGS,
            'A ring member who lets this many offers in a row ring out unanswered is "not '
            'responding": out of routing, and told so, until they resume with one action (or '
            "sign into a ring). 0: never.",
            "3",
            minimum=0,
        ),
    )
    consultation_reminder_seconds: int = setting(
        1200,
        Doc(
            RINGS,
            'An open consultation quiet this long (no message, no "keep open" since it was '
            "accepted) reminds its expert once per quiet spell. 0: no reminder. Must be below "
            "the next one unless 0 (configuration error otherwise).",
            "900",
            minimum=0,
        ),
    )
    consultation_auto_close_seconds: int = setting(
        5400,
        Doc(
            RINGS,
            "An open consultation quiet this long closes itself with the outcome "
            "`not_recorded`, and its expert is free again. 0: never.",
            "7200",
            minimum=0,
        ),
    )
    max_message_chars: int = setting(
        4000,
        Doc(LIMITS, "Longest chat message, in characters after trimming.", "4000", minimum=1),
    )
    max_frame_bytes: int = setting(
        65536,
        Doc(
            LIMITS,
            "Largest WebSocket frame the server reads, in bytes; larger frames are answered "
            "with `frame_too_large`. Keep it above what `LIAISON_MAX_MESSAGE_CHARS` needs in "
            "UTF-8 plus JSON overhead (up to 4 bytes per character, more for escaped control "
            "characters).",
            "65536",
            minimum=1024,
        ),
    )
    max_photo_bytes: int = setting(
        2 * 1024 * 1024,
        Doc(
            LIMITS,
            "Largest profile photo (2 MiB by default). The upload's body is read as it streams "
            "in and refused with 413 `too_large` as soon as it passes this plus 64 KiB (for the "
            "form's own parts), or at once when its `Content-Length` says it will: an "
            "oversized upload costs no more memory than this.",
            "1048576",
            minimum=1024,
        ),
    )
    max_import_bytes: int = setting(
        10 * 1024 * 1024,
        Doc(
            LIMITS,
            "Largest directory import file (`POST /api/admin/import`, `liaison import`; 10 MiB "
            "by default). Over the network it is capped while streaming like photos (413 "
            "`too_large`); a file given to `liaison import` that is larger gets one error on "
            "line 0.",
            "20971520",
            minimum=1024,
        ),
    )
    import_seconds: float = setting(
        30.0,
        Doc(
            LIMITS,
            "Wall time in which an import file must be read and checked. The reading runs in "
            "a child process of its own (never in the server's event loop, one file at a "
            "time); a child still reading after this is killed and the import answers with "
            'one error on line 0 ("reading the file took longer than ..."). See '
            "[directory.md](directory.md#limits).",
            "60",
        ),
    )
    import_memory_bytes: int = setting(
        512 * 1024 * 1024,
        Doc(
            LIMITS,
            "Memory the import file's reading child may take beyond what it has at start "
            "(its address space is capped: RLIMIT_AS; 512 MiB by default). Over it, the "
            'reading stops and the import answers with one error on line 0 ("reading the '
            'file needed more than ... MiB"). `0`: no cap.',
            "268435456",
            minimum=0,
        ),
    )
    max_group_members: int = setting(
        12,
        Doc(
            LIMITS,
            "Most people in a group conversation, its creator included.",
            "12",
            minimum=3,
        ),
    )
    max_watch: int = setting(
        1000,
        Doc(
            LIMITS,
            "Most people a connection may name in `watch` to receive their presence (besides "
            "itself and the members of its conversations); see "
            "[protocol.md](protocol.md#whose-presence-a-client-gets).",
            "2000",
            minimum=10,
        ),
    )
    max_connections: int = setting(
        0,
        Doc(
            LIMITS,
            "Connections and requests `liaison serve` handles at once; beyond it a new one "
            "gets 503 at once (logged once per burst). `0` means the process's "
            "file-descriptor limit, which the server raises to its hard limit at start, less "
            "200 kept for the database and logs.",
            "20000",
            minimum=0,
        ),
    )
    ws_compression: bool = setting(
        False,
        Doc(
            LIMITS,
            "Offer WebSocket compression (permessage-deflate). Off by default: its zlib state "
            "costs about 100-300 KiB per connection, for frames that are mostly a few hundred "
            "bytes; turn it on only for slow links with few users.",
            "true",
        ),
    )
    rate_per_second: float = setting(
        10.0,
        Doc(
            LIMITS,
            "WebSocket frames per second a connection may send on average (token bucket "
            "refill rate).",
            "10",
        ),
    )
    rate_burst: int = setting(
        40,
        Doc(
            LIMITS,
            "Frames a connection may send at once (token bucket size).",
            "40",
            minimum=1,
        ),
    )
    flood_disconnect_after: int = setting(
        50,
        Doc(
            LIMITS,
            "A connection with this many frames dropped by the rate limit within 10 seconds "
            "is closed (4008).",
            "50",
            minimum=1,
        ),
    )
    history_page_size: int = setting(
        50,
        Doc(
            LIMITS,
            "Messages in a history page (`GET /api/conversations/{id}/messages`) when the "
            "request gives no `limit`; pages never exceed 200.",
            "100",
            minimum=1,
        ),
    )
    resume_max_messages: int = setting(
        1000,
        Doc(
            LIMITS,
            "Most messages in one resume (`welcome.missed`) or one `sync` reply (`messages`); "
            "the rest is signalled by `truncated` / `complete: false`.",
            "1000",
            minimum=1,
        ),
    )
    default_language: str = setting(
        "fi",
        Doc(
            INTERFACE,
            "Language of the pages for people who have not chosen one (by account setting or "
            "the `liaison_lang` cookie).",
            "sv",
            choices=tuple(Language),
        ),
    )
    time_zone: str = setting(
        "Europe/Helsinki",
        Doc(
            INTERFACE,
            "An IANA time zone name; an unknown one is a configuration error. The users' "
            "time zone: out of office ends at midnight here (see presence.md).",
            "Europe/Stockholm",
            check=_zone,
        ),
    )
    pseudonym_secret: str = setting(
        "",
        Doc(
            RETENTION,
            "The key of the client references (HMAC-SHA-256): a long random string, at least "
            "16 characters, kept secret and kept out of the database and its backups. "
            "**Required**: without it `liaison serve` stops with exit status 2 "
            "(`configuration error: LIAISON_PSEUDONYM_SECRET is required ...`), unless demo "
            "mode is on; one shorter than 16 characters stops it likewise. **Changing it "
            "changes every client reference**: records made before keep their old "
            "references, and looking a client up with the new key no longer finds them. The "
            "other commands (`migrate`, `import`, `rings`, `create-account`, `purge`) do not "
            "need it.",
            "output of `openssl rand -base64 32`",
            shown_default="*(none)*",
        ),
    )
    demo: bool = setting(
        False,
        Doc(
            RETENTION,
            "Demo mode: when no `LIAISON_PSEUDONYM_SECRET` is set, a built-in key (in the "
            "source code, so not secret) is used instead of refusing to start. `liaison demo` "
            "turns it on by itself. Never set it in production.",
            "true",
        ),
    )
    message_retention_days: int = setting(
        90,
        Doc(
            RETENTION,
            "Chat messages (consultation conversations included) older than this many days "
            "are deleted.",
            "30",
            minimum=1,
        ),
    )
    consultation_retention_days: int = setting(
        1825,
        Doc(
            RETENTION,
            "The default is about five years. Consultation records asked longer ago than "
            "this, no longer waiting or open and without an open callback request, are "
            "deleted with their callback requests; callback requests closed longer ago than "
            "this are deleted too.",
            "3650",
            minimum=1,
        ),
    )
    purge_interval_seconds: int = setting(
        3600,
        Doc(
            RETENTION,
            "How often the service runs the purge (once an interval however many nodes "
            "run, on whichever claims its `deadlines` row first); the first run comes "
            "`min(5, this)` seconds after start. `liaison purge` runs it once.",
            "600",
            minimum=1,
        ),
    )
    # Argon2id cost: argon2-cffi's defaults (RFC 9106's second recommended profile). Only
    # the tests lower them, to save minutes of CPU; tests/test_config.py holds them here.
    password_time_cost: int = setting(
        3, Doc(CODE_ONLY, "Argon2id time cost (RFC 9106's profile).", "", env=False)
    )
    password_memory_kib: int = setting(
        65536, Doc(CODE_ONLY, "Argon2id memory, KiB.", "", env=False)
    )
    password_parallelism: int = setting(4, Doc(CODE_ONLY, "Argon2id parallelism.", "", env=False))
    password_hash_concurrency: int = setting(
        1,
        Doc(
            CODE_ONLY,
            "Password hashes computed at once (each in a thread, off the event loop); one "
            "leaves the other core of a small server to everyone else during a login storm.",
            "",
            env=False,
        ),
    )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        # An empty variable means "not set", so it falls back to the default.
        e = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            doc: Doc = f.metadata["doc"]
            raw = e.get(variable(f.name))
            if doc.env and raw is not None:
                values[f.name] = _parse(variable(f.name), hints[f.name], doc, raw)
        settings = cls(**values)
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

    @property
    def several_nodes(self) -> bool:
        """Whether other nodes may share this bus (any bus but the in-process one)."""
        return not self.bus_url.startswith("memory:")

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


def variable(name: str) -> str:
    return PREFIX + name.upper()


def _parse(name: str, kind: Any, doc: Doc, raw: str) -> Any:
    """One variable's text as the field's type, by the field's rules."""
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        try:
            number = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if doc.minimum is not None and number < doc.minimum:
            raise ConfigError(f"{name} must be at least {doc.minimum}, got {number}")
        return number
    if kind is float:
        try:
            real = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not real > 0:
            raise ConfigError(f"{name} must be positive, got {real}")
        return real
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    text = raw.lower() if doc.lower else raw
    if doc.choices and text not in doc.choices:
        raise ConfigError(f"{name} must be one of {', '.join(doc.choices)}, got {raw!r}")
    if doc.check is not None and (problem := doc.check(text)) is not None:
        raise ConfigError(f"{name} {problem}")
    return text


def kind_of(kind: Any, doc: Doc) -> str:
    """The value syntax docs/configuration.md names for a field's type."""
    if kind is bool:
        return "boolean"
    if kind is int:
        return "whole number" + (f", at least {doc.minimum}" if doc.minimum is not None else "")
    if kind is float:
        return "number"
    if kind == tuple[str, ...]:
        return "comma-separated list"
    if doc.choices:
        return " or ".join(f"`{c}`" for c in doc.choices)
    return "text"
