"""CSV export of a filtered view: URL parameters <-> filter, and spreadsheet-safe CSV lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date

from ticketdesk.domain.accounts import NAME_MAX_CHARS
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.files import Attachment
from ticketdesk.domain.tickets import ISSUE_MAX_CHARS, Ticket, validate_priority, validate_status
from ticketdesk.queries.ticket_table import Sort, SortColumn, TicketFilter

HEADER = ("ID", "Issue", "Status", "Priority", "Date Submitted (UTC)", "Attachments")
# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def neutralise(cell: str) -> str:
    """Prefix a would-be formula with an apostrophe, so a spreadsheet shows it as text."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


ExportRow = tuple[Ticket, Sequence[Attachment]]
"""A ticket and the files its exporter may see."""


def attachments_cell(files: Sequence[Attachment], base_url: str = "") -> str:
    """The files of a ticket as `name <link>`, one a line (a stored name holds no line breaks:
    domain.files.safe_name drops control characters); the link is the desk's download address,
    absolute under `base_url` when given. Names and links only, never the content."""
    return "\n".join(f"{a.name} <{base_url}{a.url}>" for a in files)


def csv_chunks(rows: Iterable[ExportRow], base_url: str = "") -> Iterator[str]:
    """The CSV text in chunks of ROWS_PER_CHUNK rows; memory stays flat however many rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for n, (t, files) in enumerate(rows, start=1):
        writer.writerow(
            (
                t.code,
                neutralise(t.issue),
                t.status.value,
                t.priority.value,
                t.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                neutralise(attachments_cell(files, base_url)),
            )
        )
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def to_query(flt: TicketFilter, sort: Sort) -> dict[str, str]:
    """URL parameters describing a view, every filter of it; `from_query` reads them back.
    (Not the requester: the export route narrows every view to what its caller may see.)"""
    params = {"sort": sort.column.value, "order": "desc" if sort.descending else "asc"}
    if flt.statuses:
        params["status"] = ",".join(flt.statuses)
    if flt.priorities:
        params["priority"] = ",".join(flt.priorities)
    if flt.submitted_from:
        params["from"] = flt.submitted_from.isoformat()
    if flt.submitted_to:
        params["to"] = flt.submitted_to.isoformat()
    if flt.search:
        params["q"] = flt.search
    if flt.assignee is not None:
        params["assignee"] = flt.assignee
    if flt.unassigned:
        params["unassigned"] = "1"
    return params


def from_query(params: Mapping[str, str]) -> tuple[TicketFilter, Sort]:
    """Read a view from URL parameters; anything malformed is a ValidationError."""

    def listed(name: str) -> list[str]:
        return [v for v in params.get(name, "").split(",") if v]

    def day(name: str) -> date | None:
        raw = params.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(f"{name}={raw!r} is not a date (YYYY-MM-DD).") from None

    try:
        column = SortColumn(params.get("sort", SortColumn.ID.value))
    except ValueError:
        raise ValidationError(f"Cannot sort by {params.get('sort')!r}.") from None
    if params.get("order", "desc") not in ("asc", "desc"):
        raise ValidationError("order must be asc or desc.")
    search = params.get("q", "")
    if len(search) > ISSUE_MAX_CHARS:
        raise ValidationError("The search text is too long.")
    assignee = params.get("assignee")
    if assignee is not None and len(assignee) > NAME_MAX_CHARS:
        raise ValidationError("The assignee's name is too long.")
    if params.get("unassigned", "") not in ("", "1"):
        raise ValidationError("unassigned must be 1 or left out.")
    unassigned = params.get("unassigned") == "1"
    if unassigned and assignee is not None:
        raise ValidationError("Ask for one assignee's tickets or for unassigned ones, not both.")
    flt = TicketFilter(
        statuses=tuple(validate_status(s).value for s in listed("status")),
        priorities=tuple(validate_priority(p).value for p in listed("priority")),
        submitted_from=day("from"),
        submitted_to=day("to"),
        search=search,
        assignee=assignee,
        unassigned=unassigned,
    )
    return flt, Sort(column, params.get("order", "desc") == "desc")
