"""The floor: the cheapest Streamlit page with one of each thing the benchmark measures.

A title, a form with a text input and a Submit button, a "Search" text input that echoes,
a 50-row st.data_editor (the Tickets page's page size) with a Status selectbox column and two
tiny Altair charts (bar and arc). Whatever this page costs in the browser and on the server
is what Streamlit itself costs; the benchmark reports every other figure as a ratio to it.

Run alone: `streamlit run bench/trivial_app.py`.
"""

import altair as alt
import pandas as pd
import streamlit as st

STATUSES = ["Open", "In Progress", "Closed"]

st.title("Trivial page")

with st.form("add_ticket"):
    issue = st.text_area("Describe the issue")
    submitted = st.form_submit_button("Submit")
if submitted:
    st.success(f"Submitted: {issue}")

search = st.text_input("Search")
if search:
    st.write(f"Searching for: `{search}`")

ROWS = 50
ISSUES = ["Printer on fire", "VPN down", "Mouse broken", "Laptop will not boot", "No e-mail"]
frame = pd.DataFrame(
    {
        "ID": [f"TICKET-{ROWS - i}" for i in range(ROWS)],
        "Issue": [ISSUES[i % len(ISSUES)] for i in range(ROWS)],
        "Status": [STATUSES[i % len(STATUSES)] for i in range(ROWS)],
    }
)
st.data_editor(
    frame,
    hide_index=True,
    disabled=["ID"],
    column_config={
        "Status": st.column_config.SelectboxColumn("Status", options=STATUSES, required=True)
    },
)

counts = (
    frame["Status"]
    .value_counts()
    .reindex(STATUSES)
    .rename_axis("Status")
    .reset_index(name="Tickets")
)
st.altair_chart(
    alt.Chart(counts).mark_bar().encode(x="Status:N", y="Tickets:Q").properties(height=200),
    width="stretch",
)
st.altair_chart(
    alt.Chart(counts).mark_arc().encode(theta="Tickets:Q", color="Status:N").properties(height=200),
    width="stretch",
)
