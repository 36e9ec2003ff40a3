"""Attachments throughput and memory, next to a plain static file on the same server in the
same run (bench/README.md, "Attachments").

    .venv/bin/python bench/files_bench.py [--mb 20] [--repeats 5] [--clients 5] [--no-write]

One `streamlit run ticket.py` (with `server.enableStaticServing=true`) on a new SQLite desk in
bench/work/files/, its files in a directory there. Measured:

- upload: a 20 MB file attached to a new ticket through the service (`create_ticket`: hashed,
  written and fsynced to the file store, recorded in the ticket's transaction), against a
  plain copy of the same bytes to a file in the same directory, fsynced;
- download: GET /files/<id>/<name> with a signed-in agent's session cookie, against GET
  /app/static/<same size>.bin served by the same server with the same cookie (through the
  same sign-in middleware);
- memory: the server's VmRSS sampled every 100 ms while `--clients` clients download the
  20 MB file at once, each reading at --client-mbps (slower than the disk, so a server that
  buffered whole files would hold them all at the same time), and the same for the static
  file. Streamed means flat: the peak stays near the value before.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.support.server import StreamlitServer  # noqa: E402
from ticketdesk.domain.files import Upload  # noqa: E402
from ticketdesk.services import accounts as account_service  # noqa: E402
from ticketdesk.services import tickets as ticket_service  # noqa: E402
from ticketdesk.store.db import make_engine, migrate  # noqa: E402
from ticketdesk.store.files import DirectoryStore  # noqa: E402
from ticketdesk.web.engine import SESSION_COOKIE  # noqa: E402

WORK = ROOT / "bench" / "work" / "files"
RESULTS = ROOT / "bench" / "results"
APP_PARTS = ("ticket.py", "app_pages", "app_components", ".streamlit")
MB = 1_000_000
SAMPLE_S = 0.1


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", *APP_PARTS],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "nogit"
    return (head or "nogit") + ("-dirty" if dirty else "")


def app_dir(payload: bytes) -> Path:
    """bench/work/files/app: ticket.py copied (Streamlit serves the static folder beside the
    main script's resolved path, at /app/static/), the rest linked in, and static/big.bin."""
    app = WORK / "app"
    shutil.rmtree(WORK, ignore_errors=True)
    (app / "static").mkdir(parents=True)
    shutil.copyfile(ROOT / APP_PARTS[0], app / APP_PARTS[0])
    for part in APP_PARTS[1:]:
        (app / part).symlink_to(ROOT / part)
    (app / "static" / "big.bin").write_bytes(payload)
    return app


def timed_download(client: httpx.Client, url: str, expected: str) -> float:
    digest = hashlib.sha256()
    started = time.perf_counter()
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(256 * 1024):
            digest.update(chunk)
    took = time.perf_counter() - started
    assert digest.hexdigest() == expected, f"{url}: wrong bytes"
    return took


def slow_download(base: str, cookie: str, url: str, rate: float, done: list[int]) -> None:
    """Read `url` at about `rate` bytes a second (a slow client)."""
    with (
        httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=120) as client,
        client.stream("GET", url) as response,
    ):
        response.raise_for_status()
        got, started = 0, time.perf_counter()
        for chunk in response.iter_bytes(64 * 1024):
            got += len(chunk)
            ahead = got / rate - (time.perf_counter() - started)
            if ahead > 0:
                time.sleep(ahead)
        done.append(got)


def memory_during(
    server: StreamlitServer, base: str, cookie: str, url: str, clients: int, rate: float
) -> dict[str, Any]:
    """VmRSS before, and its peak and samples while `clients` download `url` at once."""
    time.sleep(1)
    before = server.rss_mb()
    done: list[int] = []
    threads = [
        threading.Thread(target=slow_download, args=(base, cookie, url, rate, done))
        for _ in range(clients)
    ]
    samples: list[float] = []
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        samples.append(server.rss_mb())
        time.sleep(SAMPLE_S)
    took = time.perf_counter() - started
    for thread in threads:
        thread.join()
    assert len(done) == clients, "a download failed"
    return {
        "series": samples,
        "before": before,
        "peak": max(samples),
        "growth": max(samples) - before,
        "samples": len(samples),
        "seconds": took,
        "transferred_mb": sum(done) / MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=20, help="file size in MB (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--clients", type=int, default=5, help="concurrent downloads (5)")
    parser.add_argument(
        "--client-mbps", type=float, default=8.0, help="each slow client's MB/s (default 8)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.mb < 1 or args.repeats < 1 or args.clients < 1 or args.client_mbps <= 0:
        parser.error("--mb, --repeats and --clients must be at least 1, --client-mbps above 0")

    started_at = dt.datetime.now(dt.UTC)
    payload = os.urandom(args.mb * MB)
    expected = hashlib.sha256(payload).hexdigest()
    app = app_dir(payload)
    database = f"sqlite:///{WORK / 'desk.db'}"
    files = WORK / "blobs"
    engine = make_engine(database)
    migrate(engine)
    now = dt.datetime.now(dt.UTC)
    agent = account_service.create_account(
        engine, None, "bench@example.com", "Bench Agent", "agent", "bench-password-1", now
    )
    cookie = account_service.sign_in(
        engine, "bench@example.com", "bench-password-1", "bench", now
    ).token
    store = DirectoryStore(files)

    log(f"upload: {args.repeats} x {args.mb} MB through create_ticket, and plain copies")
    uploads: list[float] = []
    copies: list[float] = []
    for n in range(args.repeats):
        fresh = os.urandom(args.mb * MB)  # new content each time: no de-duplication
        t0 = time.perf_counter()
        ticket = ticket_service.create_ticket(
            engine,
            agent,
            f"bench {n}",
            "Low",
            dt.datetime.now(dt.UTC),
            [Upload("big.bin", io.BytesIO(fresh))],
            store,
        )
        uploads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with (WORK / f"copy-{n}.bin").open("wb") as out:
            shutil.copyfileobj(io.BytesIO(fresh), out, 256 * 1024)
            out.flush()
            os.fsync(out.fileno())
        copies.append(time.perf_counter() - t0)
    ticket = ticket_service.create_ticket(
        engine,
        agent,
        "bench download",
        "Low",
        dt.datetime.now(dt.UTC),
        [Upload("big.bin", io.BytesIO(payload))],
        store,
    )
    file_id = ticket_service.ticket_detail(engine, agent, ticket.code).attachments[0].id
    engine.dispose()

    server = StreamlitServer(
        "ticket.py",
        cwd=app,
        log=WORK / "streamlit.log",
        env={
            "TICKETDESK_DATABASE_URL": database,
            "TICKETDESK_FILES_DIR": str(files),
            "TICKETDESK_DEMO_TICKETS": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        },
        flags=("--server.enableStaticServing", "true"),
        name="ticket desk",
    )
    server.start(120)
    try:
        desk_url, static_url = f"/files/{file_id}/big.bin", "/app/static/big.bin"
        with httpx.Client(
            base_url=server.url, cookies={SESSION_COOKIE: cookie}, timeout=120
        ) as client:
            for url in (desk_url, static_url):  # warm-up, and a check of the bytes
                timed_download(client, url, expected)
            log(f"download: {args.repeats} x each, interleaved")
            desk_times: list[float] = []
            static_times: list[float] = []
            for _ in range(args.repeats):
                desk_times.append(timed_download(client, desk_url, expected))
                static_times.append(timed_download(client, static_url, expected))
        rate = args.client_mbps * MB
        log(f"memory: {args.clients} concurrent downloads at {args.client_mbps} MB/s each")
        for url in (desk_url, static_url):  # unmeasured: the server's threads and buffers
            memory_during(server, server.url, cookie, url, args.clients, 20 * rate)
        desk_mem = memory_during(server, server.url, cookie, desk_url, args.clients, rate)
        static_mem = memory_during(server, server.url, cookie, static_url, args.clients, rate)
    finally:
        server.stop()

    def mbps(times: list[float]) -> float:
        return float(args.mb / statistics.median(times))

    rows = [
        ("Upload (desk: create_ticket; plain: file copy + fsync)", uploads, copies),
        ("Download (desk: /files/<id>/<name>; plain: /app/static/)", desk_times, static_times),
    ]
    stamp = f"{started_at:%Y-%m-%d}"
    version = commit()
    lines = [
        f"# Attachments: {args.mb} MB file through the desk vs a plain static file",
        "",
        f"Run {started_at:%Y-%m-%d %H:%M} UTC at commit `{version}` by `bench/files_bench.py` "
        f"(SQLite, directory file store, {args.repeats} repeats, medians; MB = 10⁶ bytes; "
        f"{os.cpu_count()} CPUs shared with other work: compare the ratios, not the seconds).",
        "",
        "| measure | desk | plain | desk ÷ plain (time) | desk MB/s | plain MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, ours, plain in rows:
        ratio = statistics.median(ours) / statistics.median(plain)
        lines.append(
            f"| {label} | {statistics.median(ours):.3f} s | {statistics.median(plain):.3f} s "
            f"| {ratio:.2f}× | {mbps(ours):.0f} | {mbps(plain):.0f} |"
        )
    lines += [
        "",
        f"Server memory (VmRSS, sampled every {SAMPLE_S * 1000:.0f} ms) during {args.clients} "
        f"concurrent {args.mb} MB downloads, each client reading at {args.client_mbps} MB/s:",
        "",
        "| what | RSS before | peak during | growth | samples | took | bytes sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, mem in (("/files (desk)", desk_mem), ("/app/static (plain)", static_mem)):
        lines.append(
            f"| {label} | {mem['before']:.1f} MB | {mem['peak']:.1f} MB | "
            f"{mem['growth']:+.1f} MB | {mem['samples']:.0f} | {mem['seconds']:.1f} s | "
            f"{mem['transferred_mb']:.0f} MB |"
        )
    held = args.clients * args.mb
    for label, mem in (("/files", desk_mem), ("/app/static", static_mem)):
        series = " ".join(f"{v:.1f}" for v in mem["series"])
        lines += ["", f"RSS samples (MB), {label}: {series}"]
    lines += [
        "",
        f"Buffering whole files would add about {held} MB ({args.clients} × {args.mb} MB) "
        "during the downloads; a flat line (growth of a few MB) means streamed.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        target = RESULTS / f"files-{stamp}-{version}.md"
        target.write_text(text)
        log(f"written to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
