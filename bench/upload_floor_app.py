"""The floor for the upload benchmark (bench/files_bench.py): the cheapest Streamlit page that
takes a file the way the desk's Tickets form does, a form with an uploader and a Submit
button, and on Submit writes the file as it is to BENCH_UPLOAD_DIR/<its name>, fsynced, and
says "Saved <name>". Whatever this costs in the browser and on the server is what Streamlit
and the disk cost; the desk adds hashing, its file store, the database and its page.

Run alone: `BENCH_UPLOAD_DIR=/tmp/up streamlit run bench/upload_floor_app.py`.
"""

import os
import shutil
from pathlib import Path

import streamlit as st

TARGET = Path(os.environ.get("BENCH_UPLOAD_DIR", "uploads"))


def save() -> None:
    for file in st.session_state.get("files") or []:
        TARGET.mkdir(parents=True, exist_ok=True)
        file.seek(0)
        with (TARGET / Path(file.name).name).open("wb") as out:
            shutil.copyfileobj(file, out, 256 * 1024)
            out.flush()
            os.fsync(out.fileno())
        st.session_state["saved"] = file.name


st.title("Upload floor")
with st.form("upload", clear_on_submit=True):
    st.file_uploader("Attach files", accept_multiple_files=True, key="files")
    st.form_submit_button("Submit", on_click=save)
if saved := st.session_state.pop("saved", None):
    st.success(f"Saved {saved}")
