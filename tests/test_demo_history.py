"""The demo: seeded from its files through the real paths, and its invented ring history
played through the real ring router: consistent with itself, in the past, written once."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from liaison.clock import ManualClock
from liaison.config import Settings
from liaison.demo import DEMO_PASSWORD, DemoLogin, seed_demo
from liaison.domain.identity import find_identity_codes
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.store.models import (
    Account,
    Consultation,
    Conversation,
    Message,
    NamedContact,
    Person,
    Ring,
    RingLeg,
    RingMember,
    RingOffer,
)
from tests.conftest import TEST_DATABASE_URL

# Monday 23 November 2026, 09:00 in Helsinki.
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Helsinki")
DEMO_DATA = resources.files("liaison") / "demo_data"

pytestmark = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="the demo runs on its embedded SQLite"
)


@dataclass
class Seeded:
    core: Core
    logins: list[DemoLogin]
    progress: list[str]


def demo_core(path: Path) -> Core:
    return Core(Settings(database_url=f"sqlite+aiosqlite:///{path}", demo=True), ManualClock(NOW))


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    """One seeded demo for the module, with the production password hasher."""
    core = demo_core(tmp_path_factory.mktemp("demo") / "demo.db")
    await core.start()
    progress: list[str] = []
    logins = await seed_demo(core, progress.append)
    try:
        yield Seeded(core, logins, progress)
    finally:
        await core.stop()


@pytest.fixture
def core(seeded: Seeded) -> Core:
    return seeded.core


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


async def test_no_member_takes_two_questions_or_two_offers_at_once(core: Core) -> None:
    """The router's capacity rules show in the history: one consultation at a time per
    member (max_concurrent 1 in every demo ring) and one live offer per member."""
    async with core.db() as db:
        consultations = (
            await db.execute(
                select(Consultation.expert_id, Consultation.accepted_at, Consultation.closed_at)
                .where(Consultation.state == "closed")
                .order_by(Consultation.expert_id, Consultation.accepted_at)
            )
        ).all()
        offers = (
            await db.execute(
                select(RingOffer.person_id, RingOffer.offered_at, RingOffer.ended_at).order_by(
                    RingOffer.person_id, RingOffer.offered_at
                )
            )
        ).all()
        max_concurrent = set((await db.scalars(select(Ring.max_concurrent))).all())
    assert max_concurrent == {1}
    for rows in (consultations, offers):
        assert len(rows) > 1000
        for (person, _, ended), (next_person, started, _) in itertools.pairwise(rows):
            assert person != next_person or ended <= started, (person, ended, started)


async def test_the_demo_comes_from_its_files_through_the_real_paths(seeded: Seeded) -> None:
    core = seeded.core
    config = json.loads((DEMO_DATA / "rings.json").read_text(encoding="utf-8"))
    async with core.db() as db:
        emails = {pid: email for pid, email in (await db.execute(select(Person.id, Person.email)))}
        rings = {r.id: r for r in (await db.scalars(select(Ring))).all()}
        members = (
            await db.execute(
                select(RingMember.ring_id, RingMember.person_id).order_by(RingMember.position)
            )
        ).all()
        contacts = await db.scalar(select(func.count()).select_from(NamedContact))
    assert set(rings) == {r["id"] for r in config["rings"]}
    for ring in config["rings"]:
        assert rings[ring["id"]].method == ring["method"]
        assert [emails[p] for r, p in members if r == ring["id"]] == ring["members"]
    assert contacts == sum(len(c["people"]) for c in config["named_contacts"])
    assert seeded.progress[:4] == [
        "Directory: 61 people imported",
        f"Accounts: 61 created, password {DEMO_PASSWORD}",
        "Groups: 3 mini-networks with their first messages",
        "Rings: 6 rings, 6 named-contact lists",
    ]
    assert seeded.progress[-1].startswith("History: 30/30 days, ")
    assert [login.username for login in seeded.logins] == [
        login["username"]
        for login in json.loads((DEMO_DATA / "logins.json").read_text(encoding="utf-8"))
    ]


async def test_every_demo_account_has_the_one_production_hash_of_the_public_password(
    seeded: Seeded,
) -> None:
    core = seeded.core
    async with core.db() as db:
        hashes = set((await db.scalars(select(Account.password_hash))).all())
        admins = set((await db.scalars(select(Account.username).where(Account.is_admin))).all())
    assert len(hashes) == 1
    (password_hash,) = hashes
    assert not core.accounts.hasher.check_needs_rehash(password_hash)
    assert admins == {"heidi.salonen"}
    for login in seeded.logins[:2]:
        assert await core.accounts.verify_password(login.username, DEMO_PASSWORD) is not None
    assert await core.accounts.verify_password("aino.lehtonen", "wrong-password") is None


async def test_seeding_again_changes_nothing(seeded: Seeded) -> None:
    core = seeded.core
    tables = (Person, Account, Conversation, Message, Ring, RingMember, NamedContact)
    tables += (RingLeg, Consultation, RingOffer)

    async def counts() -> list[int | None]:
        async with core.db() as db:
            return [await db.scalar(select(func.count()).select_from(t)) for t in tables]

    before = await counts()
    assert all(before)
    progress: list[str] = []
    assert await seed_demo(core, progress.append) == seeded.logins
    assert await counts() == before
    assert progress == ["Demo data: in place from an earlier run, nothing to add"]


async def test_a_directory_that_is_not_the_demos_is_left_alone(tmp_path: Path) -> None:
    core = demo_core(tmp_path / "real.db")
    await core.start()
    try:
        csv = "email;first_name;last_name;organisation;organisation_kind\r\n"
        csv += "real@kela.example;Real;Person;Kela;kela\r\n"
        assert (await import_directory(core.db, "real.csv", csv.encode(), False)).applied
        progress: list[str] = []
        assert await seed_demo(core, progress.append) == []
        async with core.db() as db:
            assert await db.scalar(select(func.count()).select_from(Person)) == 1
            assert await db.scalar(select(func.count()).select_from(Account)) == 0
            assert await db.scalar(select(func.count()).select_from(RingLeg)) == 0
        assert progress == ["The database holds another directory: no demo data added"]
    finally:
        await core.stop()
