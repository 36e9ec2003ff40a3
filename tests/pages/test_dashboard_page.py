"""The Dashboard and Settings pages in AppTest, on a real SQLite file, with the clock fixed;
signed in as an admin (who may use both) unless a test says otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app_components import keys
from tests.support.apptest import ROOT, chart_rows, open_app, person, session_of
from tests.support.kpi_cards import kpi_cards
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import DEFAULT_TARGETS, SlaTarget
from ticketdesk.domain.tickets import Priority, TicketChange
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import demo as demo_service
from ticketdesk.services import tickets as ticket_service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@dataclass(frozen=True)
class Desk:
    engine: Engine
    ana: Account  # agent
    ben: Account  # agent
    rita: Account  # requester: files the tickets
    admin: Account
    admin_token: str  # a session of the admin's, opened at NOW
    agent_token: str  # a session of Ana's, opened at NOW


@pytest.fixture
def desk(app_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Desk:
    """An empty, migrated SQLite desk that the app opens, the app's clock at NOW, and the
    people who work it (made, and signed in, at NOW)."""
    monkeypatch.syspath_prepend(str(ROOT))
    import app_components.session

    monkeypatch.setattr(app_components.session, "now", lambda: NOW)
    engine = app_engine
    ana, ben = person(engine, "Ana", "agent", now=NOW), person(engine, "Ben", "agent", now=NOW)
    admin = person(engine, "Ada Admin", "admin", now=NOW)
    return Desk(
        engine,
        ana,
        ben,
        person(engine, "Rita", "requester", now=NOW),
        admin,
        session_of(engine, admin, now=NOW),
        session_of(engine, ana, now=NOW),
    )


def page(path: str, token: str) -> AppTest:
    at = open_app(token, page=path)
    assert not at.exception
    return at


def target_input(at: AppTest, kind: str, priority: str) -> Any:
    """The settings form's input for one target ("first" or "resolution")."""
    label = {"first": "First-response", "resolution": "Resolution"}[kind]
    wanted = f"{label} target for {priority} (hours)"
    return next(n for n in at.number_input if n.label == wanted)


def three_tickets(d: Desk) -> dict[str, int]:
    """All filed by Rita.
    X: High, answered after 3 h by a status change, closed after 9 h (Ana).
    Y: Low, filed 30 h ago, never answered (answer due 24 h after: 6 h ago). Unassigned.
    Z: Medium, filed 20 h ago, answered by a public reply after 11 h (due after 8 h: 3 h
       late), still Open (Ben)."""
    engine, ana, ben = d.engine, d.ana, d.ben
    x = ticket_service.create_ticket(engine, d.rita, "X", "High", ago(10)).id
    change = TicketChange(status="In Progress", assignee="Ana")
    ticket_service.update_ticket(engine, ana, x, change, ago(7))
    ticket_service.update_ticket(engine, ana, x, TicketChange(status="Closed"), ago(1))
    y = ticket_service.create_ticket(engine, d.rita, "Y", "Low", ago(30)).id
    z = ticket_service.create_ticket(engine, d.rita, "Z", "Medium", ago(20)).id
    ticket_service.update_ticket(engine, ben, z, TicketChange(assignee="Ben"), ago(19))
    ticket_service.add_message(engine, ben, z, "reply", "Looking into it", ago(9))
    return {"X": x, "Y": y, "Z": z}


def test_dashboard_figures_for_the_last_30_days(desk: Desk) -> None:
    ids = three_tickets(desk)
    at = page("app_pages/dashboard.py", desk.admin_token)
    shown = kpi_cards(at)
    # Open: Y and Z; none was open on Oct 29 00:00: up by 2, which is the worse way (red).
    opened = shown["Number of open tickets"]
    assert (opened.value, opened.delta, opened.arrow, opened.tone) == ("2", "2", "↑", "bad")
    assert opened.against == "since Oct 29"
    # New tickets: 3 against none; more work is neither good nor bad (grey).
    new = shown["New tickets"]
    assert (new.value, new.delta, new.arrow, new.tone) == ("3", "3", "↑", "off")
    assert new.against == "vs previous 30 days"
    assert (
        new.help == "Tickets submitted in the period (whole UTC days), against the previous period."
    )
    # First responses: X 3 h, Z 11 h: mean 7.0, median of an even count (3 + 11) / 2 = 7.0.
    assert shown["First response time (hours)"].value == "7.0"
    assert shown["Median first response (hours)"].value == "7.0"
    # Resolutions: X 9 h. Nothing in the previous period: no delta.
    assert shown["Average resolution time (hours)"].value == "9.0"
    assert shown["Median resolution time (hours)"].value == "9.0"
    assert not shown["Median resolution time (hours)"].delta
    # Answer deadlines passed in the period: X met, Y missed (unanswered), Z missed (late):
    # 1 of 3. No resolution deadline has passed yet (X's is 14 h ahead): a dash.
    assert shown["First responses within target"].value == "33.3 %"
    assert shown["First responses within target"].help.endswith(
        "Deadlines in the period: 3, met 1, missed 2."
    )
    assert shown["First response time (hours)"].help.endswith("Tickets counted: 2.")
    assert shown["Resolutions within target"].value == "–"
    # One close, no reopen: 0 %; no close before: no delta.
    assert (shown["Reopen rate"].value, shown["Reopen rate"].delta) == ("0.0 %", "")
    assert shown["Open tickets past a target"].value == "1"  # Y

    (breached,) = open_breach_list(at).dataframe
    rows = breached.value.to_dict("records")
    assert [(r["Ticket"], r["First response"], r["Resolution"]) for r in rows] == [
        (f"TICKET-{ids['Y']}", "breached 6 h ago", "5 d 18 h left"),  # due 138 h ahead
        (f"TICKET-{ids['Z']}", "missed by 3 h", "2 d 4 h left"),  # due 52 h ahead
    ]
    assert [r["Assignee"] for r in rows] == ["Unassigned", "Ben"]

    assert len(at.get("vega_lite_chart")) == 2  # the pie and the assignees in one view
    by_month, by_priority, by_assignee = chart_rows(at)
    assert sorted((r["Status"], r["Tickets"]) for r in by_month) == [("Closed", 1), ("Open", 2)]
    assert sorted((r["Priority"], r["Tickets"]) for r in by_priority) == [
        ("High", 1),
        ("Low", 1),
        ("Medium", 1),
    ]
    # Aggregated rows only: one per assignee and SLA state, the unassigned included.
    assert sorted((r["Assignee"], r["SLA"], r["Tickets"]) for r in by_assignee) == [
        ("Ben", "Within targets", 1),
        ("Unassigned", "Past a target", 1),
    ]


def test_an_empty_desk_shows_dashes_not_numbers(desk: Desk) -> None:
    at = page("app_pages/dashboard.py", desk.admin_token)
    shown = kpi_cards(at)
    for label in (
        "First response time (hours)",
        "Median first response (hours)",
        "Average resolution time (hours)",
        "Median resolution time (hours)",
        "First responses within target",
        "Resolutions within target",
        "Reopen rate",
    ):
        assert (shown[label].value, shown[label].delta) == ("–", ""), label
    assert shown["Number of open tickets"].value == "0"
    assert "No ticket is past a deadline." in at.success[0].value
    assert "No open tickets." in at.info[0].value


def test_count_changes_are_grouped_by_thousands(desk: Desk) -> None:
    # 1,234 tickets filed Oct 18-28 (10 days ending 30 days before NOW), all in the previous
    # period (Sep 29 - Oct 28); none in the current one (Oct 29 - Nov 27).
    demo_service.seed_demo(desk.engine, 1234, NOW - timedelta(days=30), seed=3, span_days=10)
    shown = kpi_cards(page("app_pages/dashboard.py", desk.admin_token))
    assert (shown["New tickets"].value, shown["New tickets"].delta) == ("0", "-1,234")
    assert (shown["New tickets"].arrow, shown["New tickets"].tone) == ("↓", "off")
    # And 1,234 more filed in the last 10 days: as many as before, no change.
    demo_service.seed_demo(desk.engine, 1234, NOW, seed=4, span_days=10)
    shown = kpi_cards(page("app_pages/dashboard.py", desk.admin_token))
    assert (shown["New tickets"].value, shown["New tickets"].delta) == ("1,234", "0")
    assert shown["New tickets"].arrow == ""  # no change, no arrow
    # And 1,234 more in the last 5 days: 2,468 against 1,234.
    demo_service.seed_demo(desk.engine, 1234, NOW, seed=5, span_days=5)
    shown = kpi_cards(page("app_pages/dashboard.py", desk.admin_token))
    assert (shown["New tickets"].value, shown["New tickets"].delta) == ("2,468", "1,234")


def open_breach_list(at: AppTest) -> AppTest:
    """Open the expander of the breached tickets' list (drawn only while it is open)."""
    assert not at.dataframe, "the list is drawn only once its expander is opened"
    at.session_state[keys.BREACH_LIST] = True
    return at.run()


def test_an_admins_dashboard_links_to_the_settings(desk: Desk) -> None:
    at = page("app_pages/dashboard.py", desk.admin_token)
    assert [link.value for link in at.page_link] == ["Change the targets"]


def test_an_agent_sees_the_dashboard_without_a_link_to_the_settings(desk: Desk) -> None:
    """Agents may see the dashboard but not change the targets: their navigation has no
    Settings page, so the page must not link to it."""
    three_tickets(desk)
    at = page("app_pages/dashboard.py", desk.agent_token)
    shown = kpi_cards(at)
    assert (shown["New tickets"].value, shown["Open tickets past a target"].value) == ("3", "1")
    assert len(open_breach_list(at).dataframe) == 1  # the breached tickets
    assert not at.page_link


def test_an_agent_cannot_open_the_settings(desk: Desk) -> None:
    # A link to it, say: the ticket list opens.
    at = page("app_pages/settings.py", desk.agent_token)
    assert not at.number_input
    assert "Settings" not in [t.value for t in at.title]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/settings.py")  # not among the agent's pages


def test_periods_of_7_days_and_a_custom_range(desk: Desk) -> None:
    three_tickets(desk)
    at = page("app_pages/dashboard.py", desk.admin_token)
    at.segmented_control(key="period").set_value(7).run()
    assert not at.exception
    assert "Nov 21, 2026 – Nov 27, 2026 (7 UTC days)" in at.caption[0].value
    assert kpi_cards(at)["New tickets"].value == "3"

    at.segmented_control(key="period").set_value(0).run()  # Custom
    at.date_input(key="period_dates").set_value((date(2026, 9, 1), date(2026, 9, 30))).run()
    assert not at.exception
    assert "Sep 01, 2026 – Sep 30, 2026 (30 UTC days)" in at.caption[0].value
    shown = kpi_cards(at)
    assert shown["New tickets"].value == "0"
    assert shown["First response time (hours)"].value == "–"

    at.date_input(key="period_dates").set_value((date(2024, 1, 1), date(2026, 11, 27))).run()
    assert not at.exception
    assert "at most 366 days" in at.error[0].value
    assert not kpi_cards(at)


def test_settings_shows_and_saves_the_targets(desk: Desk) -> None:
    at = page("app_pages/settings.py", desk.admin_token)
    assert target_input(at, "first", "High").value == 4
    assert target_input(at, "resolution", "Low").value == 168
    target_input(at, "first", "High").set_value(1.5)
    target_input(at, "resolution", "High").set_value(12)
    at.button[0].click().run()
    assert not at.exception
    assert "Saved" in at.success[0].value
    assert dashboard_service.sla_targets(desk.engine)[Priority.HIGH] == SlaTarget(1.5, 12)
    assert target_input(at, "first", "High").value == 1.5
    # The dashboard uses them.
    dashboard = page("app_pages/dashboard.py", desk.admin_token)
    assert any("High 1.5 h / 12 h" in c.value for c in dashboard.caption)


@pytest.mark.parametrize(
    ("which", "value", "message"),
    [
        (
            ("resolution", "Medium"),
            5,
            "Medium: the resolution target (5 h) cannot be shorter than the first-response "
            "target (8 h).",
        ),
        (("first", "Low"), -2, "Low: the first-response target must be more than 0 hours."),
        (("first", "High"), 0, "High: the first-response target must be more than 0 hours."),
    ],
)
def test_settings_refuses_bad_targets_with_a_message(
    desk: Desk, which: tuple[str, str], value: float, message: str
) -> None:
    at = page("app_pages/settings.py", desk.admin_token)
    target_input(at, *which).set_value(value)
    at.button[0].click().run()
    assert not at.exception
    assert message in at.error[0].value
    assert target_input(at, *which).value == value  # still in the form, to correct
    assert dashboard_service.sla_targets(desk.engine) == DEFAULT_TARGETS


def test_settings_does_not_overwrite_someone_elses_targets(desk: Desk) -> None:
    at = page("app_pages/settings.py", desk.admin_token)
    theirs = {"High": (2, 24), "Medium": (8, 72), "Low": (24, 168)}
    # Another admin, after this form was drawn:
    dashboard_service.save_sla_targets(desk.engine, desk.admin, theirs)
    target_input(at, "first", "Low").set_value(12)
    at.button[0].click().run()
    assert not at.exception
    assert "Someone else changed the SLA targets" in at.warning[0].value
    assert "High 2 h / 24 h" in at.warning[0].value
    assert dashboard_service.sla_targets(desk.engine)[Priority.LOW] == SlaTarget(24, 168)
    # The form now shows their targets; saving again applies on top of them.
    assert target_input(at, "first", "High").value == 2
    target_input(at, "first", "Low").set_value(12)
    at.button[0].click().run()
    assert dashboard_service.sla_targets(desk.engine)[Priority.LOW] == SlaTarget(12, 168)
    assert dashboard_service.sla_targets(desk.engine)[Priority.HIGH] == SlaTarget(2, 24)


def test_settings_shows_targets_saved_elsewhere_on_the_next_run(desk: Desk) -> None:
    at = page("app_pages/settings.py", desk.admin_token)
    theirs = {"High": (3, 30), "Medium": (8, 72), "Low": (24, 168)}
    dashboard_service.save_sla_targets(desk.engine, desk.admin, theirs)
    at.run()  # e.g. coming back to the page: the form shows what is stored now
    assert not at.exception
    assert (
        target_input(at, "first", "High").value,
        target_input(at, "resolution", "High").value,
    ) == (3, 30)
