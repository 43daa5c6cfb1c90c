"""The server's tool commands, added to the `reelstream` command of the client distribution through the
`reelstream.commands` entry-point group (pyproject.toml): `reelstream dev | stack | topics | dlq | models |
config`. Each forwards its arguments to `devstack.cli`, which parses and runs them (`python -m devstack.cli`
works without the client installed)."""

from __future__ import annotations

import click

from devstack.cli import main

_FORWARD = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "allow_interspersed_args": False,
    "help_option_names": [],
}


def _forwarding(name: str, summary: str) -> click.Command:
    @click.command(
        name=name, help=f"{summary} (server tools: `reelstream {name} -h`)", context_settings=_FORWARD
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> int:
        return main([name, *args])

    return command


dev = _forwarding("dev", "run the whole system locally, in the foreground")
stack = _forwarding("stack", "the local Kafka + schema registry + MinIO stack: fetch, up, down, status")
topics = _forwarding("topics", "create the declared topics (idempotent)")
dlq = _forwarding("dlq", "list or replay a stage's dead letters")
models = _forwarding("models", "the registered models with their limits and defaults")
config = _forwarding("config", "every server setting: value and source (default, env, file)")
