"""The load generator's model of Streamlit's browser protocol (bench/load/protocol.py), on
ForwardMsgs built here by hand: widgets found by key or label, their values as a browser keeps
them, what a finished run drops, the message cache, the rerun requests, and what the runs
after a request drew. tests/unit/test_load_recorded.py checks the same model against what
Chromium sent."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.load.agents import grid_codes
from bench.load.protocol import (
    FINISHED,
    FRAGMENT_FINISHED,
    STOPPED_FOR_RERUN,
    Finished,
    Page,
    ProtocolError,
    state_value,
)

SEARCH_ID = "$$ID-60e0a3ae8feeade2a7bce5dfdb38215f-search"
PAGE_ID = "$$ID-395ab205eb155e2a0773f433ea8b9108-page"
SAVE_ID = "$$ID-75cb4a9fc5fa4680e6462a2d51657840-FormSubmitter:fields-Save"


def started(run_id: str, *fragments: str, page_hash: str = "tickets") -> ForwardMsg:
    msg = ForwardMsg()
    msg.new_session.page_script_hash = page_hash
    msg.metadata.run.script_run_id = run_id
    msg.metadata.run.fragment_ids.extend(fragments)
    return msg


def finished(
    run_id: str, *fragments: str, status: ForwardMsg.ScriptFinishedStatus.ValueType = FINISHED
) -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = status
    msg.metadata.run.script_run_id = run_id
    msg.metadata.run.fragment_ids.extend(fragments)
    return msg


def drawn(path: tuple[int, ...], kind: str, fragment: str = "", **fields: Any) -> ForwardMsg:
    """A delta drawing a `kind` element at `path` with `fields` set on it."""
    msg = ForwardMsg()
    msg.metadata.delta_path.extend(path)
    msg.delta.fragment_id = fragment
    proto = getattr(msg.delta.new_element, kind)
    proto.SetInParent()
    for name, value in fields.items():
        if name == "options" and kind == "button_group":
            for content in value:
                proto.options.add(content=content)
        elif isinstance(value, list):
            getattr(proto, name).extend(value)
        else:
            setattr(proto, name, value)
    return msg


def feed(page: Page, *messages: ForwardMsg) -> list[Finished]:
    return [f for msg in messages if (f := page.receive(msg)) is not None]


def new_page() -> Page:
    return Page(url="http://127.0.0.1:8501/")


def values(page: Page) -> dict[str, Any]:
    return {wid: state_value(state) for wid, state in page.values.items()}


# --------------------------------------------------------------------------- finding


def test_a_widget_is_found_by_its_key_before_its_label_and_the_latest_drawn_wins() -> None:
    page = new_page()
    feed(
        page,
        started("r1"),
        drawn((0, 0), "text_input", id=SEARCH_ID, label="Find"),
        drawn((0, 1), "text_input", id="$$ID-bb-None", label="Search"),
        drawn((0, 2), "multiselect", id="$$ID-cc-filter_status", label="Status"),
    )
    by_key = page.find(keys=("search",), labels=("Search",), kinds=("text_input",))
    assert by_key is not None and by_key.widget_id == SEARCH_ID
    by_label = page.find(labels=("Search",))
    assert by_label is not None and by_label.widget_id == "$$ID-bb-None"
    assert by_label.key is None  # a widget without a key
    assert page.find(keys=("filter_status",), kinds=("selectbox",)) is None
    assert page.find(labels=("Status",), kinds=("selectbox",)) is None

    # The same key drawn again elsewhere (a layout change): the later one is found.
    feed(page, drawn((0, 5, 0), "text_input", id=SEARCH_ID, label="Find"))
    again = page.find(keys=("search",))
    assert again is not None and again.path == (0, 5, 0)


def test_a_form_field_leads_to_its_forms_submit_button() -> None:
    page = new_page()
    feed(
        page,
        started("r1"),
        drawn((0, 0), "selectbox", id="$$ID-aa-detail_status", label="Status", form_id="fields"),
        drawn((0, 1), "button", id=SAVE_ID, label="Save", form_id="fields", is_form_submitter=True),
        drawn((0, 2), "button", id="$$ID-bb-None", label="All tickets"),
        drawn((0, 3), "text_input", id=SEARCH_ID, label="Search"),
    )
    field = page.find(keys=("detail_status",))
    assert field is not None
    save = page.submit_button(field)
    assert save is not None and save.widget_id == SAVE_ID
    assert save.key == "FormSubmitter:fields-Save"
    search = page.find(keys=("search",))
    assert search is not None and page.submit_button(search) is None


# --------------------------------------------------------------------------- values


def test_a_widget_drawn_for_the_first_time_has_its_default_value() -> None:
    page = new_page()
    feed(
        page,
        started("r1"),
        drawn((0, 0), "selectbox", id="$$ID-a-prio", options=["Low", "Medium", "High"], default=1),
        drawn((0, 1), "multiselect", id="$$ID-b-st", options=["Open", "Closed"], default=[]),
        drawn(
            (0, 2), "multiselect", id="$$ID-c-pr", options=["Low", "Medium", "High"], default=[0, 2]
        ),
        drawn((0, 3), "pagination", id=PAGE_ID, num_pages=7, default=1),
        drawn((0, 4), "text_area", id="$$ID-d-body", default=""),
        drawn((0, 5), "text_input", id="$$ID-e-nodefault"),
        drawn(
            (0, 6), "button_group", id="$$ID-f-kind", options=["Public reply", "Note"], default=[0]
        ),
        drawn((0, 7), "date_input", id="$$ID-g-days", default=[]),
        drawn((0, 8), "button", id="$$ID-h-None", label="Go"),
        drawn((0, 9), "checkbox", id="$$ID-i-mine", default=True),
        drawn((0, 10), "file_uploader", id="$$ID-j-files_0"),
    )
    files = page.values.pop("$$ID-j-files_0")
    assert files.HasField("file_uploader_state_value")  # empty: no file chosen
    assert values(page) == {
        "$$ID-a-prio": "Medium",
        "$$ID-b-st": [],
        "$$ID-c-pr": ["Low", "High"],
        PAGE_ID: 1,
        "$$ID-d-body": "",
        "$$ID-f-kind": ["Public reply"],
        "$$ID-g-days": [],
        "$$ID-i-mine": True,
    }


def test_a_persons_choice_stays_until_the_script_sets_another_value() -> None:
    page = new_page()
    feed(page, started("r1"), drawn((0, 0), "pagination", id=PAGE_ID, num_pages=9, default=1))
    pager = page.find(keys=("page",))
    assert pager is not None
    page.rerun({pager: 3}, fragment_id="table")
    # Drawn again with its default: the browser keeps the person's page.
    feed(page, started("r2"), drawn((0, 0), "pagination", id=PAGE_ID, num_pages=9, default=1))
    assert page.value(pager) == 3
    # The script set it (st.session_state["page"] = 1): that wins.
    feed(
        page,
        started("r3"),
        drawn((0, 0), "pagination", id=PAGE_ID, num_pages=9, default=1, value=1, set_value=True),
    )
    assert page.value(pager) == 1


# --------------------------------------------------------------------------- runs


def test_a_finished_run_of_the_whole_page_drops_what_it_did_not_draw_again() -> None:
    page = new_page()
    feed(
        page,
        started("r1"),
        drawn((0, 0), "text_input", id=SEARCH_ID, label="Search", default=""),
        drawn(
            (0, 1), "selectbox", id="$$ID-a-detail_status", options=["Open", "Closed"], default=0
        ),
        finished("r1"),
    )
    assert set(page.values) == {SEARCH_ID, "$$ID-a-detail_status"}
    ended = feed(
        page,
        started("r2"),
        drawn((0, 0), "text_input", id=SEARCH_ID, label="Search", default=""),
        finished("r2"),
    )
    assert ended == [Finished("r2", (), FINISHED, started_seq=5, seq=7)]  # 4 messages before
    assert page.find(keys=("detail_status",)) is None
    assert set(page.values) == {SEARCH_ID}  # a widget gone loses its value


def test_a_fragment_run_replaces_only_its_own_elements() -> None:
    page = new_page()
    feed(
        page,
        started("r1"),
        drawn((0, 0), "markdown", body="Support tickets"),
        drawn((0, 1, 0), "text_input", "table", id=SEARCH_ID, default=""),
        drawn((0, 1, 1), "pagination", "table", id=PAGE_ID, num_pages=3, default=1),
        finished("r1"),
    )
    # A run of the live view's fragment draws nothing of the table: all stays.
    feed(page, started("r2", "live"), finished("r2", "live", status=FRAGMENT_FINISHED))
    assert len(page.elements) == 3
    # A run of the table's fragment that draws only the search drops its old pager.
    feed(
        page,
        started("r3", "table"),
        drawn((0, 1, 0), "text_input", "table", id=SEARCH_ID, default=""),
        finished("r3", "table", status=FRAGMENT_FINISHED),
    )
    assert sorted(page.elements) == [(0, 0), (0, 1, 0)]
    assert set(page.values) == {SEARCH_ID}


def test_a_run_stopped_for_a_rerun_drops_nothing() -> None:
    page = new_page()
    feed(page, started("r1"), drawn((0, 0), "markdown", body="kept"), finished("r1"))
    ended = feed(page, started("r2"), finished("r2", status=STOPPED_FOR_RERUN))
    assert [e.final for e in ended] == [False]
    assert page.texts() == ["kept"]


def test_what_the_runs_after_a_request_drew() -> None:
    page = new_page()
    feed(page, started("r1"), drawn((0, 0), "alert", body="Saved.", format=4), finished("r1"))
    sent = page.seq  # a request now: the old "Saved." is not its answer
    assert page.texts(sent) == []
    feed(page, started("r2", "live"), finished("r2", "live", status=FRAGMENT_FINISHED))
    assert page.texts(sent) == [] and page.texts() == ["Saved."]
    feed(
        page,
        started("r3"),
        drawn((0, 0), "alert", body="Saved.", format=4),
        drawn((0, 1), "alert", body="Refused.", format=1),
        finished("r3", status=STOPPED_FOR_RERUN),
    )
    assert page.texts(sent) == ["Saved.", "Refused."]
    assert page.errors(sent) == ["Refused."]
    assert [e.path for e in page.since(sent)] == [(0, 0), (0, 1)]


# --------------------------------------------------------------------------- requests


def test_a_rerun_request_carries_every_value_and_the_click_once() -> None:
    page = new_page()
    feed(
        page,
        started("r1", page_hash="main"),
        drawn((0, 0), "text_area", id="$$ID-a-message_body", default="", form_id="reply"),
        drawn((0, 1), "button", id="$$ID-b-FormSubmitter:reply-Send", form_id="reply"),
        finished("r1"),
    )
    navigation = ForwardMsg()
    navigation.navigation.page_script_hash = "tickets"
    info = ForwardMsg()
    info.page_info_changed.query_string = "ticket=TICKET-7"
    feed(page, navigation, info)
    body, send = (
        page.find(keys=("message_body",)),
        page.find(labels=(), keys=("FormSubmitter:reply-Send",)),
    )
    assert body is not None and send is not None
    sent = page.rerun({body: "Thanks"}, trigger=send).rerun_script
    assert sent.page_script_hash == "tickets"
    assert sent.query_string == "ticket=TICKET-7"
    assert sent.fragment_id == "" and not sent.is_auto_rerun
    assert {w.id: state_value(w) for w in sent.widget_states.widgets} == {
        "$$ID-a-message_body": "Thanks",
        "$$ID-b-FormSubmitter:reply-Send": True,  # trigger_value
    }
    assert sent.context_info.timezone == "UTC" and sent.context_info.url == page.url
    timer = page.rerun(fragment_id="live", auto=True).rerun_script
    assert timer.fragment_id == "live" and timer.is_auto_rerun
    assert {w.id: state_value(w) for w in timer.widget_states.widgets} == {
        "$$ID-a-message_body": "Thanks"  # kept; the click is not sent again
    }


def test_the_first_request_of_a_page_has_no_widgets_and_no_page_yet() -> None:
    page = Page(url="http://127.0.0.1:8501/", query_string="ticket=TICKET-3")
    sent = page.first_rerun().rerun_script
    assert sent.HasField("widget_states") and len(sent.widget_states.widgets) == 0
    assert sent.query_string == "ticket=TICKET-3" and sent.page_script_hash == ""


def test_timers_follow_auto_rerun_and_stop_auto_rerun() -> None:
    page = new_page()
    timer = ForwardMsg()
    timer.auto_rerun.interval = 3.0
    timer.auto_rerun.fragment_id = "live"
    stop = ForwardMsg()
    stop.stop_auto_rerun.fragment_ids.append("live")
    feed(page, timer)
    assert page.auto_reruns == {"live": 3.0}
    feed(page, stop)
    assert page.auto_reruns == {}


# --------------------------------------------------------------------------- the cache


def test_a_cacheable_message_is_kept_and_a_reference_to_it_draws_it() -> None:
    page = new_page()
    grid = drawn((0, 3), "markdown", body="a large grid")
    grid.hash = "h1"
    grid.metadata.cacheable = True
    feed(page, started("r1"), grid, finished("r1"))
    assert page.cached_hashes() == ["h1"]
    assert list(page.rerun().rerun_script.cached_message_hashes) == ["h1"]
    ref = ForwardMsg()
    ref.ref_hash = "h1"
    ref.metadata.delta_path.extend((0, 4))
    feed(page, started("r2"), ref, finished("r2"))
    assert [(e.path, e.text) for e in page.elements.values()] == [((0, 4), "a large grid")]
    # Unused for more than max_cached_message_age (2) runs of the whole page: dropped.
    for run in ("r3", "r4", "r5"):
        feed(page, started(run), finished(run))
    assert page.cached_hashes() == []
    with pytest.raises(ProtocolError):
        page.receive(ref)


def test_texts_and_errors_on_the_page() -> None:
    page = new_page()
    saved = drawn((0, 0), "alert", body="Saved.", format=4)
    refused = drawn((0, 1), "alert", body="Someone else changed it.", format=1)
    crash = drawn((0, 2), "exception", message="division by zero")
    feed(page, started("r1"), saved, refused, crash)
    assert page.texts() == ["Saved.", "Someone else changed it.", "division by zero"]
    assert page.errors() == ["Someone else changed it.", "division by zero"]


def test_the_grids_ticket_codes_are_read_from_its_arrow_data() -> None:
    table = pa.table({"ID": ["TICKET-9", "TICKET-8"], "Issue": ["a", "b"]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    grid = drawn((0, 3), "dataframe", id="$$ID-a-grid-0")
    grid.delta.new_element.dataframe.arrow_data.data = sink.getvalue().to_pybytes()
    page = new_page()
    feed(page, started("r1"), grid)
    assert grid_codes(page) == ["TICKET-9", "TICKET-8"]
    assert grid_codes(new_page()) == []
