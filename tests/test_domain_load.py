"""The load figures without a server: every figure of docs/load.md from legs made here, the
target boundary, nearest-rank p90, and local days and hours across both DST changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.domain.load import (
    MIN_GROUP,
    Figures,
    Leg,
    PersonFigures,
    busiest_hours,
    day_start,
    figures,
    history,
    hour_of_day,
    nearest_rank,
    person_figures,
    rows_may_be_shown,
)
from liaison.protocol import load as load_shapes
from tests.conftest import FUZZ_SCALE

HELSINKI = ZoneInfo("Europe/Helsinki")
TARGET = 60
# A winter Monday: Helsinki is UTC+2.
NOON = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
# 2026: summer time starts Sun 29 March 03:00 -> 04:00 and ends Sun 25 October 04:00 -> 03:00.
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)


def leg(
    outcome: str,
    wait: float | None = None,
    at: datetime = NOON,
    missed: int = 0,
    declined: int = 0,
    target: int = TARGET,
) -> Leg:
    return Leg(at, outcome, wait, missed, declined, target)


def local(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI, fold=fold)


# --- counts -----------------------------------------------------------------------------


def test_every_outcome_is_counted_and_offered_is_every_leg() -> None:
    legs = [
        leg("answered", 10, missed=1),
        leg("answered", 70, declined=1),
        leg("cancelled", 5, missed=2),
        leg("timed_out", 180, missed=3, declined=1),
        leg("overflowed", 40),
        leg("waiting", None, missed=1),
        leg("waiting", None),
    ]
    got = figures(legs)
    assert (got.offered, got.answered, got.cancelled, got.timed_out) == (7, 2, 1, 1)
    assert (got.overflowed, got.waiting) == (1, 2)
    assert (got.missed_offers, got.declined_offers) == (7, 2)
    assert got.answered_share == pytest.approx(2 / 7)


def test_no_legs_no_figures() -> None:
    assert figures([]) == Figures(
        offered=0,
        answered=0,
        cancelled=0,
        timed_out=0,
        overflowed=0,
        waiting=0,
        missed_offers=0,
        declined_offers=0,
        answered_within_target=0,
        service_level=None,
        answered_share=None,
        average_wait_seconds=None,
        p90_wait_seconds=None,
    )


def test_the_sent_figures_are_the_domains_field_for_field() -> None:
    """The load view's shapes (liaison/protocol/load.py) carry the domain's figures: one
    list of names, in the same order, so nothing is computed here and lost on the way."""
    assert load_shapes.LoadFigures.__struct_fields__ == tuple(
        f.name for f in dataclasses.fields(Figures)
    )
    assert load_shapes.Bucket.__struct_fields__ == (
        *load_shapes.LoadFigures.__struct_fields__,
        "start",
    )
    # A member's row adds who they are and whether routing has them now.
    assert {f.name for f in dataclasses.fields(PersonFigures)} <= set(
        load_shapes.PersonFigures.__struct_fields__
    )


# --- the target and the service level ------------------------------------------------------


def test_an_answer_exactly_at_the_target_is_within_it() -> None:
    at_target = figures([leg("answered", TARGET)])
    assert (at_target.answered_within_target, at_target.service_level) == (1, 1.0)
    just_late = figures([leg("answered", TARGET + 0.001)])
    assert (just_late.answered_within_target, just_late.service_level) == (0, 0.0)


def test_each_leg_has_the_target_its_ring_had_when_it_arrived() -> None:
    got = figures([leg("answered", 90, target=120), leg("answered", 90, target=60)])
    assert (got.answered_within_target, got.service_level) == (1, 0.5)


def test_an_asker_who_gives_up_within_the_target_does_not_count_against_the_ring() -> None:
    within = [leg("cancelled", 5), leg("cancelled", TARGET), leg("cancelled", None)]
    assert figures(within).service_level is None
    assert figures([*within, leg("answered", 30)]).service_level == 1.0
    # Waiting longer than the target and then giving up is the ring's miss.
    assert figures([leg("cancelled", TARGET + 0.5), leg("answered", 30)]).service_level == 0.5


def test_timed_out_and_overflowed_count_against_the_ring_whatever_the_wait() -> None:
    got = figures([leg("answered", 30), leg("timed_out", 20), leg("overflowed", 10)])
    assert (got.answered_within_target, got.service_level) == (1, pytest.approx(1 / 3))


def test_a_question_still_waiting_counts_only_once_it_ends() -> None:
    waiting = figures([leg("waiting"), leg("answered", 90)])
    assert (waiting.service_level, waiting.answered_share) == (0.0, 0.5)
    assert figures([leg("waiting")]).service_level is None


def test_service_level_is_within_target_over_eligible() -> None:
    legs = [
        *[leg("answered", w) for w in (10, 20, 60, 61, 200)],  # 3 within, 5 eligible
        leg("cancelled", 30),  # not eligible
        leg("cancelled", 90),  # eligible
        leg("timed_out", 180),  # eligible
        leg("overflowed", 45),  # eligible
        leg("waiting"),  # not eligible
    ]
    got = figures(legs)
    assert got.answered_within_target == 3
    assert got.service_level == pytest.approx(3 / 8)
    assert got.answered_share == pytest.approx(5 / 10)


# --- waits ------------------------------------------------------------------------------------


def test_waits_are_of_answered_legs_only() -> None:
    legs = [
        leg("answered", 30),
        leg("answered", 10),
        leg("cancelled", 500),
        leg("timed_out", 900),
        leg("overflowed", 700),
    ]
    got = figures(legs)
    assert got.average_wait_seconds == 20
    assert got.p90_wait_seconds == 30


def test_p90_is_the_nearest_rank() -> None:
    def p90(waits: list[float]) -> float | None:
        return figures([leg("answered", w) for w in waits]).p90_wait_seconds

    assert p90([7.5]) == 7.5
    assert p90([float(w) for w in range(10, 0, -1)]) == 9  # ceil(9.0) = 9th of 10
    assert p90([float(w) for w in range(1, 12)]) == 10  # ceil(9.9) = 10th of 11
    assert p90([float(w) for w in range(1, 21)]) == 18
    assert p90([1, 1, 1, 1, 1, 1, 1, 1, 1, 100]) == 1  # not interpolated towards 100
    assert p90([]) is None


def test_nearest_rank_has_no_floating_point_off_by_one() -> None:
    for n in range(1, 1001):
        values = list(range(1, n + 1))
        exact_rank = max(1, -(-9 * n // 10))  # ⌈0.9·n⌉ in integers
        assert nearest_rank(values, 0.9) == exact_rank, n
    assert nearest_rank([], 0.9) is None
    assert nearest_rank([3, 1, 2], 0.0) == 1
    assert nearest_rank([3, 1, 2], 1.0) == 3
    assert nearest_rank([4, 1, 3, 2], 0.5) == 2


def test_average_wait() -> None:
    got = figures([leg("answered", w) for w in (1.5, 2.5, 8.0)])
    assert got.average_wait_seconds == pytest.approx(4.0)


# --- days and hours in Helsinki ---------------------------------------------------------------


def test_day_start_is_local_midnight_on_both_sides_of_summer_time() -> None:
    assert day_start(date(2026, 1, 5), HELSINKI).isoformat() == "2026-01-05T00:00:00+02:00"
    assert day_start(SPRING, HELSINKI).isoformat() == "2026-03-29T00:00:00+02:00"
    assert day_start(date(2026, 3, 30), HELSINKI).isoformat() == "2026-03-30T00:00:00+03:00"
    assert day_start(AUTUMN, HELSINKI).isoformat() == "2026-10-25T00:00:00+03:00"


def test_a_leg_belongs_to_the_local_day_it_entered_not_the_utc_one() -> None:
    today = date(2026, 1, 7)
    legs = [
        leg("answered", 5, at=local(date(2026, 1, 5), 0, 0)),  # local midnight: that day
        leg("answered", 5, at=datetime(2026, 1, 5, 21, 59, 59, tzinfo=UTC)),  # 23:59:59 local
        leg("answered", 5, at=datetime(2026, 1, 5, 22, 0, tzinfo=UTC)),  # 00:00 on the 6th
        leg("answered", 5, at=datetime(2026, 1, 4, 21, 59, tzinfo=UTC)),  # the 4th: before
        leg("answered", 5, at=datetime(2026, 1, 7, 22, 0, tzinfo=UTC)),  # the 8th: after today
    ]
    buckets = history(legs, today, 3, "day", HELSINKI)
    assert [b.start.isoformat() for b in buckets] == [
        "2026-01-05T00:00:00+02:00",
        "2026-01-06T00:00:00+02:00",
        "2026-01-07T00:00:00+02:00",
    ]
    assert [b.figures.offered for b in buckets] == [2, 1, 0]


@pytest.mark.parametrize("days", [1, 7, 30])
def test_every_bucket_of_the_period_is_listed_empty_ones_too(days: int) -> None:
    today = date(2026, 1, 30)
    by_day = history([], today, days, "day", HELSINKI)
    assert [b.start.date() for b in by_day] == [
        today - timedelta(days=days - 1 - n) for n in range(days)
    ]
    assert all(b.figures == figures([]) for b in by_day)
    by_hour = history([], today, days, "hour", HELSINKI)
    assert len(by_hour) == 24 * days
    assert by_hour[0].start == day_start(today - timedelta(days=days - 1), HELSINKI)


def test_hour_buckets_split_at_the_local_hour() -> None:
    day = date(2026, 1, 5)
    legs = [
        leg("answered", 5, at=local(day, 9, 0)),
        leg("answered", 5, at=local(day, 9, 59) + timedelta(seconds=59.9)),
        leg("answered", 5, at=local(day, 10, 0)),
    ]
    buckets = history(legs, day, 1, "hour", HELSINKI)
    assert [b.start.hour for b in buckets] == list(range(24))
    offered = {b.start.hour: b.figures.offered for b in buckets if b.figures.offered}
    assert offered == {9: 2, 10: 1}


def test_the_spring_day_has_23_hours() -> None:
    legs = [
        leg("answered", 5, at=local(SPRING, 2, 30)),  # 00:30 UTC
        leg("answered", 5, at=datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # 04:00 summer time
    ]
    buckets = history(legs, SPRING, 1, "hour", HELSINKI)
    assert len(buckets) == 23
    assert [b.start.hour for b in buckets] == [0, 1, 2, *range(4, 24)]
    assert buckets[2].start.isoformat() == "2026-03-29T02:00:00+02:00"
    assert buckets[3].start.isoformat() == "2026-03-29T04:00:00+03:00"
    assert [b.figures.offered for b in buckets[2:4]] == [1, 1]
    assert sum(b.figures.offered for b in buckets) == 2
    # The day after starts at its own midnight, in summer time.
    next_day = history([], date(2026, 3, 30), 1, "hour", HELSINKI)
    assert next_day[0].start.isoformat() == "2026-03-30T00:00:00+03:00"


def test_the_autumn_day_has_25_hours_and_each_hour_keeps_its_own_questions() -> None:
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 03:30 summer time
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 03:30 again, winter time
    legs = [
        leg("answered", 5, at=first),
        leg("timed_out", 180, at=second),
        leg("timed_out", 180, at=second),
    ]
    buckets = history(legs, AUTUMN, 1, "hour", HELSINKI)
    assert len(buckets) == 25
    assert [b.start.hour for b in buckets] == [0, 1, 2, 3, 3, *range(4, 24)]
    assert buckets[3].start.isoformat() == "2026-10-25T03:00:00+03:00"
    assert buckets[4].start.isoformat() == "2026-10-25T03:00:00+02:00"
    assert (buckets[3].figures.offered, buckets[3].figures.answered) == (1, 1)
    assert (buckets[4].figures.offered, buckets[4].figures.timed_out) == (2, 2)
    assert sum(b.figures.offered for b in buckets) == 3


def test_days_across_both_changes_start_at_local_midnight_and_keep_their_legs() -> None:
    for change in (SPRING, AUTUMN):
        late = local(change, 23, 30)
        legs = [leg("answered", 5, at=late), leg("answered", 5, at=local(change, 0, 0))]
        buckets = history(legs, change + timedelta(days=1), 3, "day", HELSINKI)
        assert [b.start for b in buckets] == [
            day_start(change + timedelta(days=n), HELSINKI) for n in (-1, 0, 1)
        ]
        assert [b.figures.offered for b in buckets] == [0, 2, 0], change
        hours = history(legs, change, 1, "hour", HELSINKI)
        assert sum(b.figures.offered for b in hours) == 2


# --- hours of the day -----------------------------------------------------------------------


def test_hour_of_day_counts_by_local_hour() -> None:
    legs = [
        leg("answered", 5, at=datetime(2026, 1, 5, 21, 30, tzinfo=UTC)),  # 23:30 in winter
        leg("answered", 5, at=datetime(2026, 6, 5, 20, 30, tzinfo=UTC)),  # 23:30 in summer
        leg("waiting", at=datetime(2026, 1, 5, 22, 0, tzinfo=UTC)),  # 00:00
        leg("cancelled", 3, at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # 03:30 summer
        leg("cancelled", 3, at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),  # 03:30 winter
    ]
    counts = hour_of_day(legs, HELSINKI)
    assert len(counts) == 24
    assert {h: n for h, n in enumerate(counts) if n} == {0: 1, 3: 2, 23: 2}
    assert hour_of_day([], HELSINKI) == [0] * 24


def test_busiest_hours_are_the_top_three_most_first_earlier_on_ties() -> None:
    per_hour = [0] * 24
    per_hour[8], per_hour[9], per_hour[10], per_hour[13], per_hour[14] = 5, 9, 5, 9, 1
    assert busiest_hours(per_hour) == [(9, 9), (13, 9), (8, 5)]
    assert busiest_hours(per_hour, top=5) == [(9, 9), (13, 9), (8, 5), (10, 5), (14, 1)]


def test_busiest_hours_list_only_hours_with_questions() -> None:
    per_hour = [0] * 24
    per_hour[0] = 2
    assert busiest_hours(per_hour) == [(0, 2)]
    assert busiest_hours([0] * 24) == []


# --- per person ------------------------------------------------------------------------------


def test_per_person_figures_count_every_ended_offer() -> None:
    offers = [
        (12, "accepted"),
        (12, "missed"),
        (12, "declined"),
        (12, "withdrawn"),  # someone else answered: an offer, nothing more
        (3, "missed"),
        (3, "missed"),
    ]
    assert person_figures(offers) == [
        PersonFigures(person_id=3, offers=2, answered=0, missed=2, declined=0),
        PersonFigures(person_id=12, offers=4, answered=1, missed=1, declined=1),
    ]
    assert person_figures([]) == []


# --- no figure by subtraction ---------------------------------------------------------

FIGURES = ("offers", "answered", "missed", "declined")


@st.composite
def ring_and_viewer(draw: st.DrawFn) -> tuple[dict[int, tuple[int, ...]], set[int]]:
    """A ring's members with their own figures, and the rows one viewer would be shown."""
    size = draw(st.integers(MIN_GROUP, 9))
    members: dict[int, tuple[int, ...]] = {}
    for person in range(1, size + 1):
        offers = draw(st.integers(0, 6))
        answered = draw(st.integers(0, offers))
        missed = draw(st.integers(0, offers - answered))
        members[person] = (offers, answered, missed, offers - answered - missed)
    shown = draw(st.sets(st.sampled_from(sorted(members))))
    return members, shown


@settings(max_examples=300 * FUZZ_SCALE, deadline=None)
@given(ring_and_viewer())
def test_no_subtraction_of_the_rows_shown_from_the_totals_gives_one_persons_figures(
    case: tuple[dict[int, tuple[int, ...]], set[int]],
) -> None:
    """Every subtraction a viewer who sees the totals can make: totals minus the rows
    shown. Whenever the rows are shown, that difference is nobody's own row."""
    members, shown = case
    active = {p for p, row in members.items() if row[0] > 0}
    if not rows_may_be_shown(set(members), shown, active):
        return
    totals = [sum(row[i] for row in members.values()) for i in range(len(FIGURES))]
    difference = tuple(totals[i] - sum(members[p][i] for p in shown) for i in range(len(FIGURES)))
    hidden = set(members) - shown
    for person in hidden:
        assert difference != members[person], (members, shown, person)


def test_rows_are_shown_when_nothing_is_hidden_or_enough_active_people_are() -> None:
    everyone = {1, 2, 3, 4, 5, 6}
    assert rows_may_be_shown(everyone, everyone, set())
    assert not rows_may_be_shown(everyone, {1, 2, 3, 4, 5}, {6})  # one hidden, active
    assert not rows_may_be_shown(everyone, {1, 2, 3}, set())  # hidden, all zeros
    assert not rows_may_be_shown(everyone, {1, 2, 3}, {4, 5})
    assert rows_may_be_shown(everyone, {1, 2, 3}, {4, 5, 6})
