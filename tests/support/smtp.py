"""A real SMTP server on loopback for the tests (aiosmtpd's Controller): it records every mail it
acknowledges, can refuse mail with a chosen reply, can ask for a login, and can be stopped
and started again on the same port (a server that is down for a while)."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.server import free_port


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes
    at: float  # time.monotonic() when the server acknowledged it
    wall: float  # time.time() then (to compare with times stored in the database)

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Records each mail; `refuse_with` (e.g. "550 5.1.1 No such user") refuses every mail
    at DATA instead; `delay_s` waits before acknowledging (a slow server)."""

    received: list[Received] = field(default_factory=list)
    refuse_with: str | None = None
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with:
            return self.refuse_with
        if self.delay_s:
            import asyncio

            await asyncio.sleep(self.delay_s)
        content = envelope.original_content or b""
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    bytes(content),
                    time.monotonic(),
                    time.time(),
                )
            )
        return "250 2.0.0 Message accepted"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.user,
            self.password,
        )
        return AuthResult(success=ok, handled=False)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), valid for a day. Clients trust it
    when SSL_CERT_FILE names the certificate."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*request, *subject, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class SmtpServer:
    """`start()` listens on 127.0.0.1:`port` (a free one unless given); `stop()` closes it;
    `start()` again reopens the same port with the same records. `tls`: "starttls" offers
    STARTTLS, "implicit" speaks TLS from the first byte (smtps), with `certificate`."""

    def __init__(
        self,
        login: tuple[str, str] | None = None,
        tls: str | None = None,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.login = login
        self.tls = tls
        self.certificate = certificate
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        who = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        return f"{scheme}://{who}127.0.0.1:{self.port}"

    def start(self) -> None:
        kwargs: dict[str, Any] = {"data_size_limit": 64 * 1024 * 1024}
        if self.tls is not None:
            assert self.certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.certificate)
            if self.tls == "implicit":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
        if self.login:
            kwargs.update(
                authenticator=_Authenticator(*self.login),
                auth_required=True,
                auth_require_tls=False,
            )
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)
