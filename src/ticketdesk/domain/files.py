"""Attachments: what a file on a ticket is, its limits, and how its name is made safe.

The bytes live outside the SQL database, in a blob store (store.files), under the SHA-256 of
their content; the database holds one row per attachment (name, size, type, digest) written
in the same transaction as the message it belongs to."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

from ticketdesk.domain.errors import ValidationError

MAX_FILE_BYTES = 25 * 1024 * 1024
"""Largest file accepted (25 MB): `server.maxUploadSize` in .streamlit/config.toml is the
same 25 (MB, as Streamlit counts: MiB), so Streamlit and the desk refuse the same files."""
MAX_FILES_PER_MESSAGE = 10
MAX_MESSAGE_BYTES = 50 * 1024 * 1024
"""All files of one message (or one new ticket) together."""
NAME_MAX_CHARS = 200
"""Longer names are shortened (keeping the extension) when stored."""

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Raster images: shown as thumbnails and served inline. Everything else (HTML, SVG, PDF,
text...) is served as a download only."""

_SLASHES = re.compile(r"[/\\]+")


@dataclass(frozen=True)
class Upload:
    """A file someone attaches: the name their browser sent and a binary stream of it."""

    name: str
    stream: BinaryIO


@dataclass(frozen=True)
class NewAttachment:
    """A stored blob, ready to be recorded with its message."""

    sha256: str
    name: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Attachment:
    id: int
    ticket_id: int
    message_id: int | None  # None: a file of the ticket itself (attached when it was filed)
    sha256: str
    name: str
    size: int
    content_type: str

    @property
    def inline(self) -> bool:
        return self.content_type in INLINE_TYPES

    @property
    def size_label(self) -> str:
        return size_label(self.size)

    @property
    def url(self) -> str:
        return file_url(self.id, self.name)


def file_url(file_id: int, name: str) -> str:
    """The download address of a file, on the desk's own origin (web.files_route serves it);
    the name, percent-encoded, is only for the browser's save dialog."""
    return f"/files/{file_id}/{quote(name, safe='')}"


def size_label(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def safe_name(raw: str) -> str:
    """The name to store and show: no directories (only the last part of a path), no control
    or format characters (RTL overrides, zero-width marks), no leading dots, at most
    NAME_MAX_CHARS characters with the extension kept; "file" when nothing is left."""
    name = _SLASHES.split(unicodedata.normalize("NFC", str(raw)))[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if len(name) > NAME_MAX_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[: NAME_MAX_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:NAME_MAX_CHARS].rstrip()
    return name or "file"


def check_uploads(uploads: list[Upload]) -> None:
    """Refuse more files than a message may carry (sizes are checked while storing)."""
    if len(uploads) > MAX_FILES_PER_MESSAGE:
        raise ValidationError(
            f"{len(uploads)} files attached; a message takes at most {MAX_FILES_PER_MESSAGE}. "
            "Remove some and submit again."
        )


def too_large(name: str, limit: int = MAX_FILE_BYTES) -> ValidationError:
    return ValidationError(
        f"{safe_name(name)!r} is larger than {size_label(limit)}, the limit per file. Nothing "
        "was saved; your text and the other files are still in the form: remove that file "
        "and submit again."
    )


def too_much(limit: int = MAX_MESSAGE_BYTES) -> ValidationError:
    return ValidationError(
        f"The files together are larger than {size_label(limit)}, the limit per message. "
        "Nothing was saved; your text and files are still in the form: remove some and "
        "submit again."
    )


# -- files of incoming mail ------------------------------------------------------------------


@dataclass(frozen=True)
class MailFile:
    """A file found in an incoming mail (an attachment, or an inline image of its HTML): the
    name the mail gives it (or one made from its type) and its decoded bytes. The mail is in
    memory whole anyway (TICKETDESK_MAIL_MAX_BYTES caps it), so its files are too."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


NOTE_NAMES = 10
"""Refused files of a mail named in its message's text; more are counted."""


@dataclass(frozen=True)
class MailFiles:
    """Which files of a mail become attachments (`kept`, in the mail's order) and which do
    not, each with the reason (`refused`, for the message's text). The mail is filed all the
    same: unlike a person at the form, its sender cannot remove a file and send again."""

    kept: tuple[MailFile, ...]
    refused: tuple[str, ...]

    def note(self) -> str:
        """The line the message's text ends with when files were refused ('' when none): the
        first NOTE_NAMES of them by name, how many others there were."""
        if not self.refused:
            return ""
        named = "; ".join(self.refused[:NOTE_NAMES])
        if len(self.refused) > NOTE_NAMES:
            named += f"; and {len(self.refused) - NOTE_NAMES} more"
        return f"\n\n[Not attached (still in the original mail, which staff can open): {named}]"


def choose_mail_files(
    files: list[MailFile],
    file_limit: int = MAX_FILE_BYTES,
    message_limit: int = MAX_MESSAGE_BYTES,
    max_files: int = MAX_FILES_PER_MESSAGE,
) -> MailFiles:
    """The same limits as the form's, applied file by file in the mail's order: a file over
    `file_limit` is refused, as is one that would take the files kept so far over
    `message_limit`, or one past the `max_files`-th kept; the others are kept."""
    kept: list[MailFile] = []
    refused: list[str] = []
    total = 0
    for file in files:
        what = f"{safe_name(file.name)} ({size_label(file.size)})"
        if file.size > file_limit:
            refused.append(f"{what}, larger than {size_label(file_limit)}, the limit per file")
        elif total + file.size > message_limit:
            refused.append(
                f"{what}, the files together would pass {size_label(message_limit)}, the "
                "limit per message"
            )
        elif len(kept) >= max_files:
            refused.append(f"{what}, a message takes at most {max_files} files")
        else:
            kept.append(file)
            total += file.size
    return MailFiles(tuple(kept), tuple(refused))
