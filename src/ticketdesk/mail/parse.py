"""Reading an incoming mail: its sender, Message-ID, threading headers and subject, the text
a person wrote in it (any charset and transfer encoding decoded, HTML-only mail turned into
text, quoted history and signatures cut with mail-parser-reply), and its files (attachments,
inline images, attached mails), decoded, for the desk's file store."""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.errors import (
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser

from mailparser_reply import EmailMessage as ReplyText

from ticketdesk.domain.files import MailFile
from ticketdesk.domain.mail import normalise_message_id, referenced_ids

REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja"]
"""The languages whose "On … wrote:" lines and signature phrases are recognised."""

_BROKEN_STRUCTURE = (
    StartBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
)


class Unreadable(Exception):
    """The mail cannot be read as a mail (the reason is for the rejected-mail list)."""


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    sender: str  # the From address, as written
    sender_name: str
    subject: str
    references: list[str]  # Message-IDs it answers, most direct first
    headers: dict[str, str]  # lower-case name -> first value, for the loop checks
    text: str  # a reply's new part: quoted history and signature cut
    full_text: str  # the whole text, decoded, without a "-- " signature (a new ticket's text)
    attachments: list[MailFile] = field(default_factory=list)  # in the mail's order


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot make sense of counts as absent
        return ""
    return "" if value is None else " ".join(str(value).split())


def parse(raw: bytes) -> ParsedMail:
    """Read `raw` (the mail as received), or raise Unreadable."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the stdlib parser is lenient; this is truly broken input
        raise Unreadable(f"malformed mail: {type(exc).__name__}") from None
    assert isinstance(message, EmailMessage)
    headers = {
        name.lower(): _header(message, name)
        for name in dict.fromkeys(message.keys())
        if name.lower() not in ("received", "dkim-signature", "arc-seal")
    }
    sender_name, sender = _from(message)
    if not sender:
        raise Unreadable("malformed mail: no sender address in From")
    own_id = normalise_message_id(headers.get("message-id"))
    message_id = own_id or f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@ticketdesk.invalid>"
    subject = _clean(headers.get("subject", ""))
    structural = [d for d in _defects(message) if isinstance(d, _BROKEN_STRUCTURE)]
    body, attachments = _body(message)
    if structural and not body.strip():
        names = ", ".join(sorted({type(d).__name__ for d in structural}))
        raise Unreadable(f"malformed MIME ({names}): no readable text")
    full = _clean(body)
    return ParsedMail(
        message_id=message_id,
        sender=sender,
        sender_name=_clean(sender_name),
        subject=subject,
        references=referenced_ids(headers.get("in-reply-to"), headers.get("references")),
        headers=headers,
        text=cut_quotes(full),
        full_text=cut_signature(full).strip(),
        attachments=attachments,
    )


def _from(message: Message) -> tuple[str, str]:
    value = _header(message, "From")
    for name, address in getaddresses([value]):
        if "@" in address:
            return name, address.strip()
    return "", ""


def _defects(message: Message) -> Iterable[object]:
    for part in message.walk():
        yield from part.defects


SIGNATURES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
"""S/MIME and OpenPGP signature parts: proof for a mail client, no file for a ticket (they
stay in the original mail)."""


def _attached_mail(part: Message) -> bool:
    """A mail attached to this one as a file (Outlook's "forward as attachment"), not a
    forwarded mail shown inline."""
    if part.get_content_type() != "message/rfc822":
        return False
    return (part.get_content_disposition() or "").lower() == "attachment" or bool(
        part.get_filename()
    )


def _leaves(part: Message) -> Iterator[Message]:
    """The mail's parts that hold content, in order (depth first, as Message.walk); a mail
    attached as a file is one of them, its own parts are not."""
    if _attached_mail(part):
        yield part
        return
    payload = part.get_payload() if part.is_multipart() else None
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                yield from _leaves(sub)
        return
    yield part


def _body(message: EmailMessage) -> tuple[str, list[MailFile]]:
    """The text of the mail (the first plain part with text; else the first HTML part as
    text) and its files, in the mail's order: every part marked as an attachment (or with a
    file name and not marked inline), every other part that is not text (inline images that
    the HTML shows by Content-ID, Apple Mail's inline PDFs), named text parts that are not the
    text, and attached mails (as .eml). Signatures, the alternative forms of the text and
    machine parts (delivery status) are not files."""
    files: list[tuple[int, MailFile]] = []
    texts: list[tuple[int, Message]] = []  # candidates for the text, with their position
    unnamed = 0

    def add(position: int, part: Message, data: bytes | None = None) -> None:
        nonlocal unnamed
        name = _clean(part.get_filename() or "").strip()
        if data is None:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        if not name:
            unnamed += 1
            extension = mimetypes.guess_extension(part.get_content_type()) or ""
            name = f"{part.get_content_maintype()}-{unnamed}{extension}"
        files.append((position, MailFile(name, data)))

    for position, part in enumerate(_leaves(message)):
        kind = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        if kind in SIGNATURES:
            continue
        if _attached_mail(part):
            inner = _attached_bytes(part)
            if inner is not None:
                files.append((position, MailFile(_attached_name(part), inner)))
            continue
        if disposition == "attachment" or (part.get_filename() and disposition != "inline"):
            add(position, part)
        elif kind in ("text/plain", "text/html"):
            texts.append((position, part))
        elif part.get_content_maintype() == "text":
            if part.get_filename():  # e.g. a named .csv or .ics shown inline
                add(position, part)
        elif part.get_content_maintype() not in ("message", "multipart"):
            add(position, part)
    chosen: tuple[int, Message] | None = next(
        (t for t in texts if t[1].get_content_type() == "text/plain" and _decoded(t[1]).strip()),
        None,
    ) or next((t for t in texts if t[1].get_content_type() == "text/html"), None)
    for position, part in texts:
        if part.get_filename() and (chosen is None or position != chosen[0]):
            add(position, part)  # a named text part beside the text: a file of its own
    ordered = [file for _, file in sorted(files, key=lambda pair: pair[0])]
    if chosen is None:
        return "", ordered
    part = chosen[1]
    if part.get_content_type() == "text/plain":
        return _decoded(part), ordered
    return html_to_text(_decoded(part)), ordered


def _attached_bytes(part: Message) -> bytes | None:
    """An attached mail as a file of its own: RFC 5322 text (CRLF line ends, as mail is sent),
    written again from what the parser read."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    try:
        return inner.as_bytes(policy=inner.policy.clone(linesep="\r\n"))
    except Exception:  # a header it cannot write again: the original mail still holds it
        return None


def _attached_name(part: Message) -> str:
    name = _clean(part.get_filename() or "").strip()
    if name:
        return name
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    subject = _header(inner, "Subject") if isinstance(inner, Message) else ""
    return f"{_clean(subject)[:100].strip() or 'attached mail'}.eml"


def _decoded(part: Message) -> str:
    """A text part's content in any charset and transfer encoding; what cannot be decoded is
    replaced, never an error."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(payload or "")
    charset = (part.get_content_charset() or "").strip().lower()
    candidates = [charset] if charset else []
    candidates += ["utf-8", "windows-1252"]
    for name in candidates:
        try:
            codecs.lookup(name)
            return payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", "replace")


def _clean(text: str) -> str:
    """Line ends made \\n; control characters other than tab and newline removed (a ticket
    refuses them), non-breaking spaces made plain."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    return "".join(
        ch
        for ch in text
        if ch in "\t\n" or unicodedata.category(ch) not in ("Cc", "Cs", "Cf") or ch == "\u200d"
    )


_SIGNATURE_SEPARATOR = re.compile(r"^-- ?$", re.M)


def cut_signature(text: str) -> str:
    """The text above an RFC 3676 signature separator ("-- " alone on a line)."""
    match = _SIGNATURE_SEPARATOR.search(text)
    return text if match is None else text[: match.start()]


_QUOTE_LINE = re.compile(r"^\s*>")
_WROTE_LINE = re.compile(r"^.{0,200}(wrote|schrieb|a écrit|escribió|ha scritto|schreef):\s*$")


def cut_quotes(text: str) -> str:
    """The newest part of a reply: quoted history (top-posted or below "On … wrote:") and the
    signature cut. An inline reply (answers between quoted lines) keeps its answers."""
    try:
        replies = ReplyText(text, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
        newest = replies.replies[0].body if replies.replies else text
    except Exception:  # the library's regular expressions must never lose a mail
        newest = text
    if newest.strip():
        return _without_quoted_lines(newest).strip() or newest.strip()
    # Nothing above the first quote: an inline reply. Keep what is not quoted.
    return _without_quoted_lines(text).strip()


def _without_quoted_lines(text: str) -> str:
    kept = [
        line
        for line in text.split("\n")
        if not _QUOTE_LINE.match(line) and not _WROTE_LINE.match(line.strip())
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


class _Text(HTMLParser):
    """HTML to plain text: blocks become lines, links keep their address, scripts, styles and
    quoted history (blockquote, Gmail's and Outlook's quote blocks) are left out."""

    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
    )
    SKIP = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []  # the open elements whose content is left out
        self.stopped = False  # past Outlook's reply separator: nothing more is the reply

    def _quote_block(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        ident = values.get("id") or ""
        return tag in self.SKIP or "gmail_quote" in classes or ident.startswith("divRplyFwdMsg")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if (dict(attrs).get("id") or "") == "appendonsend":
            self.stopped = True
        if self.skipping or self._quote_block(tag, attrs):
            if tag not in ("br", "img", "hr", "meta", "link", "input"):
                self.skipping.append(tag)
            return
        if tag in self.BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if self.skipping[-1] == tag:
                self.skipping.pop()
            elif tag in self.skipping:  # unclosed tags inside: close them with it
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and not self.stopped:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # never lose a mail to its HTML: fall back to stripping the tags
        return re.sub(r"<[^>]*>", " ", html)
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
