"""A real IMAP server for the tests: a private instance of Debian's dovecot-imapd, with its own
configuration in a temporary folder, listening on 127.0.0.1 on a free port, one mailbox
(maildir) per user, passwords from a passwd-file. `.ci/run` installs dovecot-imapd; where it
is missing and cannot be installed, the tests that need it are skipped, saying so.

Use: `with dovecot(tmp_path) as server: ...` (server.url, server.append(...), server.messages
(folder)), or the `imap_server` fixture of tests that import it from here."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support.server import free_port

DOVECOT = "/usr/sbin/dovecot"
USER = "support@desk.example"
PASSWORD = "imap password 1"
START_TIMEOUT_S = 15.0


class DovecotMissing(RuntimeError):
    """dovecot-imapd is not installed and could not be installed."""


def ensure_dovecot() -> str:
    """The dovecot binary, installing Debian's dovecot-imapd first when we are root."""
    if Path(DOVECOT).exists():
        return DOVECOT
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-imapd"], env=env, check=False)
    if Path(DOVECOT).exists():
        return DOVECOT
    raise DovecotMissing(
        "the IMAP tests need Debian's dovecot-imapd (/usr/sbin/dovecot): run "
        "'apt-get install dovecot-imapd' as root (.ci/run does)"
    )


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
mail_uid = {uid}
mail_gid = {gid}
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {internal_group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  user = {auth_user}
}}
service auth-worker {{
  user = {auth_user}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
{capability}}}
"""
PLAIN_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS"
"""A server without IDLE and MOVE (`dovecot(..., plain=True)`): polled, mail copied and
expunged."""


@dataclass
class ImapServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        user = USER.replace("@", "%40")
        password = PASSWORD.replace(" ", "%20")
        return f"imap://{user}:{password}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        return client

    def append(self, *raws: bytes, folder: str = "INBOX") -> None:
        """Drop mails into a folder, as a mail server delivering them would."""
        client = self.client()
        try:
            for raw in raws:
                client.append(folder, raw)
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """The mails of a folder (none if it does not exist)."""
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return []
            data = client.fetch(uids, ["BODY.PEEK[]"])
            # A mail moved away between the search and the fetch has no body here.
            bodies = (data[uid].get(b"BODY[]") for uid in sorted(data))
            return [bytes(body) for body in bodies if body is not None]
        finally:
            client.logout()

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def dovecot(workdir: Path, plain: bool = False) -> Iterator[ImapServer]:
    """A private dovecot on a free loopback port, stopped afterwards. As root, the mail
    processes run as `nobody` (dovecot refuses uid 0 for mail), so their folder is a fresh
    one under /tmp that nobody may enter, removed afterwards; else under `workdir`."""
    binary = ensure_dovecot()
    as_root = os.getuid() == 0
    root = Path(tempfile.mkdtemp(prefix="ticketdesk-dovecot-")) if as_root else workdir / "dovecot"
    try:
        with _running(binary, root, as_root, plain) as server:
            yield server
    finally:
        if as_root:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _running(binary: str, root: Path, as_root: bool, plain: bool) -> Iterator[ImapServer]:
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if as_root:
        mail_user = pwd.getpwnam("nobody")
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        root.chmod(0o755)
        for sub in ("mail", "home"):
            os.chown(root / sub, uid, gid)
        internal, login, internal_group = "dovecot", "dovenull", "dovecot"
    else:
        uid, gid = os.getuid(), os.getgid()
        internal = login = pwd.getpwuid(uid).pw_name
        internal_group = grp.getgrgid(gid).gr_name
    port = free_port()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    config = root / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            root=root,
            port=port,
            uid=uid,
            gid=gid,
            internal=internal,
            login=login,
            internal_group=internal_group,
            auth_user=pwd.getpwuid(os.getuid()).pw_name,  # reads the passwd-file here
            capability=f"  imap_capability = {PLAIN_CAPABILITIES}\n" if plain else "",
        )
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("wb"),
        start_new_session=True,
    )
    server = ImapServer(root, port, process)
    try:
        _wait_listening(server)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_listening(server: ImapServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            stderr = (server.root / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"dovecot exited: {stderr}\n{server.log()}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock,
        ):
            if sock.recv(100).startswith(b"* OK"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"dovecot did not answer on port {server.port}:\n{server.log()}")


@pytest.fixture
def imap_server(tmp_path: Path) -> Iterator[ImapServer]:
    """A private dovecot for one test (import this fixture into the test module). Skipped,
    saying why, only where dovecot-imapd is missing and cannot be installed."""
    try:
        ensure_dovecot()
    except DovecotMissing as exc:
        pytest.skip(str(exc))
    with dovecot(tmp_path) as server:
        yield server
