"""The load generator's protocol model (bench/load/protocol.py) against a recording of what
Chromium and the real app exchanged while a person used the Tickets page
(tests/unit/load_frames.json.gz, made by `python -m bench.load.record`): fed the frames the
browser received, the model sends what the browser sent, i.e. the same widget values, page,
query string, fragment and cached messages, given only what the person did (the value typed
or chosen, the button clicked); and a run begun after each request of the person ends."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.load.protocol import Element, Page, state_value

RECORDING = Path(__file__).with_name("load_frames.json.gz")
# What the person changed in each action (widget keys), and the button clicked (its key).
CHANGED = {
    "load_list": set(),
    "search": {"search"},
    "page": {"page"},
    "open_ticket": set(),
    "status": {"detail_status"},
    "reply": {"message_body"},
    "back_to_list": set(),
}
CLICKED = {
    "status": "FormSubmitter:fields-Save",
    "reply": "FormSubmitter:reply-Send",
    "back_to_list": None,  # "All tickets": a button without a key
}


def frames() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(gzip.decompress(RECORDING.read_bytes()))
    return loaded


def shown(msg: BackMsg) -> dict[str, Any]:
    """What a rerun request says, comparable: widget values by id, and the rest."""
    state = msg.rerun_script
    widgets = {}
    for widget in state.widget_states.widgets:
        which = widget.WhichOneof("value")
        widgets[widget.id] = (
            which,
            "" if which == "file_uploader_state_value" else state_value(widget),
        )
    return {
        "widgets": widgets,
        "query_string": state.query_string,
        "page_script_hash": state.page_script_hash,
        "fragment_id": state.fragment_id,
        "is_auto_rerun": state.is_auto_rerun,
        "cached": sorted(state.cached_message_hashes),
    }


def test_the_model_sends_what_chromium_sent() -> None:
    page: Page | None = None
    action = "load_list"
    pending: int | None = None  # the message before a person's request not answered yet
    checked = {"auto": 0, "person": 0, "loads": 0}
    for frame in frames():
        if "mark" in frame:
            assert pending is None, f"the request before {frame['mark']} was never answered"
            action = frame["mark"]
            continue
        data = base64.b64decode(frame["b64"])
        if frame["dir"] == "recv":
            assert page is not None
            msg = ForwardMsg()
            msg.ParseFromString(data)
            ended = page.receive(msg)
            if ended is not None and pending is not None and ended.started_seq > pending:
                pending = None  # a run begun after the request ended
            continue
        sent = BackMsg()
        sent.ParseFromString(data)
        state = sent.rerun_script
        if not state.page_script_hash and not state.widget_states.widgets:  # a page load
            page = Page(url=state.context_info.url, query_string=state.query_string)
            assert shown(page.first_rerun()) == shown(sent)
            pending = page.seq
            checked["loads"] += 1
            continue
        assert page is not None
        if state.is_auto_rerun:
            mine = page.rerun(fragment_id=state.fragment_id, auto=True)
            assert shown(mine) == shown(sent), f"a timer's request during {action}"
            checked["auto"] += 1
            continue
        # The person's request: their change and click, from the recording; everything
        # else must be what the model kept.
        changes: dict[Element, Any] = {}
        trigger = None
        for widget in state.widget_states.widgets:
            element = next((e for e in page.elements.values() if e.widget_id == widget.id), None)
            assert element is not None, f"{widget.id} sent but not on the model's page"
            if widget.trigger_value:
                trigger = element
            elif state_value(widget) != page.value(element):
                changes[element] = state_value(widget)
        assert {e.key for e in changes} == CHANGED[action], action
        if action in CLICKED:
            assert trigger is not None and trigger.key == CLICKED[action], action
        for element in changes:
            assert page.find(keys=(element.key or "",)) is element
        mine = page.rerun(changes, trigger=trigger, fragment_id=state.fragment_id)
        assert shown(mine) == shown(sent), action
        pending = page.seq
        checked["person"] += 1
    assert pending is None
    assert checked["loads"] == 2 and checked["person"] >= 6 and checked["auto"] >= 2, checked
