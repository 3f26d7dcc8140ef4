"""The command line as a user runs it: `liaison demo` seeds and serves; `liaison import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import openpyxl
import pytest

from tests.conftest import TEST_DATABASE_URL

READY = "Liaison is ready at "
# Only a hung process could take this long; a slow machine is waited for. When it
# passes, the process is killed, its output ends and the test fails saying why.
HUNG_AFTER_SECONDS = 20 * 60


def start_demo(database: Path) -> subprocess.Popen[str]:
    """`liaison demo` on a free port, which its ready line names."""
    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    env.pop("LIAISON_PSEUDONYM_SECRET", None)
    return subprocess.Popen(
        [sys.executable, "-m", "liaison", "demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def lines_until_ready(process: subprocess.Popen[str]) -> list[str]:
    """The output up to and including the ready line; fails if the process ends first."""
    assert process.stdout is not None
    guard = threading.Timer(HUNG_AFTER_SECONDS, process.kill)
    guard.start()
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                return lines
    finally:
        guard.cancel()
    output = "\n".join(lines)
    raise AssertionError(f"the demo ended (status {process.wait()}) before it was ready:\n{output}")


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.communicate(timeout=HUNG_AFTER_SECONDS)


@pytest.mark.long
@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="the demo runs on its embedded SQLite")
def test_demo_command_seeds_and_serves(tmp_path: Path) -> None:
    process = start_demo(tmp_path / "demo.db")
    try:
        lines = lines_until_ready(process)
        url = lines[-1].removeprefix(READY)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert httpx.get(f"{url}/login").status_code == 200
    finally:
        stop(process)
    output = "\n".join(lines)
    # Progress while it seeds, then the logins, then the ready line.
    for step in ("Directory: 61 people", "Accounts: 61", "Groups:", "Rings:", "History: 30/30"):
        assert step in output, step
    assert "Demo logins (password for all: demo-salasana)" in output
    assert output.index("History: 30/30") < output.index("Demo logins") < output.index(READY)
    assert "aino.lehtonen" in output and "markku.hyvonen" in output
    # Alembic's step-by-step lines are kept out of the demo's output.
    assert "alembic" not in output


def test_serve_refuses_to_start_without_a_pseudonym_secret(tmp_path: Path) -> None:
    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    env.pop("LIAISON_PSEUDONYM_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-m", "liaison", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=HUNG_AFTER_SECONDS,
    )
    assert result.returncode == 2
    assert "LIAISON_PSEUDONYM_SECRET" in result.stderr


def test_import_reads_the_named_sheet_in_a_child_and_reports(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Ohje"
    notes.append(["Täytä välilehti Lista"])
    people = book.create_sheet("Lista")
    people.append(["Kelan yhteystiedot"])
    people.append(["sähköposti", "etunimi", "sukunimi", "organisaatio", "organisaatiotyyppi"])
    people.append(["cli@kela.example", "Cli", "Import", "Kela", "kela"])
    path = tmp_path / "lista.xlsx"
    book.save(path)
    env = {**os.environ, "LIAISON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [sys.executable, "-m", "liaison", "import", str(path), "--sheet", "lista", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=HUNG_AFTER_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sheet"] == "Lista" and report["skipped_lines"] == [1]
    assert report["created"] == 1 and not report["applied"]
