"""The corpus of awkward input fed to every place text enters (tests/db/test_bad_input.py,
tests/pages/test_bad_input_pages.py)."""

from __future__ import annotations

# (value, refused?) -- refused values must raise ValidationError with a message.
CORPUS = [
    ("", True),
    ("   \n\t ", True),
    ("x" * 5001, True),
    ("nul \x00 byte", True),
    ("bell \x07 and escape \x1b[31m", True),
    ("lone surrogate \ud800", True),
    ("x" * 5000, False),
    ("مرحبا، الطابعة لا تعمل", False),  # right-to-left
    ("\u202eoverride\u202c and \u200f marks", False),
    ("emoji 🎫🔥👩‍💻 and combining é", False),
    ("<script>alert(1)</script><img src=x onerror=alert(2)>", False),
    ("'; DROP TABLE tickets; --", False),
    ('Robert"); DELETE FROM ticket_events; --', False),
    ("%s %d {0} ${HOME} $(rm -rf /) `id`", False),
    ("**markdown** [link](javascript:alert(1)) <b>html</b>", False),
    ("=cmd|' /C calc'!A0", False),
    ("tabs\tand\nnew\r\nlines", False),
]
IDS = [f"{i}-{'refused' if r else 'kept'}" for i, (_, r) in enumerate(CORPUS)]
