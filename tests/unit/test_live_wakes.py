"""The live view's line of wakes (app_components.live_plan.WakeQueue): a few woken runs in
flight at a time, the others sent in the order they came, each once its session is idle,
with hand-written sessions, clocks (seconds) and what each session is doing."""

from __future__ import annotations

from app_components.live_plan import GIVE_UP, HOLD_AT_MOST, Activity, WakeQueue

IDLE, BUSY, GONE = Activity.IDLE, Activity.BUSY, Activity.GONE


class Sessions:
    """What each session is doing (idle unless said otherwise), and which were asked."""

    def __init__(self, **doing: Activity) -> None:
        self.doing = doing
        self.asked: list[str] = []

    def __call__(self, session: str) -> Activity:
        self.asked.append(session)
        return self.doing.get(session, IDLE)

    def sent(self, *sessions: str) -> None:
        """`sessions` were woken: their runs are under way."""
        for session in sessions:
            self.doing[session] = BUSY


def line(*sessions: str, concurrency: int = 2) -> WakeQueue[str]:
    queue: WakeQueue[str] = WakeQueue(concurrency)
    for session in sessions:
        queue.add(session, f"table of {session}", whole=False)
    return queue


def test_at_most_two_woken_runs_are_in_flight_and_the_rest_go_in_the_order_they_came() -> None:
    queue = line("a", "b", "c", "d", "e")
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a"), ("b", "table of b")]
    sessions.sent("a", "b")
    assert queue.in_flight() == ["a", "b"]
    assert queue.waiting() == ["c", "d", "e"]
    assert queue.admit(0.02, sessions) == []  # a and b still run
    sessions.doing["b"] = IDLE  # b's run ended
    assert queue.admit(0.04, sessions) == [("c", "table of c")]
    sessions.sent("c")
    sessions.doing["a"] = sessions.doing["c"] = IDLE
    assert queue.admit(0.06, sessions) == [("d", "table of d"), ("e", "table of e")]
    sessions.sent("d", "e")
    assert queue.waiting() == []
    assert queue  # d and e in flight: there is still something to look at
    sessions.doing["d"] = sessions.doing["e"] = IDLE
    assert queue.admit(0.08, sessions) == []
    assert not queue  # nothing waits, nothing in flight: no more looks


def test_while_the_runs_in_flight_are_all_there_is_room_for_nobody_waiting_is_asked() -> None:
    queue = line("a", "b", "c", "d", "e")
    sessions = Sessions()
    queue.admit(0.0, sessions)
    sessions.sent("a", "b")
    sessions.asked.clear()
    assert queue.admit(0.02, sessions) == []
    assert sessions.asked == ["a", "b"]  # the two in flight, not the three waiting


def test_one_woken_run_at_a_time_if_so_configured() -> None:
    queue = line("a", "b", concurrency=1)
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    sessions.sent("a")
    assert queue.admit(0.02, sessions) == []
    sessions.doing["a"] = IDLE
    assert queue.admit(0.04, sessions) == [("b", "table of b")]
    assert WakeQueue[str](0).concurrency == 1  # never none at all


def test_a_session_busy_with_its_own_run_keeps_its_place_without_holding_up_the_others() -> None:
    queue = line("a", "b", "c", "d")
    sessions = Sessions(a=BUSY)  # its person is loading a page
    assert queue.admit(0.0, sessions) == [("b", "table of b"), ("c", "table of c")]
    sessions.sent("b", "c")
    sessions.doing["a"] = sessions.doing["b"] = IDLE
    # a came before d: its page goes first now that it is idle.
    assert queue.admit(0.02, sessions) == [("a", "table of a")]


def test_a_run_in_flight_holds_its_place_until_every_run_of_its_session_ended() -> None:
    queue = line("a", "b", concurrency=1)
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    sessions.sent("a")  # then its person clicks: Streamlit runs that after the woken run
    assert queue.admit(3.0, sessions) == []
    sessions.doing["a"] = IDLE
    assert queue.admit(3.02, sessions) == [("b", "table of b")]


def test_a_new_wake_of_a_page_in_flight_waits_for_its_run_to_end() -> None:
    queue = line("a")
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    sessions.sent("a")
    queue.add("a", "table of a again", whole=False)
    assert queue.admit(0.02, sessions) == []
    sessions.doing["a"] = IDLE
    assert queue.admit(0.04, sessions) == [("a", "table of a again")]


def test_a_newer_wake_replaces_the_one_waiting_in_its_place_but_never_a_whole_page() -> None:
    queue: WakeQueue[str] = WakeQueue(1)
    queue.add("a", "table of a", whole=False)
    queue.add("b", "table of b", whole=False)
    queue.add("c", "whole page c", whole=True)
    queue.add("a", "whole page a", whole=True)  # the whole page wins over a fragment...
    queue.add("a", "table of a again", whole=False)  # ... and keeps it
    queue.add("b", "table of b again", whole=False)  # the newer fragment wins
    queue.add("c", "whole page c again", whole=True)  # the newer whole page wins
    assert queue.waiting() == ["a", "b", "c"]  # each where it first came
    sessions = Sessions()  # each run is over by the next look
    sent = [wake for now in (0.0, 0.02, 0.04) for wake in queue.admit(now, sessions)]
    assert sent == [("a", "whole page a"), ("b", "table of b again"), ("c", "whole page c again")]


def test_a_wake_whose_session_is_gone_is_dropped_and_takes_no_place() -> None:
    queue = line("a", "b", "c")
    sessions = Sessions(a=GONE)
    assert queue.admit(0.0, sessions) == [("b", "table of b"), ("c", "table of c")]
    assert queue.waiting() == []


def test_a_run_in_flight_whose_session_is_gone_frees_its_place() -> None:
    queue = line("a", "b", concurrency=1)
    sessions = Sessions()
    queue.admit(0.0, sessions)
    sessions.doing["a"] = GONE  # its browser went away and Streamlit dropped it
    assert queue.admit(0.02, sessions) == [("b", "table of b")]


def test_a_wake_that_was_not_sent_after_all_frees_its_place_at_once() -> None:
    queue = line("a", "b", concurrency=1)
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    queue.not_sent("a")  # its page had nothing left to rerun: no run started
    sessions.doing["a"] = BUSY  # whatever it does now is none of the line's business
    assert queue.admit(0.0, sessions) == [("b", "table of b")]


def test_a_wake_kept_waiting_by_its_sessions_runs_for_ten_seconds_is_sent_anyway() -> None:
    assert GIVE_UP == 10.0
    queue = line("a")
    sessions = Sessions(a=BUSY)
    assert queue.admit(5.0, sessions) == []  # its turn has come, its session is busy
    assert queue.admit(14.98, sessions) == []
    assert queue.admit(15.0, sessions) == [("a", "table of a")]
    assert queue.in_flight() == ["a"]  # it counts as in flight like any other


def test_waiting_for_a_place_is_not_given_up_however_long_it_takes() -> None:
    queue = line("a", "b", "c", concurrency=1)
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    sessions.sent("a")
    sessions.doing["a"] = IDLE
    assert queue.admit(8.0, sessions) == [("b", "table of b")]  # a ran for 8 s
    sessions.sent("b")
    assert queue.admit(16.0, sessions) == []  # c has waited 16 s: still in line
    sessions.doing["b"] = IDLE
    assert queue.admit(16.02, sessions) == [("c", "table of c")]


def test_a_woken_run_still_going_after_ten_seconds_no_longer_holds_its_place() -> None:
    queue = line("a", "b", concurrency=1)
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a")]
    sessions.sent("a")  # and it never ends
    assert queue.admit(9.98, sessions) == []
    assert queue.admit(10.0, sessions) == [("b", "table of b")]
    assert queue.in_flight() == ["b"]


def test_while_people_run_no_woken_run_starts_unless_none_has_for_a_second() -> None:
    assert HOLD_AT_MOST == 1.0
    queue = line("a", "b", "c", "d")
    sessions = Sessions()
    assert queue.admit(0.0, sessions) == [("a", "table of a"), ("b", "table of b")]
    sessions.sent("a", "b")
    sessions.doing["a"] = sessions.doing["b"] = IDLE  # both ended at once
    assert queue.admit(0.02, sessions, people_busy=True) == []  # someone clicked: c waits
    assert queue.in_flight() == []  # the ended runs left all the same
    assert queue.admit(0.5, sessions, people_busy=True) == []
    # Nothing sent since 0.0: one, and only one, may go at 1.0 although people still run.
    assert queue.admit(1.0, sessions, people_busy=True) == [("c", "table of c")]
    sessions.sent("c")
    sessions.doing["c"] = IDLE
    assert queue.admit(1.5, sessions, people_busy=True) == []  # c was sent 0.5 s ago
    assert queue.admit(1.52, sessions) == [("d", "table of d")]  # people done: at once


def test_people_running_never_hold_more_than_one_woken_run_after_a_second() -> None:
    queue = line("a", "b", "c")
    sessions = Sessions()
    assert queue.admit(3.0, sessions, people_busy=True) == [("a", "table of a")]  # none yet
    sessions.sent("a")
    assert queue.admit(4.5, sessions, people_busy=True) == []  # a still runs: no room for b
    sessions.doing["a"] = IDLE
    assert queue.admit(4.52, sessions, people_busy=True) == [("b", "table of b")]
