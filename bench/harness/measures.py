"""The measurements in headless Chromium: page loads, the submit, edit and search round trips
and the memory per open session, timed inside the page by bench/js/init.js (installed in every
page) and bench/js/done.js (polled until the app is done with an action)."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize

from bench.harness.common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    JS,
    METRICS,
    AppError,
    Options,
    is_timeout,
    js,
    log,
)
from bench.harness.databases import BENCH_EMAIL, BENCH_PASSWORD, create_bench_account
from bench.harness.servers import START_TIMEOUT_S, app_servers
from tests.support.server import StreamlitServer

VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
POLL_MS = 25
SETTLE_S = 2.0
SEARCH_TERM = "printer"
PAUSE_IN_FORM_S = 0.5  # between the form showing and the Submit click, as a person types
WARM_TICKET = "TICKET-1"

Measured = tuple[float | str, dict[str, float]]


@dataclass
class AppUnderTest:
    name: str
    server: StreamlitServer
    # Paths (relative to the server URL) and what each page load waits for.
    loads: list[tuple[str, list[str], dict[str, str]]]  # (path, wants, {want: metric})
    submit_done: Callable[[str, int], dict[str, Any]]
    search_done: dict[str, Any]
    # Warm loads: (path, wants, {want: metric}, extra checks for done.js); the want "all"
    # stands for the moment every want held (the page done).
    warm_loads: list[tuple[str, list[str], dict[str, str], dict[str, Any]]]

    def url(self, path: str) -> str:
        return f"{self.server.url}/{path}"


def make_apps(servers: dict[str, StreamlitServer]) -> list[AppUnderTest]:
    def ours_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": [r"Ticket TICKET-\d+ submitted"]}

    def baseline_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": ["Ticket submitted!", count_pattern(before + 1)]}

    def floor_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": [f"Submitted: {issue}"]}

    search_in_grid = {"text": [], "cell": [[1, 0, SEARCH_TERM]]}
    everything = ["grid", "charts"]
    both = {"grid": "load_grid", "charts": "load_charts"}
    both_warm = {"grid": "warm_grid", "charts": "warm_charts"}
    return [
        AppUnderTest(
            "floor",
            servers["floor"],
            [("", everything, both)],
            floor_submit,
            {"text": [f"Searching for: {SEARCH_TERM}"], "cell": []},
            [("", everything, {**both_warm, "all": "warm_ticket"}, {})],
        ),
        AppUnderTest(
            "baseline",
            servers["baseline"],
            [("", everything, both)],
            baseline_submit,
            search_in_grid,
            [("", everything, {**both_warm, "all": "warm_ticket"}, {})],
        ),
        AppUnderTest(
            "ours",
            servers["ours"],
            [
                ("", ["grid"], {"grid": "load_grid"}),
                ("dashboard", ["charts"], {"charts": "load_charts"}),
            ],
            ours_submit,
            search_in_grid,
            [
                ("", ["grid"], {"grid": "warm_grid"}, {}),
                ("dashboard", ["charts"], {"charts": "warm_charts"}, {}),
                (
                    f"?ticket={WARM_TICKET}",
                    ["text"],
                    {"text": "warm_ticket"},
                    {"text": [rf"{WARM_TICKET}(?!\d)", "Conversation"]},
                ),
            ],
        ),
    ]


# --------------------------------------------------------------------------- in the page


def done(
    page: Page, name: str, since: str, want: list[str], timeout_s: float, **extra: Any
) -> dict[str, float]:
    """Wait until bench/js/done.js says the app is done (see there); its marks in seconds."""
    spec = {"name": name, "since": since, "want": want, "text": [], "cell": [], **extra}
    handle = page.wait_for_function(
        js("done.js"), arg=spec, polling=POLL_MS, timeout=timeout_s * 1000
    )
    marks: dict[str, Any] = handle.json_value()
    if marks.get("app_error"):
        raise AppError(f"the app showed an error during {name}: {marks['app_error']}")
    return {k: v / 1000 for k, v in marks.items()}


def sign_in(context: BrowserContext, base_url: str) -> None:
    """Through the real sign-in form's POST, before any measurement: the context keeps the
    session cookie."""
    base_url = base_url.rstrip("/")
    form = context.request.get(f"{base_url}/signin").text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf, "no sign-in form"
    answer = context.request.post(
        f"{base_url}/signin",
        form={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "csrf": csrf[1], "next": "/"},
        max_redirects=0,
    )
    assert answer.status == 303, f"sign-in refused: {answer.status}"


def new_page(browser: Browser, app: AppUnderTest, timeout_s: float) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(path=JS / "init.js")
    context.set_default_timeout(timeout_s * 1000)
    if app.name == "ours":
        sign_in(context, app.server.url)
    return context, context.new_page()


def load(page: Page, url: str, want: list[str], timeout_s: float, **extra: Any) -> dict[str, float]:
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    return done(page, "load", "navigation", want, timeout_s, failOnAlert=True, **extra)


def run_span(marks: dict[str, float]) -> list[float] | None:
    """When the app's script run began and ended, in seconds from the action's start (as the
    browser saw it: the end includes sending the run's output)."""
    if "run_start" not in marks:
        return None
    return [round(marks["run_start"], 3), round(marks["run_end"], 3)]


def ticket_count(page: Page) -> int:
    text = page.locator('[data-testid="stMain"]').text_content() or ""
    match = re.search(r"Number of tickets:\s*([\d,]+)", text)
    if not match:
        raise RuntimeError("no 'Number of tickets' on the page")
    return int(match.group(1).replace(",", ""))


def count_pattern(count: int) -> str:
    """A regex for 'Number of tickets: N' written with or without thousands separators."""
    digits = str(count)
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return r"Number of tickets:\s*" + ",?".join(groups) + r"(?![\d,])"


# --------------------------------------------------------------------------- the actions


def measure_submit(page: Page, app: AppUnderTest, timeout_s: float) -> Measured:
    issue = f"Bench ticket {uuid.uuid4().hex[:10]}"
    before = ticket_count(page) if app.name == "baseline" else 0
    box = page.get_by_role("textbox", name="Describe the issue")
    if app.name == "ours":  # the form is in a dialog, opened by the toolbar's button
        page.get_by_role("button", name="New ticket").click()
        box.wait_for(state="visible", timeout=timeout_s * 1000)
        done(page, "open form", "input", [], timeout_s)
        time.sleep(PAUSE_IN_FORM_S)
    box.fill(issue)
    page.get_by_role("button", name="Submit").click()
    marks = done(page, "submit", "input", ["text"], timeout_s, **app.submit_done(issue, before))
    return marks["text"], marks


def measure_edit(page: Page, app: AppUnderTest, timeout_s: float) -> Measured:
    """Row 0's Status (column 2) to another value, through the grid's dropdown editor."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(visible=True).last
    current = grid.locator('[id="glide-cell-2-0"]').text_content()
    target = "In Progress" if current == "Closed" else "Closed"
    first = grid.locator('[id="glide-cell-0-0"]')
    for _ in range(5):  # the first click after a rerun may only move the focus
        grid.click(position={"x": 20, "y": 52})  # row 0, first column (the header is 35 px)
        with contextlib.suppress(Exception):
            first.and_(page.locator('[aria-selected="true"]')).wait_for(
                state="attached", timeout=1000
            )
            break
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    option = page.locator("#portal [role=option]", has_text=target)
    option.click()
    marks = done(page, "edit", "input", ["cell"], timeout_s, cell=[[2, 0, f"^{target}$"]])
    return marks["cell"], marks


def measure_search(page: Page, app: AppUnderTest, timeout_s: float) -> Measured:
    box = page.get_by_role("textbox", name="Search", exact=True)
    if box.count() == 0:
        return "n/a", {}
    box.first.fill(SEARCH_TERM)
    box.first.press("Enter")
    marks = done(page, "search", "input", ["text", "cell"], timeout_s, **app.search_done)
    return max(marks["text"], marks["cell"]), marks


STEPS: list[tuple[str, Callable[[Page, AppUnderTest, float], Measured]]] = [
    ("submit", measure_submit),
    ("edit", measure_edit),
    ("search", measure_search),
]


def run_repeat(
    browser: Browser, app: AppUnderTest, timeout_s: float, pause_s: float, samples: dict[str, Any]
) -> None:
    """One fresh context per page load; the actions follow the first page's load, each
    `pause_s` after the page was done with the one before (a person's pace, rather than the
    instant the last check passed)."""
    for index, (path, want, metric_of) in enumerate(app.loads):
        context, page = new_page(browser, app, timeout_s)
        try:
            try:
                marks = load(page, app.url(path), want, timeout_s)
            except Exception as exc:
                if not (is_timeout(exc) or isinstance(exc, AppError)):
                    raise
                outcome = None if is_timeout(exc) else "error"
                log(f"  {app.name} load of /{path}: {outcome or 'timeout'}")
                if outcome:
                    samples["errors"].append(f"load /{path}: {exc}")
                for metric in metric_of.values():
                    samples[metric].append(outcome)
                if index == 0:
                    for metric, _ in STEPS:
                        samples[metric].append(outcome or "skipped")
                continue
            for w, metric in metric_of.items():
                samples[metric].append(marks[w])
                samples["script_runs"][metric].append(run_span(marks))
                samples["table_filled"][metric].append(marks.get(f"{w}_table"))
            if index == 0:
                run_actions(page, app, timeout_s, pause_s, samples)
        finally:
            with contextlib.suppress(Exception):
                context.close()


def run_warm_loads(
    browser: Browser, app: AppUnderTest, timeout_s: float, pause_s: float, samples: dict[str, Any]
) -> None:
    """Warm full-page loads, as a person opening the desk by a link in a browser that has its
    files cached: one context for all of the app's pages; each page is loaded once unmeasured
    (the cache, and the session's cookie, are then warm) and once measured."""
    context, page = new_page(browser, app, timeout_s)
    try:
        for path, want, metric_of, extra in app.warm_loads:
            try:
                load(page, app.url(path), want, timeout_s, **extra)
                time.sleep(pause_s)
                marks = load(page, app.url(path), want, timeout_s, **extra)
                time.sleep(pause_s)
            except Exception as exc:
                if not (is_timeout(exc) or isinstance(exc, AppError)):
                    raise
                outcome = None if is_timeout(exc) else "error"
                log(f"  {app.name} warm load of /{path}: {outcome or 'timeout'}")
                if outcome:
                    samples["errors"].append(f"warm load /{path}: {exc}")
                for metric in metric_of.values():
                    samples[metric].append(outcome)
                continue
            for w, metric in metric_of.items():
                samples[metric].append(max(marks[x] for x in want) if w == "all" else marks[w])
                samples["script_runs"][metric].append(run_span(marks))
    finally:
        with contextlib.suppress(Exception):
            context.close()


def run_actions(
    page: Page, app: AppUnderTest, timeout_s: float, pause_s: float, samples: dict[str, Any]
) -> None:
    """Submit, edit and search in turn on a loaded page; after a failure, the rest are
    skipped."""
    failed = False
    for metric, step in STEPS:
        if failed:
            samples[metric].append("skipped")
            continue
        try:
            time.sleep(pause_s)
            seconds, marks = step(page, app, timeout_s)
            samples[metric].append(seconds)
            samples["script_runs"][metric].append(run_span(marks))
            samples["table_filled"][metric].append(marks.get("cell_table"))
        except Exception as exc:
            failed = True
            if is_timeout(exc):
                log(f"  {app.name} {metric}: timeout")
                samples[metric].append(None)
                continue
            log(f"  {app.name} {metric} failed: {str(exc).splitlines()[0][:200]}")
            samples["errors"].append(f"{metric}: {str(exc).splitlines()[0][:300]}")
            samples[metric].append("error")


def measure_memory(
    browser: Browser, app: AppUnderTest, extra: int, timeout_s: float
) -> dict[str, Any]:
    """RSS after one open session and after `extra` more (opened one after the other)."""
    contexts = []
    path, want, _ = app.loads[0]
    result: dict[str, Any] = {"rss_start_mb": app.server.rss_mb()}
    try:
        for i in range(extra + 1):
            context, page = new_page(browser, app, timeout_s)
            contexts.append(context)
            load(page, app.url(path), want, timeout_s)
            if i == 0:
                time.sleep(SETTLE_S)
                result["rss_1_mb"] = app.server.rss_mb()
        time.sleep(SETTLE_S)
        result["rss_k_mb"] = app.server.rss_mb()
        result["extra_sessions"] = extra
        result["mb_per_session"] = (result["rss_k_mb"] - result["rss_1_mb"]) / extra
    except Exception as exc:
        if is_timeout(exc):
            result["error"] = f"a session did not load within {timeout_s:.0f} s"
        elif isinstance(exc, AppError):
            result["error"] = str(exc)
        else:
            raise
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    return result


# --------------------------------------------------------------------------- one size


def empty_samples() -> dict[str, Any]:
    return {m: [] for m in METRICS} | {
        "script_runs": {m: [] for m in METRICS},
        # When the grid's accessible table showed what the canvas had shown (see init.js).
        "table_filled": {m: [] for m in METRICS},
        "errors": [],
        "memory": {},
    }


def warm_up(browser: Browser, app: AppUnderTest, options: Options) -> str | None:
    """Load each page of `app` `options.warmup` times, unmeasured; why it failed, if it did
    (an app that cannot show its page is not timed over and over)."""
    for _ in range(options.warmup):
        for path, want, _metrics in app.loads:
            context, page = new_page(browser, app, options.timeout)
            try:
                load(page, app.url(path), want, options.timeout)
            except Exception as exc:
                if not (is_timeout(exc) or isinstance(exc, AppError)):
                    raise
                return f"warm-up load of /{path} failed: {exc}"
            finally:
                context.close()
    return None


def bench_size(
    pw: Playwright, count: int, options: Options, db_url: str, results: dict[str, Any]
) -> None:
    """Measure the apps at `count` tickets, filling `results` as it goes."""
    servers = app_servers(count, db_url)
    apps = [a for a in make_apps(servers) if a.name in options.apps]
    if "ours" in options.apps:
        create_bench_account(db_url)
    for a in apps:
        results[a.name] = empty_samples()
    broken: dict[str, str] = {}
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        for app in apps:
            log(f"N={count:,}: starting {app.name}, measuring memory ({options.sessions} sessions)")
            app.server.start(START_TIMEOUT_S)
            memory = measure_memory(browser, app, options.sessions, options.timeout)
            results[app.name]["memory"] = memory
            per_session = memory.get("mb_per_session")
            shown = "–" if per_session is None else f"{per_session:.1f}"
            log(f"  {app.name}: {shown} MB per session")
            if failure := warm_up(browser, app, options):
                broken[app.name] = failure
                log(f"  {app.name}: {failure}; not measured at this N")
                results[app.name]["errors"].append(failure)
        for repeat in range(options.repeats):
            for app in apps:
                if app.name in broken:
                    for metric in METRICS:
                        results[app.name][metric].append("error")
                    continue
                log(f"N={count:,}: repeat {repeat + 1}/{options.repeats}, {app.name}")
                run_repeat(browser, app, options.timeout, options.pause, results[app.name])
                run_warm_loads(browser, app, options.timeout, options.pause, results[app.name])
                latest = {m: results[app.name][m][-1:] for m in METRICS}
                log(f"  {app.name}: {latest}")
    finally:
        with contextlib.suppress(Exception):
            browser.close()
        for server in servers.values():
            server.stop()
