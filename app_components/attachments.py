"""Files on the page: the uploader of a form, and a message's (or a ticket's) files as
thumbnails (raster images) or download links with name, size and type. Names are shown as
plain text; the links and images point at the desk's own /files route, which checks who may
read each file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from app_components import keys, notices, session
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import Account, Action
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.files import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_MESSAGE,
    Attachment,
    Upload,
    safe_name,
    size_label,
)
from ticketdesk.services import files as file_service

THUMBNAIL_PX = 240


def uploader_key(name: str) -> str:
    """The uploader's widget key this round; forget() starts a new, empty one (Streamlit does
    not let a script empty an uploader by its state)."""
    return f"{name}_{st.session_state.get(keys.UPLOAD_ROUND + name, 0)}"


def forget(name: str) -> None:
    """After a successful submit (the files are in the desk's file store): the next run
    draws the uploader `name` empty, and Streamlit lets go of the files' bytes now. It keeps
    every uploaded file in the server's memory until the browser removes it from the widget
    or the session ends (streamlit/streamlit#9218), and an uploader drawn anew removes
    nothing: 20 MB more per 20 MB file sent, for as long as the person keeps the page open."""
    ctx = get_script_run_ctx()
    files: Sequence[Any] = st.session_state.get(uploader_key(name)) or []
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        for file in files:
            ctx.uploaded_file_mgr.remove_file(ctx.session_id, file.file_id)
    round_key = keys.UPLOAD_ROUND + name
    st.session_state[round_key] = st.session_state.get(round_key, 0) + 1


def uploader(name: str) -> None:
    st.file_uploader(
        "Attach files",
        accept_multiple_files=True,
        key=uploader_key(name),
        help=(
            f"Up to {MAX_FILES_PER_MESSAGE} files of at most {size_label(MAX_FILE_BYTES)} "
            "each. Images show as thumbnails; other files as download links."
        ),
    )
    st.caption(
        f"At most {size_label(MAX_FILE_BYTES)} a file. A larger one turns red and is not "
        "sent (point at it to see why): remove it with its × and attach a smaller one."
    )


def attached(files: Sequence[Upload]) -> str:
    """What a success notice adds of the files sent with it: their names (as stored), so
    that a file the uploader refused, and someone sent the form anyway, is seen missing."""
    if not files:
        return ""
    return " Files attached: " + ", ".join(safe_name(f.name) for f in files) + "."


def chosen(name: str) -> list[Upload]:
    """The files in the uploader `name`, each read from its start (a refused submit read
    them once already; they stay in the form for the next try)."""
    files: Sequence[Any] = st.session_state.get(uploader_key(name)) or []
    for file in files:
        file.seek(0)
    return [Upload(file.name, file) for file in files]


def _absolute(path: str) -> str | None:
    """The app's own origin + `path` (st.image takes only absolute URLs); None outside a
    browser (AppTest)."""
    url = st.context.url
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{path}"


def remove(file: Attachment) -> None:
    """Button callback (admins): remove the file; the history records it."""
    try:
        file_service.remove_file(session.engine(), session.signed_in(), file.id, session.now())
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    notices.push("success", f"Removed the file {file.name}.")


def show_files(files: Sequence[Attachment], by: Account) -> None:
    for file in files:
        with st.container():
            if file.inline and (src := _absolute(file.url)):
                st.image(src, width=THUMBNAIL_PX)
            st.markdown(
                f":material/attach_file: [{escape_markdown(file.name)}]({file.url}) "
                f"· {file.size_label} · {escape_markdown(file.content_type)}"
            )
            if by.may(Action.REMOVE_FILE):
                st.button(
                    "Remove file",
                    key=f"{keys.REMOVE_FILE}{file.id}",
                    icon=":material/delete:",
                    type="tertiary",
                    on_click=remove,
                    args=(file,),
                    help="Removes it for everyone; the history records who removed it.",
                )
