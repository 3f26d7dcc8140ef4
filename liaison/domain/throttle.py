"""Login throttling as a pure policy: the state of one key (a username or an address) and
the time in, a decision out. The store keeps the state; docs/accounts.md gives the figures.

A key may fail `free_failures` times with no wait. After that each further failure makes
the next attempt wait, twice as long each time (`first_delay_seconds`, doubling, at most
`max_delay_seconds`); attempts within the wait are refused without a password check. The
`lock_after`-th failure locks the key for `lock_seconds`. Failures are forgotten once the
key has been quiet for `lock_seconds`, and once a lock has run out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int
    lock_after: int
    lock_seconds: int
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def delay_after(self, failures: int) -> float:
        """Seconds the next attempt waits after this many failures in a row."""
        if failures < self.free_failures:
            return 0.0
        # Capped exponent: a large count must not overflow the float.
        exponent = min(failures - self.free_failures, 32)
        return float(min(self.max_delay_seconds, self.first_delay_seconds * 2**exponent))


@dataclass(frozen=True)
class KeyState:
    """What is remembered of one key; the zero state for a key never seen."""

    failures: int = 0
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


FRESH = KeyState()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # When refused: the earliest time another attempt is allowed.
    retry_at: datetime | None = None
    locked: bool = False


def current(policy: ThrottlePolicy, state: KeyState, now: datetime) -> KeyState:
    """The state as it stands at `now`: an expired lock, or failures long quiet, forgotten."""
    if state.locked_until is not None:
        return state if now < state.locked_until else FRESH
    if state.last_failure_at is None:
        return FRESH
    if now - state.last_failure_at >= timedelta(seconds=policy.lock_seconds):
        return FRESH
    return state


def decide(policy: ThrottlePolicy, state: KeyState, now: datetime) -> Decision:
    state = current(policy, state, now)
    if state.locked_until is not None:
        return Decision(False, state.locked_until, locked=True)
    if state.last_failure_at is None:
        return Decision(True)
    retry_at = state.last_failure_at + timedelta(seconds=policy.delay_after(state.failures))
    if now < retry_at:
        return Decision(False, retry_at)
    return Decision(True)


def after_failure(policy: ThrottlePolicy, state: KeyState, now: datetime) -> KeyState:
    """The state after one more failure at `now` (the lock starts on the lock_after-th)."""
    state = current(policy, state, now)
    failures = state.failures + 1
    locked_until = None
    if failures >= policy.lock_after:
        locked_until = now + timedelta(seconds=policy.lock_seconds)
    return KeyState(failures, now, locked_until)
