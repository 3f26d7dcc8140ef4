"""Named contacts: "contact my liaison". The asker's area's named contacts on the other
side are tried in order as a serial ring, which overflows to the area's liaison ring;
when none of them is free the question goes straight to that ring (docs/rings.md).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.domain.directory import match_key
from liaison.domain.errors import Refused
from liaison.domain.vocabulary import ConsultationKind, LegalBasis, Urgency
from liaison.protocol.rings import QuestionStatus
from liaison.services.presence import PresenceService
from liaison.services.rings import NAMED_RING_PREFIX, RingService, is_free
from liaison.store.models import NamedContact, Organisation, Person, Ring, RingMember, Unit


class NamedContactError(Refused):
    """Refused by the named-contact service."""


class NamedContactService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        presence: PresenceService,
        rings: RingService,
    ) -> None:
        self.db = db
        self.presence = presence
        self.rings = rings

    async def ask(
        self,
        asker_id: int,
        text: str,
        client_code: str | None = None,
        urgency: Urgency = Urgency.NORMAL,
        legal_basis: LegalBasis | None = None,
    ) -> QuestionStatus:
        """ "Contact my liaison": the area's named contacts in order, then the area's ring."""
        async with self.db() as db:
            row = (
                await db.execute(
                    select(Person, Unit)
                    .outerjoin(Unit, Person.unit_id == Unit.id)
                    .where(Person.id == asker_id)
                )
            ).first()
            area = row[1].area if row and row[1] else ""
            asker_side = await self._side_of(db, asker_id)
            contacts_side = "kela" if asker_side == "social_services" else "social_services"
            contacts = list(
                (
                    await db.scalars(
                        select(NamedContact.person_id)
                        .where(
                            NamedContact.area_key == match_key(area),
                            NamedContact.side == contacts_side,
                        )
                        .order_by(NamedContact.position)
                    )
                ).all()
            )
            # The area's liaison ring is Kela's liaisons: the fallback for social services.
            area_ring = (
                await db.scalar(
                    select(Ring.id).where(Ring.kind == "liaison", Ring.area_key == match_key(area))
                )
                if contacts_side == "kela"
                else None
            )
        if not contacts and area_ring is None:
            raise NamedContactError("no_named_contacts", "no named contacts or ring for your area")
        await self.presence.look(contacts)
        free_contacts = [c for c in contacts if is_free(self.presence.shown(c))]
        if not free_contacts and area_ring is not None:
            # Nobody named is free now: straight to the area's ring, never to nobody.
            return await self.rings.ask(
                asker_id, area_ring, text, client_code, urgency, legal_basis, ConsultationKind.NAMED
            )
        ring_id = await self._named_ring(area, contacts_side, contacts, area_ring)
        return await self.rings.ask(
            asker_id, ring_id, text, client_code, urgency, legal_basis, ConsultationKind.NAMED
        )

    async def _side_of(self, db: AsyncSession, person_id: int) -> str:
        kind = await db.scalar(
            select(Organisation.kind)
            .join(Person, Person.organisation_id == Organisation.id)
            .where(Person.id == person_id)
        )
        return str(kind or "kela")

    async def _named_ring(
        self, area: str, side: str, contacts: list[int], overflow: str | None
    ) -> str:
        """A serial ring over the named contacts that overflows to the area's ring."""
        ring_id = f"{NAMED_RING_PREFIX}{side}:{area}"[:64]
        alert = 20
        async with self.db.begin() as db:
            row = await db.get(Ring, ring_id)
            if row is None:
                row = Ring(id=ring_id, name=f"{area}", kind="named", area=area)
                db.add(row)
            row.method = "serial"
            row.alert_seconds = alert
            row.queue_timeout_seconds = max(alert * max(len(contacts), 1), 30)
            row.overflow_ring_id = overflow
            row.max_concurrent = 1
            row.target_answer_seconds = 60
            await db.flush()
            existing = {
                m.person_id: m
                for m in (await db.scalars(select(RingMember).where(RingMember.ring_id == ring_id)))
            }
            for position, person_id in enumerate(contacts):
                member = existing.pop(person_id, None)
                if member is None:
                    db.add(RingMember(ring_id=ring_id, person_id=person_id, position=position))
                else:
                    member.position = position
            for member in existing.values():
                await db.delete(member)
        # Named contacts answer for their area whenever they are free.
        await self.rings.signed_in_by_configuration(ring_id, contacts)
        return ring_id
