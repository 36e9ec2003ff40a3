"""Tickets: add one, see them all, change status, priority or text in place."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages.shared import browser_timezone, database_errors, engine, now
from ticketdesk import services
from ticketdesk.domain import (
    ISSUE_MAX_CHARS,
    PRIORITIES,
    STATUSES,
    Ticket,
    TicketChange,
    TicketDeskError,
)

GRID_COLUMNS = {"Issue": "issue", "Status": "status", "Priority": "priority"}


def submit_ticket() -> None:
    """Form callback: store the ticket; keep the text if it was refused."""
    state = st.session_state
    try:
        ticket = services.create_ticket(engine(), state.new_issue, state.new_priority, now())
    except TicketDeskError as exc:
        state.flash = ("error", str(exc))
        return
    state.new_issue = ""
    state.flash = ("created", ticket)


def save_grid_edits(grid_key: str, shown: list[Ticket]) -> None:
    """Grid callback: write each edited row to its ticket, one transaction per ticket."""
    edited: dict[int, dict[str, Any]] = st.session_state[grid_key]["edited_rows"]
    messages: list[str] = []
    for row, cells in edited.items():
        ticket = shown[int(row)]
        change = TicketChange(**{GRID_COLUMNS[c]: v for c, v in cells.items() if c in GRID_COLUMNS})
        try:
            services.update_ticket(engine(), ticket.id, change, now(), ticket.version)
            st.toast(f"{ticket.code} saved", icon=":material/check:")
        except TicketDeskError as exc:
            messages.append(str(exc))
    if messages:
        st.session_state.flash = ("error", "\n\n".join(messages))
    # A fresh grid shows what the database now holds, with no pending edits left over.
    st.session_state.grid_revision = st.session_state.get("grid_revision", 0) + 1


def tickets_frame(tickets: list[Ticket]) -> pd.DataFrame:
    zone = browser_timezone()
    # Explicit dtypes: an empty desk must still give the grid text and datetime columns.
    return pd.DataFrame(
        {
            "ID": pd.Series([t.code for t in tickets], dtype="string"),
            "Issue": pd.Series([t.issue for t in tickets], dtype="string"),
            "Status": pd.Series([t.status.value for t in tickets], dtype="string"),
            "Priority": pd.Series([t.priority.value for t in tickets], dtype="string"),
            "Date Submitted": pd.Series(
                [t.created_at.astimezone(zone).replace(tzinfo=None) for t in tickets],
                dtype="datetime64[us]",
            ),
        }
    )


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
        st.dataframe(tickets_frame([payload]), hide_index=True, width="stretch")
    else:
        st.error(payload, icon=":material/error:")


st.title(":material/confirmation_number: Support tickets")

with database_errors():
    engine()
    st.header("Add a ticket")
    with st.form("add_ticket"):
        st.text_area(
            "Describe the issue",
            key="new_issue",
            help=f"Plain text, up to {ISSUE_MAX_CHARS:,} characters.",
        )
        st.selectbox("Priority", PRIORITIES, key="new_priority", index=1)
        st.form_submit_button("Submit", on_click=submit_ticket, type="primary")
    show_flash()

    st.header("Existing tickets")
    tickets = services.list_tickets(engine())
    st.write(f"Number of tickets: `{len(tickets):,}`")
    st.info(
        "Change a ticket's status, priority or description by double-clicking its cell. "
        "Sort by clicking a column header. Every change is saved at once.",
        icon=":material/edit:",
    )
    grid_key = f"grid-{st.session_state.get('grid_revision', 0)}"
    st.data_editor(
        tickets_frame(tickets),
        key=grid_key,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * max(len(tickets), 1), 600),
        disabled=["ID", "Date Submitted"],
        column_config={
            "ID": st.column_config.TextColumn("ID", width="small"),
            "Issue": st.column_config.TextColumn(
                "Issue", width="large", required=True, max_chars=ISSUE_MAX_CHARS
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
        },
        on_change=save_grid_edits,
        args=(grid_key, tickets),
    )
