"""domain.files: what is left of a name a browser (or a mail) sends, and which files of an
incoming mail become attachments."""

from __future__ import annotations

import pytest

from ticketdesk.domain.files import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_MESSAGE,
    MailFile,
    choose_mail_files,
    safe_name,
)


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


# -- which files of a mail are attached ------------------------------------------------------


def test_a_mails_files_within_the_limits_are_all_kept() -> None:
    files = [MailFile("a.txt", b"x" * 10), MailFile("b.png", b"y" * 20)]
    chosen = choose_mail_files(files, file_limit=20, message_limit=30, max_files=2)
    assert chosen.kept == tuple(files)
    assert chosen.refused == ()
    assert chosen.note() == ""


def test_a_mails_files_past_a_limit_are_listed_and_the_others_kept() -> None:
    """In the mail's order: the 25-byte file is over the per-file 20; after a (10) and c (15)
    the message's 31 would be passed by d (10) but not by e (5); f (1) fits in the 31 but is
    past the 3 files."""
    files = [
        MailFile("a.txt", b"1" * 10),
        MailFile("big\u202etxt.exe", b"2" * 25),
        MailFile("c.txt", b"3" * 15),
        MailFile("d.txt", b"4" * 10),
        MailFile("e.txt", b"5" * 5),
        MailFile("f.txt", b"6"),
    ]
    chosen = choose_mail_files(files, file_limit=20, message_limit=31, max_files=3)
    assert [f.name for f in chosen.kept] == ["a.txt", "c.txt", "e.txt"]
    assert chosen.refused == (
        "bigtxt.exe (25 B), larger than 20 B, the limit per file",
        "d.txt (10 B), the files together would pass 31 B, the limit per message",
        "f.txt (1 B), a message takes at most 3 files",
    )
    assert chosen.note() == (
        "\n\n[Not attached (still in the original mail, which staff can open): "
        "bigtxt.exe (25 B), larger than 20 B, the limit per file; "
        "d.txt (10 B), the files together would pass 31 B, the limit per message; "
        "f.txt (1 B), a message takes at most 3 files]"
    )


def test_the_note_names_ten_refused_files_and_counts_the_rest() -> None:
    files = [MailFile(f"{n}.txt", b"x") for n in range(13)]
    chosen = choose_mail_files(files, max_files=0)
    assert len(chosen.refused) == 13
    named = "; ".join(f"{n}.txt (1 B), a message takes at most 0 files" for n in range(10))
    assert chosen.note().endswith(f"staff can open): {named}; and 3 more]")


def test_the_default_limits_are_the_forms() -> None:
    exactly = MailFile("limit.bin", b"\0" * MAX_FILE_BYTES)
    over = MailFile("over.bin", b"\0" * (MAX_FILE_BYTES + 1))
    chosen = choose_mail_files([over, exactly, *[MailFile("x", b"")] * MAX_FILES_PER_MESSAGE])
    assert [f.name for f in chosen.kept] == ["limit.bin"] + ["x"] * (MAX_FILES_PER_MESSAGE - 1)
    assert chosen.refused == (
        "over.bin (25.0 MB), larger than 25.0 MB, the limit per file",
        f"x (0 B), a message takes at most {MAX_FILES_PER_MESSAGE} files",
    )
