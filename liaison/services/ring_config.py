"""Rings and named contacts as configuration: a JSON document applied to the store.

    {"rings": [{"id": "housing_allowance", "name": "Yleinen asumistuki", "kind": "benefit",
                "benefit": "housing_allowance", "area": "", "method": "ring_all",
                "alert_seconds": 20, "queue_timeout_seconds": 180,
                "overflow_ring_id": null, "max_concurrent": 1, "target_answer_seconds": 60,
                "phone_hours_only": false, "members": ["bertil@kela.example", ...]}],
     "named_contacts": [{"area": "Järvi-Suomi", "side": "kela",
                         "people": ["minna@kela.example", ...]}]}

Members and contacts are named by email, as in the directory import. Applying is all or
nothing: any error changes nothing. Rings missing from the document are left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.domain.directory import match_key
from liaison.domain.rings import RingConfig
from liaison.store.models import NamedContact, Person, Ring, RingMember

RING_FIELDS = {
    "id", "name", "kind", "benefit", "area", "method", "alert_seconds",
    "queue_timeout_seconds", "overflow_ring_id", "max_concurrent", "target_answer_seconds",
    "phone_hours_only", "members",
}  # fmt: skip


class RingConfigError(ValueError):
    """Every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


async def apply_ring_config(db: async_sessionmaker[AsyncSession], data: Any) -> dict[str, int]:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise RingConfigError(["the configuration must be a JSON object"])
    rings = data.get("rings", [])
    contacts = data.get("named_contacts", [])
    if not isinstance(rings, list) or not isinstance(contacts, list):
        raise RingConfigError(["rings and named_contacts must be lists"])
    async with db.begin() as session:
        emails = {
            email.lower(): pid
            for email, pid in (await session.execute(select(Person.email, Person.id))).all()
        }
        known_rings: set[object] = set((await session.scalars(select(Ring.id))).all())
        known_rings |= {r.get("id") for r in rings if isinstance(r, dict)}

        def person(email: Any, where: str) -> int | None:
            pid = emails.get(str(email).lower()) if isinstance(email, str) else None
            if pid is None:
                problems.append(f"{where}: no person with email {email!r} in the directory")
            return pid

        for index, ring in enumerate(rings):
            where = f"rings[{index}]"
            if not isinstance(ring, dict):
                problems.append(f"{where}: must be an object")
                continue
            unknown = set(ring) - RING_FIELDS
            if unknown:
                problems.append(f"{where}: unknown fields {', '.join(sorted(unknown))}")
            ring_id, name = ring.get("id"), ring.get("name")
            if not isinstance(ring_id, str) or not ring_id or ring_id.startswith("named:"):
                problems.append(f"{where}: id must be text (not starting with 'named:')")
                continue
            if not isinstance(name, str) or not name:
                problems.append(f"{where}: name must be text")
            if ring.get("kind", "benefit") not in ("benefit", "liaison"):
                problems.append(f"{where}: kind must be benefit or liaison")
            overflow = ring.get("overflow_ring_id")
            if overflow is not None and overflow not in known_rings:
                problems.append(f"{where}: overflow ring {overflow!r} does not exist")
            phone_hours_only = ring.get("phone_hours_only", False)
            if not isinstance(phone_hours_only, bool):
                problems.append(f"{where}: phone_hours_only must be true or false")
            members = [person(e, where) for e in ring.get("members", [])]
            try:
                RingConfig(
                    id=ring_id,
                    name=str(name),
                    method=ring.get("method", "ring_all"),
                    alert_seconds=ring.get("alert_seconds", 20),
                    queue_timeout_seconds=ring.get("queue_timeout_seconds", 180),
                    overflow_ring_id=overflow,
                    max_concurrent=ring.get("max_concurrent", 1),
                    target_answer_seconds=ring.get("target_answer_seconds", 60),
                )
            except (ValueError, TypeError) as e:
                problems.append(f"{where}: {e}")
                continue
            if problems:
                continue
            row = await session.get(Ring, ring_id) or Ring(id=ring_id)
            row.name, row.kind = str(name), ring.get("kind", "benefit")
            row.benefit, row.area = ring.get("benefit"), str(ring.get("area", ""))
            row.method = ring.get("method", "ring_all")
            row.alert_seconds = ring.get("alert_seconds", 20)
            row.queue_timeout_seconds = ring.get("queue_timeout_seconds", 180)
            row.overflow_ring_id = overflow
            row.max_concurrent = ring.get("max_concurrent", 1)
            row.target_answer_seconds = ring.get("target_answer_seconds", 60)
            row.phone_hours_only = phone_hours_only
            session.add(row)
            await session.flush()
            await session.execute(delete(RingMember).where(RingMember.ring_id == ring_id))
            for position, pid in enumerate(m for m in members if m is not None):
                session.add(RingMember(ring_id=ring_id, person_id=pid, position=position))
        for index, entry in enumerate(contacts):
            where = f"named_contacts[{index}]"
            if not isinstance(entry, dict) or entry.get("side") not in ("kela", "social_services"):
                problems.append(f"{where}: needs area, side (kela or social_services) and people")
                continue
            area = entry.get("area")
            if not isinstance(area, str) or not area:
                problems.append(f"{where}: area must be text")
                continue
            people = [person(e, where) for e in entry.get("people", [])]
            if problems:
                continue
            await session.execute(
                delete(NamedContact).where(
                    NamedContact.area_key == match_key(area),
                    NamedContact.side == entry["side"],
                )
            )
            for position, pid in enumerate(p for p in people if p is not None):
                session.add(
                    NamedContact(area=area, side=entry["side"], person_id=pid, position=position)
                )
        if problems:
            # Leaving the block by an exception rolls everything back.
            raise RingConfigError(problems)
    return {"rings": len(rings), "named_contacts": len(contacts)}
