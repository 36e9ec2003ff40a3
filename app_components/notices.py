"""The one way to tell the person something after what they did: push a notice (a callback
may, though it must not draw), and the next run shows it where the page calls show() and
forgets it. A place names where on the page it shows: a fragment shows its own notices when
only it reruns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from app_components import keys
from app_components.text import escape_markdown
from ticketdesk.domain.tickets import Ticket

Kind = Literal["success", "info", "warning", "error", "toast"]

PAGE = "page"  # the page's own notices, under its title
TABLE = "table"  # the ticket list's table (a fragment of its own)
NEW_TICKET = "new_ticket"  # the new-ticket form (a refused ticket)

ICONS: dict[Kind, str] = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
    "toast": ":material/check:",
}


@dataclass(frozen=True)
class Notice:
    kind: Kind
    text: str  # Markdown, in which people's text is escaped
    icon: str
    ticket: Ticket | None = None  # a ticket to show under the text (the one just filed)


def push(
    kind: Kind,
    text: str,
    *,
    place: str = PAGE,
    icon: str | None = None,
    ticket: Ticket | None = None,
    markdown: bool = False,
) -> None:
    """Show `text` at `place` in the next run that draws it (the coming one, from a
    callback). `text` is shown as it is (it may quote names, or what was typed and refused),
    unless `markdown`: then it is Markdown, whose people's text the caller escaped."""
    shown = text if markdown else escape_markdown(text)
    waiting: dict[str, list[Notice]] = st.session_state.setdefault(keys.NOTICES, {})
    waiting.setdefault(place, []).append(Notice(kind, shown, icon or ICONS[kind], ticket))


def show(place: str = PAGE, show_ticket: Callable[[Ticket], None] | None = None) -> None:
    """Draw the notices waiting for `place`, in the order they came, and forget them;
    `show_ticket` draws a notice's ticket."""
    waiting: dict[str, list[Notice]] = st.session_state.get(keys.NOTICES, {})
    for notice in waiting.pop(place, []):
        if notice.kind == "toast":
            st.toast(notice.text, icon=notice.icon)
            continue
        draw = {"success": st.success, "info": st.info, "warning": st.warning}.get(
            notice.kind, st.error
        )
        draw(notice.text, icon=notice.icon)
        if notice.ticket is not None and show_ticket is not None:
            show_ticket(notice.ticket)
