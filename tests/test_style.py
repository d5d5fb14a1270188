"""The conventions that tools can check: ruff (lint and format) and mypy are clean."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_ruff_lint_and_format() -> None:
    """ruff finds nothing to lint and nothing to reformat."""
    lint = _run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    style = _run("ruff", "format", "--check", ".")
    assert style.returncode == 0, style.stdout + style.stderr


def test_mypy() -> None:
    """The typed public interfaces type-check."""
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
