"""When an open consultation reminds its expert, and when it closes itself.

An open consultation keeps its expert busy (docs/presence.md) and, in a ring with
`max_concurrent` 1, out of every ring's routing. One nobody closes would do so for ever,
so idleness ends it: `reminder` after the last activity the expert is reminded once,
`auto_close` after it the consultation closes with the outcome "not recorded". Activity
is accepting it, a message in its conversation, or the expert choosing "keep open". Pure
rules: the ring service feeds the times in and runs the deadline (docs/consultations.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from liaison.domain.vocabulary import RecordedOutcome

# The outcome of a consultation that closed itself; never chosen by a person.
NOT_RECORDED = RecordedOutcome.NOT_RECORDED.value


@dataclass(frozen=True, slots=True)
class OpenConsultation:
    id: int
    # The latest activity known: accepted, a message, "keep open".
    active_at: datetime
    # When the expert was last reminded (None: never).
    reminded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Due:
    remind: tuple[int, ...]
    close: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class IdleRule:
    """`reminder` and `auto_close` of zero switch that step off."""

    reminder: timedelta
    auto_close: timedelta

    def reminder_at(self, c: OpenConsultation) -> datetime | None:
        """When the reminder is due; None when off or already given for this quiet spell."""
        if not self.reminder or (c.reminded_at is not None and c.reminded_at >= c.active_at):
            return None
        at = c.active_at + self.reminder
        closes = self.closes_at(c)
        return None if closes is not None and closes <= at else at

    def closes_at(self, c: OpenConsultation) -> datetime | None:
        return c.active_at + self.auto_close if self.auto_close else None

    def next_deadline(self, open_consultations: Iterable[OpenConsultation]) -> datetime | None:
        times = [
            t
            for c in open_consultations
            for t in (self.reminder_at(c), self.closes_at(c))
            if t is not None
        ]
        return min(times, default=None)

    def due(self, open_consultations: Iterable[OpenConsultation], now: datetime) -> Due:
        """What to do now. Closing wins: a consultation due to close is not reminded."""
        remind: list[int] = []
        close: list[int] = []
        for c in open_consultations:
            closes = self.closes_at(c)
            if closes is not None and closes <= now:
                close.append(c.id)
                continue
            reminder = self.reminder_at(c)
            if reminder is not None and reminder <= now:
                remind.append(c.id)
        return Due(tuple(remind), tuple(close))
