"""The login throttle policy on its own: time in, decision out (docs/accounts.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from liaison.domain.throttle import (
    FRESH,
    KeyState,
    ThrottlePolicy,
    after_failure,
    decide,
)

POLICY = ThrottlePolicy(free_failures=3, lock_after=10, lock_seconds=900)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_documented_figures() -> None:
    # docs/accounts.md: three free, then 1, 2, 4, ... 32 s, 60 s at most, the tenth locks.
    assert [POLICY.delay_after(n) for n in range(11)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    state, now = FRESH, 0.0
    for failure in range(1, 11):
        decision = decide(POLICY, state, at(now))
        assert decision.allowed, failure
        state = after_failure(POLICY, state, at(now))
        now += POLICY.delay_after(state.failures)
    assert state.locked_until is not None
    locked = decide(POLICY, state, state.locked_until - timedelta(seconds=1))
    assert not locked.allowed and locked.locked and locked.retry_at == state.locked_until
    # The lock runs out and the key starts afresh.
    assert decide(POLICY, state, state.locked_until).allowed
    assert after_failure(POLICY, state, state.locked_until).failures == 1


def test_an_early_attempt_is_told_when_to_come_back() -> None:
    state = KeyState(4, at(0), None)
    early = decide(POLICY, state, at(1.5))
    assert not early.allowed and not early.locked and early.retry_at == at(2)
    assert decide(POLICY, state, at(2)).allowed


def test_quiet_failures_are_forgotten() -> None:
    state = KeyState(9, at(0), None)
    assert after_failure(POLICY, state, at(899)).locked_until is not None
    assert after_failure(POLICY, state, at(900)) == KeyState(1, at(900), None)


def test_a_huge_count_does_not_overflow() -> None:
    assert ThrottlePolicy(0, 10**9, 60).delay_after(10**6) == 60
