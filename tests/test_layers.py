"""The layers hold (docs/architecture.md): scripts/check runs import-linter over the
contracts in pyproject.toml, and an import against them fails it. Each case copies the
package, adds one forbidden import, and runs the same command on the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` as scripts/check runs it, on the `liaison` found in package_parent."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=package_parent,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_scripts_check_runs_the_layer_contracts() -> None:
    check = (ROOT / "scripts" / "check").read_text()
    assert ".venv/bin/lint-imports" in check
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "web/pages.py",
            "from liaison.store import repositories as _repo  # noqa: F401",
            "Web only talks to services: no store, no bus",
        ),
        (
            "domain/rings.py",
            "import liaison.clock as _clock  # noqa: F401",
            "Domain imports nothing of the project but itself",
        ),
        (
            "services/presence.py",
            "import liaison.web.security as _web  # noqa: F401",
            "Layers: cli, demo, web, services, protocol, then store and bus, then domain",
        ),
    ],
)
def test_an_import_against_the_layers_fails_the_check(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    copy = tmp_path / "liaison"
    shutil.copytree(ROOT / "liaison", copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    target = copy / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout, result.stdout
    assert "1 broken" in result.stdout, result.stdout
