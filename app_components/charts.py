"""The dashboard's charts: tickets per month and status, current priorities, and open tickets
per assignee, split by whether they are past a target; the last two side by side in one view.
They receive the aggregated rows only (ticketdesk.services.dashboard).

Written as Vega-Lite specifications, which the browser draws (vega-embed), rather than built
with Altair: Altair checks every chart against the Vega-Lite JSON schema when it is built and
again when it is turned into the same specification, which cost more than everything else
in a warm Dashboard run (see bench/README.md). Each spec names its rows as one dataset,
which Streamlit sends as Arrow."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ticketdesk.domain.tickets import PRIORITIES, STATUSES
from ticketdesk.services.dashboard import Dashboard

STATUS_COLOURS = ["#f97316", "#3b82f6", "#22c55e"]  # Open, In Progress, Closed
PRIORITY_COLOURS = ["#dc2626", "#f59e0b", "#94a3b8"]  # High, Medium, Low
LOAD_COLOURS = ["#dc2626", "#3b82f6"]  # past a target, within targets
LOAD_STATES = ["Past a target", "Within targets"]
CHART_HEIGHT = 320
WHOLE_NUMBERS = {"format": "d", "tickMinStep": 1}


def spec(rows: pd.DataFrame, mark: dict[str, Any], encoding: dict[str, Any], height: int) -> Any:
    """A Vega-Lite chart of `rows` (sent as the dataset "rows")."""
    return {
        "data": {"name": "rows"},
        "datasets": {"rows": rows},
        "mark": mark,
        "encoding": encoding,
        "height": height,
    }


def field(name: str, kind: str, **more: Any) -> dict[str, Any]:
    """An encoding channel on the column `name` ("quantitative", "nominal", "ordinal")."""
    return {"field": name, "type": kind, **more}


def by_month_spec(data: Dashboard) -> Any:
    rows = pd.DataFrame(data.status_per_month, columns=["Month", "Status", "Tickets"])
    statuses = list(STATUSES)
    encoding = {
        "x": field("Month", "ordinal", title="Month submitted", axis={"labelAngle": 0}),
        # Every status keeps its slot, so bars do not change width as statuses come and go.
        "xOffset": field("Status", "nominal", scale={"domain": statuses}),
        "y": field("Tickets", "quantitative", axis=WHOLE_NUMBERS),
        "color": field("Status", "nominal", scale={"domain": statuses, "range": STATUS_COLOURS}),
        "tooltip": [
            field("Month", "ordinal"),
            field("Status", "nominal"),
            field("Tickets", "quantitative"),
        ],
    }
    return spec(rows, {"type": "bar"}, encoding, CHART_HEIGHT)


def priorities_spec(data: Dashboard) -> Any:
    rows = pd.DataFrame(data.priority_counts, columns=["Priority", "Tickets"])
    encoding = {
        "theta": field("Tickets", "quantitative"),
        "color": field(
            "Priority",
            "nominal",
            scale={"domain": list(PRIORITIES), "range": PRIORITY_COLOURS},
        ),
        "tooltip": [field("Priority", "nominal"), field("Tickets", "quantitative")],
    }
    return spec(rows, {"type": "arc", "innerRadius": 0}, encoding, CHART_HEIGHT)


def assignees_spec(data: Dashboard) -> Any:
    order = [load.assignee or "Unassigned" for load in data.by_assignee]
    rows = pd.DataFrame(
        [
            (load.assignee or "Unassigned", state, n, load.open)
            for load in data.by_assignee
            for state, n in zip(
                LOAD_STATES, (load.past_target, load.open - load.past_target), strict=True
            )
            if n
        ],
        columns=["Assignee", "SLA", "Tickets", "Open"],
    )
    encoding = {
        "y": field("Assignee", "nominal", sort=order, title=None),
        "x": field("Tickets", "quantitative", title="Open tickets", axis=WHOLE_NUMBERS),
        "color": field("SLA", "nominal", scale={"domain": LOAD_STATES, "range": LOAD_COLOURS}),
        "order": field("SLA", "nominal", sort="descending"),
        "tooltip": [
            field("Assignee", "nominal"),
            field("SLA", "nominal"),
            field("Tickets", "quantitative"),
            field("Open", "quantitative"),
        ],
    }
    return spec(rows, {"type": "bar"}, encoding, max(120, 32 * len(order) + 40))


PRIORITIES_TITLE = "Current ticket priorities"
ASSIGNEES_TITLE = "Open tickets by assignee"
PIE_WIDTH = 200
ASSIGNEES_WIDTH = 360


def side_by_side_spec(data: Dashboard) -> Any:
    """The priority pie and the open tickets by assignee as one Vega-Lite view (hconcat, each
    titled, each with its own colour scale and dataset): one vega-embed instead of two, which
    the browser draws faster on every Dashboard load (docs/kpis.md)."""
    pie, load = priorities_spec(data), assignees_spec(data)
    return {
        "hconcat": [
            part(pie, "priorities", PRIORITIES_TITLE, PIE_WIDTH),
            part(load, "assignees", ASSIGNEES_TITLE, ASSIGNEES_WIDTH),
        ],
        "datasets": {
            "priorities": pie["datasets"]["rows"],
            "assignees": load["datasets"]["rows"],
        },
        "resolve": {"scale": {"color": "independent"}},
        "spacing": 48,
    }


def heading(text: str) -> dict[str, Any]:
    """A view's title, set like the page's small headings."""
    return {"text": text, "anchor": "start", "fontSize": 16}


def part(chart: Any, dataset: str, title: str, width: int) -> dict[str, Any]:
    """`chart` (a spec()) as one titled view of a concatenation, its rows named `dataset`."""
    return {
        "title": heading(title),
        "data": {"name": dataset},
        "mark": chart["mark"],
        "encoding": chart["encoding"],
        "height": chart["height"],
        "width": width,
    }


def show_charts(data: Dashboard) -> None:
    st.subheader("Ticket status per month")
    st.vega_lite_chart(spec=by_month_spec(data), width="stretch")
    st.subheader("Priorities and open tickets by assignee")
    if not data.by_assignee:
        st.vega_lite_chart(spec=titled(priorities_spec(data), PRIORITIES_TITLE))
        st.info("No open tickets.", icon=":material/inbox:")
        return
    st.vega_lite_chart(spec=side_by_side_spec(data))


def titled(chart: Any, title: str) -> Any:
    """`chart` (a spec()) alone, titled as it would be beside the other."""
    return {**chart, "title": heading(title), "width": PIE_WIDTH}
