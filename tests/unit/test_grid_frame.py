"""The ticket grid's frame (app_components.ticket_grid.shown_tickets): built once per tickets
as they are and time zone, and shared by every run that shows them; anything else about a
ticket is another frame."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app_components.ticket_grid import shown_tickets
from ticketdesk.domain.tickets import Priority, Status, Ticket

FILED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def ticket(ticket_id: int, assignee: str | None = "Ben") -> Ticket:
    return Ticket(
        id=ticket_id,
        issue=f"Printer {ticket_id} jams",
        status=Status.OPEN,
        priority=Priority.HIGH,
        created_at=FILED,
        updated_at=FILED,
        version=1,
        assignee=assignee,
    )


def test_the_same_tickets_in_the_same_zone_share_one_frame_and_its_cells() -> None:
    first = shown_tickets((ticket(1), ticket(2)), UTC)
    again = shown_tickets((ticket(1), ticket(2)), UTC)  # equal tickets, other objects
    assert again[0] is first[0] and again[1] is first[1]
    frame, cells = first
    assert list(frame.index) == [1, 2]
    assert list(frame["ID"]) == ["TICKET-1", "TICKET-2"]
    assert list(frame["SLA"]) == ["", ""]  # each run writes its own moment's clocks
    assert cells == {
        1: {"Issue": "Printer 1 jams", "Status": "Open", "Priority": "High"},
        2: {"Issue": "Printer 2 jams", "Status": "Open", "Priority": "High"},
    }


def test_a_changed_ticket_or_another_zone_is_another_frame() -> None:
    first, _ = shown_tickets((ticket(1), ticket(2)), UTC)
    renamed, _ = shown_tickets((ticket(1), ticket(2, assignee="Bea")), UTC)  # same version
    assert renamed is not first
    assert list(renamed["Assignee"]) == ["Ben", "Bea"]
    berlin, _ = shown_tickets((ticket(1), ticket(2)), ZoneInfo("Europe/Berlin"))
    assert berlin is not first
    # 09:30 UTC on March 1st is 10:30 in Berlin (CET, UTC+1); the grid shows naive times.
    assert berlin["Date Submitted"].iloc[0] == datetime(2026, 3, 1, 10, 30)
    assert first["Date Submitted"].iloc[0] == datetime(2026, 3, 1, 9, 30)


def test_a_run_that_writes_into_its_frame_leaves_the_shared_one_as_it_was() -> None:
    shared, _ = shown_tickets((ticket(7),), UTC)
    own = shared.copy(deep=False)
    own.at[7, "Status"] = "Closed"
    own["SLA"] = ["Response 3 h left"]
    assert shared.at[7, "Status"] == "Open" and shared.at[7, "SLA"] == ""
