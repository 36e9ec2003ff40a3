"""The ticket grid: one page of tickets in st.data_editor, each edited cell saved at once (one
transaction per ticket), and the one-row table of a ticket just filed.

The grid keeps its edits after a save; what it was drawn with is kept in session state, so
that a later run writes only real changes and notices when someone else changed a ticket
whose edit the grid still shows (then a fresh grid, with a new key, is drawn)."""

from __future__ import annotations

import functools
from datetime import tzinfo
from typing import Any

import pandas as pd
import streamlit as st

from app_components import keys, notices, session
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.sla import SlaTarget
from ticketdesk.domain.tickets import (
    ISSUE_MAX_CHARS,
    PRIORITIES,
    STATUSES,
    Priority,
    Ticket,
    TicketChange,
)
from ticketdesk.services import tickets as ticket_service

GRID_COLUMNS = {"Issue": "issue", "Status": "status", "Priority": "priority"}
Drawn = dict[Any, dict[Any, Any]]
"""A grid's editable cells (GRID_COLUMNS) by ticket id: what it was drawn with."""
ID_COLUMN_PX = 120  # fits TICKET-9999999; "small" (75 px) cut the codes of a 1M-ticket desk
# The seed's columns, then SLA, fit a 1,400 px window beside the sidebar (wider windows
# stretch them); Assignee and Open may need a sideways scroll, with the ID column pinned.
ISSUE_COLUMN_PX = 340  # "large" (400 px) pushed the SLA column out of a 1,400 px window
ASSIGNEE_COLUMN_PX = 110  # fits a first and last name; "small" (75 px) cut "Dana Novak"


def save_grid_edits(grid_key: str, shown: list[Ticket]) -> None:
    """Grid callback: write each cell that shows other than what its ticket held when the grid
    was last drawn, one transaction per ticket.

    The grid keeps its edits after a save (see grid_frame), so its edit state holds every edit
    since it was drawn; only those that differ from the database are written. An edit back to
    the value the grid was drawn with is no edit to the grid (it drops it) but may be one to
    the database: it is written too."""
    state = st.session_state
    if grid_key != current_grid_key():
        return  # an edit from a grid already replaced: its rows are not the ones shown now
    edited = {int(row): cells for row, cells in state[grid_key]["edited_rows"].items()}
    drawn = state.get(keys.GRID_DRAWN, ((), {}))[1]
    messages: list[str] = []
    by = session.signed_in()
    for row, ticket in enumerate(shown):
        before = held(ticket)
        drawn_with = drawn.get(ticket.id, before)
        showing = {c: edited.get(row, {}).get(c, drawn_with[c]) for c in GRID_COLUMNS}
        new = {c: v for c, v in showing.items() if v != before[c]}
        if not new:
            continue
        change = TicketChange(**{GRID_COLUMNS[c]: v for c, v in new.items()})
        try:
            ticket_service.update_ticket(
                session.engine(), by, ticket.id, change, session.now(), ticket.version
            )
        except TicketDeskError as exc:
            messages.append(str(exc))
        else:
            # Shown by the fragment's own rerun: a callback of a fragment must not draw.
            what = ", ".join(c if c == "Issue" else f"{c} {v}" for c, v in new.items())
            notices.push("toast", f"{ticket.code} saved: {what}", place=notices.TABLE)
    if messages:
        notices.push("error", "\n\n".join(messages), place=notices.TABLE)
        replace_grid()  # show what the database holds, without the refused edits


def held(ticket: Ticket) -> dict[str, str]:
    """The grid's editable cells of `ticket`, as the database held them (str() of a StrEnum
    is its value, as the grid shows it)."""
    return {column: str(getattr(ticket, field)) for column, field in GRID_COLUMNS.items()}


def current_grid_key() -> str:
    return f"{keys.GRID_PREFIX}{st.session_state.get(keys.GRID_REVISION, 0)}"


def replace_grid() -> None:
    """Draw a fresh grid (a new key: no edits left over) in the next run."""
    state = st.session_state
    state[keys.GRID_REVISION] = state.get(keys.GRID_REVISION, 0) + 1
    state[keys.GRID_REPLACED] = True


def redraw_page_if_replaced() -> None:
    """Called first in the table's fragment: a replaced grid (a new key) is drawn by a run of
    the whole page. A fragment run sometimes left the old grid on screen below the new one
    (Streamlit skipped its clean-up of the fragment's stale elements when the live view's
    timed run followed at once; cf. streamlit#16708). A full run always clears them. A save
    keeps the grid (its edits are what was saved), and other rows make a new grid by
    themselves (see tickets_frame), so this happens only when edits were refused or someone
    else changed a ticket whose edit the grid still shows (see edits_still_shown_right)."""
    if st.session_state.pop(keys.GRID_REPLACED, False):
        st.rerun(scope="app")


def edits_still_shown_right(tickets: list[Ticket]) -> bool:
    """Whether the grid's kept edits still say what their tickets hold now (someone else may
    have changed them since). Edits made on other rows than these do not matter: a grid of
    other tickets is drawn as a new widget, without edits (see tickets_frame)."""
    state = st.session_state
    edited = state.get(current_grid_key(), {}).get("edited_rows", {})
    if not edited or state.get(keys.GRID_DRAWN, ((), {}))[0] != tuple(t.id for t in tickets):
        return True
    for row, cells in edited.items():
        now_held = held(tickets[int(row)])
        if any(column in now_held and now_held[column] != v for column, v in cells.items()):
            return False
    return True


def tickets_frame(
    tickets: list[Ticket], targets: dict[Priority, SlaTarget] | None = None
) -> pd.DataFrame:
    """The table of `tickets` as the browser's clock shows them, with the SLA clocks of this
    moment under `targets` (none without): a frame of this run's own."""
    return framed(tickets, targets)[0]


def framed(
    tickets: list[Ticket], targets: dict[Priority, SlaTarget] | None
) -> tuple[pd.DataFrame, Drawn]:
    """tickets_frame(), and the editable cells of the shared frame under it."""
    moment = session.now()
    sla_labels = [
        ticket_service.sla_headline(ticket_service.sla_of(t, targets, moment)) if targets else ""
        for t in tickets
    ]
    shared, cells = shown_tickets(tuple(tickets), session.browser_timezone())
    frame = shared.copy(deep=False)
    frame["SLA"] = pd.Series(sla_labels, dtype="string", index=frame.index)
    return frame, cells


@functools.lru_cache(maxsize=256)
def shown_tickets(tickets: tuple[Ticket, ...], zone: tzinfo) -> tuple[pd.DataFrame, Drawn]:
    """The table of `tickets` in `zone`, but for its SLA column (left empty: its clocks move
    with every run), and its editable cells by ticket id: shared, read only, by every run that
    shows these tickets as they are now (keyed by their values, so any change of a ticket, a
    name included, is another entry). The live view redraws every list page showing a
    changed ticket, up to hundreds on a busy desk, and building the frame was a seventh of
    the server's time under load (py-spy, 150 sessions: docs/architecture.md)."""
    # Explicit dtypes: an empty page must still give the grid text and datetime columns.
    # The index holds the ticket ids (hidden): Streamlit draws a keyed grid as the same widget,
    # with its edits, while its index stays the same, and as a new one (without edits) when
    # other tickets are shown.
    frame = pd.DataFrame(
        {
            "ID": pd.Series([t.code for t in tickets], dtype="string"),
            "Issue": pd.Series([t.issue for t in tickets], dtype="string"),
            "Status": pd.Series([t.status.value for t in tickets], dtype="string"),
            "Priority": pd.Series([t.priority.value for t in tickets], dtype="string"),
            "Date Submitted": pd.Series(
                [t.created_at.astimezone(zone).replace(tzinfo=None) for t in tickets],
                dtype="datetime64[us]",
            ),
            "SLA": pd.Series([""] * len(tickets), dtype="string"),
            "Assignee": pd.Series([t.assignee or "" for t in tickets], dtype="string"),
            "Open": pd.Series([f"?ticket={t.code}" for t in tickets], dtype="string"),
        }
    )
    frame.index = pd.Index([t.id for t in tickets], dtype="int64", name="id")
    return frame, editable_cells(frame)


def editable_cells(frame: pd.DataFrame) -> Drawn:
    """The grid's editable cells of `frame`, by ticket id and column."""
    return frame[list(GRID_COLUMNS)].to_dict("index")


def grid_frame(
    grid_key: str, tickets: list[Ticket], targets: dict[Priority, SlaTarget]
) -> pd.DataFrame:
    """The grid's data: the tickets as the database holds them, except that a cell on which
    the grid still shows an edit keeps the value the grid was first drawn with; the grid draws
    the edit over it, and the database holds that edit (see edits_still_shown_right). Sent the
    saved value instead, the grid would drop its edit as needless and send its edit state
    again: a second run after every save."""
    state = st.session_state
    frame, shown = framed(tickets, targets)
    ids = tuple(t.id for t in tickets)
    drawn_ids, drawn = state.get(keys.GRID_DRAWN, ((), {}))
    kept = False
    if drawn_ids == ids:
        for row, cells in state.get(grid_key, {}).get("edited_rows", {}).items():
            ticket_id = ids[int(row)]
            for column in cells.keys() & GRID_COLUMNS.keys():
                # pandas copies on write: the shared frame under this one stays as it was
                frame.at[ticket_id, column] = drawn[ticket_id][column]
                kept = True
    state[keys.GRID_DRAWN] = (ids, editable_cells(frame) if kept else shown)
    return frame


def show_filed(ticket: Ticket) -> None:
    """The one-row table of a ticket just filed."""
    details = tickets_frame([ticket])
    st.dataframe(
        details,
        hide_index=True,
        width="stretch",
        # No SLA column: a ticket just filed has its whole target ahead of it.
        column_order=[c for c in details.columns if c != "SLA"],
        column_config={
            "Date Submitted": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Open": st.column_config.LinkColumn(display_text="Open"),
        },
    )


def show_grid(page: ticket_service.TicketPage, editable: bool) -> None:
    """One page of tickets; with `editable`, Status, Priority and Issue are edited in place
    and saved at once."""
    grid_key = current_grid_key()
    st.data_editor(
        grid_frame(grid_key, page.tickets, page.targets),
        key=grid_key,
        hide_index=True,
        width="stretch",
        height=38 + 35 * max(len(page.tickets), 1),
        disabled=["ID", "Date Submitted", "Assignee", "SLA", "Open"] if editable else True,
        column_config={
            "ID": st.column_config.TextColumn("ID", width=ID_COLUMN_PX, pinned=True),
            "Issue": st.column_config.TextColumn(
                "Issue", width=ISSUE_COLUMN_PX, required=True, max_chars=ISSUE_MAX_CHARS
            ),
            "Status": st.column_config.SelectboxColumn(
                "Status", options=STATUSES, required=True, width="small"
            ),
            "Priority": st.column_config.SelectboxColumn(
                "Priority", options=PRIORITIES, required=True, width="small"
            ),
            "Date Submitted": st.column_config.DatetimeColumn(
                "Date Submitted", format="YYYY-MM-DD HH:mm"
            ),
            "Assignee": st.column_config.TextColumn("Assignee", width=ASSIGNEE_COLUMN_PX),
            "SLA": st.column_config.TextColumn(
                "SLA", help="Time left to the target that matters now, or how late it is"
            ),
            "Open": st.column_config.LinkColumn(
                "Open", display_text="Open", width="small", help="The ticket's page"
            ),
        },
        on_change=save_grid_edits,
        args=(grid_key, page.tickets),
    )
