"""Record what Chromium and the app server say to each other over /_stcore/stream while a
person uses the Tickets page, as the fixture of tests/unit/test_load_recorded.py:

    .venv/bin/python -m bench.load.record tests/unit/load_frames.json.gz

A new SQLite desk with 60 demo tickets and one agent, `streamlit run ticket.py` (the work
tree's), then in headless Chromium: sign in, wait for a live-view timer, search "printer",
clear the search, next page, open TICKET-5, change its status and Save, reply, back to the
list, wait for a timer. Every WebSocket frame is kept (base64, in order) with a mark before
each action. Record again after Streamlit or the Tickets page changed, and the test checks
the protocol model (bench/load/protocol.py) against the new recording."""

from __future__ import annotations

import base64
import gzip
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402

EMAIL, PASSWORD = "recorder@example.com", "recording password 1"
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute("data-test-script-state") === "notRunning"
    && !document.querySelector('[data-stale="true"], [data-testid="stStatusWidget"]');
}"""


def record(out: Path) -> int:
    from playwright.sync_api import Page, sync_playwright

    from ticketdesk.services import accounts
    from ticketdesk.store.db import make_engine, migrate

    frames: list[dict[str, Any]] = []

    def mark(name: str) -> None:
        frames.append({"mark": name})

    def settle(page: Page) -> None:
        page.wait_for_timeout(400)
        page.wait_for_function(IDLE, polling=50, timeout=60_000)

    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'desk.db'}"
        engine = make_engine(url)
        migrate(engine)
        accounts.create_account(
            engine, None, EMAIL, "Rec Agent", "agent", PASSWORD, datetime.now(UTC)
        )
        engine.dispose()
        server = StreamlitServer(
            "ticket.py",
            cwd=ROOT,
            log=Path(work) / "server.log",
            env={"TICKETDESK_DATABASE_URL": url, "TICKETDESK_DEMO_TICKETS": "60"},
        )
        server.start(60)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

                def on_socket(ws: Any) -> None:
                    def keep(direction: str) -> Any:
                        return lambda data: frames.append(
                            {"dir": direction, "b64": base64.b64encode(data).decode()}
                        )

                    ws.on("framesent", keep("sent"))
                    ws.on("framereceived", keep("recv"))

                page.on("websocket", on_socket)
                page.goto(f"{server.url}/signin")
                mark("load_list")
                page.fill("#email", EMAIL)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
                settle(page)
                page.wait_for_timeout(3500)  # a live-view timer's run
                box = page.get_by_role("textbox", name="Search", exact=True)
                for term in ("printer", ""):
                    mark("search")
                    box.fill(term)
                    box.press("Enter")
                    settle(page)
                mark("page")
                page.get_by_test_id("stPaginationNext").click()
                settle(page)
                mark("open_ticket")
                page.goto(f"{server.url}/?ticket=TICKET-5")
                page.get_by_text("Conversation").wait_for()
                settle(page)
                mark("status")
                status = page.get_by_role("combobox", name="Status", exact=True)
                current = status.input_value()
                status.click()
                target = next(
                    o.strip()
                    for o in page.get_by_role("option").all_text_contents()
                    if o.strip() != current
                )
                page.get_by_role("option", name=target, exact=True).click()
                page.get_by_role("button", name="Save", exact=True).click()
                page.get_by_text("Saved.").wait_for()
                settle(page)
                mark("reply")
                page.get_by_label("Message", exact=True).fill("A reply from the recorder")
                page.get_by_role("button", name="Send", exact=True).click()
                page.get_by_text("Public reply added.").wait_for()
                settle(page)
                mark("back_to_list")
                page.get_by_role("button", name="All tickets", exact=True).click()
                page.wait_for_selector('[data-testid="stDataFrame"]')
                settle(page)
                page.wait_for_timeout(3500)
                time.sleep(0.5)
                browser.close()
        finally:
            server.stop()
    out.write_bytes(gzip.compress(json.dumps(frames).encode(), mtime=0))
    print(f"{len(frames)} frames and marks written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(record(Path(sys.argv[1])))
