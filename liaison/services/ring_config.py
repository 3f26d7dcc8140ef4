"""Rings and named contacts as configuration: a JSON document applied to the store.

    {"rings": [{"id": "housing_allowance", "name": "Yleinen asumistuki", "kind": "benefit",
                "benefit": "housing_allowance", "area": "", "method": "ring_all",
                "alert_seconds": 20, "queue_timeout_seconds": 180,
                "overflow_ring_id": null, "max_concurrent": 1, "target_answer_seconds": 60,
                "phone_hours_only": false, "members": ["bertil@kela.example", ...]}],
     "named_contacts": [{"area": "Järvi-Suomi", "side": "kela",
                         "people": ["minna@kela.example", ...]}]}

Members and contacts are named by email, as in the directory import. Applying is all or
nothing: any error changes nothing. Rings missing from the document are left alone. The
document's model is `RingsDocument` (liaison/protocol/http.py), decoded once at the edge.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.domain.directory import match_key
from liaison.domain.rings import RingConfig
from liaison.protocol.decode import field_reason
from liaison.protocol.http import RingsDocument
from liaison.protocol.rings import RingsConfigured
from liaison.store.models import NamedContact, Person, Ring, RingMember


class RingConfigError(ValueError):
    """Every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_document(data: Any) -> RingsDocument:
    """The document as its model (the JSON API decodes its body the same way): for the
    command line and the demo, which read it from a file."""
    try:
        return msgspec.convert(data, RingsDocument)
    except msgspec.ValidationError as e:
        raise RingConfigError([field_reason(str(e), RingsDocument)]) from None


async def apply_ring_config(
    db: async_sessionmaker[AsyncSession], document: RingsDocument
) -> RingsConfigured:
    """The types and shapes were checked when the document was decoded; what is left are
    the rules that need the store (people by email, overflow rings) or the router."""
    problems: list[str] = []
    async with db.begin() as session:
        emails = {
            email.lower(): pid
            for email, pid in (await session.execute(select(Person.email, Person.id))).all()
        }
        known_rings = set((await session.scalars(select(Ring.id))).all())
        known_rings |= {r.id for r in document.rings}

        def people(listed: list[str], where: str) -> list[int]:
            found = []
            for email in listed:
                pid = emails.get(email.lower())
                if pid is None:
                    problems.append(f"{where}: no person with email {email!r} in the directory")
                else:
                    found.append(pid)
            return found

        for index, ring in enumerate(document.rings):
            where = f"rings[{index}]"
            if ring.id.startswith("named:"):
                problems.append(f"{where}: id must be text (not starting with 'named:')")
                continue
            if ring.overflow_ring_id is not None and ring.overflow_ring_id not in known_rings:
                problems.append(f"{where}: overflow ring {ring.overflow_ring_id!r} does not exist")
            members = people(ring.members, where)
            try:
                RingConfig(
                    id=ring.id,
                    name=ring.name,
                    method=ring.method.value,
                    alert_seconds=ring.alert_seconds,
                    queue_timeout_seconds=ring.queue_timeout_seconds,
                    overflow_ring_id=ring.overflow_ring_id,
                    max_concurrent=ring.max_concurrent,
                    target_answer_seconds=ring.target_answer_seconds,
                )
            except ValueError as e:
                problems.append(f"{where}: {e}")
                continue
            if problems:
                continue
            row = await session.get(Ring, ring.id) or Ring(id=ring.id)
            row.name, row.kind = ring.name, ring.kind
            row.benefit, row.area = ring.benefit, ring.area
            row.method = ring.method
            row.alert_seconds = ring.alert_seconds
            row.queue_timeout_seconds = ring.queue_timeout_seconds
            row.overflow_ring_id = ring.overflow_ring_id
            row.max_concurrent = ring.max_concurrent
            row.target_answer_seconds = ring.target_answer_seconds
            row.phone_hours_only = ring.phone_hours_only
            session.add(row)
            await session.flush()
            await session.execute(delete(RingMember).where(RingMember.ring_id == ring.id))
            for position, pid in enumerate(members):
                session.add(RingMember(ring_id=ring.id, person_id=pid, position=position))
        for index, entry in enumerate(document.named_contacts):
            contacts = people(entry.people, f"named_contacts[{index}]")
            if problems:
                continue
            await session.execute(
                delete(NamedContact).where(
                    NamedContact.area_key == match_key(entry.area),
                    NamedContact.side == entry.side,
                )
            )
            for position, pid in enumerate(contacts):
                session.add(
                    NamedContact(area=entry.area, side=entry.side, person_id=pid, position=position)
                )
        if problems:
            # Leaving the block by an exception rolls everything back.
            raise RingConfigError(problems)
    return RingsConfigured(rings=len(document.rings), named_contacts=len(document.named_contacts))
