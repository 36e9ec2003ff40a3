"""Attachments throughput and memory, next to a floor measured in the same run
(bench/README.md, "Attachments").

    .venv/bin/python bench/files_bench.py [--mb 20] [--repeats 5] [--clients 5] [--no-write]

One `streamlit run ticket.py` (with `server.enableStaticServing=true`) on a new SQLite desk in
bench/work/files/, its files in a directory there, and one `streamlit run` of
bench/upload_floor_app.py (the same Streamlit, the same .streamlit/config.toml). Measured:

- upload, as a user does it: Chromium (Playwright) sets the file input of the Tickets form to
  a 20 MB file (new random bytes each repeat); the browser sends it to Streamlit's upload
  endpoint (PUT /_stcore/upload_file/<session>/<file>) until it answers; then a click on
  Submit, until the page says the ticket was stored with the file (the desk hashed it, wrote
  and fsynced it to its file store, claimed it, and recorded it in the ticket's
  transaction). The floor: the same two steps on the floor app's form, whose Submit writes
  the file as it is to a file, fsynced. Interleaved, medians; afterwards every stored file is
  checked by SHA-256 (the desk's in its database and file store); then as many PUTs of such a
  file straight to each server's upload endpoint (httpx, with the browser's session and XSRF
  token), and each server's memory before and after the uploads;
- the desk's save alone: `create_ticket` with the 20 MB file (no browser, no Streamlit)
  against a plain copy of the same bytes to a file, fsynced;
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
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from playwright.sync_api import Page, sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from ticketdesk.domain.files import Upload  # noqa: E402
from ticketdesk.services import accounts as account_service  # noqa: E402
from ticketdesk.services import tickets as ticket_service  # noqa: E402
from ticketdesk.store.db import make_engine, migrate  # noqa: E402
from ticketdesk.store.files import DirectoryStore  # noqa: E402
from ticketdesk.store.schema import attachments  # noqa: E402
from ticketdesk.web.engine import SESSION_COOKIE  # noqa: E402

WORK = ROOT / "bench" / "work" / "files"
RESULTS = ROOT / "bench" / "results"
APP_PARTS = ("ticket.py", "app_pages", "app_components", ".streamlit")
MB = 1_000_000
SAMPLE_S = 0.1
UPLOAD_ENDPOINT = "/_stcore/upload_file/"
BROWSER_TIMEOUT_MS = 180_000
SHOWN = """([selector, text]) => [...document.querySelectorAll(selector)]
    .some(element => element.textContent.includes(text))"""
IDLE = (
    "() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState === 'notRunning'"
)


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


def floor_dir() -> Path:
    """bench/work/files/floor: the floor app, with the desk's .streamlit (its config)."""
    floor = WORK / "floor"
    floor.mkdir(parents=True)
    shutil.copyfile(ROOT / "bench" / "upload_floor_app.py", floor / "app.py")
    (floor / ".streamlit").symlink_to(ROOT / ".streamlit")
    return floor


def wait_shown(page: Page, selector: str, text: str) -> None:
    """Until an element of `selector` holds `text`, checked at every frame (no polling
    interval added to the time measured)."""
    page.wait_for_function(SHOWN, arg=[selector, text], polling="raf", timeout=BROWSER_TIMEOUT_MS)


@dataclass
class Endpoint:
    """Streamlit's upload endpoint for one browser session, as the browser called it."""

    session_url: str  # http://host/_stcore/upload_file/<session id>
    xsrf: str
    cookies: dict[str, str]


def raw_put(endpoint: Endpoint, data: bytes) -> float:
    """PUT `data` as one multipart file to the endpoint (a new file id), as the browser does,
    timed until the 204; then DELETE it (untimed) so the server does not keep it."""
    boundary = "bench-" + os.urandom(8).hex()
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="raw.bin"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n".encode(),
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    url = f"{endpoint.session_url}/{uuid.uuid4()}"
    headers = {"X-Xsrftoken": endpoint.xsrf}
    with httpx.Client(cookies=endpoint.cookies, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        response = client.put(
            url, content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        took = time.perf_counter() - started
        assert response.status_code == 204, f"{url}: {response.status_code} {response.text}"
        client.delete(url)
    return took


def browser_upload(page: Page, path: Path, shown: str) -> tuple[float, float, Endpoint]:
    """Set the form's file input to `path` and wait for Streamlit's upload endpoint to
    answer; click Submit and wait for a success notice holding `shown`. Returns the seconds of
    each step. The page is idle and its form empty before and after."""
    page.bring_to_front()  # a background tab's frames (and timers) are throttled
    page.wait_for_function(IDLE, polling="raf", timeout=BROWSER_TIMEOUT_MS)
    form = page.get_by_test_id("stForm")
    started = time.perf_counter()
    with page.expect_response(
        lambda r: UPLOAD_ENDPOINT in r.url and r.request.method == "PUT",
        timeout=BROWSER_TIMEOUT_MS,
    ) as put:
        # (the uploader of the previous run may stay mounted, hidden: Streamlit's retained
        # elements; the visible one is this run's)
        uploader = form.get_by_test_id("stFileUploader").filter(visible=True)
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    sent = time.perf_counter()
    assert put.value.status == 204, f"upload endpoint answered {put.value.status}"
    endpoint = Endpoint(
        put.value.url.rsplit("/", 1)[0],
        put.value.request.headers["x-xsrftoken"],
        {c["name"]: c["value"] for c in page.context.cookies(put.value.url)},
    )
    form.get_by_role("button", name="Submit").click()
    wait_shown(page, "[data-testid=stAlertContentSuccess]", shown)
    stored = time.perf_counter()
    page.wait_for_function(IDLE, polling="raf", timeout=BROWSER_TIMEOUT_MS)
    return sent - started, stored - sent, endpoint


def upload_in_browser(
    servers: dict[str, StreamlitServer], cookie: str, payload_mb: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, str], dict[str, tuple[float, float]]]:
    """`repeats` uploads of a new `payload_mb` MB file to each form, interleaved (one unmeasured
    first), then as many PUTs of such a file straight to each server's upload endpoint (with
    the browser's session, still open). Returns the seconds per step ("desk put", "desk
    submit", "desk raw", and the same for "floor"), the SHA-256 of each file by name, and
    each server's RSS (MB) before the first upload and after the last submit (the session
    still open: what the server holds on to)."""
    desk_url, floor_url = servers["desk"].url, servers["floor"].url
    folder = WORK / "to-upload"
    folder.mkdir()
    times: dict[str, list[float]] = {
        f"{kind} {step}": [] for kind in ("desk", "floor") for step in ("put", "submit", "raw")
    }
    endpoints: dict[str, Endpoint] = {}
    digests: dict[str, str] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": desk_url}])
        desk, floor = context.new_page(), context.new_page()
        desk.goto(f"{desk_url}/")
        floor.goto(f"{floor_url}/")
        for page in (desk, floor):
            page.get_by_test_id("stForm").get_by_role("button", name="Submit").wait_for()
            page.wait_for_function(IDLE, polling="raf", timeout=BROWSER_TIMEOUT_MS)
        rss_before = {kind: server.rss_mb() for kind, server in servers.items()}
        for n in range(repeats + 1):
            for kind, page in (("desk", desk), ("floor", floor)):
                name = f"{kind}-{n}.bin"
                data = os.urandom(payload_mb * MB)  # new content each time: no de-duplication
                (folder / name).write_bytes(data)
                digests[name] = hashlib.sha256(data).hexdigest()
                if kind == "desk":
                    box = page.get_by_test_id("stForm").get_by_role("textbox")
                    box.fill(f"bench upload {n}")
                    shown = f"Files attached: {name}."
                else:
                    shown = f"Saved {name}"
                put, submit, endpoints[kind] = browser_upload(page, folder / name, shown)
                if n:  # the first of each: unmeasured
                    times[f"{kind} put"].append(put)
                    times[f"{kind} submit"].append(submit)
        time.sleep(1)
        rss = {kind: (rss_before[kind], server.rss_mb()) for kind, server in servers.items()}
        for n in range(repeats + 1):
            for kind in ("desk", "floor"):
                took = raw_put(endpoints[kind], os.urandom(payload_mb * MB))
                if n:
                    times[f"{kind} raw"].append(took)
        browser.close()
    return times, digests, rss


def check_stored(database: str, files: Path, floor_dir: Path, digests: dict[str, str]) -> int:
    """Every file uploaded is stored whole: the desk's attachment rows name the right digest
    and the blob holds it; the floor's copies hold the same bytes. Returns how many."""
    engine = make_engine(database)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(attachments.c.name, attachments.c.sha256)).all())
    engine.dispose()
    store = DirectoryStore(files)
    checked = 0
    for name, digest in digests.items():
        if name.startswith("desk"):
            assert rows.get(name) == digest, f"{name}: not stored with its digest"
            assert store.size(digest) is not None
            content = b"".join(store.read(digest))
        else:
            content = (floor_dir / name).read_bytes()
        assert hashlib.sha256(content).hexdigest() == digest, f"{name}: wrong bytes"
        checked += 1
    return checked


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
    load_before = os.getloadavg()[0]
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

    floor_app = floor_dir()
    log(f"the desk's save: {args.repeats} x {args.mb} MB through create_ticket, and copies")
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
    floor_uploads = WORK / "floor-uploads"
    floor = StreamlitServer(
        "app.py",
        cwd=floor_app,
        log=WORK / "floor.log",
        env={"BENCH_UPLOAD_DIR": str(floor_uploads)},
        name="upload floor",
    )
    server.start(120)
    try:
        floor.start(120)
        log(f"upload in the browser: {args.repeats} x {args.mb} MB to each form, interleaved")
        browser_times, digests, upload_rss = upload_in_browser(
            {"desk": server, "floor": floor}, cookie, args.mb, args.repeats
        )
        floor.stop()
        checked = check_stored(database, files, floor_uploads, digests)
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
        floor.stop()
        server.stop()

    def mbps(times: list[float]) -> float:
        return float(args.mb / statistics.median(times))

    def both(step: str) -> list[float]:
        return [
            a + b
            for a, b in zip(
                browser_times[f"{step} put"], browser_times[f"{step} submit"], strict=True
            )
        ]

    rows = [
        (
            "Upload in the browser, file chosen → Streamlit's upload endpoint answered "
            "(desk: Tickets form; floor: floor app's form)",
            browser_times["desk put"],
            browser_times["floor put"],
        ),
        (
            "… then Submit → the page says it is stored (desk: ticket with the file; "
            "floor: file written + fsync)",
            browser_times["desk submit"],
            browser_times["floor submit"],
        ),
        ("**Upload as a user waits for it** (the two above)", both("desk"), both("floor")),
        (
            "PUT straight to Streamlit's upload endpoint (httpx, the browser's session; "
            "desk's server vs floor's server)",
            browser_times["desk raw"],
            browser_times["floor raw"],
        ),
        (
            "The desk's save alone (desk: create_ticket; floor: file copy + fsync)",
            uploads,
            copies,
        ),
        ("Download (desk: /files/<id>/<name>; floor: /app/static/)", desk_times, static_times),
    ]
    stamp = f"{started_at:%Y-%m-%d}"
    version = commit()
    lines = [
        f"# Attachments: a {args.mb} MB file through the desk vs a floor, in one run",
        "",
        f"Run {started_at:%Y-%m-%d %H:%M} UTC at commit `{version}` by `bench/files_bench.py` "
        f"(SQLite, directory file store, {args.repeats} repeats, medians; MB = 10⁶ bytes; "
        f"{os.cpu_count()} CPUs shared with other work: compare the ratios, not the seconds). "
        "Uploads in Chromium (Playwright) through Streamlit's upload endpoint, one unmeasured "
        f"first; the floor is bench/upload_floor_app.py on a second server of the same "
        f"Streamlit with the same config; all {checked} uploaded files checked by SHA-256 "
        "where they were stored.",
        "",
        "| measure | desk | floor | desk ÷ floor (time) | fastest ÷ fastest | desk MB/s "
        "| floor MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, ours, plain in rows:
        ratio = statistics.median(ours) / statistics.median(plain)
        lines.append(
            f"| {label} | {statistics.median(ours):.3f} s | {statistics.median(plain):.3f} s "
            f"| {ratio:.2f}× | {min(ours) / min(plain):.2f}× | {mbps(ours):.0f} "
            f"| {mbps(plain):.0f} |"
        )
    lines += [
        "",
        f"Load average (1 min) {load_before:.1f} when the run began, "
        f"{os.getloadavg()[0]:.1f} when it ended (medians; the fastest of each, the run least "
        "disturbed by other work, in the fifth column). Each repeat's seconds, desk / floor:",
        "",
    ]
    for label, ours, plain in rows:
        short = label.split(" (")[0].strip("*… ")
        desk_s = " ".join(f"{t:.3f}" for t in ours)
        floor_s = " ".join(f"{t:.3f}" for t in plain)
        lines.append(f"- {short}: {desk_s} / {floor_s}")
    uploaded = (args.repeats + 1) * args.mb
    lines += [
        "",
        f"Server memory (VmRSS) around the {args.repeats + 1} uploads of {args.mb} MB through "
        f"the browser ({uploaded} MB to each server), the browser's session still open: "
        "Streamlit keeps an uploaded file in memory until the browser removes it or the "
        "session ends; the desk lets go of each once stored, the floor app does not.",
        "",
        "| server | RSS before the uploads | after | growth |",
        "| --- | ---: | ---: | ---: |",
    ]
    for kind, label in (("desk", "desk (ticket.py)"), ("floor", "floor (upload_floor_app.py)")):
        before, after = upload_rss[kind]
        lines.append(f"| {label} | {before:.1f} MB | {after:.1f} MB | {after - before:+.1f} MB |")
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
