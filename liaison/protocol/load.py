"""The shapes of the supervisors' load view (docs/load.md), as the `load` and `load_ring`
frames and the `/api/load` endpoints carry them. The arithmetic is in
liaison/domain/load.py; liaison/services/load.py builds these from its results. The
OpenAPI components and docs/protocol.md's tables are generated from them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from liaison.protocol.common import Count, Time
from liaison.protocol.rings import Shape

Share = Annotated[float, Meta(ge=0, le=1)]
Seconds = Annotated[float, Meta(ge=0)]
HistoryDays = Literal[7, 30]
PersonDays = Literal[1, 7, 30]
BucketSize = Literal["day", "hour"]


class LoadFigures(Shape):
    """Figures of a set of ring legs; every definition is in docs/load.md."""

    offered: Annotated[Count, Meta(description="questions that entered the ring (legs)")]
    answered: Count
    cancelled: Count
    timed_out: Count
    overflowed: Count
    waiting: Annotated[Count, Meta(description="still open")]
    missed_offers: Annotated[Count, Meta(description="offers that rang out unanswered")]
    declined_offers: Count
    answered_within_target: Count
    service_level: Annotated[
        Share | None,
        Meta(
            description="answered_within_target / (answered + timed_out + overflowed + "
            "cancelled after the target); null when none"
        ),
    ]
    answered_share: Annotated[Share | None, Meta(description="answered / offered")]
    average_wait_seconds: Annotated[
        Seconds | None, Meta(description="mean wait of answered questions")
    ]
    p90_wait_seconds: Annotated[
        Seconds | None, Meta(description="nearest-rank 90th percentile of those waits")
    ]


class Bucket(LoadFigures):
    """One hour or day of a ring's history: its figures and when it starts."""

    start: Annotated[Time, Meta(description="local start of the hour or day")]


class LiveCounts(Shape):
    """A ring's queue and members at `generated_at`."""

    signed_in: Count
    free: Count
    waiting: Annotated[Count, Meta(description="open questions, ringing or not")]
    ringing: Annotated[Count, Meta(description="open questions with a live offer")]
    not_responding: Annotated[
        Count, Meta(description="signed-in members out of routing after missing offers in a row")
    ]
    longest_wait_seconds: Annotated[
        Seconds | None, Meta(description="the oldest open question's wait at generated_at")
    ]


class CallbackCounts(Shape):
    open: Annotated[Count, Meta(description="open or claimed requests of the ring")]
    overdue: Annotated[Count, Meta(description="of those, past due")]


class RingLoad(Shape):
    """One ring's live and today's figures: counts and times only, never question text,
    message text, askers or client references."""

    ring_id: str
    name: str
    kind: Annotated[str, Meta(description="benefit, liaison or named")]
    members: Annotated[Count, Meta(description="configured members")]
    target_answer_seconds: Count
    suppressed: Annotated[
        bool,
        Meta(
            description="true: fewer than 3 members and the viewer does not supervise them "
            "all; `today` is null"
        ),
    ]
    now: LiveCounts
    today: LoadFigures | None
    callbacks: CallbackCounts


class LoadSnapshot(Shape):
    """Every ring the viewer may see (`load`, `GET /api/load`)."""

    generated_at: Time
    day: Annotated[
        str,
        Meta(description="today in the service's time zone", extra_json_schema={"format": "date"}),
    ]
    time_zone: str
    rings: Annotated[list[RingLoad], Meta(description="the rings the viewer may see")]


class HourCount(Shape):
    hour: Annotated[int, Meta(ge=0, le=23)]
    offered: Count


class LoadHistory(Shape):
    """A ring's figures per hour or day over the last 7 or 30 days."""

    ring_id: str
    name: str
    days: HistoryDays
    by: BucketSize
    time_zone: str
    target_answer_seconds: Count
    buckets: Annotated[
        list[Bucket], Meta(description="every bucket of the period, oldest first, empty ones too")
    ]
    total: LoadFigures
    hour_of_day: Annotated[
        list[HourCount], Meta(description="questions per local hour of the day, 0 to 23")
    ]
    busiest_hours: Annotated[
        list[HourCount], Meta(description="at most three, most questions first")
    ]


class OfferCounts(Shape):
    """How one person's ended offers in a ring went."""

    offers: Annotated[Count, Meta(description="ended offers")]
    answered: Count
    missed: Count
    declined: Count


class PersonFigures(OfferCounts):
    """One member's own figures in a ring."""

    person_id: int
    name: str
    not_responding: Annotated[bool, Meta(description="now: out of routing after missed offers")]


class LoadPeople(Shape):
    """Members' own figures: the viewer's, and their own unit's members' (docs/load.md)."""

    ring_id: str
    days: PersonDays
    suppressed: Annotated[
        bool,
        Meta(
            description="true (and `people` empty): fewer than 3 members, or rows "
            "that would give away someone else's figures"
        ),
    ]
    people: list[PersonFigures]


class OwnFigures(OfferCounts):
    """The viewer's own figures in one ring."""

    ring_id: str
    name: str


class LoadMine(Shape):
    days: PersonDays
    rings: Annotated[list[OwnFigures], Meta(description="one row per ring the viewer is in")]
