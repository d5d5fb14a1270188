"""The README's two fresh-machine commands and CI stay in step."""

from __future__ import annotations

import re

from .conftest import REPO


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## On a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    """Two commands (run, test); .ci/run contains the test command verbatim."""
    run, test = _commands()
    assert "demo" in run and "pytest" in test and "yaz" in test
    assert test in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
