"""Load figures of rings from their legs: pure arithmetic, no I/O. See docs/load.md.

A leg is one question's stay in one ring. Everything here takes legs (or ended offers)
and returns plain numbers, so the same code serves the live view, the history, the CSV
and the tests that check them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from liaison.domain.vocabulary import LegOutcome, values

__all__ = [
    "BUCKET_SIZES",
    "HISTORY_DAYS",
    "MIN_GROUP",
    "OUTCOMES",
    "Bucket",
    "Figures",
    "Leg",
    "PersonFigures",
    "busiest_hours",
    "day_start",
    "figures",
    "history",
    "hour_of_day",
    "nearest_rank",
    "person_figures",
    "rows_may_be_shown",
]

OUTCOMES = values(LegOutcome)
HISTORY_DAYS = (7, 30)
BUCKET_SIZES = ("day", "hour")
# A group smaller than this shows no per-person figures: they would identify someone.
MIN_GROUP = 3

BucketSize = Literal["day", "hour"]


@dataclass(frozen=True, slots=True)
class Leg:
    entered_at: datetime
    outcome: str
    wait_seconds: float | None
    missed_offers: int
    declined_offers: int
    target_answer_seconds: int


@dataclass(frozen=True, slots=True)
class Figures:
    offered: int
    answered: int
    cancelled: int
    timed_out: int
    overflowed: int
    waiting: int
    missed_offers: int
    declined_offers: int
    answered_within_target: int
    service_level: float | None
    answered_share: float | None
    average_wait_seconds: float | None
    p90_wait_seconds: float | None


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    figures: Figures


@dataclass(frozen=True, slots=True)
class PersonFigures:
    person_id: int
    offers: int
    answered: int
    missed: int
    declined: int


def nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The ⌈share·n⌉-th smallest value (nearest-rank percentile); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def figures(legs: Iterable[Leg]) -> Figures:
    counts = dict.fromkeys(OUTCOMES, 0)
    missed = declined = within = eligible = 0
    waits: list[float] = []
    for leg in legs:
        counts[leg.outcome] = counts.get(leg.outcome, 0) + 1
        missed += leg.missed_offers
        declined += leg.declined_offers
        wait = leg.wait_seconds
        if leg.outcome == "answered" and wait is not None:
            waits.append(wait)
            eligible += 1
            within += wait <= leg.target_answer_seconds
        elif leg.outcome in ("timed_out", "overflowed"):
            eligible += 1
        elif leg.outcome == "cancelled" and (wait or 0.0) > leg.target_answer_seconds:
            # Giving up within the target is the asker's choice, not the ring's miss.
            eligible += 1
    offered = sum(counts.values())
    return Figures(
        offered=offered,
        answered=counts["answered"],
        cancelled=counts["cancelled"],
        timed_out=counts["timed_out"],
        overflowed=counts["overflowed"],
        waiting=counts["waiting"],
        missed_offers=missed,
        declined_offers=declined,
        answered_within_target=within,
        service_level=within / eligible if eligible else None,
        answered_share=counts["answered"] / offered if offered else None,
        average_wait_seconds=sum(waits) / len(waits) if waits else None,
        p90_wait_seconds=nearest_rank(waits, 0.9),
    )


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of a day, as an aware datetime (right across DST changes)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def history(
    legs: Iterable[Leg], today: date, days: int, by: BucketSize, zone: ZoneInfo
) -> list[Bucket]:
    """Every bucket of the period (today and the `days - 1` days before), empty ones too."""
    first = today - timedelta(days=days - 1)
    starts: list[datetime] = []
    for n in range(days):
        midnight = day_start(first + timedelta(days=n), zone)
        if by == "day":
            starts.append(midnight)
            continue
        following = day_start(first + timedelta(days=n + 1), zone)
        # Hours of real (UTC) time, so a DST day has 23 or 25 of them.
        hour = midnight.astimezone(UTC)
        while hour < following:
            starts.append(hour.astimezone(zone))
            hour += timedelta(hours=1)
    # Keyed by the UTC instant: the two 03:00 starts of the 25-hour day are one wall time,
    # and aware datetimes in the same zone compare (and hash) by wall time, ignoring fold.
    grouped: dict[datetime, list[Leg]] = {s.astimezone(UTC): [] for s in starts}
    for leg in legs:
        local = leg.entered_at.astimezone(zone)
        key = day_start(local.date(), zone) if by == "day" else _hour_start(local)
        bucket = grouped.get(key.astimezone(UTC))
        if bucket is not None:
            bucket.append(leg)
    return [Bucket(start, figures(grouped[start.astimezone(UTC)])) for start in starts]


def _hour_start(local: datetime) -> datetime:
    utc = local.astimezone(UTC)
    return utc.replace(minute=0, second=0, microsecond=0).astimezone(local.tzinfo)


def hour_of_day(legs: Iterable[Leg], zone: ZoneInfo) -> list[int]:
    """Questions per local hour of the day (0-23) over all the legs."""
    counts = [0] * 24
    for leg in legs:
        counts[leg.entered_at.astimezone(zone).hour] += 1
    return counts


def busiest_hours(per_hour: Sequence[int], top: int = 3) -> list[tuple[int, int]]:
    """The `top` hours with most questions (at least one), most first, earlier on ties."""
    ranked = sorted(((h, n) for h, n in enumerate(per_hour) if n), key=lambda x: (-x[1], x[0]))
    return ranked[:top]


def rows_may_be_shown(members: set[int], shown: set[int], active: set[int]) -> bool:
    """Whether someone who sees a ring's totals may also see these members' own rows.

    The totals minus the rows shown are the sum of the rows hidden. That sum describes
    nobody in particular only when nothing is hidden, or when at least MIN_GROUP hidden
    members were active (had offers) in the period: one active hidden member would be
    shown by subtraction, and hidden members who were all inactive would be shown as
    zeros."""
    hidden = members - shown
    return not hidden or len(hidden & active) >= MIN_GROUP


def person_figures(offers: Iterable[tuple[int, str]]) -> list[PersonFigures]:
    """Per person from ended offers as (person_id, outcome) pairs, by person id."""
    tally: dict[int, list[int]] = {}
    for person_id, outcome in offers:
        row = tally.setdefault(person_id, [0, 0, 0, 0])
        row[0] += 1
        if outcome == "accepted":
            row[1] += 1
        elif outcome == "missed":
            row[2] += 1
        elif outcome == "declined":
            row[3] += 1
    return [PersonFigures(p, *tally[p]) for p in sorted(tally)]
