"""Local accounts and login sessions. Another authenticator (OpenID Connect) can stand
beside `verify_password`: everything after it works on an account id only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain.errors import Refused
from liaison.domain.identity import find_identity_codes
from liaison.protocol.reference import CloseCode
from liaison.services.hub import Hub
from liaison.store import repositories as repo
from liaison.store.models import Account, Person

T = TypeVar("T")
CLOSE_ACCOUNT_DISABLED = CloseCode.DISABLED
MIN_PASSWORD_LENGTH = 8


class AccountError(Refused):
    """Refused by the account service."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The account behind a live session, as the layers above the services see it (a
    copy, never the database row)."""

    id: int
    person_id: int
    username: str
    is_admin: bool
    language: str | None


HASH_THREAD_NICENESS = 10


def lower_thread_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: niceness is per thread, and
    the threads argon2 starts for its lanes inherit it). The event loop keeps its own:
    with two cores and four argon2 lanes, a login storm at equal priority delayed other
    people's messages by hundreds of milliseconds."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + HASH_THREAD_NICENESS
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(
        self, settings: Settings, clock: Clock, db: async_sessionmaker[AsyncSession], hub: Hub
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.hub = hub
        self.hasher = PasswordHasher(
            time_cost=settings.password_time_cost,
            memory_cost=settings.password_memory_kib,
            parallelism=settings.password_parallelism,
        )
        # Verified against when the user is unknown, so timing does not reveal usernames.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        # Hashing takes a fifth of a second of CPU by design: it runs in threads of its own,
        # never on the event loop, only this many at once, and at a lower scheduling
        # priority, so a login storm cannot starve everyone else's messages.
        self._hashing = asyncio.Semaphore(settings.password_hash_concurrency)
        self._hash_threads = ThreadPoolExecutor(
            max_workers=settings.password_hash_concurrency,
            thread_name_prefix="password-hash",
            initializer=lower_thread_priority,
        )
        # Password checks run, known usernames or not (the tests count them).
        self.verifications = 0

    async def _in_hash_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hash_threads, function, *args)

    def close(self) -> None:
        self._hash_threads.shutdown(wait=False, cancel_futures=True)

    async def hash_password(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(
                "weak_password", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
            )
        async with self._hashing:
            return await self._in_hash_thread(self.hasher.hash, password)

    async def verify_password(self, username: str, password: str) -> Account | None:
        async with self.db() as db:
            account = await repo.account_by_username(db, username.strip())
        # An unknown username costs the same check as a known one, against a dummy hash.
        stored = account.password_hash if account else self._dummy_hash
        self.verifications += 1
        try:
            async with self._hashing:
                await self._in_hash_thread(self.hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if account is None or account.disabled:
            return None
        return account

    async def open_session(self, account_id: int) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.db.begin() as db:
            await repo.delete_expired_sessions(db, now)
            await repo.create_session(
                db,
                token_hash(token),
                account_id,
                now,
                now + timedelta(days=self.config.session_days),
            )
        return token

    async def account_for_token(self, token: str | None) -> SignedIn | None:
        if not token or len(token) > 200:
            return None
        async with self.db() as db:
            account = await repo.account_for_session(db, token_hash(token), self.clock.now())
        if account is None:
            return None
        return SignedIn(
            account.id, account.person_id, account.username, account.is_admin, account.language
        )

    async def close_session(self, token: str) -> None:
        hashed = token_hash(token)
        async with self.db.begin() as db:
            account = await repo.account_for_session(db, hashed, self.clock.now())
            await repo.delete_session(db, hashed)
        if account is not None:
            # The session's open sockets end with it, on every node.
            await self.hub.publish(
                {"k": "close", "p": account.person_id, "s": hashed, "code": 4001, "r": "logged out"}
            )

    async def create_account(
        self, username: str, password: str, person_id: int, is_admin: bool = False
    ) -> Account:
        username = username.strip()
        if not username or len(username) > 100 or any(c.isspace() for c in username):
            raise AccountError("bad_field", "a username is 1 to 100 characters with no spaces")
        if find_identity_codes(username):
            # Usernames are shown to everyone and written to logs: never a client's code.
            raise AccountError("bad_field", "a username must not hold a personal identity code")
        password_hash = await self.hash_password(password)
        try:
            async with self.db.begin() as db:
                if await db.get(Person, person_id) is None:
                    raise AccountError("not_found", "no such person")
                account = Account(
                    username=username,
                    password_hash=password_hash,
                    person_id=person_id,
                    is_admin=is_admin,
                    disabled=False,
                    created_at=self.clock.now(),
                )
                db.add(account)
        except IntegrityError:
            raise AccountError(
                "exists", "that username is taken, or that person already has an account"
            ) from None
        return account

    async def set_disabled(self, account_id: int, disabled: bool) -> None:
        async with self.db.begin() as db:
            account = await db.get(Account, account_id)
            if account is None:
                raise AccountError("not_found", "no such account")
            account.disabled = disabled
            person_id = account.person_id
            if disabled:
                await repo.delete_sessions_of(db, account_id)
        if disabled:
            # Every node closes the person's live connections.
            await self.hub.publish(
                {
                    "k": "close",
                    "p": person_id,
                    "code": CLOSE_ACCOUNT_DISABLED,
                    "r": "account disabled",
                }
            )

    async def set_password(self, account_id: int, password: str) -> None:
        password_hash = await self.hash_password(password)
        async with self.db.begin() as db:
            account = await db.get(Account, account_id)
            if account is None:
                raise AccountError("not_found", "no such account")
            account.password_hash = password_hash

    async def set_language(self, account_id: int, language: str) -> None:
        async with self.db.begin() as db:
            account = await db.get(Account, account_id)
            if account is not None:
                account.language = language
