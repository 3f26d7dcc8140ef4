"""The fictional demo: directory, accounts, mini-network groups, rings and ring history.

Everything is invented: people, municipalities, wellbeing services counties, email
domains (``.example``) and phone numbers. There are no personal identity codes. The
data are files in ``liaison/demo_data/``, applied through the real paths: the directory
is a semicolon CSV as Finnish Excel writes it (`liaison import`), the rings are a
`liaison rings` configuration, the groups and messages go through the chat service.

The past weeks of ring questions (`seed_demo_history`) are a repeatable simulation:
invented members come and go, take breaks, answer, decline or let an offer ring, and
askers sometimes give up; the real ring router (liaison/domain/rings.py) decides what
happens under a manual clock, and the record of it is made by the ring service's own
mapping (liaison/services/ring_legs.py). No real question, client or person is behind it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.clock import ManualClock
from liaison.domain import rings as domain
from liaison.domain.directory import read_table
from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.services.records import LEGAL_BASES, OUTCOMES, TOPICS
from liaison.services.ring_config import apply_ring_config, read_document
from liaison.services.ring_legs import legs_and_offers
from liaison.services.rings import CLOSED_QUESTION_KEEP, NAMED_RING_PREFIX, ring_config
from liaison.store.models import (
    Account,
    Consultation,
    Conversation,
    Organisation,
    Person,
    Ring,
    RingLeg,
    RingMember,
    RingOffer,
    Unit,
)

__all__ = [
    "DEMO_PASSWORD",
    "DemoLogin",
    "demo_directory_csv",
    "seed_demo",
    "seed_demo_history",
]

# Public on purpose: the demo is for trying Liaison out, never for real data.
DEMO_PASSWORD = "demo-salasana"  # noqa: S105

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    description: str


def _data(name: str) -> bytes:
    return (resources.files("liaison") / "demo_data" / name).read_bytes()


def _json(name: str) -> Any:
    return json.loads(_data(name))


def demo_directory_csv() -> bytes:
    """The demo directory: a semicolon CSV in UTF-8 with a BOM, as Excel saves it."""
    return _data("directory.csv")


def _username(email: str) -> str:
    """A demo account is named by the local part of its person's email."""
    return email.split("@", 1)[0]


async def seed_demo(core: Core, progress: Progress = _quiet) -> list[DemoLogin]:
    """Fills a database with the demo, step by step; a step already done is skipped.

    Idempotent: seeding again changes nothing, and a seed that was interrupted is
    completed. A database with anyone in its directory who is not a demo person is left
    alone (a real directory is never mixed with demo people) and no logins are returned.
    Returns the logins worth showing; every demo account has the password DEMO_PASSWORD.
    `progress` gets a short line as each step is done.
    """
    directory = demo_directory_csv()
    demo_emails = {row["email"].lower() for _, row in read_table("directory.csv", directory)}
    async with core.db() as db:
        emails = {e.lower() for e in (await db.scalars(select(Person.email))).all()}
    if not emails <= demo_emails:
        progress("The database holds another directory: no demo data added")
        return []
    added = False
    if not demo_emails <= emails:
        added = True
        report = await import_directory(core.db, "directory.csv", directory, dry_run=False)
        if not report.applied:
            # The demo data are ours: an error here is a bug, not a user mistake.
            raise RuntimeError(f"the demo directory did not import: {report.errors}")
        await core.presence.reload_people()
        progress(f"Directory: {report.created} people imported")

    async with core.db() as db:
        people = {
            _username(email): (person_id, roles)
            for person_id, email, roles in (
                await db.execute(
                    select(Person.id, Person.email, Person.roles).where(
                        func.lower(Person.email).in_(demo_emails)
                    )
                )
            ).all()
        }
        with_account = set((await db.scalars(select(Account.person_id))).all())
    missing = {u: p for u, p in people.items() if p[0] not in with_account}
    if missing:
        added = True
        await _create_accounts(core, missing)
        progress(f"Accounts: {len(missing)} created, password {DEMO_PASSWORD}")

    groups = _json("groups.json")
    async with core.db() as db:
        has_groups = await db.scalar(
            select(Conversation.id)
            .where(Conversation.title.in_([g["title"] for g in groups]))
            .limit(1)
        )
    if has_groups is None:
        added = True
        await _create_groups(core, groups, {u: p[0] for u, p in people.items()})
        progress(f"Groups: {len(groups)} mini-networks with their first messages")

    async with core.db() as db:
        has_rings = await db.scalar(select(Ring.id).limit(1))
    if has_rings is None:
        added = True
        counts = await apply_ring_config(core.db, read_document(_json("rings.json")))
        await core.rings.reload_rings()
        progress(f"Rings: {counts.rings} rings, {counts.named_contacts} named-contact lists")

    async with core.db() as db:
        has_history = await db.scalar(select(RingLeg.id).limit(1))
    if has_history is None:
        added = True
        await seed_demo_history(core, progress=progress)
    if not added:
        progress("Demo data: in place from an earlier run, nothing to add")
    return await _logins(core)


async def _create_accounts(core: Core, people: dict[str, tuple[int, list[str]]]) -> None:
    """One login per demo person, all with DEMO_PASSWORD.

    The password is hashed once, with the production parameters, and that hash serves
    every account: the password is public anyway, and sixty argon2 hashes took most of
    the demo's start-up (seconds each under load). The rows go in as one bulk insert."""
    password_hash = await core.accounts.hash_password(DEMO_PASSWORD)
    now = core.clock.now()
    async with core.db.begin() as db:
        await db.execute(
            insert(Account),
            [
                {
                    "username": username,
                    "password_hash": password_hash,
                    "person_id": person_id,
                    "is_admin": "admin" in roles,
                    "disabled": False,
                    "created_at": now,
                }
                for username, (person_id, roles) in sorted(people.items())
            ],
        )


async def _create_groups(core: Core, groups: list[dict[str, Any]], ids: dict[str, int]) -> None:
    def person(email: str) -> int:
        return ids[_username(email)]

    client_number = 0
    for group in groups:
        summary = await core.chat.create_group(
            person(group["creator"]), group["title"], [person(m) for m in group["members"]]
        )
        for message in group["messages"]:
            client_number += 1
            await core.chat.send(
                person(message["sender"]), summary.id, f"demo-{client_number}", message["body"]
            )


async def _logins(core: Core) -> list[DemoLogin]:
    suggested = _json("logins.json")
    async with core.db() as db:
        names = {
            username: f"{first} {last}"
            for username, first, last in (
                await db.execute(
                    select(Account.username, Person.first_name, Person.last_name).join(
                        Person, Account.person_id == Person.id
                    )
                )
            ).all()
        }
    return [
        DemoLogin(login["username"], names[login["username"]], login["description"])
        for login in suggested
        if login["username"] in names
    ]


# ---------------------------------------------------------------- invented ring history


@dataclass(frozen=True)
class _Plan:
    """history.json: how much is asked and how the invented people behave."""

    days: int
    seed: int
    weekday_factors: tuple[float, ...]
    hour_weights: dict[int, float]
    benefit_rings: dict[str, tuple[float, tuple[str, ...]]]  # benefit: (per day, questions)
    other_benefit_ring: tuple[float, tuple[str, ...]]
    liaison_per_member: float
    liaison_questions: tuple[str, ...]
    urgent_share: dict[str, float]
    cancel_share: float
    cancel_after: tuple[float, float]
    absent_share: float
    arrive_between: tuple[time, time]
    leave_between: tuple[time, time]
    lunch_between: tuple[time, time]
    lunch_minutes: tuple[float, float]
    away_per_hour: float
    away_minutes: tuple[float, float]
    answer_share: float
    decline_share: float
    answer_seconds_median: float
    consultation_minutes: tuple[float, float, float]  # median, shortest, longest
    outcome_weights: dict[str, float]
    topic_weights: dict[str, dict[str, float]]
    legal_basis_weights: dict[str, dict[str, float]]

    @classmethod
    def load(cls) -> _Plan:
        d = _json("history.json")
        m, a, c = d["members"], d["askers"], d["consultation_minutes"]

        def ring(r: dict[str, Any]) -> tuple[float, tuple[str, ...]]:
            return float(r["questions_per_day"]), tuple(r["questions"])

        def times(pair: list[str]) -> tuple[time, time]:
            return time.fromisoformat(pair[0]), time.fromisoformat(pair[1])

        def span(pair: list[float]) -> tuple[float, float]:
            return float(pair[0]), float(pair[1])

        return cls(
            days=int(d["days"]),
            seed=int(d["seed"]),
            weekday_factors=tuple(float(f) for f in d["weekday_factors"]),
            hour_weights={int(h): float(w) for h, w in d["hour_weights"].items()},
            benefit_rings={b: ring(r) for b, r in d["benefit_rings"].items()},
            other_benefit_ring=ring(d["other_benefit_ring"]),
            liaison_per_member=float(d["liaison_rings"]["questions_per_member"]),
            liaison_questions=tuple(d["liaison_rings"]["questions"]),
            urgent_share={k: float(v) for k, v in d["urgent_share"].items()},
            cancel_share=float(a["cancel_share"]),
            cancel_after=span(a["cancel_after_seconds"]),
            absent_share=float(m["absent_share"]),
            arrive_between=times(m["arrive_between"]),
            leave_between=times(m["leave_between"]),
            lunch_between=times(m["lunch_between"]),
            lunch_minutes=span(m["lunch_minutes"]),
            away_per_hour=float(m["away_per_hour"]),
            away_minutes=span(m["away_minutes"]),
            answer_share=float(m["answer_share"]),
            decline_share=float(m["decline_share"]),
            answer_seconds_median=float(m["answer_seconds_median"]),
            consultation_minutes=(float(c["median"]), float(c["shortest"]), float(c["longest"])),
            outcome_weights=d["outcome_weights"],
            topic_weights=d["topic_weights"],
            legal_basis_weights=d["legal_basis_weights"],
        )


@dataclass(frozen=True)
class _HistoryRing:
    config: domain.RingConfig
    kind: str  # "benefit" or "liaison"
    members: tuple[int, ...]
    askers: tuple[int, ...]
    questions: tuple[str, ...]
    per_day: float


@dataclass(frozen=True)
class _Asked:
    asker_id: int
    text: str
    kind: str


async def seed_demo_history(core: Core, progress: Progress = _quiet) -> int:
    """Writes an invented, repeatable past for the demo's benefit and liaison rings.

    Every weekday of the plan's days before today (local time; nothing today, which is
    the live demo's) is played through the ring router; the consultations, ring legs and
    ended offers it implies are written in one transaction of bulk inserts. Returns the
    number of questions.
    """
    plan = _Plan.load()
    tz = ZoneInfo(core.settings.time_zone)
    today = core.clock.now().astimezone(tz).date()
    rng = random.Random(plan.seed)
    async with core.db() as db:
        rings = await _history_rings(db, plan)
    legs: list[RingLeg] = []
    offers: list[RingOffer] = []
    consultations: list[dict[str, Any]] = []
    for back in range(plan.days, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() < 5:
            simulated = _Day(plan, rings, rng, day, tz)
            simulated.run()
            day_legs = [r for r in simulated.rows if isinstance(r, RingLeg)]
            legs += day_legs
            offers += [r for r in simulated.rows if isinstance(r, RingOffer)]
            consultations += simulated.consultations(day_legs)
        done = plan.days - back + 1
        if done % 10 == 0 or done == plan.days:
            progress(f"History: {done}/{plan.days} days, {len(consultations)} questions")
    async with core.db.begin() as db:
        await db.execute(insert(Consultation), consultations)
        await db.execute(insert(RingLeg), [_columns(leg) for leg in legs])
        await db.execute(insert(RingOffer), [_columns(offer) for offer in offers])
    return len(consultations)


def _columns(row: RingLeg | RingOffer) -> dict[str, Any]:
    """A row made by the shared mapping, as the dict a bulk insert takes."""
    return {
        attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs if attr.key != "id"
    }


async def _history_rings(db: AsyncSession, plan: _Plan) -> list[_HistoryRing]:
    """The benefit and liaison rings (not the named-contact ones) with members and askers."""
    rings = (await db.scalars(select(Ring).order_by(Ring.id))).all()
    memberships = (
        await db.execute(
            select(RingMember.ring_id, RingMember.person_id).order_by(RingMember.position)
        )
    ).all()
    people = (
        await db.execute(
            select(Person.id, Person.roles, Unit.area, Organisation.kind)
            .join(Organisation, Person.organisation_id == Organisation.id)
            .outerjoin(Unit, Person.unit_id == Unit.id)
            .order_by(Person.id)
        )
    ).all()
    result = []
    for ring in rings:
        if ring.kind not in ("benefit", "liaison") or ring.id.startswith(NAMED_RING_PREFIX):
            continue
        members = [p for r, p in memberships if r == ring.id]
        if ring.kind == "liaison":
            # Social workers of the ring's area ask its Kela liaisons.
            askers = [
                pid
                for pid, roles, area, kind in people
                if kind == "social_services"
                and "social_worker" in roles
                and (area or "").lower() == ring.area.lower()
            ]
            questions = plan.liaison_questions
            per_day = plan.liaison_per_member * len(members)
        else:
            # Kela's service specialists ask with a client on the line.
            askers = [
                pid
                for pid, roles, _, kind in people
                if kind == "kela" and "service_specialist" in roles
            ]
            per_day, questions = plan.benefit_rings.get(ring.benefit or "", plan.other_benefit_ring)
        askers = [a for a in askers if a not in members]
        if members and askers:
            result.append(
                _HistoryRing(
                    config=ring_config(ring, members),
                    kind=ring.kind,
                    members=tuple(members),
                    askers=tuple(askers),
                    questions=questions,
                    per_day=per_day,
                )
            )
    return result


Action = Callable[[datetime], list[domain.Event]]


class _Day:
    """One invented weekday played through the real ring router under a manual clock.

    The agenda holds what the people do (arrive, step away, come back, ask, answer,
    decline, give up, end a consultation, leave); between those the router's own
    deadlines (alert and queue timeouts, re-offers) are ticked. Every call's events go
    through the ring service's mapping into legs and offers, and each offer made gets
    the member's reaction put on the agenda.
    """

    def __init__(
        self,
        plan: _Plan,
        rings: list[_HistoryRing],
        rng: random.Random,
        day: date,
        tz: ZoneInfo,
    ) -> None:
        self.plan, self.rng, self.day, self.tz = plan, rng, day, tz
        # Invented members cannot press "I am here": nobody is paused as not responding.
        self.router = domain.RingRouter(not_responding_after=0)
        for ring in rings:
            self.router.add_ring(ring.config)
        self.clock = ManualClock(self._at(time(0)))
        # (when, order of planning, what): equal times keep the order they were planned in.
        self.agenda: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        self.open_legs: dict[tuple[str, str], RingLeg] = {}
        self.rows: list[RingLeg | RingOffer] = []
        self.asked: dict[str, _Asked] = {}
        self.consultation_end: dict[str, datetime] = {}
        rings_of: dict[int, list[str]] = {}
        for ring in rings:
            for person_id in ring.members:
                rings_of.setdefault(person_id, []).append(ring.config.id)
        for person_id, ring_ids in sorted(rings_of.items()):
            self._plan_member(person_id, ring_ids)
        for ring in rings:
            for asked_at in self._ask_times(ring):
                self._plan_question(ring, asked_at)

    # -- the run

    def run(self) -> None:
        while True:
            due = self.router.next_deadline()
            if self.agenda and (due is None or self.agenda[0][0] <= due):
                at, _, action = heapq.heappop(self.agenda)
            elif due is not None:
                at, action = due, self.router.tick
            else:
                break
            self.clock.advance((at - self.clock.now()).total_seconds())
            now = self.clock.now()
            events = action(now)
            if events:
                self.rows += legs_and_offers(self.router, events, now, self.open_legs)
                self._react(events, now)
            # As the ring service does: the router forgets what closed a while ago.
            self.router.purge_closed(now - CLOSED_QUESTION_KEEP)
        if self.open_legs:
            raise RuntimeError(f"demo history: {len(self.open_legs)} questions never ended")

    def _react(self, events: list[domain.Event], now: datetime) -> None:
        plan, rng = self.plan, self.rng
        for event in events:
            if isinstance(event, domain.OfferMade):
                qid, person_id = event.question_id, event.person_id
                alert = (event.expires_at - now).total_seconds()
                draw = rng.random()
                if draw < plan.answer_share:
                    delay = rng.lognormvariate(math.log(plan.answer_seconds_median), 0.6)
                    if delay < alert:  # later than that, the offer was missed
                        self._later(delay, partial(self._accept, qid, person_id))
                elif draw < plan.answer_share + plan.decline_share:
                    self._later(
                        rng.uniform(2.0, min(10.0, alert - 1.0)),
                        partial(self.router.decline, qid, person_id),
                    )
                # Otherwise the member lets it ring: the router makes it a missed offer.
            elif isinstance(event, domain.QuestionAccepted):
                median, shortest, longest = plan.consultation_minutes
                minutes = min(max(rng.lognormvariate(math.log(median), 0.6), shortest), longest)
                seconds = minutes * 60
                self.consultation_end[event.question_id] = now + timedelta(seconds=seconds)
                self._later(
                    seconds,
                    partial(self.router.consultation_ended, event.person_id),
                )

    def _accept(self, question_id: str, person_id: int, now: datetime) -> list[domain.Event]:
        return self.router.accept(question_id, person_id, now).events

    def _later(self, seconds: float, action: Action) -> None:
        self._schedule(self.clock.now() + timedelta(seconds=seconds), action)

    def _schedule(self, at: datetime, action: Action) -> None:
        heapq.heappush(self.agenda, (at, next(self._order), action))

    def _at(self, local: time, seconds: float = 0.0) -> datetime:
        return datetime.combine(self.day, local, self.tz) + timedelta(seconds=seconds)

    def _between(self, span: tuple[time, time]) -> datetime:
        start, end = self._at(span[0]), self._at(span[1])
        return start + timedelta(seconds=self.rng.uniform(0, (end - start).total_seconds()))

    # -- the people

    def _plan_member(self, person_id: int, ring_ids: list[str]) -> None:
        """A member's day: away altogether, or in from morning to afternoon with lunch
        and spells away from the rings (meetings, calls, focused work)."""
        plan, rng = self.plan, self.rng
        if rng.random() < plan.absent_share:
            return
        arrive, leave = self._between(plan.arrive_between), self._between(plan.leave_between)
        lunch = self._between(plan.lunch_between)
        lunch_minutes = rng.uniform(*plan.lunch_minutes)

        def sign_in(now: datetime) -> list[domain.Event]:
            return [e for r in ring_ids for e in self.router.sign_in(r, person_id, now)]

        def free(is_free: bool) -> Action:
            return lambda now: self.router.set_availability(person_id, is_free, None, now)

        self._schedule(arrive, sign_in)
        self._schedule(leave, lambda now: self.router.sign_out_everywhere(person_id, now))
        at, had_lunch = arrive, False
        while True:
            start = at + timedelta(hours=rng.expovariate(plan.away_per_hour))
            if not had_lunch and start >= lunch:
                start, minutes, had_lunch = max(lunch, at), lunch_minutes, True
            else:
                minutes = rng.uniform(*plan.away_minutes)
            end = start + timedelta(minutes=minutes)
            if end >= leave:
                break
            self._schedule(start, free(False))
            self._schedule(end, free(True))
            at = end

    def _ask_times(self, ring: _HistoryRing) -> list[datetime]:
        plan, rng = self.plan, self.rng
        expected = ring.per_day * plan.weekday_factors[self.day.weekday()]
        count = max(1, round(expected * max(0.4, rng.gauss(1.0, 0.2))))
        hours = rng.choices(list(plan.hour_weights), list(plan.hour_weights.values()), k=count)
        return sorted(self._at(time(hour), rng.uniform(0, 3600)) for hour in hours)

    def _plan_question(self, ring: _HistoryRing, asked_at: datetime) -> None:
        plan, rng = self.plan, self.rng
        qid = f"{rng.getrandbits(64):016x}"
        asker = rng.choice(ring.askers)
        text = rng.choice(ring.questions)
        urgency: domain.Urgency = (
            "urgent" if rng.random() < plan.urgent_share[ring.kind] else "normal"
        )
        self.asked[qid] = _Asked(asker, text, ring.kind)
        ring_id = ring.config.id
        self._schedule(
            asked_at, lambda now: self.router.ask(qid, ring_id, asker, text, urgency, now)
        )
        if rng.random() < plan.cancel_share:
            # The asker gives up; a no-op if the question was answered or timed out first.
            self._schedule(
                asked_at + timedelta(seconds=rng.uniform(*plan.cancel_after)),
                lambda now: self.router.cancel(qid, asker, now),
            )

    # -- the consultation log

    def consultations(self, legs: Iterable[RingLeg]) -> list[dict[str, Any]]:
        """One consultation per question, as the ring service's record of it would be
        once closed, read off its legs (its stays in rings, oldest first)."""
        plan, rng = self.plan, self.rng

        def weighted(choices: tuple[str, ...], weights: dict[str, float]) -> str:
            return rng.choices(choices, [weights.get(c, 1) for c in choices])[0]

        stays: dict[str, list[RingLeg]] = {}
        for leg in legs:
            stays.setdefault(leg.question_id, []).append(leg)
        rows = []
        for qid, question_legs in stays.items():
            first, last = question_legs[0], question_legs[-1]
            asked = self.asked[qid]
            answered = last.outcome == "answered"
            offered = [leg.first_offered_at for leg in question_legs if leg.first_offered_at]
            rows.append(
                {
                    "question_id": qid,
                    "kind": "ring",
                    "ring_id": last.ring_id,
                    "asker_id": asked.asker_id,
                    "expert_id": last.answered_by,
                    "question": asked.text,
                    "urgency": first.urgency,
                    "client_ref": None,
                    "legal_basis": weighted(LEGAL_BASES, plan.legal_basis_weights[asked.kind])
                    if answered
                    else None,
                    "state": "closed" if answered else last.outcome,
                    "asked_at": first.asked_at,
                    "offered_at": min(offered, default=None),
                    "accepted_at": last.ended_at if answered else None,
                    "closed_at": self.consultation_end[qid] if answered else last.ended_at,
                    "missed_offers": sum(leg.missed_offers for leg in question_legs),
                    "outcome": weighted(OUTCOMES, plan.outcome_weights) if answered else None,
                    "topic": weighted(TOPICS, plan.topic_weights[asked.kind]) if answered else None,
                }
            )
        return rows
