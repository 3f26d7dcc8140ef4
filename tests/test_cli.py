"""The README's first command, as a new user runs it: `liaison demo` seeds and serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_DATABASE_URL, free_port


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the demo runs on its embedded SQLite")
def test_demo_command_seeds_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db"}
    env.pop("LIAISON_PSEUDONYM_SECRET", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "liaison", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the demo exited early"
            time.sleep(0.5)
        else:
            raise AssertionError("the demo did not start serving within 90 s")
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "Demo logins" in output and "demo-salasana" in output
    assert "aino.lehtonen" in output


def test_serve_refuses_to_start_without_a_pseudonym_secret(tmp_path: Path) -> None:
    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    env.pop("LIAISON_PSEUDONYM_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-m", "liaison", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LIAISON_PSEUDONYM_SECRET" in result.stderr
