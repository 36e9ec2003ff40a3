"""The original design, rebuilt from shared/seed/support-ticket-workflow.md, as the baseline.

One script; the tickets live in a pandas DataFrame in st.session_state; st.data_editor shows
every row; the KPIs are constants; the two Altair charts aggregate every row (in the
browser, as the original's `count()` encodings do). The only addition is a "Search" text
input that filters the DataFrame with `str.contains`, the naive search the original would
have grown, so that the benchmark's search row has a baseline too.

The N tickets (env BENCH_TICKETS, default 100) are generated with vectorised numpy on the
first run of each session, with a fixed seed: the original generated its demo rows in the
script too, so every new session pays for building its own frame. Generation is vectorised
so that the baseline is not slowed by a Python loop the original never ran at this size.

Run alone: `BENCH_TICKETS=100000 streamlit run bench/baseline_app.py`.
"""

import datetime
import os

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ticketdesk.domain.demo_histories import ISSUES

STATUSES = ["Open", "In Progress", "Closed"]
PRIORITIES = ["High", "Medium", "Low"]


def demo_tickets(count: int) -> pd.DataFrame:
    """`count` tickets, newest ID first, as the original's demo frame (TICKET-1001 up)."""
    rng = np.random.default_rng(42)
    first = np.datetime64("2023-06-01")
    return pd.DataFrame(
        {
            "ID": [f"TICKET-{i}" for i in range(1000 + count, 1000, -1)],
            "Issue": rng.choice(ISSUES, size=count),
            "Status": rng.choice(STATUSES, size=count),
            "Priority": rng.choice(PRIORITIES, size=count),
            "Date Submitted": first + rng.integers(0, 183, size=count).astype("timedelta64[D]"),
        }
    )


st.set_page_config(page_title="Support tickets (original design)", layout="wide")
st.title("Support tickets")

if "df" not in st.session_state:
    st.session_state.df = demo_tickets(int(os.environ.get("BENCH_TICKETS", "100")))

st.header("Add a ticket")
with st.form("add_ticket_form"):
    issue = st.text_area("Describe the issue")
    priority = st.selectbox("Priority", PRIORITIES)
    submitted = st.form_submit_button("Submit")

if submitted:
    # As the original: the next number after the (string) maximum ID.
    recent_ticket_number = int(max(st.session_state.df.ID).split("-")[1])
    df_new = pd.DataFrame(
        [
            {
                "ID": f"TICKET-{recent_ticket_number + 1}",
                "Issue": issue,
                "Status": "Open",
                "Priority": priority,
                # The original wrote a "%m-%d-%Y" string here, which turns the column into
                # mixed types; a timestamp keeps the column (and the comparison) sane.
                "Date Submitted": pd.Timestamp(datetime.date.today()),
            }
        ]
    )
    st.write("Ticket submitted! Here are the ticket details:")
    st.dataframe(df_new, width="stretch", hide_index=True)
    st.session_state.df = pd.concat([df_new, st.session_state.df], axis=0)

st.header("Existing tickets")
search = st.text_input("Search")
df = st.session_state.df
shown = df[df.Issue.str.contains(search, case=False, regex=False)] if search else df
st.write(f"Number of tickets: `{len(shown)}`")
st.info(
    "You can edit the tickets by double clicking on a cell. Note how the plots below "
    "update automatically! You can also sort the table by clicking on the column headers.",
    icon="✍️",
)
edited_df = st.data_editor(
    shown,
    width="stretch",
    hide_index=True,
    column_config={
        "Status": st.column_config.SelectboxColumn(
            "Status", help="Ticket status", options=STATUSES, required=True
        ),
        "Priority": st.column_config.SelectboxColumn(
            "Priority", help="Priority", options=PRIORITIES, required=True
        ),
    },
    disabled=["ID", "Date Submitted"],
)

st.header("Statistics")
col1, col2, col3 = st.columns(3)
num_open_tickets = len(st.session_state.df[st.session_state.df.Status == "Open"])
col1.metric(label="Number of open tickets", value=num_open_tickets, delta=10)
col2.metric(label="First response time (hours)", value=5.2, delta=-1.5)
col3.metric(label="Average resolution time (hours)", value=16, delta=2)

# The charts cover every ticket: the edited frame, or the whole frame while searching.
chart_data = edited_df if not search else st.session_state.df
st.write("##### Ticket status per month")
status_plot = (
    alt.Chart(chart_data)
    .mark_bar()
    .encode(
        x="month(Date Submitted):O",
        y="count():Q",
        xOffset="Status:N",
        color="Status:N",
    )
    .configure_legend(orient="bottom", titleFontSize=14, labelFontSize=14, titlePadding=5)
)
st.altair_chart(status_plot, width="stretch", theme="streamlit")

st.write("##### Current ticket priorities")
priority_plot = (
    alt.Chart(chart_data)
    .mark_arc()
    .encode(theta="count():Q", color="Priority:N")
    .properties(height=300)
    .configure_legend(orient="bottom", titleFontSize=14, labelFontSize=14, titlePadding=5)
)
st.altair_chart(priority_plot, width="stretch", theme="streamlit")
