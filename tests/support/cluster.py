"""Several app servers behind HAProxy on loopback: the recipe of deploy/ run as plain
processes, without root or system services. deploy/haproxy.cfg itself is the proxy's
configuration, rewritten only where loopback needs it (`local_config`); the app servers and
the workers get what the systemd units give them (the same database, a shared cookie secret,
mail off the app servers).

`run_cluster` starts N app servers on one database, the workers and the proxy, and hands back
the proxy's URL and the servers' PIDs: the tests (tests/http/test_proxy.py,
tests/e2e/test_e2e_proxy*.py), deploy/run-local.sh (this module's `main`) and benchmarks
share it. Only the standard library and tests/support/server.py at import time, like
server.py: a benchmark imports it without pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import STOP_WAIT_S, ServerNotReady, StreamlitServer, free_port, log_tail

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = PROJECT / "deploy" / "haproxy.cfg"
HAPROXY = Path("/usr/sbin/haproxy")
"""Debian's haproxy (scripts/ensure-haproxy installs it)."""
TICKETDESK = Path(sys.executable).with_name("ticketdesk")
STICKY_COOKIE = "TICKETDESK_SERVER"
"""The proxy's cookie naming a browser's app server (deploy/haproxy.cfg's `cookie` line)."""
WORKERS = {"worker": "worker", "webhooks": "webhooks-worker"}
"""The workers as deploy/systemd runs them: {log name: `ticketdesk` sub-command}."""
ROUTE_HEADER = "X-Ticketdesk-Server"
"""With `trace_cookie`: the response header naming the app server that answered."""
SERVER_FLAGS = ("--server.address", "127.0.0.1")
"""As deploy/systemd/ticketdesk@.service: an app server listens on loopback only, for the
proxy."""
TRACED_CHARACTERS = 12
"""How much of the traced cookie the proxy's log keeps: enough to tell sessions apart."""
ROUTE_LINE = re.compile(r"^route (\S+)/(\S+) (-?\d+) (\S+) (\S+) session=(\S*)$", re.M)
PROXY_START_TIMEOUT_S = 15.0


def haproxy_missing() -> str | None:
    """Why the proxy cannot run here, or None."""
    if not HAPROXY.exists():
        return (
            f"{HAPROXY} is missing: scripts/ensure-haproxy installs it "
            "('sudo apt-get install haproxy')"
        )
    return None


def server_name(index: int) -> str:
    """The proxy's name (and cookie value) of the index-th app server: app1, app2..."""
    return f"app{index + 1}"


def local_config(
    shipped: str,
    servers: Sequence[tuple[str, int]],
    port: int,
    pem: Path | None = None,
    trace_cookie: str | None = None,
) -> str:
    """The shipped configuration for loopback: HAProxy in the foreground as the current user,
    logging to its standard output; one listening address, 127.0.0.1:`port` (with TLS when a
    `pem` is given, else plain HTTP: no redirect to https, and a stickiness cookie without
    Secure); `servers` as (name, port) in place of the shipped server lines. Everything else
    (timeouts, forwarded headers, balancing, stickiness, health checks) as shipped.

    `trace_cookie` (tests): each response names its server in ROUTE_HEADER, and the log has a
    `route backend/server status method uri session=<the cookie's first characters>`
    line per request, written as soon as the server answers (a WebSocket's at its 101)."""
    out: list[str] = []
    section = ""
    done: set[str] = set()
    for line in shipped.splitlines():
        words = line.split()
        if line[:1].isalpha():  # a section's first line: global, defaults, frontend, backend
            section = words[0]
            out.append(line)
            continue
        first = words[0] if words and not words[0].startswith("#") else ""
        if section == "global":
            if first in ("chroot", "user", "group", "daemon") or words[:2] == ["stats", "socket"]:
                continue
            if first == "log":
                line = "    log stdout format raw local0"
        elif section == "frontend":
            if first == "bind":
                if "bind" not in done:
                    tls = f" ssl crt {pem} alpn h2,http/1.1" if pem else ""
                    out.append(f"    bind 127.0.0.1:{port}{tls}")
                    done.add("bind")
                continue
            if words[:3] == ["http-request", "redirect", "scheme"]:
                continue
            if first == "default_backend" and trace_cookie:
                out += [
                    f"    http-request capture req.cook({trace_cookie}) len {TRACED_CHARACTERS}",
                    "    option logasap",
                    '    log-format "route %b/%s %ST %HM %HU session=%[capture.req.hdr(0)]"',
                ]
        elif section == "backend":
            if first == "cookie":
                if words[1] != STICKY_COOKIE:
                    raise ValueError(f"{SHIPPED_CONFIG}: the cookie is not {STICKY_COOKIE}")
                if pem is None:
                    line = line.replace(" secure", "")
                done.add("cookie")
            if first == "server":
                if "server" not in done:
                    out += [f"    server {n} 127.0.0.1:{p} cookie {n}" for n, p in servers]
                    if trace_cookie:
                        out.append(f"    http-response set-header {ROUTE_HEADER} %[srv_name]")
                    done.add("server")
                continue
        out.append(line)
    missing = {"bind", "cookie", "server"} - done
    if missing:
        raise ValueError(f"{SHIPPED_CONFIG} has no {', '.join(sorted(missing))} line")
    return "\n".join(out) + "\n"


def self_signed_pem(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (made by `openssl`) and HAProxy's PEM (certificate, then
    key); the certificate is what clients trust."""
    cert, key, pem = folder / "proxy-cert.pem", folder / "proxy-key.pem", folder / "proxy.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("TLS on loopback needs the openssl command")
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return cert, pem


@dataclass(frozen=True)
class Route:
    """One request as the proxy's trace log has it."""

    server: str
    status: int
    method: str
    uri: str
    """The path and query."""
    session: str


@dataclass(eq=False)
class Cluster:
    """N app servers behind the proxy. `url` is the proxy's (http or https://127.0.0.1:port);
    `servers[i]` is named server_name(i) by the proxy."""

    url: str
    servers: list[StreamlitServer]
    proxy: subprocess.Popen[bytes] = field(repr=False)
    proxy_log: Path
    workers: list[subprocess.Popen[bytes]] = field(repr=False)
    certificate: Path | None
    """With TLS: the proxy's self-signed certificate, for clients to trust (ssl cafile)."""

    @property
    def server_pids(self) -> list[int]:
        """The app servers' process IDs (each the leader of its process group)."""
        return [server.process.pid for server in self.servers if server.process is not None]

    @property
    def worker_pids(self) -> list[int]:
        return [worker.pid for worker in self.workers]

    @property
    def names(self) -> list[str]:
        return [server_name(i) for i in range(len(self.servers))]

    def server(self, name: str) -> StreamlitServer:
        return self.servers[self.names.index(name)]

    def crash(self, name: str) -> None:
        """SIGKILL the app server `name` (its whole process group): a crash, no goodbye."""
        server = self.server(name)
        process, server.process = server.process, None
        assert process is not None, f"{name} is not running"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_WAIT_S)

    def routes(self, session: str | None = None) -> list[Route]:
        """The requests the proxy logged (with `trace_cookie` only), oldest first; those that
        carried the cookie value `session`, when given."""
        text = self.proxy_log.read_text(errors="replace")
        found = [
            # Over HTTP/2 the URI is absolute (https://host:port/path): the path from it.
            Route(m[2], int(m[3]), m[4], re.sub(r"^[a-z]+://[^/]*", "", m[5]), m[6])
            for m in ROUTE_LINE.finditer(text)
        ]
        if session is None:
            return found
        return [route for route in found if route.session == session[:TRACED_CHARACTERS]]

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting the proxy's certificate (None without TLS)."""
        if self.certificate is None:
            return None
        return ssl.create_default_context(cafile=str(self.certificate))


def _wait_for_proxy(cluster: Cluster, timeout_s: float) -> None:
    health = f"{cluster.url}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cluster.proxy.poll() is not None:
            raise ServerNotReady(
                f"haproxy exited with code {cluster.proxy.returncode}:\n"
                f"{log_tail(cluster.proxy_log)}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(health, timeout=2, context=cluster.ssl_context()) as answer,  # noqa: S310
        ):
            if answer.read().decode().strip() == "ok":
                return
        time.sleep(0.1)  # polling interval while the proxy starts
    raise ServerNotReady(f"haproxy did not answer {health}:\n{log_tail(cluster.proxy_log)}")


def _end(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (the workers finish the delivery under way), then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_WAIT_S)


@contextlib.contextmanager
def run_cluster(
    database_url: str,
    workdir: Path,
    count: int = 2,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT,
    tls: bool = False,
    trace_cookie: str | None = None,
    workers: bool = True,
    start_timeout_s: float = 60.0,
) -> Iterator[Cluster]:
    """`count` app servers (`streamlit run ticket.py` from `cwd`) on `database_url`, the mail
    and webhook workers (`ticketdesk worker`, `ticketdesk webhooks-worker`) unless
    `workers=False`, and HAProxy with deploy/haproxy.cfg in front of them on a free port
    (`tls`: https with a self-signed certificate). `env` is added to every process's
    environment, over the recipe's own settings. Logs and the generated configuration go to
    `workdir` (app1.log, app2.log..., worker.log, webhooks.log, haproxy.cfg, haproxy.log).

    The first server starts alone (it migrates, and seeds a new database unless
    TICKETDESK_DEMO_TICKETS=0 is in `env`), the others then together. Everything is stopped
    on leaving. Raises ServerNotReady when a server or the proxy does not come up.

    Clients must keep the proxy's cookies (STICKY_COOKIE) to stay on one server, as browsers
    do: a client that drops them is balanced anew on every request."""
    if why := haproxy_missing():
        raise RuntimeError(why)
    if count < 1:
        raise ValueError(f"at least one app server, not {count}")
    workdir.mkdir(parents=True, exist_ok=True)
    recipe = {
        "TICKETDESK_DATABASE_URL": database_url,
        "TICKETDESK_MAIL_IN_APP": "0" if workers else "1",
        # Streamlit signs its own cookies (single sign-on's) with it: one for all servers.
        "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
    }
    process_env = {**recipe, **(env or {})}
    servers = [
        StreamlitServer(
            "ticket.py",
            cwd=cwd,
            log=workdir / f"{server_name(i)}.log",
            env=process_env,
            flags=SERVER_FLAGS,
            name=server_name(i),
        )
        for i in range(count)
    ]
    running: list[subprocess.Popen[bytes]] = []
    try:
        servers[0].start(start_timeout_s)
        if count > 1:
            with ThreadPoolExecutor(count - 1) as pool:
                list(pool.map(lambda server: server.start(start_timeout_s), servers[1:]))
        if workers:
            for name, command in WORKERS.items():
                with (workdir / f"{name}.log").open("wb") as log:
                    running.append(
                        subprocess.Popen(
                            [str(TICKETDESK), command],
                            cwd=cwd,
                            env={**os.environ, **process_env},
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
        certificate, pem = self_signed_pem(workdir) if tls else (None, None)
        port = free_port()
        config = workdir / "haproxy.cfg"
        config.write_text(
            local_config(
                SHIPPED_CONFIG.read_text(),
                [(server_name(i), s.port) for i, s in enumerate(servers)],
                port,
                pem,
                trace_cookie,
            )
        )
        proxy_log = workdir / "haproxy.log"
        with proxy_log.open("wb") as log:
            proxy = subprocess.Popen(
                [str(HAPROXY), "-db", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running.append(proxy)
        cluster = Cluster(
            url=f"{'https' if tls else 'http'}://127.0.0.1:{port}",
            servers=servers,
            proxy=proxy,
            proxy_log=proxy_log,
            workers=running[:-1],
            certificate=certificate,
        )
        _wait_for_proxy(cluster, PROXY_START_TIMEOUT_S)
        yield cluster
    finally:
        for process in reversed(running):
            _end(process)
        for server in servers:
            server.stop()


# --------------------------------------------------------------------------- deploy/run-local.sh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy/run-local.sh",
        description="The recipe of deploy/ on loopback: N app servers on one PostgreSQL "
        "schema, the workers, and HAProxy with deploy/haproxy.cfg; until Ctrl-C.",
    )
    parser.add_argument("--servers", type=int, default=2, help="app servers (default 2)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TICKETDESK_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
        help="the PostgreSQL to make a fresh schema in, dropped on exit (default "
        "$TICKETDESK_TEST_POSTGRES_URL or the local test database)",
    )
    parser.add_argument(
        "--database-url", help="use this database as it is instead of a fresh schema"
    )
    parser.add_argument("--tls", action="store_true", help="https, self-signed certificate")
    parser.add_argument(
        "--no-workers",
        action="store_true",
        help="no worker processes: the app servers send the mail, nobody the webhooks",
    )
    parser.add_argument("--workdir", type=Path, help="logs and config (default: a temp dir)")
    args = parser.parse_args(argv)
    if why := haproxy_missing():
        parser.error(why)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ticketdesk-cluster-"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        url = args.database_url
        if url is None:
            from tests.support.databases import postgres_schema  # SQLAlchemy: only here

            url = stack.enter_context(postgres_schema("deploy", base=args.postgres))
        cluster = stack.enter_context(
            run_cluster(url, workdir, args.servers, tls=args.tls, workers=not args.no_workers)
        )
        print(f"Ticket desk at {cluster.url} (HAProxy, {args.servers} app servers)")
        for name, server in zip(cluster.names, cluster.servers, strict=True):
            print(f"  {name}: {server.url}  pid {server.process.pid if server.process else '-'}")
        print(f"  workers: pids {cluster.worker_pids}; logs and haproxy.cfg in {workdir}")
        first_log = cluster.servers[0].log
        # A new database's demo accounts, printed once by the server that made them.
        demo = re.search(r"^Demo accounts.*?(?=^\S|\Z)", first_log.read_text(), re.M | re.S)
        if demo:
            print(demo.group(0).rstrip())
        print(f"Stop with Ctrl-C (the first server's log: {first_log}).", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
