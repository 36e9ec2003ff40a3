"""Tickets: the list, or one ticket's page when the URL names it (?ticket=TICKET-1042).

The list: add a ticket; find, sort and page through them all; change status, priority or text
in place. Everything is filtered, sorted and paged in SQL: the browser gets one page."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from app_components import attachments, keys, notices, ticket_grid
from app_components.session import (
    engine,
    follow_changes,
    now,
    page_errors,
    remember_revision,
    signed_in,
)
from app_components.text import escape_markdown
from app_components.ticket_detail import render_detail
from ticketdesk.domain.accounts import Account, Action
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.tickets import ISSUE_MAX_CHARS, PRIORITIES, STATUSES
from ticketdesk.services import live as live_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.tickets import Sort, SortColumn, TicketFilter

ORDERS = {True: "Descending", False: "Ascending"}
WHO = {"anyone": "Anyone", "mine": "Assigned to me", "unassigned": "Unassigned"}
FORM_PX = 560  # the new-ticket form's width (a popover is as wide as what it holds)


def submit_ticket() -> None:
    """Form callback: store the ticket with its files and close the form (the page shows the
    ticket above the table); keep the text and the files in the open form if it was
    refused."""
    state = st.session_state
    files = attachments.chosen(keys.NEW_FILES)
    try:
        ticket = ticket_service.create_ticket(
            engine(),
            signed_in(),
            state[keys.NEW_ISSUE],
            state[keys.NEW_PRIORITY],
            now(),
            files,
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc), place=notices.NEW_TICKET)
        return
    state[keys.NEW_ISSUE] = ""
    attachments.forget(keys.NEW_FILES)
    state[keys.NEW_TICKET] = False  # closes the form's popover
    notices.push(
        "success",
        f"Ticket {ticket.code} submitted.{attachments.attached(files)} Here are its details:",
        ticket=ticket,
    )


def new_ticket_form() -> None:
    notices.show(notices.NEW_TICKET)
    with st.form("add_ticket", border=False):
        st.text_area(
            "Describe the issue",
            key=keys.NEW_ISSUE,
            help=f"Plain text, up to {ISSUE_MAX_CHARS:,} characters.",
            width=FORM_PX,
        )
        st.selectbox("Priority", PRIORITIES, key=keys.NEW_PRIORITY, index=1)
        attachments.uploader(keys.NEW_FILES)
        st.form_submit_button("Submit", on_click=submit_ticket, type="primary")


def read_view(by: Account) -> tuple[TicketFilter, Sort]:
    """The search box and, in the Filters popover, the filter and sort widgets, as plain
    values (requesters have no assignee filter: they see only their own tickets). The
    popover's widgets run in every run (their values stay), but the browser draws them only
    while it is open."""
    search = st.text_input(
        "Search",
        key=keys.SEARCH,
        placeholder="Words in the issue…",
        max_chars=200,
        width="stretch",
    )
    with st.popover("Filters", icon=":material/filter_list:"):
        who = "anyone"
        if by.is_staff:
            who = st.selectbox(
                "Assigned", list(WHO), format_func=WHO.__getitem__, key=keys.FILTER_WHO
            )
        statuses = st.multiselect("Status", STATUSES, key=keys.FILTER_STATUS)
        priorities = st.multiselect("Priority", PRIORITIES, key=keys.FILTER_PRIORITY)
        days: Any = st.date_input(
            "Submitted (UTC days)", value=[], key=keys.FILTER_DAYS, format="YYYY-MM-DD"
        )
        column = st.selectbox("Sort by", list(SortColumn), key=keys.SORT_BY)
        descending = st.selectbox(
            "Order", list(ORDERS), format_func=ORDERS.__getitem__, key=keys.SORT_DESCENDING
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


def describe_view(flt: TicketFilter, sort: Sort) -> str:
    """What the Filters popover holds, in a line (its widgets are out of sight until it is
    opened): the filters set and the order, or "" for all tickets by ID, newest first."""
    parts = []
    if flt.assignee is not None:
        parts.append(WHO["mine"])
    if flt.unassigned:
        parts.append(WHO["unassigned"])
    if flt.statuses:
        parts.append("Status " + ", ".join(flt.statuses))
    if flt.priorities:
        parts.append("Priority " + ", ".join(flt.priorities))
    if flt.submitted_from is not None:
        days = f"{flt.submitted_from:%Y-%m-%d}"
        if flt.submitted_to not in (None, flt.submitted_from):
            days += f" – {flt.submitted_to:%Y-%m-%d}"
        parts.append(f"submitted {days}")
    if sort != Sort():
        parts.append(f"sorted by {sort.column}, {ORDERS[sort.descending].lower()}")
    return " · ".join(parts)


@st.fragment
def render_list() -> None:
    """The new-ticket form, the page's notices (a ticket just filed, with its details) and
    the table: a fragment, so that a submit reruns this part of the page and not the
    navigation, the sidebar and the live view (the table is a fragment of its own inside it).

    The form is in a popover drawn only while it is open (opening it reruns this fragment):
    the list then loads without it (its text area and uploader were a good part of the
    page's drawing in the browser). A filed ticket closes it."""
    with st.popover(
        "New ticket",
        icon=":material/add:",
        type="primary",
        key=keys.NEW_TICKET,
        on_change="rerun",
        help="Describe an issue to file a ticket",
    ) as new_ticket:
        if new_ticket.open:
            new_ticket_form()
    with st.container():  # one slot, whatever it shows: the table below keeps its place
        notices.show(show_ticket=ticket_grid.show_filed)
    ticket_table()


@st.fragment
def ticket_table() -> None:
    """The search box and the filters, then the page of tickets they choose (table_page): a
    fragment, so that searching and filtering rerun only this part of the page."""
    with page_errors():
        by = signed_in()
        with st.container(horizontal=True, vertical_alignment="bottom"):
            flt, sort = read_view(by)
        if view := describe_view(flt, sort):
            st.caption(f"Filters: {escape_markdown(view)}")
        state = st.session_state
        if state.get(keys.VIEW) != (flt, sort):  # a new view starts on its first page
            state[keys.VIEW], state[keys.PAGE], state[keys.ANCHOR] = (flt, sort), 1, None
        table_page()


@st.fragment
def table_page() -> None:
    """One page of the grid of the view chosen above (keys.VIEW), the pager and the export
    link: a fragment of its own, so that paging and editing cells rerun only this part, and so
    does the live view when someone else changed what the grid shows (it reads the page again
    and says what it shows: remember_revision, called in it). The search box and the filters'
    widgets above are not drawn again for any of these: under a floor of open pages most runs
    are such redraws (docs/architecture.md, "The live view")."""
    ticket_grid.redraw_page_if_replaced()
    with page_errors():
        show_table(signed_in())


def show_table(by: Account) -> None:
    state = st.session_state
    flt, sort = state[keys.VIEW]
    notices.show(notices.TABLE)
    # Shared with the other pages of this server showing the same view at the same revision:
    # a change wakes every page that shows it (services.live.list_page).
    result = live_service.list_page(
        engine(), by, flt, sort, state.get(keys.PAGE, 1), state.get(keys.ANCHOR)
    )
    state[keys.ANCHOR] = result.anchor
    if not ticket_grid.edits_still_shown_right(result.tickets):
        ticket_grid.replace_grid()
        st.rerun(scope="app")  # see ticket_grid.redraw_page_if_replaced
    remember_revision(result.revision, live_service.watch_list(by, flt, sort, result))
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
    ticket_grid.show_grid(result, editable)
    pager_col, export_col = st.columns([4, 1], vertical_alignment="center")
    with pager_col:
        if state.get(keys.PAGE) != result.page:  # a new view, or a page past a shrunken end
            state[keys.PAGE] = result.page
        st.pagination(result.pages, key=keys.PAGE, max_visible_pages=7)
    export_col.link_button(
        "Export CSV",
        "./export.csv?" + urlencode(ticket_service.export_query(flt, sort)),
        icon=":material/download:",
        help="Every ticket of this view (all pages), as CSV.",
        width="stretch",
    )


follow_changes()
code = st.query_params.get("ticket")
if code is None:
    title = "Support tickets" if signed_in().is_staff else "My tickets"
    st.title(f":material/confirmation_number: {title}")
with page_errors():
    engine()
    if code is None:
        render_list()
    else:
        render_detail(code)
