"""One titled table on stdout: rich when installed, else aligned plain text."""

from __future__ import annotations

from collections.abc import Sequence

import click

from bastion.cli._display import has_rich

__all__ = ["print_table"]


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``header`` and ``title`` (a rich table, or padded columns)."""
    if has_rich():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for name in header:
            table.add_column(name)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    click.echo(title)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
