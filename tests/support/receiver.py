"""A real webhook receiver on loopback for the webhook tests: an http.server in a thread of
this process that records every POST (headers and body) and answers as the test says: a
status per request in turn (then 200), after an optional delay per request."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    path: str
    at: float  # time.monotonic() when it arrived

    def verified(self, secret: str) -> dict[str, object]:
        """The payload, after checking its signature with the standardwebhooks library."""
        payload: dict[str, object] = Webhook(secret).verify(self.body, self.headers)
        return payload


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    delays: list[float] = field(default_factory=list)  # seconds, per request in turn, then 0
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """The requests, once at least `count` have arrived (AssertionError after `timeout`)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"{len(self.received)} webhook requests arrived in {timeout} s, not {count}"
                )
            return list(self.received)


@contextlib.contextmanager
def run_receiver() -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 on a free port, stopped afterwards."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver.arrived:
                n = len(receiver.received)
                receiver.received.append(
                    Received(dict(self.headers.items()), body, self.path, time.monotonic())
                )
                receiver.arrived.notify_all()
            delay = receiver.delays[n] if n < len(receiver.delays) else 0.0
            status = receiver.statuses[n] if n < len(receiver.statuses) else 200
            time.sleep(delay)
            with contextlib.suppress(OSError):  # the sender may have given up (or died)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
