"""Reading an adapter's own YAML file (an SQL mapping, circulation statements) as a node
tree, so its checker can name the line of every problem; one place for the ways a file
can fail before its content is even looked at."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

__all__ = ["FileProblems", "compose_file"]


class FileProblems(Exception):
    """The file cannot be used; ``problems`` lists every reason (file:line: key)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def compose_file(path: str | os.PathLike[str], what: str) -> yaml.Node | None:
    """The YAML node tree of ``path`` (None when empty); ``what`` ("mapping",
    "statements") starts every problem. Raises :class:`FileProblems`."""
    label = f"{what} {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileProblems([f"{label}: file not found"]) from None
    except UnicodeDecodeError:
        raise FileProblems([f"{label}: file is not UTF-8 text"]) from None
    except OSError as exc:
        raise FileProblems([f"{label}: cannot read: {exc.strerror}"]) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}" if mark else ""
        raise FileProblems([f"{label}{where}: YAML syntax error: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise FileProblems([f"{label}: YAML error: {exc}"]) from None
