"""People's text inside the Markdown that Streamlit renders (st.markdown, st.caption,
st.success and the other alerts, toasts): names, emails, what was typed and refused, and the
bodies of messages.

Streamlit renders every one of those as GitHub-flavoured Markdown with its own directives
(`:red[...]`, `:material/icon:`), so a name such as `Zed [verify your login](http://...)`
would be a live link. escape_markdown() makes text literal; safe_message() keeps a message's
Markdown but not its images, which would be fetched from wherever they point."""

from __future__ import annotations

import re

# Characters with a meaning anywhere in a line: emphasis, code, links and images, autolinks
# and raw HTML, strikethrough, math, table cells, entities. Backslash-escaped wherever they are.
_INLINE = frozenset("\\`*_[]<>~$|&")
# What makes a line a heading, a list item, a quote, a rule or a setext underline.
_LINE_START = re.compile(r"^([ \t]*)([#>+=-]|\d+[.)])", re.MULTILINE)
WORD_JOINER = "\u2060"
"""An invisible character that breaks what Streamlit's Markdown finds in the text itself,
after escapes are undone, so that backslashes cannot stop it: GFM's bare links
("http://...", "www.example.com", "someone@example.com") and Streamlit's icons and emoji
(":material/lock:", ":smile:")."""
# A colon before a letter or a slash: a URL scheme ("http://"), an icon or an emoji; "12:30"
# and "to: you" stay as they are.
_COLON = re.compile(r":(?=[^\s\d])")
_WWW = re.compile(r"(?i)\b(www)\.")


def escape_markdown(text: str) -> str:
    """`text` as it is, shown literally inside Markdown: every character that would format,
    link or load something is backslash-escaped (Markdown shows `\\x` as `x`), and a word
    joiner (invisible) breaks bare links, icons and emoji; plain words and sentences
    ("Saved.", "TICKET-12 saved: Status Closed") come out unchanged."""
    out = "".join("\\" + ch if ch in _INLINE else ch for ch in text)
    out = out.replace("@", WORD_JOINER + "@")
    out = _COLON.sub(":" + WORD_JOINER, out)
    out = _WWW.sub(r"\1" + WORD_JOINER + ".", out)
    return _LINE_START.sub(_escape_line_start, out)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, mark = match.group(1), match.group(2)
    if mark[0].isdigit():  # "1." or "1)": an ordered list item
        return f"{indent}{mark[:-1]}\\{mark[-1]}"
    return f"{indent}\\{mark}"


# An image: "![" (inline "![alt](url)" and reference "![alt][ref]" alike) after an even
# number of backslashes (an odd one escapes the "!").
_IMAGE = re.compile(r"(?<!\\)((?:\\\\)*)!\[")


def safe_message(body: str) -> str:
    """A message's Markdown as written, except images: each `![alt](url)` shows as the text
    `![alt](url)` rather than loading `url` in every reader's browser (which would tell its
    host who read the ticket, and when). Links stay links: they load nothing until clicked."""
    return _IMAGE.sub(r"\1!\\[", body)
