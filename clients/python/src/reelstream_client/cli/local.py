"""Commands about the CLI itself: version, profile, completion."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from reelstream_client import errors
from reelstream_client._version import __version__
from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.cli.profiles import FIELDS, config_path, read_config, write_profile


@cli.command()
@click.option("--server", is_flag=True, help="also ask the API for its version")
@json_option
def version(server: bool) -> int:
    """The CLI's (SDK's) version; with --server, the API's too."""
    obj = state()
    info: dict[str, str | None] = {"client": __version__}
    if server:
        info["api_url"] = obj.profile().api_url
        info["server"] = obj.client().api_version()
    if obj.as_json:
        emit_json(info)
    else:
        click.echo("\n".join(f"{k}: {v}" for k, v in info.items()) if server else __version__)
    return OK


@cli.group()
def profile() -> None:
    """Profiles in ~/.config/reelstream/config.toml (API URL, key, timeout)."""


@profile.command(name="show")
@json_option
def profile_show() -> int:
    """The settings in effect and where each comes from (the key shortened)."""
    obj = state()
    shown = obj.profile().redacted()
    if obj.as_json:
        emit_json(shown)
        return OK
    sources = shown.pop("sources")
    for name, value in shown.items():
        click.echo(f"{name}: {value}" + (f"  ({sources[name]})" if name in sources else ""))
    return OK


@profile.command(name="set")
@click.argument("field", type=click.Choice(FIELDS))
@click.argument("value")
@click.option("--name", "profile_name", help="the profile (default: the one in effect)")
@json_option
def profile_set(field: str, value: str, profile_name: str | None) -> int:
    """Set a field of a profile, creating it."""
    obj = state()
    name = profile_name or obj.profile().name
    typed: str | float = float(value) if field == "timeout" else value
    path = write_profile(obj.env, name, {field: typed})
    emit_json({"profile": name, "path": str(path)}) if obj.as_json else click.echo(
        f"{path}: [{name}] {field}"
    )
    return OK


@profile.command(name="list")
@json_option
def profile_list() -> int:
    """The profiles in the file."""
    obj = state()
    names = sorted(read_config(config_path(obj.env)).get("profiles", {}))
    emit_json(names) if obj.as_json else click.echo("\n".join(names))
    return OK


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@json_option
def completion(shell: str) -> int:
    """Print the shell completion script: `eval "$(reelstream completion bash)"`."""
    kind = get_completion_class(shell)
    if kind is None:
        raise errors.ReelstreamError(f"no completion for {shell}")
    script = kind(cli, {}, "reelstream", "_REELSTREAM_COMPLETE").source()
    emit_json({"shell": shell, "script": script}) if state().as_json else click.echo(script)
    return OK
