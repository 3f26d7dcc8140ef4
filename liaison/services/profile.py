"""A person's own profile and photo. What a profile may hold is one rule
(liaison/domain/profile.py), the same for the API and the workspace's profile view."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.config import Settings
from liaison.domain.profile import ProfileRefused, clean_profile, photo_type
from liaison.protocol.http import ProfileChanges
from liaison.protocol.people import PersonWithPresence
from liaison.services.directory import DirectoryService, person_of
from liaison.store import repositories as repo


@dataclass(frozen=True, slots=True)
class PhotoFile:
    content_type: str
    data: bytes


class ProfileService:
    def __init__(
        self,
        settings: Settings,
        db: async_sessionmaker[AsyncSession],
        directory: DirectoryService,
    ) -> None:
        self.config = settings
        self.db = db
        self.directory = directory

    async def update(self, person_id: int, fields: ProfileChanges) -> PersonWithPresence:
        """Applies the person's own changes (all or none) and returns their entry."""
        changes = clean_profile(fields.given(), self.config.secret_key)
        async with self.db.begin() as db:
            await repo.update_person_profile(db, person_id, **changes)
            found = await repo.get_person(db, person_id)
        assert found is not None
        return (await self.directory.with_presence([person_of(*found)]))[0]

    async def photo(self, person_id: int) -> PhotoFile | None:
        async with self.db() as db:
            found = await repo.get_photo(db, person_id)
            return None if found is None else PhotoFile(found.content_type, found.data)

    async def set_photo(self, person_id: int, data: bytes) -> None:
        """Saves a photo of one of the image types a browser shows, within the size limit."""
        limit = self.config.max_photo_bytes
        if len(data) > limit:
            raise ProfileRefused("bad_photo", f"the photo is larger than {limit // 1024} KiB")
        content_type = photo_type(data)
        if content_type is None:
            raise ProfileRefused("bad_photo", "the photo must be a PNG, JPEG or WebP image")
        async with self.db.begin() as db:
            await repo.set_photo(db, person_id, content_type, data)
