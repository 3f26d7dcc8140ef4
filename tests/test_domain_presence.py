"""The presence rules without a server: the tracker of client reports, the status
precedence and the view, as docs/presence.md states them. Times are passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from liaison.domain.presence import (
    AVAILABLE,
    AWAY,
    BUSY,
    DND,
    OFFLINE,
    ClientReport,
    PresenceSettings,
    PresenceTracker,
    effective_status,
    presence_view,
    validate_phone_hours,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GRACE = 5.0
TIMEOUT = 30.0
TINY = 0.001
PERSON, OTHER, THIRD = 15, 16, 17


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def tracker() -> PresenceTracker:
    """The documented defaults: offline grace 5 s, heartbeat timeout 30 s."""
    return PresenceTracker(timedelta(seconds=GRACE), timedelta(seconds=TIMEOUT))


# --- which reports count --------------------------------------------------------------


def test_a_client_counts_until_its_heartbeat_timeout_and_not_at_it() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    assert t.is_online(PERSON, at(TIMEOUT - TINY))
    assert t.expire(at(TIMEOUT - TINY)).people == set()
    assert t.people() == [PERSON]
    assert not t.is_online(PERSON, at(TIMEOUT))
    assert t.expire(at(TIMEOUT)).people == {PERSON}
    assert t.people() == []


def test_every_heartbeat_restarts_the_timeout() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    t.heard(PERSON, "tab", True, at(20))
    assert t.is_online(PERSON, at(20 + TIMEOUT - TINY))
    assert t.expire(at(TIMEOUT + 10)).people == set()
    assert not t.is_online(PERSON, at(20 + TIMEOUT))


def test_a_closed_client_counts_during_the_grace_period_only() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    t.gone(PERSON, "tab", at(10))
    assert t.is_online(PERSON, at(10 + GRACE - TINY))
    assert t.expire(at(10 + GRACE - TINY)).people == set()
    assert not t.is_online(PERSON, at(10 + GRACE))
    assert t.expire(at(10 + GRACE)).people == {PERSON}
    assert t.people() == []


def test_a_closed_client_also_needs_a_recent_report() -> None:
    """Grace does not stretch the heartbeat timeout: a report 30 s old stops counting."""
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    t.gone(PERSON, "tab", at(TIMEOUT - 1))
    assert t.is_online(PERSON, at(TIMEOUT - TINY))
    assert not t.is_online(PERSON, at(TIMEOUT))
    assert t.expire(at(TIMEOUT)).people == {PERSON}


def test_a_reload_never_goes_offline() -> None:
    t = tracker()
    t.heard(PERSON, "old", True, T0)
    t.gone(PERSON, "old", at(1))
    t.heard(PERSON, "new", True, at(2))
    for second in (1, 2, 1 + GRACE, 20):
        assert t.is_online(PERSON, at(second)), second
    # The old socket's report goes; the person's status may have changed, and is still online.
    assert t.expire(at(1 + GRACE)).people == {PERSON}
    assert t.is_online(PERSON, at(1 + GRACE))
    assert t.expire(at(20)).people == set()


def test_a_client_heard_again_after_closing_counts_again() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    t.gone(PERSON, "tab", at(1))
    t.heard(PERSON, "tab", True, at(2))
    assert t.is_online(PERSON, at(2 + GRACE + 1))


def test_gone_for_a_client_or_person_never_heard_changes_nothing() -> None:
    t = tracker()
    t.gone(PERSON, "tab", T0)
    assert t.people() == [] and t.last_heard(PERSON) is None
    t.heard(PERSON, "tab", True, T0)
    t.gone(PERSON, "other-tab", at(1))
    assert t.is_online(PERSON, at(1 + GRACE))
    assert t.last_heard(PERSON) == T0


def test_expire_reports_exactly_the_people_who_lost_a_client() -> None:
    t = tracker()
    t.heard(PERSON, "only", True, T0)  # dies
    t.heard(OTHER, "a", True, at(25))  # lives
    t.heard(THIRD, "a", True, T0)  # dies
    t.heard(THIRD, "b", False, at(25))  # lives
    assert t.expire(at(TIMEOUT)).people == {PERSON, THIRD}
    assert sorted(t.people()) == [OTHER, THIRD]
    assert t.is_online(THIRD, at(TIMEOUT)) and t.is_idle(THIRD, at(TIMEOUT))
    assert t.expire(at(TIMEOUT)).people == set()


def test_people_are_independent() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    assert not t.is_online(OTHER, T0)
    assert not t.is_idle(OTHER, T0)


# --- idle across tabs -------------------------------------------------------------------


def test_idle_only_when_every_live_client_is_idle() -> None:
    t = tracker()
    t.heard(PERSON, "work", True, T0)
    t.heard(PERSON, "home", False, T0)
    assert not t.is_idle(PERSON, at(1))  # an idle tab at home does not hide the active one
    t.heard(PERSON, "work", False, at(2))
    assert t.is_idle(PERSON, at(3))
    t.heard(PERSON, "work", True, at(4))
    assert not t.is_idle(PERSON, at(5))


def test_an_active_client_that_stopped_counting_no_longer_keeps_anyone_active() -> None:
    t = tracker()
    t.heard(PERSON, "work", True, T0)
    t.heard(PERSON, "home", False, at(20))
    assert not t.is_idle(PERSON, at(TIMEOUT - TINY))
    assert t.is_idle(PERSON, at(TIMEOUT))  # only home is live, and it is idle


def test_a_closing_active_tab_keeps_the_person_active_during_the_grace() -> None:
    t = tracker()
    t.heard(PERSON, "work", True, T0)
    t.heard(PERSON, "home", False, T0)
    t.gone(PERSON, "work", at(1))
    assert not t.is_idle(PERSON, at(1 + GRACE - TINY))
    assert t.is_idle(PERSON, at(1 + GRACE))


def test_nobody_connected_is_offline_not_idle() -> None:
    t = tracker()
    assert not t.is_idle(PERSON, T0)
    t.heard(PERSON, "tab", False, T0)
    assert t.is_idle(PERSON, at(1))
    assert not t.is_idle(PERSON, at(TIMEOUT))


# --- last heard ---------------------------------------------------------------------------


def test_last_heard_is_the_latest_report_or_close_still_tracked() -> None:
    t = tracker()
    assert t.last_heard(PERSON) is None
    t.heard(PERSON, "a", True, T0)
    t.heard(PERSON, "b", True, at(3))
    assert t.last_heard(PERSON) == at(3)
    t.gone(PERSON, "a", at(7))  # a close is the latest thing heard of the person
    assert t.last_heard(PERSON) == at(7)
    t.heard(PERSON, "b", True, at(9))
    assert t.last_heard(PERSON) == at(9)
    # Once every report is forgotten, the tracker knows nothing (the store keeps last_seen_at).
    t.gone(PERSON, "b", at(10))
    t.expire(at(10 + GRACE))
    assert t.last_heard(PERSON) is None


# --- effective status: the precedence of the states ----------------------------------------

NOW = at(100)
SOON, PAST = at(160), at(40)


def settings(**fields: Any) -> PresenceSettings:
    return PresenceSettings(**fields)


PRECEDENCE = [
    # (settings, online, idle, expected)
    pytest.param(settings(), False, False, OFFLINE, id="nobody connected"),
    pytest.param(settings(manual_status=DND), False, False, OFFLINE, id="offline beats dnd"),
    pytest.param(settings(busy=True), False, False, OFFLINE, id="offline beats busy"),
    pytest.param(settings(manual_status=AWAY), False, True, OFFLINE, id="offline beats away"),
    pytest.param(settings(manual_status=DND), True, False, DND, id="dnd without end"),
    pytest.param(
        settings(manual_status=DND, dnd_until=SOON), True, False, DND, id="dnd ends later"
    ),
    pytest.param(
        settings(manual_status=DND, dnd_until=NOW), True, False, AVAILABLE, id="dnd ends now"
    ),
    pytest.param(
        settings(manual_status=DND, dnd_until=PAST), True, False, AVAILABLE, id="dnd ended"
    ),
    pytest.param(
        settings(manual_status=DND, busy=True), True, True, DND, id="dnd beats busy, idle"
    ),
    pytest.param(
        settings(manual_status=DND, dnd_until=PAST, busy=True),
        True,
        False,
        BUSY,
        id="ended dnd: busy",
    ),
    pytest.param(
        settings(manual_status=DND, dnd_until=PAST), True, True, AWAY, id="ended dnd: idle"
    ),
    pytest.param(settings(busy=True), True, False, BUSY, id="busy"),
    pytest.param(settings(busy=True), True, True, BUSY, id="busy beats idle"),
    pytest.param(settings(manual_status=AWAY, busy=True), True, False, BUSY, id="busy beats away"),
    pytest.param(settings(manual_status=AWAY), True, False, AWAY, id="chose away"),
    pytest.param(settings(), True, True, AWAY, id="every client idle"),
    pytest.param(settings(), True, False, AVAILABLE, id="available"),
    # Notes, out of office and phone hours never change the status.
    pytest.param(
        settings(note="Lomalla", out_of_office_until=date(2026, 2, 1), phone_hours=[]),
        True,
        False,
        AVAILABLE,
        id="out of office is shown beside the status",
    ),
]


@pytest.mark.parametrize(("person_settings", "online", "idle", "expected"), PRECEDENCE)
def test_effective_status_precedence(
    person_settings: PresenceSettings, online: bool, idle: bool, expected: str
) -> None:
    assert effective_status(person_settings, online, idle, NOW) == expected


def test_do_not_disturb_falls_through_when_its_end_passes() -> None:
    chosen = settings(manual_status=DND, dnd_until=SOON, busy=True)
    assert effective_status(chosen, True, False, SOON - timedelta(microseconds=1)) == DND
    assert effective_status(chosen, True, False, SOON) == BUSY


# --- the view ------------------------------------------------------------------------------

TODAY = date(2026, 1, 5)
HOURS = [{"day": 0, "start": "09:00", "end": "11:00"}]


def test_the_view_of_a_person_in_do_not_disturb_is_the_documented_shape() -> None:
    until = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
    chosen = settings(manual_status=DND, dnd_until=until, note="Kokouksessa", phone_hours=HOURS)
    assert presence_view(7, chosen, DND, None, TODAY) == {
        "person_id": 7,
        "status": "dnd",
        "note": "Kokouksessa",
        "dnd_until": "2026-01-05T13:00:00+00:00",
        "out_of_office_until": None,
        "out_of_office_note": "",
        "phone_hours": HOURS,
        "last_seen": None,
    }


@pytest.mark.parametrize("status", [AVAILABLE, BUSY, AWAY, OFFLINE])
def test_the_dnd_end_shows_only_while_the_status_is_dnd(status: str) -> None:
    chosen = settings(manual_status=DND, dnd_until=SOON, note="Kokouksessa", phone_hours=HOURS)
    view = presence_view(7, chosen, status, None, TODAY)
    assert view["dnd_until"] is None
    # The note and phone hours are shown whatever the status.
    assert (view["status"], view["note"], view["phone_hours"]) == (status, "Kokouksessa", HOURS)


@pytest.mark.parametrize(
    ("until", "shown"),
    [
        (date(2026, 1, 6), True),
        (TODAY, True),  # inclusive of its last day
        (date(2026, 1, 4), False),  # over once that day is over
        (None, False),
    ],
)
def test_out_of_office_shows_until_its_last_day_is_over(until: date | None, shown: bool) -> None:
    chosen = settings(out_of_office_until=until, out_of_office_note="Sijainen: Daniel")
    view = presence_view(7, chosen, AVAILABLE, None, TODAY)
    if shown:
        assert until is not None
        assert view["out_of_office_until"] == until.isoformat()
        assert view["out_of_office_note"] == "Sijainen: Daniel"
    else:
        assert (view["out_of_office_until"], view["out_of_office_note"]) == (None, "")


def test_last_seen_shows_only_while_offline() -> None:
    seen = at(-3600)
    assert presence_view(7, settings(), OFFLINE, seen, TODAY)["last_seen"] == seen.isoformat()
    assert presence_view(7, settings(), OFFLINE, None, TODAY)["last_seen"] is None
    for status in (AVAILABLE, BUSY, DND, AWAY):
        assert presence_view(7, settings(), status, seen, TODAY)["last_seen"] is None


# --- phone hours ------------------------------------------------------------------------------


def test_phone_hours_are_kept_as_entered_and_sorted_by_day_and_start() -> None:
    entered = [
        {"day": 4, "start": "13:00", "end": "14:00"},
        {"day": 0, "start": "12:00", "end": "15:30", "note": "dropped"},
        {"day": 0, "start": "09:00", "end": "11:00"},
        {"day": 6, "start": "00:00", "end": "23:59"},
    ]
    assert validate_phone_hours(entered) == [
        {"day": 0, "start": "09:00", "end": "11:00"},
        {"day": 0, "start": "12:00", "end": "15:30"},
        {"day": 4, "start": "13:00", "end": "14:00"},
        {"day": 6, "start": "00:00", "end": "23:59"},
    ]
    assert validate_phone_hours([]) == []


def test_at_most_28_phone_hour_slots() -> None:
    slots = [{"day": d % 7, "start": f"{8 + d // 7:02}:00", "end": "20:00"} for d in range(28)]
    assert len(validate_phone_hours(slots)) == 28
    with pytest.raises(ValueError, match="at most 28"):
        validate_phone_hours([*slots, {"day": 0, "start": "19:00", "end": "20:00"}])


LIST = "must be a list"
OBJECT = "must be an object"
DAY = "day must be 0"
TIMES = "start and end as HH:MM"


def slot(**fields: Any) -> list[Any]:
    return [{"day": 1, "start": "09:00", "end": "11:00", **fields}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({"day": 0}, LIST, id="an object, not a list"),
        pytest.param(None, LIST, id="null"),
        pytest.param("09:00-11:00", LIST, id="text"),
        pytest.param(["09:00"], OBJECT, id="a slot that is text"),
        pytest.param(slot(day=7), DAY, id="day 7"),
        pytest.param(slot(day=-1), DAY, id="day -1"),
        pytest.param(slot(day="1"), DAY, id="day as text"),
        pytest.param(slot(day=1.0), DAY, id="day as a float"),
        pytest.param(slot(day=True), DAY, id="day as a boolean"),
        pytest.param(slot(day=None), DAY, id="no day"),
        pytest.param(slot(start="9:00"), TIMES, id="one-digit hour"),
        pytest.param(slot(start="24:00", end="24:30"), TIMES, id="hour 24"),
        pytest.param(slot(end="11:60"), TIMES, id="minute 60"),
        pytest.param(slot(start="09.00"), TIMES, id="a dot"),
        pytest.param(slot(start="ab:cd"), TIMES, id="letters"),
        pytest.param(slot(start=" 9:00"), TIMES, id="a space"),
        pytest.param(slot(start=900), TIMES, id="a number"),
        pytest.param(slot(end=None), TIMES, id="no end"),
        pytest.param(slot(start="11:00"), TIMES, id="start equals end"),
        pytest.param(slot(start="12:00"), TIMES, id="start after end"),
        # HH:MM means ASCII digits (the OpenAPI pattern [0-2][0-9]:[0-5][0-9]).
        pytest.param(slot(start="０９:００", end="１１:００"), TIMES, id="full-width digits"),
        pytest.param(slot(start="²9:00"), TIMES, id="a superscript digit"),
    ],
)
def test_bad_phone_hours_are_refused_with_a_clear_reason(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_phone_hours(value)


# --- deadlines: when the server must look again -------------------------------------------


def test_the_next_deadline_is_the_earliest_moment_a_report_may_stop_counting() -> None:
    t = tracker()
    assert t.next_deadline() is None
    t.heard(PERSON, "tab", True, T0)
    assert t.next_deadline() == at(TIMEOUT)
    t.gone(PERSON, "tab", at(10))
    # The grace period ends before the heartbeat timeout: that comes first.
    assert t.next_deadline() == at(10 + GRACE)
    assert t.expire(at(10 + GRACE)).people == {PERSON}
    # What is left is the stale timeout entry: due, but it changes nothing.
    assert t.next_deadline() == at(TIMEOUT)
    assert t.expire(at(TIMEOUT)).people == set()
    assert t.next_deadline() is None


def test_a_heartbeat_moves_the_deadline_without_searching() -> None:
    t = tracker()
    t.heard(PERSON, "tab", True, T0)
    t.heard(PERSON, "tab", True, at(10))
    # The first deadline still comes, finds the report renewed, and moves on.
    assert t.next_deadline() == at(TIMEOUT)
    assert t.expire(at(TIMEOUT)).people == set()
    assert t.next_deadline() == at(10 + TIMEOUT)


def test_a_silent_client_is_named_with_its_last_heard_time_and_a_closed_one_is_not() -> None:
    t = tracker()
    t.heard(PERSON, "silent", True, T0)
    t.heard(OTHER, "closed", True, T0)
    t.gone(OTHER, "closed", at(1))
    expired = t.expire(at(TIMEOUT))
    assert expired.people == {PERSON, OTHER}
    assert expired.silent == [(PERSON, "silent", T0)]


def test_a_report_stamped_a_little_in_the_past_still_expires_on_time() -> None:
    """Another node's clock may lag: its report's deadline goes into its place in line."""
    t = tracker()
    t.heard(PERSON, "here", True, at(10))
    t.heard(OTHER, "there", True, at(4))  # stamped 6 s behind
    assert t.next_deadline() == at(4 + TIMEOUT)
    assert t.expire(at(4 + TIMEOUT)).people == {OTHER}
    assert t.next_deadline() == at(10 + TIMEOUT)


def test_a_heartbeat_that_changes_nothing_says_so() -> None:
    """The server skips recomputing a view for these: most heartbeats are such."""
    t = tracker()
    assert t.heard(PERSON, "tab", True, T0) is False  # new
    assert t.heard(PERSON, "tab", True, at(10)) is True  # renewed, same
    assert t.heard(PERSON, "tab", False, at(20)) is False  # went idle
    assert t.heard(PERSON, "tab", False, at(20 + TIMEOUT)) is False  # had expired meanwhile
    t.gone(PERSON, "tab", at(60))
    assert t.heard(PERSON, "tab", False, at(61)) is False  # back after closing


# --- other nodes: their changes, their heartbeats, their death ------------------------------

NODE = "b0de"


def test_another_nodes_client_lives_by_that_nodes_heartbeat_not_its_own() -> None:
    """A client's heartbeats stay on its node; the node's heartbeat keeps it live here."""
    t = tracker()
    assert t.node_heard(NODE, T0)  # new: asked for its clients
    t.heard(PERSON, "tab", True, T0, NODE)
    assert not t.node_heard(NODE, at(20))
    assert not t.node_heard(NODE, at(40))
    assert t.expire(at(40 + TIMEOUT - TINY)).people == set()
    assert t.is_online(PERSON, at(40 + TIMEOUT - TINY))
    assert not t.is_online(PERSON, at(40 + TIMEOUT))


def test_a_node_that_falls_silent_takes_its_clients_offline_last_seen_when_it_was_heard() -> None:
    t = tracker()
    t.node_heard(NODE, T0)
    t.heard(PERSON, "tab", True, T0, NODE)
    t.node_heard(NODE, at(5))
    t.heard(OTHER, "tab", False, at(5), NODE)
    t.node_heard(NODE, at(10))
    t.heard(THIRD, "here", True, at(10))  # this node's own client
    # Its one deadline came at T0 + 30, found it heard since, and moved to 10 + 30.
    first = t.expire(at(TIMEOUT))
    assert (first.people, first.nodes) == (set(), set())
    assert t.next_deadline() == at(10 + TIMEOUT)
    expired = t.expire(at(10 + TIMEOUT))
    assert expired.people == {PERSON, OTHER, THIRD}
    assert expired.nodes == {NODE} and t.nodes() == set()
    assert sorted(expired.silent) == [
        (PERSON, "tab", at(10)),
        (OTHER, "tab", at(10)),
        (THIRD, "here", at(10)),
    ]
    assert t.people() == []
    assert t.next_deadline() is None


def test_a_node_heard_again_after_it_was_given_up_asks_to_be_heard_whole() -> None:
    t = tracker()
    t.node_heard(NODE, T0)
    t.heard(PERSON, "tab", True, T0, NODE)
    assert t.nodes() == t.nodes(since=T0) == {NODE}
    assert t.nodes(since=at(1)) == set()  # not heard since
    t.expire(at(TIMEOUT))
    assert t.nodes() == set()
    # Cut off from the bus for a while, it is back: what it holds is asked for.
    assert t.node_heard(NODE, at(TIMEOUT + 5))
    assert not t.node_heard(NODE, at(TIMEOUT + 6))


def test_all_of_a_nodes_clients_replace_what_was_heard_of_it() -> None:
    t = tracker()
    t.node_heard(NODE, T0)
    t.heard(PERSON, "gone meanwhile", True, T0, NODE)
    t.heard(OTHER, "mine", True, T0)  # this node's own: untouched
    changed = t.node_clients(
        NODE,
        {
            (THIRD, "new"): ClientReport(False, at(1)),
            (THIRD, "closing"): ClientReport(True, at(1), gone_at=at(2)),
        },
        at(3),
    )
    assert changed == {PERSON, THIRD}
    assert not t.is_online(PERSON, at(3))
    assert t.is_online(THIRD, at(3)) and not t.is_idle(THIRD, at(3))
    assert t.is_online(OTHER, at(3))
    # The closing one keeps its grace period only: then the idle one is all there is.
    assert t.expire(at(2 + GRACE)).people == {THIRD}
    assert t.is_online(THIRD, at(2 + GRACE)) and t.is_idle(THIRD, at(2 + GRACE))
    # This node's own clients are what it answers with; other nodes' are not.
    assert set(t.local_clients(at(4))) == {(OTHER, "mine")}
    assert set(t.local_clients(at(4), {OTHER, PERSON})) == {(OTHER, "mine")}
    assert t.local_clients(at(4), {PERSON}) == {}


def test_a_nodes_answer_for_some_people_replaces_only_what_was_heard_of_them() -> None:
    """A node that starts to follow someone asks for their clients only: the answer leaves
    what that node said of the others as it was."""
    t = tracker()
    t.heard(PERSON, "kept", True, T0, NODE)
    t.heard(OTHER, "gone meanwhile", True, T0, NODE)
    changed = t.node_clients(
        NODE, {(THIRD, "new"): ClientReport(True, at(1))}, at(1), {OTHER, THIRD}
    )
    assert changed == {OTHER, THIRD}
    assert t.is_online(PERSON, at(1)) and t.is_online(THIRD, at(1))
    assert not t.is_online(OTHER, at(1))


def test_forgetting_what_other_nodes_said_of_someone_keeps_this_nodes_own_clients() -> None:
    """A node that stops following someone forgets their reports from other nodes (they
    would go stale: their changes no longer come here), not those of its own clients."""
    t = tracker()
    t.heard(PERSON, "there", True, T0, NODE)
    t.heard(PERSON, "here", False, T0)
    assert t.forget_others(PERSON)
    assert t.is_online(PERSON, at(1)) and t.is_idle(PERSON, at(1))
    assert not t.forget_others(PERSON)
    # The node's record lost it too: when the node falls silent, only this node's own
    # client (silent as long) is closed.
    expired = t.expire(at(TIMEOUT))
    assert expired.people == {PERSON}
    assert [key for _, key, _ in expired.silent] == ["here"]


# --- the tracker against a brute-force model, on random days of several nodes --------

Step = tuple[str, float, int, int, bool]
steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "heard",
                "gone",
                "remote heard",
                "remote gone",
                "node",
                "all of node",
                "unfollowed",
                "expire",
            ]
        ),
        st.floats(min_value=0, max_value=20),  # seconds since the step before
        st.integers(min_value=0, max_value=2),  # which person / node
        st.integers(min_value=0, max_value=2),  # which client
        st.booleans(),  # active
    ),
    max_size=60,
)


@examples(max_examples=300, deadline=None)
@given(steps)
def test_the_tracker_agrees_with_a_model_that_checks_every_report_every_time(
    day: list[Step],
) -> None:
    """Who is online and who is idle, after every step, as a model that keeps every
    report and every node's last message computes it from the rules in docs/presence.md:
    a report counts while not closed longer than the grace period and heard (itself, or,
    for another node's client, that node) within the heartbeat timeout; a node silent for
    the timeout is given up with all its clients when the tracker next looks."""
    t = tracker()
    grace, timeout = timedelta(seconds=GRACE), timedelta(seconds=TIMEOUT)
    reports: dict[tuple[int, str], list[Any]] = {}  # [node, active, heard, gone_at]
    nodes: dict[str, datetime] = {}
    now = T0
    for kind, seconds, which, client, active in day:
        now += timedelta(seconds=seconds)
        person, node = 15 + which, f"n{which}"
        if kind == "heard":
            key = f"here-{client}"
            t.heard(person, key, active, now)
            reports[person, key] = [None, active, now, None]
        elif kind == "gone":
            key = f"here-{client}"
            if (person, key) in reports and t.gone(person, key, now):
                reports[person, key][3] = now
        elif kind == "remote heard":
            key = f"{node}-{client}"
            t.node_heard(node, now)
            nodes[node] = now
            t.heard(person, key, active, now, node)
            reports[person, key] = [node, active, now, None]
        elif kind == "remote gone":
            key = f"{node}-{client}"
            t.node_heard(node, now)
            nodes[node] = now
            if (person, key) in reports and t.gone(person, key, now):
                reports[person, key][3] = now
        elif kind == "node":
            t.node_heard(node, now)
            nodes[node] = now
        elif kind == "all of node":
            # The node's answer to a roll: one client of person 15, closed or not.
            key = f"{node}-{client}"
            gone = now if active else None
            t.node_clients(node, {(15, key): ClientReport(True, now, gone)}, now)
            nodes[node] = now
            for held in [k for k, r in reports.items() if r[0] == node]:
                del reports[held]
            reports[15, key] = [node, True, now, gone]
        elif kind == "unfollowed":
            t.forget_others(person)
            for held in [k for k, r in reports.items() if k[0] == person and r[0] is not None]:
                del reports[held]
        else:
            t.expire(now)
            for node_id, heard in list(nodes.items()):
                if now - heard >= timeout:
                    del nodes[node_id]
                    for held in [k for k, r in reports.items() if r[0] == node_id]:
                        del reports[held]

        def counts(r: list[Any], now: datetime) -> bool:
            heard = r[2] if r[0] is None else max(r[2], nodes.get(r[0], r[2]))
            return (r[3] is None or now - r[3] < grace) and now - heard < timeout

        for p in (15, 16, 17):
            live = [r for (rp, _), r in reports.items() if rp == p and counts(r, now)]
            assert t.is_online(p, now) == bool(live), (p, now - T0)
            assert t.is_idle(p, now) == (bool(live) and not any(r[1] for r in live))
