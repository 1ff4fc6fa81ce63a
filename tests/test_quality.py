"""The package stays lint-clean and type-checked; the suite enforces it."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff() -> None:
    result = run("ruff", "check", "streaming_importer", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


#: "No module over about 300 lines": a little slack, so a docstring does not fail the build.
MODULE_MAX_LINES = 320


def test_no_module_is_over_about_300_lines() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for p in (ROOT / "streaming_importer").rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > MODULE_MAX_LINES} == {}


def test_the_readme_module_map_lists_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```\nstreaming_importer/\n", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"^\s+(\w+\.py|\w+/)\s", block, re.MULTILINE))
    package = ROOT / "streaming_importer"
    present = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    present |= {p.name + "/" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert listed == present
