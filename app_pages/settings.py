"""Settings: the SLA targets per priority, hours from creation to the first response and to
the resolution. One form, validated as a whole, saved in one transaction."""

from __future__ import annotations

import streamlit as st

from app_components import keys, notices
from app_components.session import engine, page_errors, signed_in
from app_components.text import escape_markdown
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.sla import MAX_TARGET_HOURS, StaleTargets, Targets
from ticketdesk.domain.tickets import Priority
from ticketdesk.services import dashboard as dashboard_service

SHOWN = keys.SLA_FORM_TARGETS  # the stored targets the form was drawn from
SAVE = keys.SLA_FORM_SAVE  # the submit button: True in the run its click starts
DRAWN = keys.SLA_FORM_DRAWN  # how many times the form was filled: part of its inputs' keys


def widget_key(kind: str, priority: Priority) -> str:
    return keys.sla_target(kind, priority.name, st.session_state.get(DRAWN, 0))


def draw_from(targets: Targets) -> None:
    """Fill the form from `targets`, before its inputs exist in this run. The inputs get new
    keys: the browser keeps what was typed into an input for as long as its key lives."""
    for priority in Priority:
        for kind in ("first", "resolution"):
            st.session_state.pop(widget_key(kind, priority), None)
    st.session_state[SHOWN] = targets
    st.session_state[DRAWN] = st.session_state.get(DRAWN, 0) + 1


def redraw_with(targets: Targets, kind: notices.Kind, text: str, icon: str) -> None:
    """Show `targets` in a fresh form, with a notice above it."""
    draw_from(targets)
    notices.push(kind, text, icon=icon)
    st.rerun()


st.title(":material/settings: Settings")
st.subheader("SLA targets")
st.markdown(
    "Per priority, the hours a ticket may wait from its creation **to its first response** (the "
    "first public reply by an agent or the first status change out of Open) and **to its "
    "resolution** (its latest change to Closed). Calendar hours, measured against the ticket's "
    "current priority. The dashboard's SLA figures and the tickets' deadlines use them at once."
)
st.caption(
    f"Each target is more than 0 and at most {MAX_TARGET_HOURS:,.0f} hours; the resolution "
    "target cannot be shorter than the first-response one. Decimals are fine (0.5 = 30 min)."
)

with page_errors():
    if not st.session_state.get(SAVE):
        # Any run but a save shows the targets as stored now; a save is checked against the
        # ones its form was drawn from (someone may have changed them meanwhile).
        stored = dashboard_service.sla_targets(engine())
        if st.session_state.get(SHOWN) != stored:
            draw_from(stored)
    shown: Targets = st.session_state[SHOWN]
    notices.show()

    with st.form("sla_targets", border=True):
        head = st.columns([1, 2, 2])
        head[0].markdown("**Priority**")
        head[1].markdown("**First response (hours)**")
        head[2].markdown("**Resolution (hours)**")
        typed: dict[str, tuple[object, object]] = {}
        for priority in Priority:
            cells = st.columns([1, 2, 2], vertical_alignment="center")
            cells[0].markdown(priority.value)
            first = cells[1].number_input(
                f"First-response target for {priority} (hours)",
                value=float(shown[priority].first_response_hours),
                step=1.0,
                format="%g",
                key=widget_key("first", priority),
                label_visibility="collapsed",
            )
            resolution = cells[2].number_input(
                f"Resolution target for {priority} (hours)",
                value=float(shown[priority].resolution_hours),
                step=1.0,
                format="%g",
                key=widget_key("resolution", priority),
                label_visibility="collapsed",
            )
            typed[priority.value] = (first, resolution)
        submitted = st.form_submit_button(
            "Save targets", type="primary", icon=":material/save:", key=SAVE
        )

    if submitted:
        try:
            saved = dashboard_service.save_sla_targets(engine(), signed_in(), typed, expected=shown)
        except ValidationError as exc:
            # The typed values stay in the form.
            st.error(escape_markdown(str(exc)), icon=":material/error:")
        except StaleTargets as exc:
            redraw_with(exc.current, "warning", str(exc), ":material/sync_problem:")
        else:
            redraw_with(
                saved,
                "success",
                "Saved. The dashboard uses the new targets now.",
                ":material/check_circle:",
            )
