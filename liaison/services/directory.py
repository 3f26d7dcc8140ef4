"""The directory as people read it: who is who, searched, with their presence now.

Reads only; a person's own profile changes go through liaison/services/profile.py and an
administrator's import through liaison/services/directory_import.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.config import Settings
from liaison.domain import identity
from liaison.domain.vocabulary import OrganisationKind, UnitKind
from liaison.protocol import people as shapes
from liaison.services.presence import PresenceService
from liaison.store import models
from liaison.store import repositories as repo

# The longest search text looked at, and how many people one search returns at most.
MAX_SEARCH_CHARS = 200
MAX_RESULTS = 500


@dataclass(frozen=True, slots=True)
class Found:
    """A search's people, and how many identity codes its text held (a search by code is
    a lookup of a client, which the caller audits)."""

    people: list[shapes.PersonWithPresence]
    identity_codes: int


class DirectoryService:
    def __init__(
        self, settings: Settings, db: async_sessionmaker[AsyncSession], presence: PresenceService
    ) -> None:
        self.config = settings
        self.db = db
        self.presence = presence

    async def with_presence(self, people: list[shapes.Person]) -> list[shapes.PersonWithPresence]:
        """Entries with each person's presence now (looked up: with several nodes, a
        node follows the people it answers about; services/presence.py)."""
        await self.presence.look(p.id for p in people)
        return [
            shapes.PersonWithPresence(
                **msgspec.structs.asdict(person), presence=self.presence.shown(person.id)
            )
            for person in people
        ]

    async def person(self, person_id: int) -> shapes.Person | None:
        """A directory entry as stored (the workspace's and the welcome's `me`)."""
        async with self.db() as db:
            found = await repo.get_person(db, person_id)
        return None if found is None else person_of(*found)

    async def card(self, person_id: int) -> shapes.PersonWithPresence | None:
        """A directory entry with the person's presence now."""
        found = await self.person(person_id)
        return None if found is None else (await self.with_presence([found]))[0]

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
            found = await repo.search_people(
                db,
                text=text,
                benefit=benefit,
                organisation_id=organisation_id,
                area=area,
                tag=tag,
                role=role,
                limit=max(1, min(limit, MAX_RESULTS)),
            )
        return Found(await self.with_presence([person_of(*row) for row in found]), codes)

    async def organisations(self) -> list[shapes.Organisation]:
        """Every organisation with its units."""
        async with self.db() as db:
            rows = await repo.list_organisations(db)
        return [
            shapes.Organisation(
                id=o.id,
                name=o.name,
                kind=OrganisationKind(o.kind),
                units=[unit_of(u) for u in units],
            )
            for o, units in rows
        ]

    async def areas(self) -> list[str]:
        async with self.db() as db:
            return await repo.list_areas(db)


def unit_of(unit: models.Unit) -> shapes.Unit:
    return shapes.Unit(id=unit.id, name=unit.name, kind=UnitKind(unit.kind), area=unit.area)


def person_of(
    person: models.Person, organisation: models.Organisation, unit: models.Unit | None
) -> shapes.Person:
    """A directory entry as stored, as everyone is shown it."""
    return shapes.Person(
        id=person.id,
        first_name=person.first_name,
        last_name=person.last_name,
        name=f"{person.first_name} {person.last_name}",
        title=person.title,
        email=person.email,
        organisation=shapes.OrganisationRef(
            id=organisation.id, name=organisation.name, kind=OrganisationKind(organisation.kind)
        ),
        unit=None if unit is None else unit_of(unit),
        area=unit.area if unit else "",
        roles=list(person.roles),
        benefits=list(person.benefits),
        languages=list(person.languages),
        tags=list(person.tags),
        work_phone=person.work_phone,
        ask_me_about=person.ask_me_about,
        photo_url=f"/people/{person.id}/photo?v={person.photo_version}"
        if person.photo_version
        else None,
    )
