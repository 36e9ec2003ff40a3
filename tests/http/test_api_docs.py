"""docs/api.md's curl examples, run as they are (bash, curl) against a live server: each
answers with a success status and JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.api import ApiDesk

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def examples() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", API_MD.read_text(encoding="utf-8"), re.DOTALL)


def test_the_docs_have_examples() -> None:
    assert len(examples()) >= 6


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_curl_example_works(api_desk: ApiDesk) -> None:
    agent = api_desk.person("agent")
    env = {**os.environ, "DESK": api_desk.url, "TOKEN": api_desk.token(agent)}
    # The examples name TICKET-1: the first ticket of this server's database.
    first = api_desk.ticket(api_desk.person("requester"), "The printer is broken")
    assert first.id == 1, "the examples need TICKET-1 to be this module's first ticket"
    for example in examples():
        done = subprocess.run(
            ["bash", "-c", example.replace("curl -s", "curl -s -f -S")],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, f"{example}\n{done.stderr}\n{done.stdout}"
        body = done.stdout.split("\n\n", 1)[-1]  # after the headers of `curl -i`
        json.loads(body)
