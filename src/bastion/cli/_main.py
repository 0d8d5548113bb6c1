"""Entry point of the ``bastion`` command."""

from __future__ import annotations

import click

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bastion")
def cli() -> None:
    """Bastion: supervised actors, durable agents, resilience and rollout."""


def main() -> None:
    """Run the ``bastion`` command line."""
    cli()
