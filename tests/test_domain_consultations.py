"""Pure tests of the idle rule of open consultations and of phone hours against the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from liaison.domain.consultations import Due, IdleRule, OpenConsultation
from liaison.domain.phone_hours import in_phone_hours, next_phone_hours_change

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULE = IdleRule(reminder=timedelta(minutes=20), auto_close=timedelta(minutes=90))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_reminder_then_close_from_the_last_activity() -> None:
    quiet = OpenConsultation(1, active_at=T0)
    assert RULE.next_deadline([quiet]) == at(20)
    assert RULE.due([quiet], at(19.99)) == Due((), ())
    assert RULE.due([quiet], at(20)) == Due((1,), ())
    reminded = OpenConsultation(1, active_at=T0, reminded_at=at(20))
    # Reminded once per quiet spell: next comes the close.
    assert RULE.reminder_at(reminded) is None
    assert RULE.next_deadline([reminded]) == at(90)
    assert RULE.due([reminded], at(89)) == Due((), ())
    assert RULE.due([reminded], at(90)) == Due((), (1,))


def test_activity_after_a_reminder_starts_a_new_quiet_spell() -> None:
    talked = OpenConsultation(1, active_at=at(30), reminded_at=at(20))
    assert RULE.reminder_at(talked) == at(50)
    assert RULE.closes_at(talked) == at(120)


def test_closing_wins_over_a_late_reminder() -> None:
    # A server that was down for two hours closes, it does not first remind.
    quiet = OpenConsultation(7, active_at=T0)
    assert RULE.due([quiet], at(200)) == Due((), (7,))


def test_the_earliest_of_many_and_switched_off_steps() -> None:
    consultations = [OpenConsultation(1, at(10)), OpenConsultation(2, at(0), reminded_at=at(25))]
    assert RULE.next_deadline(consultations) == at(30)
    assert RULE.next_deadline([]) is None
    no_reminder = IdleRule(timedelta(0), timedelta(minutes=90))
    assert no_reminder.reminder_at(OpenConsultation(1, T0)) is None
    assert no_reminder.next_deadline([OpenConsultation(1, T0)]) == at(90)
    never = IdleRule(timedelta(0), timedelta(0))
    assert never.next_deadline([OpenConsultation(1, T0)]) is None
    assert never.due([OpenConsultation(1, T0)], at(10_000)) == Due((), ())
    # A reminder at or after the close is no reminder.
    late = IdleRule(timedelta(minutes=90), timedelta(minutes=60))
    assert late.reminder_at(OpenConsultation(1, T0)) is None


HELSINKI = ZoneInfo("Europe/Helsinki")
HOURS = [{"day": 0, "start": "09:00", "end": "11:00"}, {"day": 2, "start": "13:00", "end": "15:30"}]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    # 2026-03-02 is a Monday.
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=HELSINKI)


def test_within_phone_hours_start_inclusive_end_exclusive() -> None:
    assert not in_phone_hours(HOURS, local(0, 8, 59))
    assert in_phone_hours(HOURS, local(0, 9))
    assert in_phone_hours(HOURS, local(0, 10, 59))
    assert not in_phone_hours(HOURS, local(0, 11))
    assert not in_phone_hours(HOURS, local(1, 10))  # Tuesday: no slot
    assert in_phone_hours(HOURS, local(2, 15, 29))
    # Without phone hours there are no limits.
    assert in_phone_hours([], local(6, 3))


def test_the_next_change_is_the_next_edge_even_a_week_ahead() -> None:
    assert next_phone_hours_change(HOURS, local(0, 8)) == local(0, 9)
    assert next_phone_hours_change(HOURS, local(0, 9)) == local(0, 11)
    assert next_phone_hours_change(HOURS, local(0, 12)) == local(2, 13)
    assert next_phone_hours_change(HOURS, local(2, 16)) == local(7, 9)  # next Monday
    assert next_phone_hours_change([], local(0, 8)) is None


def test_the_change_is_wall_clock_time_across_daylight_saving() -> None:
    # Sunday 29 March 2026 clocks go forward in Helsinki: Monday 9:00 is then UTC+3.
    monday = [{"day": 0, "start": "09:00", "end": "10:00"}]
    before = datetime(2026, 3, 28, 12, 0, tzinfo=HELSINKI)
    change = next_phone_hours_change(monday, before)
    assert change is not None
    assert change.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
