"""Webhooks (admins): subscribe a URL to the desk's events, its signing secret shown once;
every subscription with its latest deliveries (status, response code, duration, next try),
redelivery, disable and enable; a notice for each subscription disabled after a day of
failures. The worker delivers (`ticketdesk webhooks-worker` or TICKETDESK_WEBHOOKS_IN_APP)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from app_components import notices
from app_components.session import engine, now, page_errors, signed_in, when
from app_components.text import escape_markdown
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import webhooks as webhook_service

# This page's own widget keys.
URL = "webhook_url"
EVENTS = "webhook_events"
INTERNAL = "webhook_internal"
ALLOW_PRIVATE = "webhook_allow_private"
SECRET_SHOWN_ONCE = "webhook_secret_shown_once"  # noqa: S105 (a state key, not a secret)
LOG_SIZE = 20


def subscribe() -> None:
    """Form callback: subscribe; the secret is shown once, on the next run."""
    state = st.session_state
    try:
        sub, secret = webhook_service.subscribe(
            engine(),
            signed_in(),
            str(state[URL]),
            tuple(state[EVENTS]),
            bool(state[INTERNAL]),
            bool(state[ALLOW_PRIVATE]),
            now(),
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    state[URL] = ""
    state[SECRET_SHOWN_ONCE] = secret
    notices.push(
        "success",
        f"Subscription {sub} made. Copy its signing secret now: it is shown only this once.",
    )


def set_active(subscription_id: int, active: bool) -> None:
    try:
        webhook_service.set_active(engine(), signed_in(), subscription_id, active)
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    notices.push(
        "success", f"Subscription {subscription_id} {'enabled' if active else 'disabled'}."
    )


def redeliver(delivery_id: int) -> None:
    try:
        webhook_service.redeliver(engine(), signed_in(), delivery_id, now())
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    notices.push("success", f"Delivery {delivery_id} queued again (the same webhook-id).")


def _at(moment: object) -> str:
    return when(moment) if isinstance(moment, datetime) else ""


st.title(":material/webhook: Webhooks")
st.markdown(
    "Other systems get the desk's events as signed HTTP POSTs "
    "([Standard Webhooks](https://www.standardwebhooks.com/)), retried until they answer 2xx."
)

with page_errors():
    me = signed_in()
    listed = webhook_service.subscriptions(engine(), me)
    for sub in listed:
        reason = str(sub["disabled_reason"] or "")
        if not sub["active"] and reason.startswith("Disabled automatically"):
            st.warning(
                f"Subscription {sub['id']} ({escape_markdown(str(sub['url']))}): "
                f"{escape_markdown(reason)}",
                icon=":material/warning:",
            )
    notices.show()
    shown = st.session_state.pop(SECRET_SHOWN_ONCE, None)
    if shown:
        st.code(shown, language=None)

    with st.form("webhook_subscribe"):
        st.text_input("URL", key=URL, max_chars=2000, placeholder="https://example.com/hook")
        st.multiselect(
            "Events", webhook_service.EVENTS, default=list(webhook_service.EVENTS), key=EVENTS
        )
        st.checkbox("Internal: also internal notes", key=INTERNAL)
        st.checkbox(
            "Allow a private address (loopback, private network)",
            key=ALLOW_PRIVATE,
            help="Refused unless ticked: a desk must not become a way into its own network.",
        )
        st.form_submit_button("Subscribe", on_click=subscribe, type="primary")

    if not listed:
        st.caption("No subscriptions yet.")
    for sub in listed:
        sub_id = int(str(sub["id"]))
        state = "active" if sub["active"] else "disabled"
        flags = [str(sub["events"]).replace(",", ", "), state]
        if sub["internal"]:
            flags.append("internal notes")
        if sub["allow_private"]:
            flags.append("private address allowed")
        with st.container(border=True):
            left, right = st.columns([5, 1])
            left.markdown(
                f"**{sub_id}** · `{escape_markdown(str(sub['url']))}` · " + " · ".join(flags)
            )
            right.button(
                "Disable" if sub["active"] else "Enable",
                key=f"webhook_toggle_{sub_id}",
                on_click=set_active,
                args=(sub_id, not sub["active"]),
            )
            log = webhook_service.delivery_log(engine(), me, sub_id, latest=LOG_SIZE)
            if not log:
                st.caption("No deliveries yet.")
                continue
            st.dataframe(
                [
                    {
                        "delivery": d["id"],
                        "event": d["event"],
                        "ticket": d["ticket_id"],
                        "status": d["state"],
                        "attempts": d["attempts"],
                        "code": d["last_status"],
                        "ms": None
                        if d["last_duration_ms"] is None
                        else round(float(str(d["last_duration_ms"]))),
                        "next try": _at(d["next_try_at"]),
                        "error": d["last_error"] or "",
                    }
                    for d in log
                ],
                hide_index=True,
                key=f"webhook_log_{sub_id}",
            )
            pick, again = st.columns([2, 1], vertical_alignment="bottom")
            chosen = pick.selectbox(
                "Delivery to send again",
                [int(str(d["id"])) for d in log],
                key=f"webhook_redeliver_pick_{sub_id}",
            )
            again.button(
                "Redeliver",
                key=f"webhook_redeliver_{sub_id}",
                on_click=redeliver,
                args=(chosen,),
            )
