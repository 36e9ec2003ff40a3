"""domain.files.safe_name: what is left of a name a browser sends."""

from __future__ import annotations

import pytest

from ticketdesk.domain.files import safe_name


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\ana\\shot.png", "shot.png"),
        ("../../etc/passwd", "passwd"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # no right-to-left override
        ("a\x00b\x1fc\u200bd.txt", "abcd.txt"),  # no control or zero-width characters
        ("..hidden", "hidden"),
        ("/", "file"),
        ("", "file"),
        ("x" * 300, "x" * 200),
        ("y" * 300 + ".tar.gz", "y" * 197 + ".gz"),
        ("Käse.txt", "Käse.txt"),
    ],
)
def test_safe_name(sent: str, kept: str) -> None:
    assert safe_name(sent) == kept
