"""Entry point of the ``bastion`` command."""

from __future__ import annotations

import click

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bastion")
def cli() -> None:
    """Bastion: supervised actors, durable agents, resilience and rollout."""


@cli.command(
    "check",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check_command(args: tuple[str, ...]) -> None:
    """Static checker for supervision, delivery and timeout discipline (see --help)."""
    from bastion.checks import main as check_main

    raise SystemExit(check_main(list(args)))


def _register_demo() -> None:
    from bastion.cli._demo import demo_command

    cli.add_command(demo_command)


def _register_console() -> None:
    from bastion.cli._audit import audit_command
    from bastion.cli._console import console_command, top_command

    console_command.add_command(audit_command)

    cli.add_command(console_command)
    cli.add_command(top_command)


def _register_flags() -> None:
    from bastion.cli._flags import flags_group

    cli.add_command(flags_group)


def _register_rollout() -> None:
    from bastion.cli._rollout import rollout_group

    cli.add_command(rollout_group)


def _register_loadtest() -> None:
    from bastion.cli._loadtest import loadtest_command

    cli.add_command(loadtest_command)


def _register_workflows() -> None:
    from bastion.cli._workflows import workflows_group

    cli.add_command(workflows_group)


def main() -> None:
    """Run the ``bastion`` command line."""
    _register_demo()
    _register_console()
    _register_flags()
    _register_rollout()
    _register_loadtest()
    _register_workflows()
    cli()
