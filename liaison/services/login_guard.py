"""Logins that resist guessing: throttling per username and per client address, timed
locks administrators can see and lift, and an audit row for every attempt.

The policy is liaison/domain/throttle.py; its state lives in `login_throttles`, so it
survives a restart. An attempt is counted as failed *before* the password is checked
(and taken back when it was right): many attempts sent at once cannot all slip in
before the first failure is counted. An attempt the policy refuses costs no password
check at all, so a guessing storm does not load the server either (docs/accounts.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain import throttle as policy
from liaison.domain.errors import Refused
from liaison.services.accounts import AccountService
from liaison.services.audit import AuditLog
from liaison.store.models import Account, LoginThrottle

USERNAME, ADDRESS = "username", "address"
MAX_KEY_CHARS = 100


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    # Set when the attempt was refused unchecked: when to try again, and whether locked.
    refused: policy.Decision | None = None


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
        # One node serves a deployment (the bus is in memory): reading and counting an
        # attempt happen under this lock, so concurrent attempts are counted one by one.
        self._counting = asyncio.Lock()

    def username_key(self, username: str) -> str:
        """The throttle key of a typed username: lower-cased, and a personal identity code
        typed by mistake is kept only as its pseudonym (it is stored and shown to admins)."""
        text = " ".join(username.split()).lower()[: MAX_KEY_CHARS * 2]
        return identity.redact_identity_codes(text, self.config.secret_key)[0][:MAX_KEY_CHARS]

    async def login(self, username: str, password: str, address: str) -> LoginResult:
        key = self.username_key(username)
        keys = ((USERNAME, key), (ADDRESS, address[:MAX_KEY_CHARS]))
        refused, new_locks = await self._count_attempt(keys)
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
            await self.audit.record("login_failed", username=key, address=address)
            for kind, locked_key in new_locks:
                await self.audit.record(
                    "locked", username=key, address=address, detail=f"{kind}: {locked_key}"
                )
            return LoginResult(None)
        await self._forgive(keys)
        await self.audit.record(
            "login_succeeded", account_id=account.id, username=account.username, address=address
        )
        return LoginResult(account)

    async def _rows(
        self, db: AsyncSession, keys: tuple[tuple[str, str], ...]
    ) -> dict[tuple[str, str], LoginThrottle]:
        rows: dict[tuple[str, str], LoginThrottle] = {}
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

    @staticmethod
    def _store(
        db: AsyncSession, row: LoginThrottle | None, kind: str, key: str, state: policy.KeyState
    ) -> None:
        if row is None:
            row = LoginThrottle(kind=kind, key=key)
            db.add(row)
        row.failures = state.failures
        row.last_failure_at = state.last_failure_at
        row.locked_until = state.locked_until

    async def _count_attempt(
        self, keys: tuple[tuple[str, str], ...]
    ) -> tuple[policy.Decision | None, list[tuple[str, str]]]:
        """Refuses the attempt (the decision) or counts it as failed on every key (and
        returns the keys that this count locked)."""
        now = self.clock.now()
        async with self._counting, self.db.begin() as db:
            rows = await self._rows(db, keys)
            decisions = [
                policy.decide(self.policies[kind], self._state(rows.get((kind, key))), now)
                for kind, key in keys
            ]
            refusals = [d for d in decisions if not d.allowed]
            if refusals:
                # A lock outranks a wait; among the same, the later time.
                return max(refusals, key=lambda d: (d.locked, d.retry_at or now)), []
            new_locks = []
            for kind, key in keys:
                row = rows.get((kind, key))
                state = policy.after_failure(self.policies[kind], self._state(row), now)
                if state.locked_until is not None:
                    new_locks.append((kind, key))
                self._store(db, row, kind, key, state)
        return None, new_locks

    async def _forgive(self, keys: tuple[tuple[str, str], ...]) -> None:
        """After a right password: the username starts afresh; the address only has this
        attempt taken back, as one known password must not reset guessing from there."""
        now = self.clock.now()
        async with self._counting, self.db.begin() as db:
            rows = await self._rows(db, keys)
            for kind, key in keys:
                row = rows.get((kind, key))
                if row is None:
                    continue
                if kind == USERNAME:
                    await db.delete(row)
                    continue
                state = policy.after_undone_failure(self.policies[kind], self._state(row), now)
                if state == policy.FRESH:
                    await db.delete(row)
                else:
                    self._store(db, row, kind, key, state)

    # ------------------------------------------------------------ administration

    async def locks(self) -> list[dict[str, Any]]:
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
        return [lock_dict(r) for r in rows]

    async def unlock(self, lock_id: int, admin_account_id: int, admin_username: str) -> None:
        async with self._counting, self.db.begin() as db:
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


def lock_dict(row: LoginThrottle) -> dict[str, Any]:
    assert row.locked_until is not None
    return {
        "id": row.id,
        "kind": row.kind,
        "key": row.key,
        "failures": row.failures,
        "locked_until": row.locked_until.isoformat(),
    }
