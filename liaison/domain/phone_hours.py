"""Weekly phone hours read against the clock: is it within them now, and when that changes.

Phone hours are `{"day": 0-6 (Monday 0), "start": "HH:MM", "end": "HH:MM"}` slots as
people enter them (liaison/domain/presence.py validates them). They are wall-clock times in
the users' time zone, so the functions take the local time, an aware datetime in that
zone. A person without phone hours has no limits: always within them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

# Slots repeat weekly: a change is never further away than a week and a day.
_DAYS_AHEAD = 8


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_phone_hours(hours: Iterable[dict[str, Any]], local: datetime) -> bool:
    slots = list(hours)
    if not slots:
        return True
    day, now = local.weekday(), local.time().replace(tzinfo=None)
    return any(
        slot["day"] == day and _clock(slot["start"]) <= now < _clock(slot["end"]) for slot in slots
    )


def next_phone_hours_change(hours: Iterable[dict[str, Any]], local: datetime) -> datetime | None:
    """The first slot start or end after `local` (aware, in its zone); None without slots."""
    slots = list(hours)
    if not slots or local.tzinfo is None:
        return None
    zone = local.tzinfo
    today = local.date()
    moments = []
    for ahead in range(_DAYS_AHEAD):
        date = today + timedelta(days=ahead)
        for slot in slots:
            if slot["day"] != date.weekday():
                continue
            for edge in (slot["start"], slot["end"]):
                moment = datetime.combine(date, _clock(edge), zone)
                if moment > local:
                    moments.append(moment)
    return min(moments, default=None)
