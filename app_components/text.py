"""People's text inside the Markdown that Streamlit renders (st.markdown, st.caption,
st.success..., toasts)."""

from __future__ import annotations


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (names are people's input)."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$:" else ch for ch in text)
