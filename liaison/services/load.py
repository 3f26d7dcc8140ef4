"""The supervisors' load view: live and historical figures of rings, and who may see them.

Figures come from the ring legs and offers (liaison/services/ring_legs.py) and from the
router's live state; the arithmetic is in liaison/domain/load.py. Subscribed connections
get a ring's figures again whenever they change, coalesced. See docs/load.md.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from liaison.clock import Clock
from liaison.config import Settings
from liaison.domain import load as domain
from liaison.domain.errors import Refused
from liaison.protocol import server
from liaison.protocol.load import (
    Bucket,
    BucketSize,
    CallbackCounts,
    HistoryDays,
    HourCount,
    LiveCounts,
    LoadFigures,
    LoadHistory,
    LoadMine,
    LoadPeople,
    LoadSnapshot,
    OwnFigures,
    PersonDays,
    PersonFigures,
    RingLoad,
)
from liaison.services.callbacks import CallbackService
from liaison.services.hub import Hub, encode
from liaison.services.records import OPEN_CALLBACK_STATES
from liaison.services.rings import RingService
from liaison.services.scheduler import Scheduler
from liaison.store.models import CallbackRequest, Person, RingLeg, RingOffer

log = logging.getLogger(__name__)

TOPIC = "load"
PERSON_DAYS = (1, 7, 30)
CSV_COLUMNS = (
    "ring_id", "start", "offered", "answered", "cancelled", "timed_out", "overflowed",
    "waiting", "missed_offers", "declined_offers", "answered_within_target",
    "service_level", "answered_share", "average_wait_seconds", "p90_wait_seconds",
)  # fmt: skip


class LoadError(Refused):
    """Refused by the load view."""


class LoadService:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: async_sessionmaker[AsyncSession],
        hub: Hub,
        scheduler: Scheduler,
        rings: RingService,
        callbacks: CallbackService,
    ) -> None:
        self.clock = clock
        self.db = db
        self.hub = hub
        self.scheduler = scheduler
        self.rings = rings
        self.zone = ZoneInfo(settings.time_zone)
        # person id -> (is admin, subscribed connections on this node)
        self._watchers: dict[int, tuple[bool, int]] = {}
        # (ring id, suppressed) -> the figures last sent, to send only what changed
        self._sent: dict[tuple[str, bool], bytes] = {}
        # When the rings last changed unseen by watchers (None: nothing to send).
        self._changed_at: datetime | None = None
        # The next open callback to become overdue among the figures last sent.
        self._next_overdue: datetime | None = None
        self._day = self.today()
        rings.listeners.append(self._rings_changed)
        callbacks.listeners.append(self._rings_changed)
        scheduler.add("load view", self._next_deadline, self._on_time)

    # ------------------------------------------------------------ access

    def may_see(self, person_id: int, is_admin: bool, ring_id: str) -> bool:
        return is_admin or person_id in self.rings.supervisors_of(ring_id)

    def visible(self, person_id: int, is_admin: bool) -> list[str]:
        return [r for r in self.rings.ring_ids() if self.may_see(person_id, is_admin, r)]

    def suppressed(self, person_id: int, ring_id: str) -> bool:
        """A small ring's figures describe one or two people: only their supervisor sees them."""
        members = self.rings.members_of(ring_id)
        if len(members) >= domain.MIN_GROUP:
            return False
        return not all(person_id in self.rings.supervisors_of_person(m) for m in members)

    def _check(self, person_id: int, is_admin: bool, ring_id: str) -> None:
        if ring_id not in self.rings.ring_ids():
            raise LoadError("not_found", "no such ring")
        if not self.may_see(person_id, is_admin, ring_id):
            raise LoadError("not_allowed", "only supervisors of the ring's units and admins")

    # ------------------------------------------------------------ live and today

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    async def snapshot(self, person_id: int, is_admin: bool) -> LoadSnapshot:
        now = self.clock.now()
        ring_ids = self.visible(person_id, is_admin)
        loads = await self._ring_loads(ring_ids, now)
        return LoadSnapshot(
            generated_at=now.isoformat(),
            day=now.astimezone(self.zone).date().isoformat(),
            time_zone=self.zone.key,
            rings=[_shown(loads[r], self.suppressed(person_id, r)) for r in ring_ids],
        )

    async def _ring_loads(self, ring_ids: list[str], now: datetime) -> dict[str, RingLoad]:
        """Unsuppressed figures of these rings: two queries, however many rings."""
        if not ring_ids:
            return {}
        midnight = domain.day_start(now.astimezone(self.zone).date(), self.zone)
        legs: dict[str, list[domain.Leg]] = {r: [] for r in ring_ids}
        callbacks = {r: CallbackCounts(open=0, overdue=0) for r in ring_ids}
        # The legs and the router's live state must describe the same moment.
        async with self.rings.settled(), self.db() as db:
            for ring_id, leg in await _legs(db, ring_ids, midnight):
                legs[ring_id].append(leg)
            rows = await db.execute(
                select(CallbackRequest.owner_ring_id, CallbackRequest.due_at).where(
                    CallbackRequest.owner_ring_id.in_(ring_ids),
                    CallbackRequest.state.in_(OPEN_CALLBACK_STATES),
                )
            )
            for owner, due_at in rows:
                counts = callbacks[str(owner)]
                counts.open += 1
                counts.overdue += due_at <= now
                if due_at > now and (self._next_overdue is None or due_at < self._next_overdue):
                    self._next_overdue = due_at
            statuses = {r: self.rings.router.ring_status(r, now) for r in ring_ids}
        result = {}
        for ring_id in ring_ids:
            status = statuses[ring_id]
            result[ring_id] = RingLoad(
                ring_id=ring_id,
                name=status.name,
                kind=self.rings.ring_kind(ring_id),
                members=len(self.rings.members_of(ring_id)),
                target_answer_seconds=status.target_answer_seconds,
                suppressed=False,
                now=LiveCounts(
                    signed_in=len(status.members_signed_in),
                    free=len(status.members_free),
                    waiting=status.waiting + status.offered,
                    ringing=status.offered,
                    not_responding=len(status.members_not_responding),
                    longest_wait_seconds=status.oldest_wait_seconds,
                ),
                today=_figures(domain.figures(legs[ring_id])),
                callbacks=callbacks[ring_id],
            )
        return result

    # ------------------------------------------------------------ history

    def _period(self, days: int, by: str) -> tuple[HistoryDays, BucketSize]:
        """The query's `days` and `by` (not a body: checked here, once)."""
        if days not in domain.HISTORY_DAYS:
            raise LoadError("bad_field", "days must be 7 or 30")
        if by not in domain.BUCKET_SIZES:
            raise LoadError("bad_field", "by must be day or hour")
        return cast(HistoryDays, days), cast(BucketSize, by)

    async def history(
        self, person_id: int, is_admin: bool, ring_id: str, days: int, by: str
    ) -> LoadHistory:
        self._check(person_id, is_admin, ring_id)
        period, size = self._period(days, by)
        if self.suppressed(person_id, ring_id):
            raise LoadError("suppressed", "this ring has fewer than 3 members")
        today = self.today()
        start = domain.day_start(today - timedelta(days=period - 1), self.zone)
        async with self.db() as db:
            legs = [leg for _, leg in await _legs(db, [ring_id], start)]
        per_hour = domain.hour_of_day(legs, self.zone)
        buckets = domain.history(legs, today, period, size, self.zone)
        return LoadHistory(
            ring_id=ring_id,
            name=self.rings.ring_name(ring_id),
            days=period,
            by=size,
            time_zone=self.zone.key,
            target_answer_seconds=self.rings.router.ring_status(
                ring_id, self.clock.now()
            ).target_answer_seconds,
            buckets=[
                Bucket(start=b.start.isoformat(), **msgspec.structs.asdict(_figures(b.figures)))
                for b in buckets
            ],
            total=_figures(domain.figures(legs)),
            hour_of_day=[HourCount(hour=h, offered=n) for h, n in enumerate(per_hour)],
            busiest_hours=[HourCount(hour=h, offered=n) for h, n in domain.busiest_hours(per_hour)],
        )

    async def history_csv(
        self, person_id: int, is_admin: bool, ring_id: str, days: int, by: str
    ) -> str:
        data = await self.history(person_id, is_admin, ring_id, days, by)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for bucket in data.buckets:
            writer.writerow({"ring_id": ring_id, **msgspec.structs.asdict(bucket)})
        return buffer.getvalue()

    # ------------------------------------------------------------ per person

    def _since(self, days: int) -> tuple[PersonDays, datetime]:
        """The query's `days` (checked here, once), and the start of the first of them."""
        if days not in PERSON_DAYS:
            raise LoadError("bad_field", "days must be 1, 7 or 30")
        first = self.today() - timedelta(days=days - 1)
        return cast(PersonDays, days), domain.day_start(first, self.zone)

    async def people(self, person_id: int, is_admin: bool, ring_id: str, days: int) -> LoadPeople:
        """Members' own figures: to themselves and to their own unit's supervisors only,
        and never so that the ring's totals minus the rows shown give away someone else's
        (domain.rows_may_be_shown)."""
        if ring_id not in self.rings.ring_ids():
            raise LoadError("not_found", "no such ring")
        period, since = self._since(days)
        members = self.rings.members_of(ring_id)
        shown = {
            m for m in members if m == person_id or person_id in self.rings.supervisors_of_person(m)
        }
        suppressed = LoadPeople(ring_id=ring_id, days=period, suppressed=True, people=[])
        if len(members) < domain.MIN_GROUP:
            return suppressed
        everyone = (await self._person_rows([ring_id], members, since)).get(ring_id, [])
        active = {row.person_id for row in everyone if row.offers}
        sees_totals = self.may_see(person_id, is_admin, ring_id)
        if sees_totals and not domain.rows_may_be_shown(members, shown, active):
            return suppressed
        by_person = {row.person_id: row for row in everyone if row.person_id in shown}
        names = await self._names(shown)
        people = []
        # Members with offers by name, then those with none in the period: a row of zeros.
        for p in [
            *sorted(by_person, key=lambda p: names.get(p, "")),
            *sorted(shown - set(by_person), key=lambda p: names.get(p, "")),
        ]:
            row = by_person.get(p) or domain.PersonFigures(p, 0, 0, 0, 0)
            # Now, not over the period: out of routing after missing offers in a row.
            status = self.rings.router.member_status(p)
            people.append(
                PersonFigures(
                    person_id=p,
                    name=names.get(p, ""),
                    offers=row.offers,
                    answered=row.answered,
                    missed=row.missed,
                    declined=row.declined,
                    not_responding=bool(status and status.not_responding),
                )
            )
        return msgspec.structs.replace(suppressed, suppressed=False, people=people)

    async def mine(self, person_id: int, days: int) -> LoadMine:
        period, since = self._since(days)
        ring_ids = [r for r in self.rings.ring_ids() if person_id in self.rings.members_of(r)]
        rows = await self._person_rows(ring_ids, {person_id}, since)
        result = []
        for ring_id in ring_ids:
            own = (rows.get(ring_id) or [domain.PersonFigures(person_id, 0, 0, 0, 0)])[0]
            result.append(
                OwnFigures(
                    ring_id=ring_id,
                    name=self.rings.ring_name(ring_id),
                    offers=own.offers,
                    answered=own.answered,
                    missed=own.missed,
                    declined=own.declined,
                )
            )
        return LoadMine(days=period, rings=result)

    async def _person_rows(
        self, ring_ids: list[str], people: set[int], since: datetime
    ) -> dict[str, list[domain.PersonFigures]]:
        if not ring_ids or not people:
            return {}
        async with self.db() as db:
            rows = (
                await db.execute(
                    select(RingOffer.ring_id, RingOffer.person_id, RingOffer.outcome).where(
                        RingOffer.ring_id.in_(ring_ids),
                        RingOffer.person_id.in_(people),
                        RingOffer.ended_at >= since,
                    )
                )
            ).all()
        by_ring: dict[str, list[tuple[int, str]]] = {}
        for ring_id, person, outcome in rows:
            by_ring.setdefault(ring_id, []).append((person, outcome))
        return {r: domain.person_figures(offers) for r, offers in by_ring.items()}

    async def _names(self, people: Iterable[int]) -> dict[int, str]:
        ids = list(people)
        if not ids:
            return {}
        async with self.db() as db:
            rows = await db.execute(
                select(Person.id, Person.first_name, Person.last_name).where(Person.id.in_(ids))
            )
            return {pid: f"{first} {last}" for pid, first, last in rows}

    # ------------------------------------------------------------ live frames

    async def rights_changed(self) -> None:
        """Who supervises which ring changed: every watcher gets their view afresh (rings
        they may no longer see are gone from it, and no frame about them follows)."""
        self._sent.clear()
        for person_id, (is_admin, _) in list(self._watchers.items()):
            snapshot = await self.snapshot(person_id, is_admin)
            self.hub.deliver_local([person_id], encode(server.Load.of(snapshot)), topic=TOPIC)

    def subscribe(self, person_id: int, is_admin: bool) -> None:
        _, count = self._watchers.get(person_id, (is_admin, 0))
        self._watchers[person_id] = (is_admin, count + 1)

    def unsubscribe(self, person_id: int) -> None:
        is_admin, count = self._watchers.get(person_id, (False, 0))
        if count <= 1:
            self._watchers.pop(person_id, None)
        else:
            self._watchers[person_id] = (is_admin, count - 1)

    def _rings_changed(self) -> None:
        if self._watchers and self._changed_at is None:
            self._changed_at = self.clock.now()
            self.scheduler.wake()

    def _next_deadline(self) -> datetime | None:
        """Figures change by themselves only when a callback turns overdue or a day ends;
        every other change comes from the rings. A burst of ring changes that arrives while
        figures are being sent goes out together in the next round."""
        if not self._watchers:
            return None
        midnight = datetime.combine(self._day + timedelta(days=1), time(), self.zone)
        candidates = [self._changed_at, self._next_overdue, midnight]
        return min(t for t in candidates if t is not None)

    async def _on_time(self, now: datetime) -> None:
        self._changed_at = None
        today = now.astimezone(self.zone).date()
        if today != self._day:
            self._day = today
            self._sent.clear()
        if not self._watchers:
            self._sent.clear()
            return
        await self._publish()

    async def _publish(self) -> None:
        """Sends every watched ring whose figures changed since they were last sent."""
        now = self.clock.now()
        audiences: dict[tuple[str, bool], list[int]] = {}
        for person_id, (is_admin, _) in self._watchers.items():
            for ring_id in self.visible(person_id, is_admin):
                key = (ring_id, self.suppressed(person_id, ring_id))
                audiences.setdefault(key, []).append(person_id)
        self._next_overdue = None
        loads = await self._ring_loads(sorted({r for r, _ in audiences}), now)
        for (ring_id, hidden), people in audiences.items():
            ring = _shown(loads[ring_id], hidden)
            fingerprint = _fingerprint(ring)
            if self._sent.get((ring_id, hidden)) == fingerprint:
                continue
            self._sent[(ring_id, hidden)] = fingerprint
            frame = server.LoadRing(generated_at=now.isoformat(), ring=ring)
            # Each node tells the watchers connected to it (it holds the same state as
            # the others): a watcher with tabs on two nodes gets each frame once per tab.
            self.hub.deliver_local(people, encode(frame), topic=TOPIC)


def _figures(figures: domain.Figures) -> LoadFigures:
    # Built, not converted: the server does not check its own figures against the schema.
    return LoadFigures(**dataclasses.asdict(figures))


def _shown(ring: RingLoad, suppressed: bool) -> RingLoad:
    return msgspec.structs.replace(ring, suppressed=True, today=None) if suppressed else ring


def _fingerprint(ring: RingLoad) -> bytes:
    """The figures without the longest wait, which grows by itself (clients count it up).

    Any change to the queue also changes a count (a question arriving is offered, one
    leaving is answered, cancelled, timed out or overflowed), so nothing is missed."""
    now = msgspec.structs.replace(ring.now, longest_wait_seconds=None)
    return msgspec.json.encode(msgspec.structs.replace(ring, now=now))


async def _legs(
    db: AsyncSession, ring_ids: list[str], since: datetime
) -> list[tuple[str, domain.Leg]]:
    query = select(
        RingLeg.ring_id,
        RingLeg.entered_at,
        RingLeg.outcome,
        RingLeg.wait_seconds,
        RingLeg.missed_offers,
        RingLeg.declined_offers,
        RingLeg.target_answer_seconds,
    ).where(RingLeg.ring_id.in_(ring_ids), RingLeg.entered_at >= since)
    return [
        (ring_id, domain.Leg(entered, outcome, wait, missed, declined, target))
        for ring_id, entered, outcome, wait, missed, declined, target in await db.execute(query)
    ]
