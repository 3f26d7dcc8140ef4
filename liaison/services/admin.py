"""Administration: the accounts list, the directory import and the rings document. Each
change to who is who is in force at once (`directory_changed`: presence, rings and the
load view follow)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from liaison.config import Settings
from liaison.domain.errors import Refused
from liaison.protocol import people as shapes
from liaison.protocol.http import RingsDocument
from liaison.protocol.rings import RingsConfigured
from liaison.services.directory_import import ReadLimits, import_directory
from liaison.services.ring_config import RingConfigError, apply_ring_config
from liaison.store import repositories as repo
from liaison.store.db import Sessions


class AdminError(Refused):
    """Refused by the administration service."""


class AdminService:
    def __init__(
        self,
        settings: Settings,
        db: Sessions,
        directory_changed: Callable[[], Awaitable[None]],
    ) -> None:
        self.config = settings
        self.db = db
        self.directory_changed = directory_changed

    async def accounts(self) -> list[shapes.Account]:
        async with self.db() as db:
            rows = await repo.list_accounts(db)
        return [
            shapes.Account(
                id=a.id,
                username=a.username,
                person_id=p.id,
                name=f"{p.first_name} {p.last_name}",
                is_admin=a.is_admin,
                disabled=a.disabled,
            )
            for a, p in rows
        ]

    async def configure_rings(self, document: RingsDocument) -> RingsConfigured:
        """The `liaison rings` document, applied all or nothing and in force at once
        (members added are offered questions, members removed stop being, supervisors
        follow)."""
        try:
            counts = await apply_ring_config(self.db, document)
        except RingConfigError as e:
            raise AdminError("bad_field", "; ".join(e.problems)[:2000]) from None
        await self.directory_changed()
        return counts

    async def import_directory(
        self, filename: str, data: bytes, dry_run: bool, sheet: str | None = None
    ) -> shapes.ImportReport:
        """The import report; an applied import is in force at once. The file is read in
        a child process within the configured budget (services/import_reader.py)."""
        report = await import_directory(
            self.db, filename, data, dry_run, sheet=sheet, limits=ReadLimits.of(self.config)
        )
        if report.applied:
            await self.directory_changed()
        return report.shape()
