"""The demo's invented ring history: consistent with itself, in the past, written once."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.demo import seed_demo
from liaison.domain.identity import find_identity_codes
from liaison.services.core import Core
from liaison.store.models import Consultation, Ring, RingLeg, RingMember, RingOffer
from tests.conftest import TEST_DATABASE_URL

# Monday 23 November 2026, 09:00 in Helsinki.
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Helsinki")

pytestmark = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="the demo runs on its embedded SQLite"
)


@pytest.fixture(scope="module")
async def core(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Core]:
    """One seeded demo for the module: seeding is the slow part."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", demo=True)
    core = Core(settings, ManualClock(NOW))
    # Cheap hashes: sixty demo accounts with the default cost take seconds.
    core.accounts.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    await core.start()
    await seed_demo(core)
    try:
        yield core
    finally:
        await core.stop()


def local_day(t: datetime) -> date:
    return t.astimezone(TZ).date()


def service_level(legs: list[RingLeg]) -> float:
    """As docs/load.md defines it."""
    answered = [leg for leg in legs if leg.outcome == "answered"]
    within = sum(1 for leg in answered if (leg.wait_seconds or 0) <= leg.target_answer_seconds)
    eligible = len(answered) + sum(
        1
        for leg in legs
        if leg.outcome in ("timed_out", "overflowed")
        or (leg.outcome == "cancelled" and (leg.wait_seconds or 0) > leg.target_answer_seconds)
    )
    return within / eligible


async def test_history_is_in_the_past_on_weekdays_and_in_office_hours(core: Core) -> None:
    async with core.db() as db:
        legs = (await db.scalars(select(RingLeg))).all()
        rings = set((await db.scalars(select(Ring.id).where(Ring.kind != "named"))).all())
    today = NOW.astimezone(TZ).date()
    weekdays = {
        today - timedelta(days=back)
        for back in range(1, 31)
        if (today - timedelta(days=back)).weekday() < 5
    }
    assert {local_day(leg.entered_at) for leg in legs} == weekdays
    assert not any(local_day(leg.entered_at) == today for leg in legs)
    assert all(8 <= leg.entered_at.astimezone(TZ).hour < 16 for leg in legs)
    assert {leg.ring_id for leg in legs} == rings
    assert not any(leg.ring_id.startswith("named:") for leg in legs)
    for ring_id in rings:
        ring_legs = [leg for leg in legs if leg.ring_id == ring_id]
        assert 0.6 <= service_level(ring_legs) <= 0.97, ring_id


async def test_every_leg_matches_its_consultation_and_offers(core: Core) -> None:
    async with core.db() as db:
        legs = (await db.scalars(select(RingLeg))).all()
        consultations = {c.question_id: c for c in (await db.scalars(select(Consultation))).all()}
        offers = (await db.scalars(select(RingOffer))).all()
        members = (await db.execute(select(RingMember.ring_id, RingMember.person_id))).all()
    in_ring = {(r, p) for r, p in members}
    assert len(consultations) == len(legs)
    by_question: dict[str, list[RingOffer]] = {}
    for offer in offers:
        by_question.setdefault(offer.question_id, []).append(offer)
        assert offer.offered_at < offer.ended_at
        assert (offer.ring_id, offer.person_id) in in_ring
    for leg in legs:
        c = consultations[leg.question_id]
        leg_offers = by_question.get(leg.question_id, [])
        assert c.kind == "ring" and c.ring_id == leg.ring_id and c.urgency == leg.urgency
        assert c.asked_at == leg.asked_at == leg.entered_at
        assert c.client_ref is None and c.conversation_id is None
        assert (c.ring_id, c.asker_id) not in in_ring
        assert c.missed_offers == leg.missed_offers
        assert leg.missed_offers == sum(1 for o in leg_offers if o.outcome == "missed")
        assert leg.declined_offers == sum(1 for o in leg_offers if o.outcome == "declined")
        assert c.offered_at == leg.first_offered_at
        assert leg.ended_at is not None and leg.wait_seconds is not None
        assert all(leg.asked_at <= o.offered_at and o.ended_at <= leg.ended_at for o in leg_offers)
        accepted = [o.person_id for o in leg_offers if o.outcome == "accepted"]
        if leg.outcome == "answered":
            assert c.state == "closed" and c.expert_id is not None
            assert c.expert_id == leg.answered_by and accepted == [leg.answered_by]
            assert (c.ring_id, c.expert_id) in in_ring
            assert c.accepted_at == leg.ended_at
            assert c.accepted_at is not None and c.closed_at is not None
            assert c.accepted_at < c.closed_at
            assert math.isclose((c.accepted_at - c.asked_at).total_seconds(), leg.wait_seconds)
            assert c.outcome is not None and c.topic is not None and c.legal_basis is not None
        else:
            assert leg.outcome in ("cancelled", "timed_out")
            assert c.state == leg.outcome and c.expert_id is None and leg.answered_by is None
            assert c.accepted_at is None and c.closed_at == leg.ended_at and not accepted
            assert leg.wait_seconds == (leg.ended_at - leg.asked_at).total_seconds()
        if leg.outcome == "timed_out":
            assert leg.wait_seconds == 180
        assert not find_identity_codes(c.question)


async def test_seeding_again_adds_nothing(core: Core) -> None:
    async def counts() -> tuple[int | None, ...]:
        async with core.db() as db:
            return tuple(
                [
                    await db.scalar(select(func.count()).select_from(table))
                    for table in (RingLeg, Consultation, RingOffer)
                ]
            )

    before = await counts()
    assert before[0]
    await seed_demo(core)
    assert await counts() == before
