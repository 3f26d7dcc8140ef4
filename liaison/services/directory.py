"""The directory as people read it: who is who, searched, with their presence now.

Reads only; a person's own profile changes go through liaison/services/profile.py and an
administrator's import through liaison/services/directory_import.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.config import Settings
from liaison.domain import identity
from liaison.services.presence import PresenceService
from liaison.store import repositories as repo

# The longest search text looked at, and how many people one search returns at most.
MAX_SEARCH_CHARS = 200
MAX_RESULTS = 500


@dataclass(frozen=True, slots=True)
class Found:
    """A search's people, and how many identity codes its text held (a search by code is
    a lookup of a client, which the caller audits)."""

    people: list[dict[str, Any]]
    identity_codes: int


class DirectoryService:
    def __init__(
        self, settings: Settings, db: async_sessionmaker[AsyncSession], presence: PresenceService
    ) -> None:
        self.config = settings
        self.db = db
        self.presence = presence

    def with_presence(self, person: dict[str, Any]) -> dict[str, Any]:
        return {**person, "presence": self.presence.view(person["id"])}

    async def person(self, person_id: int) -> dict[str, Any] | None:
        """A directory entry as stored (the workspace's and the welcome's `me`)."""
        async with self.db() as db:
            return await repo.get_person(db, person_id)

    async def card(self, person_id: int) -> dict[str, Any] | None:
        """A directory entry with the person's presence now."""
        found = await self.person(person_id)
        return None if found is None else self.with_presence(found)

    async def search(
        self,
        text: str = "",
        benefit: str = "",
        organisation_id: int | None = None,
        area: str = "",
        tag: str = "",
        role: str = "",
        limit: int = 200,
    ) -> Found:
        """People matching every given filter, with their presence, by name."""
        codes = 0

        def scrubbed(value: str) -> str:
            # A code searched for is searched as its reference, as profiles store it.
            nonlocal codes
            text, found = identity.redact_identity_codes(value, self.config.secret_key)
            codes += found
            return text

        text, tag = scrubbed(text)[:MAX_SEARCH_CHARS], scrubbed(tag)
        async with self.db() as db:
            people = await repo.search_people(
                db,
                text=text,
                benefit=benefit,
                organisation_id=organisation_id,
                area=area,
                tag=tag,
                role=role,
                limit=max(1, min(limit, MAX_RESULTS)),
            )
        return Found([self.with_presence(p) for p in people], codes)

    async def organisations(self) -> list[dict[str, Any]]:
        """Every organisation with its units."""
        async with self.db() as db:
            return await repo.list_organisations(db)

    async def areas(self) -> list[str]:
        async with self.db() as db:
            return await repo.list_areas(db)
