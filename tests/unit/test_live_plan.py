"""The live view's rules (app_components.live_plan): which open pages are woken, why, and
when, with hand-written revisions, marks and clocks (seconds)."""

from __future__ import annotations

from collections.abc import Hashable

from app_components.live_plan import (
    DASHBOARD_EVERY,
    WAKE_EVERY,
    Follower,
    Plan,
    Reason,
    to_wake,
)

LIST = ("list", "page 1")
OTHER_LIST = ("list", "page 2")
TICKET_7 = ("ticket", 7)


def page(
    session: str,
    drawn: int | None,
    view: Hashable | None = None,
    mark: Hashable = None,
    every: float = WAKE_EVERY,
) -> Follower:
    return Follower(
        session, f"token of {session}", drawn, view, mark, every, live_fragment(session)
    )


def live_fragment(session: str) -> str:
    return f"live-view fragment of {session}"


def table_fragment(session: str) -> str:
    return f"table fragment of {session}"


def wakes(plan: Plan, now: float) -> list[tuple[str, Reason, object]]:
    """The wakes due at `now`, with what each reruns."""
    return sorted((f.session, reason, to_wake(f, reason)) for f, reason in plan.due(now))


def woken(plan: Plan, now: float) -> list[tuple[str, Reason]]:
    return sorted((f.session, reason) for f, reason in plan.due(now))


def test_nothing_is_read_or_woken_while_the_desk_stays_where_the_pages_drew_it() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    plan.follow(page("b", 5))
    assert plan.desk_at(5) == set()
    assert woken(plan, 100.0) == []
    assert plan.next_due() is None


def test_a_view_shared_by_many_pages_is_read_once_and_only_changed_views_wake() -> None:
    plan = Plan()
    for session in ("a", "b", "c"):
        plan.follow(page(session, 5, LIST, "m1"))
    plan.follow(page("d", 5, OTHER_LIST, "n1"))
    plan.follow(page("e", 5, TICKET_7, (3, "targets")))
    views = plan.desk_at(6)
    assert views == {LIST, OTHER_LIST, TICKET_7}  # three reads for five pages
    plan.measured(6, views, {LIST: "m2", OTHER_LIST: "n1", TICKET_7: (3, "targets")})
    assert woken(plan, 100.0) == [(s, Reason.CHANGED) for s in ("a", "b", "c")]
    # The unchanged ones are known unchanged up to 6: not read again until the desk moves.
    assert plan.desk_at(6) == set()
    for session in ("a", "b", "c"):  # the woken pages redraw
        plan.follow(page(session, 7, LIST, "m3"))
    assert plan.desk_at(7) == {OTHER_LIST, TICKET_7}


def test_a_page_that_does_not_say_what_it_shows_wakes_on_any_change() -> None:
    plan = Plan()
    plan.follow(page("dashboard", 5))
    assert plan.desk_at(6) == set()  # nothing to read: any move is a change for it
    assert woken(plan, 10.0) == [("dashboard", Reason.CHANGED)]


def test_a_ticket_that_no_longer_exists_wakes_its_pages() -> None:
    plan = Plan()
    plan.follow(page("a", 5, TICKET_7, (3, "targets")))
    plan.measured(6, plan.desk_at(6), {})
    assert woken(plan, 10.0) == [("a", Reason.CHANGED)]


def test_wakes_are_coalesced_to_one_per_two_seconds_per_page_however_many_changes() -> None:
    plan = Plan()
    plan.follow(page("a", 5))
    plan.desk_at(6)
    assert woken(plan, 10.0) == [("a", Reason.CHANGED)]
    # Its redraw is not in yet; the desk moves on three times meanwhile.
    for revision in (7, 8, 9):
        plan.desk_at(revision)
        assert woken(plan, 10.2) == []
    assert plan.next_due() == 10.0 + WAKE_EVERY
    assert woken(plan, 10.0 + WAKE_EVERY) == [("a", Reason.CHANGED)]  # one wake for the three
    assert plan.next_due() is None


def test_a_woken_page_that_does_not_redraw_is_not_woken_again_for_the_same_revision() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    plan.measured(6, plan.desk_at(6), {LIST: "m2"})
    assert woken(plan, 10.0) == [("a", Reason.CHANGED)]
    assert plan.desk_at(6) == set()
    assert woken(plan, 20.0) == []
    assert plan.desk_at(7) == {LIST}  # but again once the desk moves


def test_the_dashboard_is_woken_at_most_every_three_seconds() -> None:
    plan = Plan()
    plan.follow(page("dashboard", 5, every=DASHBOARD_EVERY))
    plan.desk_at(6)
    assert woken(plan, 10.0) == [("dashboard", Reason.CHANGED)]
    plan.follow(page("dashboard", 6, every=DASHBOARD_EVERY))  # its redraw
    plan.desk_at(7)
    assert woken(plan, 10.0 + WAKE_EVERY) == []
    assert woken(plan, 10.0 + DASHBOARD_EVERY) == [("dashboard", Reason.CHANGED)]


def test_a_redraw_settles_what_was_owed_and_keeps_the_coalescing() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    plan.measured(6, plan.desk_at(6), {LIST: "m2"})
    assert woken(plan, 10.0) == [("a", Reason.CHANGED)]
    plan.measured(7, plan.desk_at(7), {LIST: "m3"})  # owed, held back until 12.0
    assert plan.next_due() == 10.0 + WAKE_EVERY == 12.0
    plan.follow(page("a", 7, LIST, "m3"))  # the page redrew itself meanwhile (its own run)
    assert plan.next_due() is None
    plan.measured(8, plan.desk_at(8), {LIST: "m4"})
    assert woken(plan, 11.5) == []  # still one wake per 2 s
    assert woken(plan, 12.0) == [("a", Reason.CHANGED)]


def test_a_part_of_the_page_redrawn_says_what_it_shows_now() -> None:
    plan = Plan()
    plan.follow(page("a", 5))  # the whole run: any change, until the page says
    plan.showing("a", 5, OTHER_LIST, "n1", WAKE_EVERY)  # its table: page 2
    plan.showing("nobody", 5, LIST, "m1", WAKE_EVERY)  # a session that does not follow
    assert plan.desk_at(6) == {OTHER_LIST}
    assert [f.session for f in plan.followers()] == ["a"]


def test_a_view_registered_while_it_was_being_read_is_read_next_time() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    views = plan.desk_at(6)
    plan.follow(page("b", 5, OTHER_LIST, "n1"))  # while the watcher reads `views`
    plan.measured(6, views, {LIST: "m1"})
    assert woken(plan, 10.0) == []
    assert plan.desk_at(6) == {OTHER_LIST}


def test_ended_sessions_are_woken_once_and_forgotten() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    plan.follow(page("b", 5, LIST, "m1"))
    assert plan.tokens() == {"token of a", "token of b"}
    asked = plan.tokens()
    plan.follow(page("c", 5, LIST, "m1"))  # while the sessions were being read
    plan.sessions_checked(asked, {"token of b"})
    assert woken(plan, 10.0) == [("a", Reason.ENDED)]
    assert [f.session for f in plan.followers()] == ["b", "c"]
    plan.showing("a", 6, LIST, "m2", WAKE_EVERY)  # a late run of the gone page: ignored
    assert [f.session for f in plan.followers()] == ["b", "c"]


def test_a_database_outage_is_told_to_every_page_once_and_its_end_to_those_that_said_so() -> None:
    plan = Plan()
    plan.follow(page("a", 5, LIST, "m1"))
    plan.follow(page("b", 5))
    plan.database_down()
    plan.database_down()  # still down: nothing more
    assert woken(plan, 10.0) == [("a", Reason.DATABASE_DOWN), ("b", Reason.DATABASE_DOWN)]
    plan.database_down()
    assert woken(plan, 20.0) == []
    # Their runs could not reach it either: they say so, and follow with nothing drawn.
    plan.follow(page("a", None))
    plan.showing("b", None, None, None, WAKE_EVERY)
    assert plan.desk_at(6) == set()  # back
    assert woken(plan, 20.0) == [("a", Reason.DATABASE_BACK), ("b", Reason.DATABASE_BACK)]


def test_an_outage_shorter_than_a_wake_is_not_told() -> None:
    plan = Plan()
    plan.follow(page("a", 5))
    plan.desk_at(6)
    assert woken(plan, 10.0) == [("a", Reason.CHANGED)]
    plan.follow(page("a", 6))
    plan.database_down()  # owed, but held back until 12.0 ...
    plan.desk_at(6)  # ... and back before that
    assert woken(plan, 12.0) == []


def test_a_page_whose_browser_is_away_is_tried_again_later() -> None:
    plan = Plan()
    plan.follow(page("a", 5))
    plan.desk_at(6)
    assert plan.due(10.0, reachable=lambda f: False) == []
    assert plan.next_due() == 10.0 + WAKE_EVERY
    assert woken(plan, 11.5) == []
    assert woken(plan, 12.0) == [("a", Reason.CHANGED)]


def test_dropped_pages_are_forgotten() -> None:
    plan = Plan()
    plan.follow(page("a", 5))
    plan.drop("a")
    plan.drop("never followed")
    plan.desk_at(6)
    assert plan.followers() == []
    assert woken(plan, 10.0) == []


def test_a_change_of_what_a_part_of_the_page_shows_reruns_only_that_part() -> None:
    plan = Plan()
    plan.follow(page("a", 5))  # a whole run of the list: its table then says what it shows
    plan.showing("a", 5, LIST, "m1", WAKE_EVERY, table_fragment("a"))
    plan.follow(page("b", 5))  # a page that says what it shows outside any fragment
    plan.showing("b", 5, LIST, "m1", WAKE_EVERY)
    plan.follow(page("dashboard", 5))  # says nothing: any change
    plan.measured(6, plan.desk_at(6), {LIST: "m2"})
    assert wakes(plan, 10.0) == [
        ("a", Reason.CHANGED, table_fragment("a")),
        ("b", Reason.CHANGED, live_fragment("b")),
        ("dashboard", Reason.CHANGED, live_fragment("dashboard")),
    ]
    # The table's own run (the wake) says what it shows now, and keeps being the part woken.
    plan.showing("a", 6, LIST, "m2", WAKE_EVERY, table_fragment("a"))
    plan.drop("b")
    plan.drop("dashboard")
    plan.measured(7, plan.desk_at(7), {LIST: "m3"})
    assert wakes(plan, 10.0 + WAKE_EVERY) == [("a", Reason.CHANGED, table_fragment("a"))]


def test_other_reasons_wake_the_whole_page_even_where_a_part_shows_the_view() -> None:
    plan = Plan()
    for session in ("a", "b"):
        plan.follow(page(session, 5))
        plan.showing(session, 5, LIST, "m1", WAKE_EVERY, table_fragment(session))
    plan.sessions_checked(plan.tokens(), {"token of b"})
    plan.database_down()
    assert wakes(plan, 10.0) == [
        ("a", Reason.ENDED, live_fragment("a")),
        ("b", Reason.DATABASE_DOWN, live_fragment("b")),
    ]
    plan.showing("b", None, None, None, WAKE_EVERY)  # its table could not read the page
    plan.desk_at(6)  # back
    assert wakes(plan, 20.0) == [("b", Reason.DATABASE_BACK, live_fragment("b"))]


def test_a_whole_run_forgets_the_part_that_showed_the_view_until_a_part_says_so_again() -> None:
    plan = Plan()
    plan.follow(page("a", 5))
    plan.showing("a", 5, LIST, "m1", WAKE_EVERY, table_fragment("a"))
    plan.follow(page("a", 6))  # gone to a ticket's page, say: a whole run ...
    plan.showing("a", 6, TICKET_7, (3, "targets"), WAKE_EVERY)  # ... showing it outside any
    plan.measured(7, plan.desk_at(7), {TICKET_7: (4, "targets")})
    assert wakes(plan, 10.0) == [("a", Reason.CHANGED, live_fragment("a"))]
