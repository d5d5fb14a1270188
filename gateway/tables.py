"""Plain-text tables for the command line: columns as wide as their widest cell."""

from __future__ import annotations

from collections.abc import Sequence

import click

__all__ = ["echo_table"]


def echo_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``header`` and ``rows`` as aligned columns (no trailing spaces)."""
    lines = [[str(cell) for cell in line] for line in (header, *rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
