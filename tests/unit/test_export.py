"""CSV export: spreadsheet formula neutralising, URL round trip, streaming in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketdesk import config
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.files import Attachment
from ticketdesk.domain.tickets import Priority, Status, Ticket
from ticketdesk.queries import export
from ticketdesk.queries.ticket_table import Sort, SortColumn, TicketFilter

WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def ticket(i: int, issue: str) -> Ticket:
    return Ticket(i, issue, Status.OPEN, Priority.HIGH, WHEN, WHEN, 1)


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("plain text = fine", "plain text = fine"),
        ("a-b", "a-b"),
    ],
)
def test_formula_cells_are_neutralised(cell: str, written: str) -> None:
    assert export.neutralise(cell) == written


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP, CSV injection), written here
by hand rather than taken from the module under test."""

issue_texts = st.text(
    st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\n\r=+-@"),
    min_size=1,
    max_size=40,
)


@given(issue_texts)
def test_no_exported_issue_cell_starts_like_a_formula(issue: str) -> None:
    text = "".join(export.csv_chunks([(ticket(1, issue), [])]))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(export.HEADER)
    cell = rows[1][1]
    assert not cell.startswith(FORMULA_STARTS)
    # Nothing else changes: the text comes back exactly, apostrophe aside.
    assert cell == (f"'{issue}" if issue.startswith(FORMULA_STARTS) else issue)


def test_rows_come_out_in_chunks() -> None:
    many: Iterator[export.ExportRow] = ((ticket(i, f"issue {i}"), []) for i in range(1, 1201))
    chunks = list(export.csv_chunks(many))
    assert len(chunks) == 3  # 500 + 500 + 200 rows (the header rides in the first)
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert len(rows) == 1201
    assert rows[1] == ["TICKET-1", "issue 1", "Open", "High", "2026-11-27 09:30:00", ""]


def attached(file_id: int, name: str) -> Attachment:
    return Attachment(file_id, 1, None, "0" * 64, name, 10, "text/plain")


def test_attachments_are_listed_as_name_and_link_one_a_line() -> None:
    files = [attached(7, "crash log.txt"), attached(9, "a/b?#%.png")]
    # By hand: the name as stored, the link with the name percent-encoded.
    assert export.attachments_cell(files) == (
        "crash log.txt </files/7/crash%20log.txt>\na/b?#%.png </files/9/a%2Fb%3F%23%25.png>"
    )
    assert export.attachments_cell(files[:1], "https://desk.example.com") == (
        "crash log.txt <https://desk.example.com/files/7/crash%20log.txt>"
    )
    assert export.attachments_cell([]) == ""


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("=HYPERLINK(x).txt", "'=HYPERLINK(x).txt </files/3/%3DHYPERLINK%28x%29.txt>"),
        ("+1.txt", "'+1.txt </files/3/%2B1.txt>"),
        ("-2.txt", "'-2.txt </files/3/-2.txt>"),
        ("@SUM.txt", "'@SUM.txt </files/3/%40SUM.txt>"),
        ("plain.txt", "plain.txt </files/3/plain.txt>"),
    ],
)
def test_a_file_name_starting_like_a_formula_is_neutralised_in_the_export(
    name: str, written: str
) -> None:
    text = "".join(export.csv_chunks([(ticket(1, "issue"), [attached(3, name)])]))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][-1] == "Attachments"
    assert rows[1][-1] == written


@pytest.mark.parametrize(
    "who",
    [{}, {"assignee": "Ana Agent"}, {"unassigned": True}],
    ids=["anyone", "assigned to one agent", "unassigned"],
)
def test_view_round_trips_through_url_parameters(who: dict[str, Any]) -> None:
    flt = TicketFilter(
        ("Open", "Closed"), ("Low",), date(2026, 1, 2), date(2026, 3, 4), "vpn x", **who
    )
    sort = Sort(SortColumn.PRIORITY, descending=False)
    assert export.from_query(export.to_query(flt, sort)) == (flt, sort)
    assert export.from_query({}) == (TicketFilter(), Sort())


@pytest.mark.parametrize(
    "params",
    [
        {"status": "Done"},
        {"priority": "Urgent"},
        {"from": "2026-13-01"},
        {"sort": "Colour"},
        {"order": "sideways"},
        {"q": "x" * 6000},
        {"assignee": "x" * 101},
        {"unassigned": "yes"},
        {"assignee": "Ana Agent", "unassigned": "1"},
    ],
)
def test_malformed_parameters_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        export.from_query(params)


@pytest.mark.parametrize(
    ("raw", "base"),
    [
        ("", ""),
        ("  https://desk.example.com/ ", "https://desk.example.com"),
        ("http://h:8501", "http://h:8501"),
    ],
)
def test_the_base_url_of_export_links_comes_from_the_environment(raw: str, base: str) -> None:
    assert config.base_url({"TICKETDESK_BASE_URL": raw}) == base
    assert config.base_url({}) == ""


def test_a_base_url_that_is_no_web_address_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="TICKETDESK_BASE_URL must start with http"):
        config.base_url({"TICKETDESK_BASE_URL": "desk.example.com"})
