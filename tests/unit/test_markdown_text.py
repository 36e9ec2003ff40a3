"""People's text inside Streamlit's Markdown (app_components.text): shown as typed, never as
a link, an image, an icon or formatting. The expected strings were checked by eye in
Chromium: each renders as the text typed, with no link."""

from __future__ import annotations

import pytest

from app_components.text import escape_markdown

WJ = "\u2060"  # the word joiner: invisible, and it breaks what GFM would link


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        # Plain sentences come out unchanged.
        ("Saved.", "Saved."),
        ("TICKET-12 saved: Status Closed", "TICKET-12 saved: Status Closed"),
        ("Due 12:30, call me", "Due 12:30, call me"),
        # Links, images and raw HTML: their brackets escaped.
        (
            "Zed [verify your login](http://evil.example/phish)",
            f"Zed \\[verify your login\\](http:{WJ}//evil.example/phish)",
        ),
        ("![t](x.png)", "!\\[t\\](x.png)"),
        ("<b>hi</b>", "\\<b\\>hi\\</b\\>"),
        # Bare links that GFM makes without brackets (escapes cannot stop those).
        ("see www.evil.example", f"see www{WJ}.evil.example"),
        ("mail zed@evil.example", f"mail zed{WJ}@evil.example"),
        # Formatting, math, Streamlit's colour directives, icons and emoji.
        (
            "**b** _i_ `c` ~~s~~ $x$ a|b Q&A",
            "\\*\\*b\\*\\* \\_i\\_ \\`c\\` \\~\\~s\\~\\~ \\$x\\$ a\\|b Q\\&A",
        ),
        (":red[FAKE] :material/lock:", f":{WJ}red\\[FAKE\\] :{WJ}material/lock:"),
        # What a line starts with: headings, lists, quotes.
        ("# big\n1. one\n- two\n  > q", "\\# big\n1\\. one\n\\- two\n  \\> q"),
    ],
)
def test_escaped_text_is_shown_as_typed(typed: str, escaped: str) -> None:
    assert escape_markdown(typed) == escaped
