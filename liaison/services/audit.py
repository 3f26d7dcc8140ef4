"""The audit log: logins and identity-code lookups, for administrators to read.

Rows hold who (account, username, address), when, what kind, and a short detail. A
lookup's detail is the client's pseudonym and how many records it found, never the code;
free text given to `record` is passed through the identity-code filter all the same.
The retention purger deletes rows older than `audit_retention_days` (docs/accounts.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import identity
from liaison.domain.vocabulary import AuditKind, values
from liaison.protocol import people as shapes
from liaison.store.models import AuditEvent

KINDS = values(AuditKind)
MAX_PAGE = 200


def event_of(e: AuditEvent) -> shapes.AuditEvent:
    return shapes.AuditEvent(
        id=e.id,
        at=e.at.isoformat(),
        kind=AuditKind(e.kind),
        account_id=e.account_id,
        username=e.username,
        address=e.address,
        detail=e.detail,
    )


class AuditLog:
    def __init__(
        self, settings: Settings, clock: Clock, db: async_sessionmaker[AsyncSession]
    ) -> None:
        self.config = settings
        self.clock = clock
        self.db = db

    def _clean(self, text: str, limit: int) -> str:
        # Whatever reaches the log, a code typed where it does not belong is not kept.
        return identity.redact_identity_codes(text, self.config.secret_key)[0][:limit]

    async def record(
        self,
        kind: str,
        *,
        account_id: int | None = None,
        username: str = "",
        address: str = "",
        detail: str = "",
    ) -> None:
        assert kind in KINDS, kind
        async with self.db.begin() as db:
            db.add(
                AuditEvent(
                    at=self.clock.now(),
                    kind=kind,
                    account_id=account_id,
                    username=self._clean(username, 120),
                    address=address[:64],
                    detail=self._clean(detail, 200),
                )
            )

    async def page(self, before: int | None, limit: int) -> shapes.AuditPage:
        """The newest events first, `limit` of them older than the id `before`."""
        limit = max(1, min(limit, MAX_PAGE))
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        async with self.db() as db:
            rows = list((await db.scalars(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        return shapes.AuditPage(
            events=[event_of(e) for e in rows],
            next_before=rows[-1].id if more and rows else None,
        )
