"""The `reelstream` command group: global options, the lazily built client, and the server's tool commands
found through the `reelstream.commands` entry-point group (the server package registers dev, stack, ...)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import click

from reelstream_client._core import RetryPolicy
from reelstream_client._sync import Client
from reelstream_client._version import __version__
from reelstream_client.cli.profiles import ConfigError, Profile, resolve

PLUGIN_GROUP = "reelstream.commands"
# a person is waiting: fewer, shorter retries than a program's default
CLI_RETRIES = RetryPolicy(
    attempts=3, wait_initial=0.3, wait_max=5.0, total_timeout=30.0, max_retry_after=10.0
)


@dataclass
class State:
    """What every command needs: the environment and the flags; the profile and client made on first use."""

    env: Mapping[str, str]
    flags: dict[str, Any]
    as_json: bool = False
    _client: Client | None = field(default=None, repr=False)

    def profile(self) -> Profile:
        return resolve(self.env, self.flags)

    def client(self) -> Client:
        if self._client is None:
            profile = self.profile()
            if not profile.api_key:
                raise ConfigError("no API key")
            self._client = Client(
                profile.api_url, profile.api_key, timeout=profile.timeout, retry=CLI_RETRIES
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def state() -> State:
    obj = click.get_current_context().find_object(State)
    assert obj is not None
    return obj


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value is not False:
        obj = ctx.ensure_object(State)
        if param.name == "as_json":
            obj.as_json = True
        else:
            obj.flags[str(param.name)] = value
    return value


CONNECTION_OPTIONS = (
    click.option("--profile", help="a profile of ~/.config/reelstream/config.toml (env REELSTREAM_PROFILE)"),
    click.option("--api-url", help="the API's base URL (env REELSTREAM_API_URL)"),
    click.option("--api-key", help="an API key (env REELSTREAM_API_KEY)"),
    click.option("--http-timeout", "timeout", type=float, help="seconds per HTTP call (default 30)"),
)


def json_option(func: Any) -> Any:
    """`--json` on every command (machine-readable output on stdout, nothing else there), and the
    connection options, so they may follow the command name as well as precede it."""
    func = click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_remember,
        help="print JSON for scripts",
    )(func)
    for option in CONNECTION_OPTIONS:
        func = option(func)
    for param in func.__click_params__[-len(CONNECTION_OPTIONS) :]:
        param.expose_value, param.callback = False, _remember
    return func


class Commands(click.Group):
    """The SDK's commands, then the installed tool commands (entry points), loaded only when named."""

    def _plugins(self) -> dict[str, Any]:
        return {point.name: point for point in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (point := self._plugins().get(cmd_name)) is not None:
            loaded = point.load()
            command = loaded if isinstance(loaded, click.Command) else None
        return command


EPILOG = (
    "Exit codes: 0 success, 1 the job did not succeed, 2 bad usage, 3 authentication or permission, "
    "4 not found, 5 request refused, 6 rate limited, 7 API unreachable or unavailable, 130 interrupted."
)


@click.group(cls=Commands, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@json_option
@click.version_option(version=__version__, prog_name="reelstream")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """reelstream: text to video. Submit prompts, follow jobs, download videos, manage keys and webhooks."""
    ctx.call_on_close(ctx.ensure_object(State).close)


def new_state(env: Mapping[str, str] | None = None) -> State:
    return State(env=os.environ if env is None else env, flags={})
