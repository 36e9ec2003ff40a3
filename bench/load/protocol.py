"""Streamlit's browser protocol as one browser tab keeps it, without any I/O.

The server sends ForwardMsgs (streamlit/proto/ForwardMsg.proto): a script run starts with
`new_session`, draws with `delta`s (each at a `metadata.delta_path`), and ends with
`script_finished`; `auto_rerun` asks the tab to request a fragment's run every few seconds
(`st.fragment(run_every=...)`); a large element may come as a `ref_hash` to a message the tab
said it still holds. The tab answers with BackMsgs: `rerun_script` carries every widget's
current value (WidgetStates), the clicked button as a one-off trigger, the fragment whose
widget changed, the URL's query string and the page.

`Page` follows what Streamlit 1.67's frontend does with these (checked against the frames
Chromium sends, recorded with Playwright): a widget's value is its default when first drawn,
what the person chose since, or what the script set (`set_value`); elements a finished run
did not draw again are dropped, and so are their widgets' values; cacheable messages are kept
for `max_cached_message_age` runs. Widgets are found by their key (the end of their id,
`$$ID-<hash>-<key>`) or their label, never by position, so that the app's layout can change
under the load generator.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY
FRAGMENT_FINISHED = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
STOPPED_FOR_RERUN = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINAL = frozenset({FINISHED, FRAGMENT_FINISHED, COMPILE_ERROR})
"""A run that ends so is the end of what a request asked for; one stopped for a rerun hands
over to the run after it."""

WIDGET_ID = re.compile(r"^\$\$ID-[0-9a-f]+-(.*)$", re.S)
DEFAULT_CACHE_AGE = 2  # server.maxCachedMessageAge's default, until new_session says otherwise

# What a browser in UTC on an English system says about itself (ClientState.context_info).
TIMEZONE = "UTC"
LOCALE = "en-US"

TEXT_KINDS = {
    "markdown": "body",
    "alert": "body",
    "heading": "body",
    "text": "body",
    "code": "code_text",
    "toast": "body",
    "exception": "message",
}
"""Elements whose text the checks read, and the field that holds it."""


class ProtocolError(RuntimeError):
    """The server sent something a browser could not have followed (a reference to a cached
    message the tab never had, a run that ended without starting)."""


@dataclass(eq=False)  # identity: elements are keys of a change
class Element:
    """One element on the page: its kind (the Element oneof: "text_input", "button",
    "dataframe"...), its message, the fragment it was drawn in, the run that last drew it and
    the number of the message that did (later ones win when a stale copy is still around)."""

    path: tuple[int, ...]
    kind: str
    proto: Any
    fragment_id: str
    run_id: str
    seq: int

    def _field(self, name: str) -> Any:
        fields = self.proto.DESCRIPTOR.fields_by_name
        return getattr(self.proto, name) if name in fields else None

    @property
    def widget_id(self) -> str:
        value = self._field("id")
        return value if isinstance(value, str) else ""

    @property
    def key(self) -> str | None:
        """The user key the widget was given (st.text_input(..., key="search")), or for a
        form's submit button "FormSubmitter:<form>-<label>"; None without one."""
        match = WIDGET_ID.match(self.widget_id)
        if not match or match.group(1) == "None":
            return None
        return match.group(1)

    @property
    def label(self) -> str:
        value = self._field("label")
        return value if isinstance(value, str) else ""

    @property
    def form_id(self) -> str:
        value = self._field("form_id")
        return value if isinstance(value, str) else ""

    @property
    def text(self) -> str:
        name = TEXT_KINDS.get(self.kind)
        value = self._field(name) if name else None
        return value if isinstance(value, str) else ""

    @property
    def is_form_submitter(self) -> bool:
        return self.kind == "button" and bool(self._field("is_form_submitter"))


@dataclass(frozen=True)
class Finished:
    """A script run's end: its id, the fragments it ran (none: the whole page), how it ended,
    and the numbers of the messages that started and ended it."""

    run_id: str
    fragment_ids: tuple[str, ...]
    status: int
    started_seq: int
    seq: int

    @property
    def final(self) -> bool:
        return self.status in FINAL


# --------------------------------------------------------------------------- widget values


def string_state(widget_id: str, value: str) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.string_value = value
    return state


def strings_state(widget_id: str, values: Iterable[str]) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.string_array_value.data.extend(values)
    return state


def int_state(widget_id: str, value: int) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.int_value = value
    return state


def bool_state(widget_id: str, value: bool) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.bool_value = value
    return state


def trigger_state(widget_id: str) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.trigger_value = True
    return state


def _has(proto: Any, name: str) -> bool:
    """Whether an `optional` field is set (a plain field counts as set)."""
    try:
        return bool(proto.HasField(name))
    except ValueError:  # not an optional field: always "set"
        return True


def _option(options: Any, index: int) -> str | None:
    return str(options[index]) if 0 <= index < len(options) else None


def drawn_state(kind: str, proto: Any) -> WidgetState | None:
    """The value a browser gives a widget it draws for the first time (its default), or None
    for widgets that send no value until used (buttons, grids, chat input...)."""
    wid = proto.id
    if kind in ("text_input", "text_area"):
        return string_state(wid, proto.default) if _has(proto, "default") else None
    if kind in ("selectbox", "radio"):
        if not _has(proto, "default"):
            return None
        chosen = _option(proto.options, proto.default)
        return None if chosen is None else string_state(wid, chosen)
    if kind == "multiselect":
        return strings_state(wid, [o for i in proto.default if (o := _option(proto.options, i))])
    if kind == "button_group":
        contents = [option.content for option in proto.options]
        return strings_state(wid, [o for i in proto.default if (o := _option(contents, i))])
    if kind == "date_input":
        return strings_state(wid, proto.default)
    if kind == "pagination":
        return int_state(wid, proto.default)
    if kind == "checkbox":
        return bool_state(wid, proto.default)
    if kind == "file_uploader":
        state = WidgetState(id=wid)
        state.file_uploader_state_value.SetInParent()
        return state
    return None


def set_state(kind: str, proto: Any) -> WidgetState | None:
    """The value the script set (st.session_state[key] = ..., sent with `set_value`), or None
    when it set none."""
    fields = proto.DESCRIPTOR.fields_by_name
    if "set_value" not in fields or not proto.set_value:
        return None
    wid = proto.id
    if kind in ("text_input", "text_area"):
        return string_state(wid, proto.value)
    if kind in ("selectbox", "radio"):
        return string_state(wid, proto.raw_value) if _has(proto, "raw_value") else None
    if kind in ("multiselect", "button_group"):
        return strings_state(wid, proto.raw_values)
    if kind == "date_input":
        return strings_state(wid, proto.value)
    if kind == "pagination":
        return int_state(wid, proto.value)
    if kind == "checkbox":
        return bool_state(wid, proto.value)
    return None


def value_state(element: Element, value: Any) -> WidgetState:
    """A new value for `element`, as the browser sends it once a person chose it."""
    wid = element.widget_id
    if element.kind in ("text_input", "text_area", "selectbox", "radio"):
        return string_state(wid, str(value))
    if element.kind in ("multiselect", "button_group", "date_input"):
        return strings_state(wid, [str(v) for v in value])
    if element.kind == "pagination":
        return int_state(wid, int(value))
    if element.kind == "checkbox":
        return bool_state(wid, bool(value))
    raise ValueError(f"no value of a {element.kind} can be sent")


def state_value(state: WidgetState | None) -> Any:
    """What a WidgetState holds: a str, int, bool or list of str (None for none)."""
    if state is None:
        return None
    which = state.WhichOneof("value")
    if which == "string_array_value":
        return list(state.string_array_value.data)
    return None if which is None else getattr(state, which)


# --------------------------------------------------------------------------- the page


@dataclass
class _Cached:
    msg: ForwardMsg
    used: int  # the run count it was last used at
    fragment_id: str


@dataclass
class Page:
    """What one browser tab keeps: the elements drawn, the widgets' values, the message cache,
    the page and query string it asks for, the fragments it reruns on a timer, and the runs.
    `receive` takes each ForwardMsg; `rerun` makes the BackMsg of a request."""

    url: str  # the page's URL as the browser shows it (context_info.url)
    query_string: str = ""
    page_script_hash: str = ""
    session_id: str = ""
    elements: dict[tuple[int, ...], Element] = field(default_factory=dict)
    values: dict[str, WidgetState] = field(default_factory=dict)
    auto_reruns: dict[str, float] = field(default_factory=dict)  # fragment id -> seconds
    seq: int = 0  # messages received
    run_id: str = ""
    run_fragments: tuple[str, ...] = ()
    run_started_seq: int = 0
    running: bool = False
    cache_age: int = DEFAULT_CACHE_AGE
    run_count: int = 0
    grids_drawn: int = 0  # grid (dataframe) elements received: the ticket table redrawn
    _cache: dict[str, _Cached] = field(default_factory=dict)

    # ----------------------------------------------------------------- receiving

    def receive(self, msg: ForwardMsg) -> Finished | None:
        """Follow one message; a run's end is returned."""
        self.seq += 1
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            msg = self._from_cache(msg)
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = _Cached(msg, self.run_count, msg.delta.fragment_id)
        if kind == "new_session":
            self._start_run(msg)
        elif kind == "delta":
            self._delta(msg)
        elif kind == "script_finished":
            return self._finish(msg)
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun" and msg.auto_rerun.fragment_id:
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(fragment_id, None)
        elif kind == "session_status_changed":
            self.running = msg.session_status_changed.script_is_running
        return None

    def _from_cache(self, ref: ForwardMsg) -> ForwardMsg:
        cached = self._cache.get(ref.ref_hash)
        if cached is None:
            raise ProtocolError(f"the server referred to a message never received: {ref.ref_hash}")
        cached.used = self.run_count
        msg = ForwardMsg()
        msg.CopyFrom(cached.msg)
        msg.metadata.CopyFrom(ref.metadata)
        return msg

    def _start_run(self, msg: ForwardMsg) -> None:
        new_session = msg.new_session
        if new_session.HasField("initialize"):
            self.session_id = new_session.initialize.session_id
        if new_session.HasField("config") and new_session.config.max_cached_message_age > 0:
            self.cache_age = new_session.config.max_cached_message_age
        if new_session.page_script_hash:
            self.page_script_hash = new_session.page_script_hash
        self.run_id = msg.metadata.run.script_run_id
        self.run_fragments = tuple(msg.metadata.run.fragment_ids)
        self.run_started_seq = self.seq
        self.running = True

    def _delta(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        path = tuple(msg.metadata.delta_path)
        if delta.WhichOneof("type") != "new_element":
            return  # blocks only hold elements; add_rows and the like change no widget
        element_msg = delta.new_element
        kind = element_msg.WhichOneof("type")
        if kind is None:
            return
        proto = getattr(element_msg, kind)
        # Whatever stood at this path or below it is replaced.
        for old in [p for p in self.elements if p[: len(path)] == path]:
            del self.elements[old]
        element = Element(path, kind, proto, delta.fragment_id, self.run_id, self.seq)
        self.elements[path] = element
        if kind == "dataframe":
            self.grids_drawn += 1
        widget_id = element.widget_id
        if widget_id:
            chosen = set_state(kind, proto)
            if chosen is not None:
                self.values[widget_id] = chosen
            elif widget_id not in self.values:
                drawn = drawn_state(kind, proto)
                if drawn is not None:
                    self.values[widget_id] = drawn

    def _finish(self, msg: ForwardMsg) -> Finished:
        run = msg.metadata.run
        run_id = run.script_run_id or self.run_id
        fragments = tuple(run.fragment_ids) if run.script_run_id else self.run_fragments
        done = Finished(run_id, fragments, msg.script_finished, self.run_started_seq, self.seq)
        if done.final:
            self._clear_stale(run_id, fragments)
            self._age_cache(fragments)
        return done

    def _clear_stale(self, run_id: str, fragments: tuple[str, ...]) -> None:
        """Drop what the finished run did not draw again: everything, after a run of the whole
        page; the fragments' own elements, after a fragment run. Widgets no longer drawn lose
        their values, as in the browser."""
        for path, element in list(self.elements.items()):
            if element.run_id == run_id:
                continue
            if not fragments or element.fragment_id in fragments:
                del self.elements[path]
        shown = {e.widget_id for e in self.elements.values() if e.widget_id}
        for widget_id in [w for w in self.values if w not in shown]:
            del self.values[widget_id]

    def _age_cache(self, fragments: tuple[str, ...]) -> None:
        self.run_count += 1
        for key, cached in list(self._cache.items()):
            if fragments and cached.fragment_id not in fragments:
                continue
            if self.run_count - cached.used > self.cache_age:
                del self._cache[key]

    # ----------------------------------------------------------------- finding

    def find(
        self,
        *,
        keys: Collection[str] = (),
        labels: Collection[str] = (),
        kinds: Collection[str] = (),
        form_id: str | None = None,
    ) -> Element | None:
        """The latest-drawn element with one of `keys` (or, if none has, one of `labels`), of
        one of `kinds` and in form `form_id` when given; None if there is none."""

        def fits(element: Element) -> bool:
            if kinds and element.kind not in kinds:
                return False
            return form_id is None or element.form_id == form_id

        candidates = [e for e in self.elements.values() if fits(e)]
        found = [e for e in candidates if e.key is not None and e.key in keys]
        found = found or [e for e in candidates if e.label in labels]
        return max(found, key=lambda e: e.seq) if found else None

    def submit_button(self, element: Element) -> Element | None:
        """The submit button of the form `element` is in (None outside a form)."""
        if not element.form_id:
            return None
        buttons = [
            e
            for e in self.elements.values()
            if e.is_form_submitter and e.form_id == element.form_id
        ]
        return max(buttons, key=lambda e: e.seq) if buttons else None

    def of_kind(self, kind: str) -> list[Element]:
        return sorted((e for e in self.elements.values() if e.kind == kind), key=lambda e: e.seq)

    def since(self, seq: int) -> list[Element]:
        """The elements drawn after message `seq` (e.g. by the runs answering a request sent
        then), in the order they came."""
        return sorted((e for e in self.elements.values() if e.seq > seq), key=lambda e: e.seq)

    def texts(self, since: int = 0) -> list[str]:
        """The text of every text element on the page (markdown, alerts, headings...), or of
        those drawn after message `since`."""
        return [e.text for e in self.since(since) if e.text]

    def errors(self, since: int = 0) -> list[str]:
        """What the page shows as an error (exceptions and error alerts), or drawn so after
        message `since`."""
        error_format = 1  # Alert.Format.ERROR
        return [
            e.text
            for e in self.since(since)
            if e.kind == "exception" or (e.kind == "alert" and e.proto.format == error_format)
        ]

    def value(self, element: Element) -> Any:
        return state_value(self.values.get(element.widget_id))

    def cached_hashes(self) -> list[str]:
        return list(self._cache)

    # ----------------------------------------------------------------- sending

    def first_rerun(self) -> BackMsg:
        """What a freshly loaded tab sends first: no widgets, no page chosen yet."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.widget_states.SetInParent()
        self._context(state)
        return msg

    def rerun(
        self,
        changes: Mapping[Element, Any] | None = None,
        *,
        trigger: Element | None = None,
        fragment_id: str = "",
        auto: bool = False,
    ) -> BackMsg:
        """The request after a person changed widgets (`changes`: element -> new value, kept
        as the widgets' values from now on) and/or clicked `trigger` (a one-off, as buttons
        are), for `fragment_id` ("" = the whole page), or a fragment's timer (`auto`)."""
        for element, value in (changes or {}).items():
            self.values[element.widget_id] = value_state(element, value)
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.widget_states.widgets.extend(self.values.values())
        if trigger is not None:
            state.widget_states.widgets.append(trigger_state(trigger.widget_id))
        if fragment_id:
            state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self._cache)
        self._context(state)
        return msg

    def _context(self, state: Any) -> None:
        info = state.context_info
        info.timezone = TIMEZONE
        info.timezone_offset = 0
        info.locale = LOCALE
        info.url = self.url
        info.is_embedded = False
        info.color_scheme = "light"
