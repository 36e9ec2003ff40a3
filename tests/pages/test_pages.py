"""The Streamlit pages, run headless with AppTest against a real SQLite file, signed in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app_components.session import sign_out_form
from tests.support.apptest import (
    ROOT,
    chart_rows,
    open_app,
    open_new_ticket_form,
    person,
    session_of,
    submit_new_ticket,
)
from tests.support.kpi_cards import kpi_cards
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import tickets as ticket_service


@pytest.fixture
def agent(app_engine: Engine) -> tuple[Account, str]:
    """An agent and the token of a session it just opened (the app checks sessions against
    the real clock)."""
    ana = person(app_engine, "Ana Agent", "agent")
    return ana, session_of(app_engine, ana)


def number_of_tickets(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Number of tickets"))


def test_adding_a_ticket_stores_it_and_shows_its_details(
    app_engine: Engine, agent: tuple[Account, str]
) -> None:
    ana, token = agent
    at = open_app(token)
    assert not at.exception
    assert number_of_tickets(at) == "Number of tickets: `0`"
    open_new_ticket_form(at)
    at.text_area(key="new_issue").input("Wi-Fi drops every ten minutes")
    at.selectbox(key="new_priority").select("High")
    submit_new_ticket(at)
    assert not at.exception
    assert "submitted" in at.success[0].value
    ticket = ticket_service.list_tickets(app_engine, ana)[0]
    assert (ticket.issue, ticket.priority, ticket.status, ticket.requester) == (
        "Wi-Fi drops every ten minutes",
        "High",
        "Open",
        "Ana Agent",
    )
    assert ticket.code in at.success[0].value
    assert number_of_tickets(at) == "Number of tickets: `1`"
    grid = at.data_editor[0].value
    assert list(grid.columns) == [
        "ID",
        "Issue",
        "Status",
        "Priority",
        "Date Submitted",
        "SLA",
        "Assignee",
        "Open",
    ]
    # A new High ticket: 4 hours to the first response (the seconds of this test aside).
    assert grid.iloc[0]["SLA"] in ("Response 4 h left", "Response 3 h 59 min left")
    assert grid.iloc[0]["Open"] == f"?ticket={ticket.code}"
    assert grid.iloc[0]["ID"] == ticket.code
    assert not at.text_area  # filed: the form closed
    open_new_ticket_form(at)
    assert at.text_area(key="new_issue").value == ""  # ready for the next ticket


@pytest.mark.parametrize(
    ("text", "message"),
    [("   \n ", "cannot be empty"), ("y" * 5001, "the limit is 5,000")],
)
def test_a_refused_ticket_keeps_the_text_and_stores_nothing(
    app_engine: Engine, agent: tuple[Account, str], text: str, message: str
) -> None:
    ana, token = agent
    at = open_app(token)
    open_new_ticket_form(at)
    at.text_area(key="new_issue").input(text)
    submit_new_ticket(at)
    assert not at.exception
    assert message in at.error[0].value
    assert at.text_area(key="new_issue").value == text
    assert ticket_service.list_tickets(app_engine, ana) == []


def test_html_is_stored_exactly_and_never_rendered(
    app_engine: Engine, agent: tuple[Account, str]
) -> None:
    text = "<img src=x onerror=alert(1)> **not bold**"
    ana, token = agent
    at = open_app(token)
    open_new_ticket_form(at)
    at.text_area(key="new_issue").input(text)
    submit_new_ticket(at)
    assert ticket_service.list_tickets(app_engine, ana)[0].issue == text
    assert at.data_editor[0].value.iloc[0]["Issue"] == text
    # Nothing goes through st.html but the app's own sign-out form; no unsafe markdown.
    assert [h.value.strip() for h in at.html] == [sign_out_form(token).strip()]
    assert not any(m.proto.allow_html for m in at.markdown)


def test_dashboard_metrics_come_from_the_recorded_history(
    app_engine: Engine, agent: tuple[Account, str]
) -> None:
    ana, token = agent
    rita = person(app_engine, "Rita Requester", "requester")
    now = datetime.now(UTC)
    # X: filed 10 h ago, answered 7 h ago (3 h), closed 1 h ago (9 h). Y: filed 2 h ago, Open.
    x = ticket_service.create_ticket(app_engine, rita, "X", "High", now - timedelta(hours=10))
    ticket_service.update_ticket(
        app_engine, ana, x.id, TicketChange(status="In Progress"), now - timedelta(hours=7)
    )
    ticket_service.update_ticket(
        app_engine, ana, x.id, TicketChange(status="Closed"), now - timedelta(hours=1)
    )
    ticket_service.create_ticket(app_engine, rita, "Y", "Low", now - timedelta(hours=2))

    at = open_app(token, page="app_pages/dashboard.py")
    assert not at.exception
    metrics = kpi_cards(at)
    assert metrics["Number of open tickets"].value == "1"
    assert metrics["Number of open tickets"].delta == "1"  # none were open 30 days ago
    assert metrics["First response time (hours)"].value == "3.0"
    assert metrics["Average resolution time (hours)"].value == "9.0"
    # Nothing in the previous 30 days: no delta rather than a made-up one.
    assert not metrics["First response time (hours)"].delta
    charts = chart_rows(at)
    by_month = next(rows for rows in charts if rows and "Month" in rows[0])
    by_priority = next(rows for rows in charts if rows and set(rows[0]) == {"Priority", "Tickets"})
    # The charts receive the aggregated rows only, one per (month, status) and per priority.
    x_month, y_month = (f"{now - timedelta(hours=h):%Y-%m}" for h in (10, 2))
    expected = Counter({(x_month, "Closed"): 1, (y_month, "Open"): 1})
    assert Counter({(r["Month"], r["Status"]): r["Tickets"] for r in by_month}) == expected
    assert sorted((r["Priority"], r["Tickets"]) for r in by_priority) == [("High", 1), ("Low", 1)]


def test_an_unreachable_database_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(
        "TICKETDESK_DATABASE_URL",
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
    at = open_app("a token from before the outage")
    assert not at.exception
    message = at.warning[0].value
    assert "cannot be reached" in message and "reloads by itself" in message
    assert "nobody" in message and "127.0.0.1:1" in message
