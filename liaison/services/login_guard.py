"""Logins that resist guessing: throttling per username and per client address, timed
locks administrators can see and lift, and an audit row for every attempt.

The policy is liaison/domain/throttle.py; its state lives in `login_throttles`, so it
survives a restart. An attempt holds its address's and its username's turn from the check
to the recorded result, so attempts sent at once are judged one after another, each on
the failures before it: a burst cannot slip past the count. (One verification runs at a
time anyway, `password_hash_concurrency`.) An attempt the policy refuses costs no password
check at all, so a guessing storm does not load the server either (docs/accounts.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain import throttle as policy
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import LockKind
from liaison.protocol import people as shapes
from liaison.services.accounts import AccountService
from liaison.services.audit import AuditLog
from liaison.store.models import Account, LoginThrottle

USERNAME, ADDRESS = LockKind.USERNAME.value, LockKind.ADDRESS.value
MAX_KEY_CHARS = 100
Key = tuple[str, str]


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    # Set when the attempt was refused unchecked: when to try again, and whether locked.
    refused: policy.Decision | None = None


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Key, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Key) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class LoginGuard:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        accounts: AccountService,
        audit: AuditLog,
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db
        self.accounts = accounts
        self.audit = audit
        self.policies = {
            USERNAME: policy.ThrottlePolicy(
                settings.login_free_failures, settings.login_lock_after, settings.login_lock_seconds
            ),
            ADDRESS: policy.ThrottlePolicy(
                settings.address_free_failures,
                settings.address_lock_after,
                settings.login_lock_seconds,
            ),
        }
        # One node serves a deployment (the bus is in memory), so turns are kept here.
        self._turns = KeyedLocks()

    def username_key(self, username: str) -> str:
        """The throttle key of a typed username: lower-cased, and a personal identity code
        typed by mistake is kept only as its pseudonym (it is stored and shown to admins)."""
        text = " ".join(username.split()).lower()[: MAX_KEY_CHARS * 2]
        return identity.redact_identity_codes(text, self.config.secret_key)[0][:MAX_KEY_CHARS]

    async def login(self, username: str, password: str, address: str) -> LoginResult:
        key = self.username_key(username)
        keys: tuple[Key, ...] = ((ADDRESS, address[:MAX_KEY_CHARS]), (USERNAME, key))
        # Always the address first, then the username: no two attempts wait on each other
        # in opposite orders.
        async with self._turns.hold(keys[0]), self._turns.hold(keys[1]):
            refused = await self._refusal(keys)
            if refused is not None:
                await self.audit.record(
                    "login_refused",
                    username=key,
                    address=address,
                    detail="locked" if refused.locked else "wait",
                )
                return LoginResult(None, refused)
            account = await self.accounts.verify_password(username, password)
            if account is None:
                new_locks = await self._count_failure(keys)
            else:
                await self._forget(keys[1])
        if account is None:
            await self.audit.record("login_failed", username=key, address=address)
            for kind, locked_key in new_locks:
                await self.audit.record(
                    "locked", username=key, address=address, detail=f"{kind}: {locked_key}"
                )
            return LoginResult(None)
        await self.audit.record(
            "login_succeeded", account_id=account.id, username=account.username, address=address
        )
        return LoginResult(account)

    async def _rows(self, db: AsyncSession, keys: tuple[Key, ...]) -> dict[Key, LoginThrottle]:
        rows: dict[Key, LoginThrottle] = {}
        for kind, key in keys:
            row = await db.scalar(
                select(LoginThrottle).where(LoginThrottle.kind == kind, LoginThrottle.key == key)
            )
            if row is not None:
                rows[(kind, key)] = row
        return rows

    @staticmethod
    def _state(row: LoginThrottle | None) -> policy.KeyState:
        if row is None:
            return policy.FRESH
        return policy.KeyState(row.failures, row.last_failure_at, row.locked_until)

    async def _refusal(self, keys: tuple[Key, ...]) -> policy.Decision | None:
        """Why the attempt may not be checked now, or None when it may."""
        now = self.clock.now()
        async with self.db() as db:
            rows = await self._rows(db, keys)
        refusals = [
            decision
            for kind, key in keys
            if not (
                decision := policy.decide(
                    self.policies[kind], self._state(rows.get((kind, key))), now
                )
            ).allowed
        ]
        # A lock outranks a wait; among the same, the later time.
        return max(refusals, key=lambda d: (d.locked, d.retry_at or now), default=None)

    async def _count_failure(self, keys: tuple[Key, ...]) -> list[Key]:
        """Counts a failure on every key; returns the keys this failure locked."""
        now = self.clock.now()
        new_locks = []
        async with self.db.begin() as db:
            rows = await self._rows(db, keys)
            for kind, key in keys:
                row = rows.get((kind, key))
                state = policy.after_failure(self.policies[kind], self._state(row), now)
                if state.locked_until is not None:
                    new_locks.append((kind, key))
                if row is None:
                    row = LoginThrottle(kind=kind, key=key)
                    db.add(row)
                row.failures = state.failures
                row.last_failure_at = state.last_failure_at
                row.locked_until = state.locked_until
        return new_locks

    async def _forget(self, key: Key) -> None:
        """After a right password the username starts afresh. The address keeps its count:
        one known password must not reset guessing at other accounts from there."""
        async with self.db.begin() as db:
            row = (await self._rows(db, (key,))).get(key)
            if row is not None:
                await db.delete(row)

    # ------------------------------------------------------------ administration

    async def locks(self) -> list[shapes.LoginLock]:
        """The keys locked now, the soonest to open first."""
        now = self.clock.now()
        async with self.db() as db:
            rows = (
                await db.scalars(
                    select(LoginThrottle)
                    .where(LoginThrottle.locked_until > now)
                    .order_by(LoginThrottle.locked_until, LoginThrottle.id)
                )
            ).all()
        return [lock_of(r) for r in rows]

    async def unlock(self, lock_id: int, admin_account_id: int, admin_username: str) -> None:
        async with self.db.begin() as db:
            row = await db.get(LoginThrottle, lock_id)
            if row is None:
                raise Refused("not_found", "no such lock (it may have run out)")
            kind, key = row.kind, row.key
            await db.delete(row)
        await self.audit.record(
            "unlocked",
            account_id=admin_account_id,
            username=admin_username,
            detail=f"{kind}: {key}",
        )


def lock_of(row: LoginThrottle) -> shapes.LoginLock:
    assert row.locked_until is not None
    return shapes.LoginLock(
        id=row.id,
        kind=LockKind(row.kind),
        key=row.key,
        failures=row.failures,
        locked_until=row.locked_until.isoformat(),
    )
