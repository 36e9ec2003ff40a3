"""A real S3-compatible server for the file-store tests: moto's server mode (`moto_server`) as
a process of its own on a free port, and a bucket on it. Not a mock object: the desk's S3
store talks HTTP to it through boto3 exactly as to any S3 endpoint."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import free_port

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def env(self) -> dict[str, str]:
        """The variables that point boto3 (the desk's S3 store) at this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def new_bucket(self) -> str:
        name = f"desk-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def running_moto(log: Path) -> Iterator[S3Server]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited: {log.read_text(errors='replace')[-2000:]}")
            url = f"{endpoint}/moto-api/"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):  # noqa: S310
                break
            if time.monotonic() > deadline:
                pytest.fail("moto_server did not answer within 30 s")
            time.sleep(0.2)
        yield S3Server(endpoint)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto server for the test session (it starts in a second or two)."""
    if not MOTO_SERVER.exists():
        pytest.fail("moto_server is not installed: pip install 'moto[server]' (a dev dependency)")
    with running_moto(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server
