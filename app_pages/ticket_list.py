"""The ticket list: add a ticket; find, sort and page through them all; change status,
priority or text in place. Everything is filtered, sorted and paged in SQL: the browser
gets one page."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from app_pages.shared import (
    browser_timezone,
    engine,
    now,
    page_errors,
    remember_revision,
    signed_in,
)
from ticketdesk.domain.accounts import Account, Action
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
from ticketdesk.queries.export import to_query
from ticketdesk.queries.ticket_table import Sort, SortColumn, TicketFilter
from ticketdesk.services import tickets as ticket_service

GRID_COLUMNS = {"Issue": "issue", "Status": "status", "Priority": "priority"}
ORDERS = {True: "Descending", False: "Ascending"}
ID_COLUMN_PX = 120  # fits TICKET-9999999; "small" (75 px) cut the codes of a 1M-ticket desk
# The seed's columns, then SLA, fit a 1,400 px window beside the sidebar (wider windows
# stretch them); Assignee and Open may need a sideways scroll, with the ID column pinned.
ISSUE_COLUMN_PX = 340  # "large" (400 px) pushed the SLA column out of a 1,400 px window
ASSIGNEE_COLUMN_PX = 110  # fits a first and last name; "small" (75 px) cut "Dana Novak"


def submit_ticket() -> None:
    """Form callback: store the ticket; keep the text if it was refused."""
    state = st.session_state
    try:
        ticket = ticket_service.create_ticket(
            engine(), signed_in(), state.new_issue, state.new_priority, now()
        )
    except TicketDeskError as exc:
        state.flash = ("error", str(exc))
        return
    state.new_issue = ""
    state.flash = ("created", ticket)


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
    drawn = state.get("grid_drawn", ((), {}))[1]
    messages: list[str] = []
    by = signed_in()
    for row, ticket in enumerate(shown):
        before = held(ticket)
        drawn_with = drawn.get(ticket.id, before)
        showing = {c: edited.get(row, {}).get(c, drawn_with[c]) for c in GRID_COLUMNS}
        new = {c: v for c, v in showing.items() if v != before[c]}
        if not new:
            continue
        change = TicketChange(**{GRID_COLUMNS[c]: v for c, v in new.items()})
        try:
            ticket_service.update_ticket(engine(), by, ticket.id, change, now(), ticket.version)
        except TicketDeskError as exc:
            messages.append(str(exc))
        else:
            # Shown by the fragment's own rerun: a callback of a fragment must not draw.
            what = ", ".join(c if c == "Issue" else f"{c} {v}" for c, v in new.items())
            state.setdefault("table_saved", []).append(f"{ticket.code} saved: {what}")
    if messages:
        state.table_flash = "\n\n".join(messages)
        replace_grid()  # show what the database holds, without the refused edits


def held(ticket: Ticket) -> dict[str, str]:
    """The grid's editable cells of `ticket`, as the database held them (str() of a StrEnum
    is its value, as the grid shows it)."""
    return {column: str(getattr(ticket, field)) for column, field in GRID_COLUMNS.items()}


def current_grid_key() -> str:
    return f"grid-{st.session_state.get('grid_revision', 0)}"


def replace_grid() -> None:
    """Draw a fresh grid (a new key: no edits left over) in the next run."""
    state = st.session_state
    state.grid_revision = state.get("grid_revision", 0) + 1
    state.grid_replaced = True


def edits_still_shown_right(tickets: list[Ticket]) -> bool:
    """Whether the grid's kept edits still say what their tickets hold now (someone else may
    have changed them since). Edits made on other rows than these do not matter: a grid of
    other tickets is drawn as a new widget, without edits (see tickets_frame)."""
    state = st.session_state
    edited = state.get(current_grid_key(), {}).get("edited_rows", {})
    if not edited or state.get("grid_drawn", ((), {}))[0] != tuple(t.id for t in tickets):
        return True
    for row, cells in edited.items():
        now_held = held(tickets[int(row)])
        if any(column in now_held and now_held[column] != v for column, v in cells.items()):
            return False
    return True


def tickets_frame(
    tickets: list[Ticket], targets: dict[Priority, SlaTarget] | None = None
) -> pd.DataFrame:
    zone = browser_timezone()
    moment = now()
    sla_labels = [
        ticket_service.sla_headline(ticket_service.sla_of(t, targets, moment)) if targets else ""
        for t in tickets
    ]
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
            "SLA": pd.Series(sla_labels, dtype="string"),
            "Assignee": pd.Series([t.assignee or "" for t in tickets], dtype="string"),
            "Open": pd.Series([f"?ticket={t.code}" for t in tickets], dtype="string"),
        }
    )
    frame.index = pd.Index([t.id for t in tickets], dtype="int64", name="id")
    return frame


def grid_frame(
    grid_key: str, tickets: list[Ticket], targets: dict[Priority, SlaTarget]
) -> pd.DataFrame:
    """The grid's data: the tickets as the database holds them, except that a cell on which
    the grid still shows an edit keeps the value the grid was first drawn with; the grid draws
    the edit over it, and the database holds that edit (see edits_still_shown_right). Sent the
    saved value instead, the grid would drop its edit as needless and send its edit state
    again: a second run after every save."""
    state = st.session_state
    frame = tickets_frame(tickets, targets)
    ids = tuple(t.id for t in tickets)
    drawn_ids, drawn = state.get("grid_drawn", ((), {}))
    if drawn_ids == ids:
        for row, cells in state.get(grid_key, {}).get("edited_rows", {}).items():
            ticket_id = ids[int(row)]
            for column in cells.keys() & GRID_COLUMNS.keys():
                frame.at[ticket_id, column] = drawn[ticket_id][column]
    state.grid_drawn = (ids, frame[list(GRID_COLUMNS)].to_dict("index"))
    return frame


def show_flash() -> None:
    flash = st.session_state.pop("flash", None)
    if flash is None:
        return
    kind, payload = flash
    if kind == "created":
        st.success(
            f"Ticket {payload.code} submitted. Here are its details:",
            icon=":material/check_circle:",
        )
        details = tickets_frame([payload])
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
    else:
        st.error(payload, icon=":material/error:")


WHO = {"anyone": "Anyone", "mine": "Assigned to me", "unassigned": "Unassigned"}


def read_view(by: Account) -> tuple[TicketFilter, Sort]:
    """The filter and sort widgets, as plain values (requesters have no assignee filter:
    they see only their own tickets)."""
    widths = [3, 2, 2, 2, 2, 2, 2] if by.is_staff else [3, 2, 2, 2, 2, 2]
    columns = iter(st.columns(widths, vertical_alignment="bottom"))
    search_col = next(columns)
    who = "anyone"
    if by.is_staff:
        who = next(columns).selectbox(
            "Assigned", list(WHO), format_func=WHO.__getitem__, key="filter_who"
        )
    status_col, priority_col, dates_col, sort_col, order_col = columns
    search = search_col.text_input(
        "Search", key="search", placeholder="Words in the issue…", max_chars=200
    )
    statuses = status_col.multiselect("Status", STATUSES, key="filter_status")
    priorities = priority_col.multiselect("Priority", PRIORITIES, key="filter_priority")
    days: Any = dates_col.date_input(
        "Submitted (UTC days)", value=[], key="filter_days", format="YYYY-MM-DD"
    )
    column = sort_col.selectbox("Sort by", list(SortColumn), key="sort_by")
    descending = order_col.selectbox(
        "Order", list(ORDERS), format_func=ORDERS.__getitem__, key="sort_descending"
    )
    chosen: list[date] = list(days) if isinstance(days, tuple | list) else [days]
    flt = TicketFilter(
        statuses=tuple(statuses),
        priorities=tuple(priorities),
        submitted_from=chosen[0] if chosen else None,
        submitted_to=chosen[-1] if chosen else None,
        search=search,
        assignee=by.name if who == "mine" else None,
        unassigned=who == "unassigned",
    )
    return flt, Sort(SortColumn(column or SortColumn.ID), bool(descending))


@st.fragment
def render_list() -> None:
    """The form, the filters, one page of the grid, the pager and the export link: a
    fragment, so that a submit reruns this part of the page and not the navigation, the
    sidebar and the live view (the table is a fragment of its own inside it)."""
    st.header("Add a ticket")
    with st.form("add_ticket"):
        st.text_area(
            "Describe the issue",
            key="new_issue",
            help=f"Plain text, up to {ISSUE_MAX_CHARS:,} characters.",
        )
        st.selectbox("Priority", PRIORITIES, key="new_priority", index=1)
        st.form_submit_button("Submit", on_click=submit_ticket, type="primary")
    with st.container():  # one slot, whatever it shows: the table below keeps its place
        show_flash()
    st.header("Existing tickets")
    ticket_table()


@st.fragment
def ticket_table() -> None:
    """The filters, one page of the grid, the pager and the export link: a fragment, so that
    paging, searching and editing cells rerun only this part of the page."""
    if st.session_state.pop("grid_replaced", False):
        # A replaced grid (a new key) is drawn by a run of the whole page: a fragment run
        # sometimes left the old grid on screen below the new one (Streamlit skipped its
        # clean-up of the fragment's stale elements when the live view's timed run followed
        # at once; cf. streamlit#16708). A full run always clears them. A save keeps the
        # grid (its edits are what was saved), and other rows make a new grid by themselves
        # (see tickets_frame), so this happens only when edits were refused or someone else
        # changed a ticket whose edit the grid still shows (see edits_still_shown_right).
        st.rerun(scope="app")
    with page_errors():
        show_table()


def show_table() -> None:
    for saved in st.session_state.pop("table_saved", []):
        st.toast(saved, icon=":material/check:")
    refusal = st.session_state.pop("table_flash", None)
    if refusal:
        st.error(refusal, icon=":material/error:")
    by = signed_in()
    flt, sort = read_view(by)
    state = st.session_state
    if state.get("view") != (flt, sort):  # a new view starts on its first page
        state.view, state.page, state.anchor = (flt, sort), 1, None
    result = ticket_service.ticket_page(
        engine(), by, flt, sort, state.get("page", 1), state.get("anchor")
    )
    state.anchor = result.anchor
    if not edits_still_shown_right(result.tickets):
        replace_grid()
        st.rerun(scope="app")  # see ticket_table
    remember_revision(result.revision)
    more = "+" if result.matching_is_lower_bound else ""
    st.write(f"Number of tickets: `{result.matching:,}{more}`")
    editable = by.may(Action.EDIT_TICKET)
    st.caption(
        (
            "Double-click a Status, Priority or Issue cell to change it; every change is saved "
            "at once. "
            if editable
            else "The tickets you filed. Open one to follow its conversation or add to it. "
        )
        + "Sorting and filtering apply to all pages; a click on a column header only re-orders "
        "the page shown."
    )
    grid_key = current_grid_key()
    st.data_editor(
        grid_frame(grid_key, result.tickets, result.targets),
        key=grid_key,
        hide_index=True,
        width="stretch",
        height=38 + 35 * max(len(result.tickets), 1),
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
        args=(grid_key, result.tickets),
    )
    pager_col, export_col = st.columns([4, 1], vertical_alignment="center")
    with pager_col:
        if state.get("page") != result.page:  # a new view, or a page past a shrunken end
            state.page = result.page
        st.pagination(result.pages, key="page", max_visible_pages=7)
    export_col.link_button(
        "Export CSV",
        "./export.csv?" + urlencode(to_query(flt, sort)),
        icon=":material/download:",
        help="Every ticket of this view (all pages), as CSV.",
        width="stretch",
    )
