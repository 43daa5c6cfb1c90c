"""`reelstream`: the umbrella command. The environment is read here, once, and passed down."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devstack.manager import ExternalServices, LocalStack, StackLayout, read_state, stop_recorded
from devstack.steps import ConsoleSteps
from reelstream.client import Client, submit_and_wait
from reelstream.config import load_config, or_exit
from reelstream.errors import ReelstreamError
from reelstream.logs import LogSettings, configure_logging
from reelstream.models import load_registry
from schemas.topics import DLQ_STAGES

logger = logging.getLogger("reelstream")


def _layout(args: argparse.Namespace, env: Mapping[str, str]) -> StackLayout:
    layout = StackLayout.dev(env)
    if args.data_dir:
        layout = StackLayout(data_dir=Path(args.data_dir), cache_dir=layout.cache_dir)
    return layout


def cmd_stack(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    layout = _layout(args, env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env), detached=True, steps=ConsoleSteps())
    if args.action == "fetch":
        stack.fetch()
        print(f"cached under {layout.cache_dir}")
    elif args.action == "up":
        endpoints = stack.up()
        print(
            ("reusing the running stack" if stack.reused else "stack started") + f" (data {layout.data_dir})"
        )
        for key, value in endpoints.as_env().items():
            if "SECRET" not in key:
                print(f"  {key}={value}")
    elif args.action == "down":
        stopped = stop_recorded(layout.data_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif args.action == "status":
        state = read_state(layout.data_dir)
        print(
            "not running" if state is None else "\n".join(f"{k}: pid {v}" for k, v in state["pids"].items())
        )
    return 0


def cmd_topics(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from reelstream.kafka.admin import ensure_topics
    from schemas.topics import ALL_TOPICS

    bootstrap = load_config(env).values.kafka_bootstrap
    created = asyncio.run(ensure_topics(bootstrap, ALL_TOPICS))
    print("created: " + (", ".join(created) if created else "none (all existed)"))
    return 0


def cmd_dev(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from devstack.dev import run_dev

    return run_dev(env)


def _client(env: Mapping[str, str]) -> Client:
    settings = load_config(env).values
    if settings.api_key is None:
        raise ReelstreamError("set REELSTREAM_API_KEY (the dev command prints one) and REELSTREAM_API_URL")
    return Client(settings.api_url, settings.api_key.get_secret_value())


def cmd_submit(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    body: dict[str, object] = {"prompt": args.prompt}
    for name in ("model", "width", "height", "duration_seconds", "fps", "seed", "webhook_url"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.steps is not None:
        body["num_inference_steps"] = args.steps
    output = Path(args.output) if args.output else None
    return submit_and_wait(_client(env), body, args.wait, output)


def cmd_models(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The registered models (built-in and REELSTREAM_EXTRA_MODELS), each with its limits and defaults."""
    for spec in load_registry(env.get("REELSTREAM_EXTRA_MODELS", "")):
        print(spec.summary())
    return 0


def cmd_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    print(json.dumps(_client(env).get(args.job_id), indent=2))
    return 0


def cmd_cancel(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    job = _client(env).cancel(args.job_id)
    print(f"job {job['id']}: {job['status']} (cancel requested)")
    return 0


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s` (or plain seconds) → a positive timedelta."""
    unit = text[-1:] if text[-1:] in _DURATION_UNITS else "s"
    number = text[:-1] if text[-1:] in _DURATION_UNITS else text
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the duration must be positive")
    return timedelta(seconds=seconds)


def cmd_keys(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """API keys, through the admin routes (REELSTREAM_API_KEY must hold a key with the admin role)."""
    client = _client(env)
    if args.action == "create":
        body: dict[str, object] = {"tenant": args.tenant, "roles": args.role or ["submitter"]}
        if args.expires_in is not None:
            body["expires_at"] = (datetime.now(UTC) + args.expires_in).isoformat()
        if args.name:
            body["name"] = args.name
        created = client.create_key(body)
        print(created["key"])  # stdout: the key alone, so it can be captured; shown this once
        print(
            f"key {created['id']} for tenant {created['tenant']} ({', '.join(created['roles'])}); "
            "store it now: it cannot be shown again",
            file=sys.stderr,
        )
    elif args.action == "list":
        print("id\ttenant\troles\tstatus\tcreated\texpires\tname")
        for key in client.list_keys(args.tenant)["data"]:
            fields = (key["id"], key["tenant"], "+".join(key["roles"]), key["status"])
            extra = (key["created_at"], key["expires_at"] or "-", key["name"] or "")
            print("\t".join((*fields, *extra)))
    else:
        revoked = client.revoke_key(args.key_id)
        print(f"key {revoked['id']} of tenant {revoked['tenant']}: {revoked['status']}")
    return 0


def cmd_dlq(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from reelstream import dlq

    settings = load_config(env).values
    bootstrap, registry = settings.kafka_bootstrap, settings.schema_registry_url
    if args.action == "list":
        parked = asyncio.run(dlq.list_stage(bootstrap, registry, args.stage, args.limit))
        print("offset\ttime\tsource\terror\tvalue size\treplays")
        for item in parked:
            print(dlq.describe(item))
        return 0
    if not args.all and args.offset is None:
        raise ReelstreamError("dlq replay needs --offset N or --all")
    offsets = None if args.all else {args.offset}
    count = asyncio.run(dlq.replay_stage(bootstrap, registry, args.stage, offsets))
    print(f"replayed {count} record(s) from {dlq.dlq_topic(args.stage).name}")
    return 0


def cmd_config(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from reelstream.config.show import render

    print(render(load_config(env), as_json=args.json))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelstream", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="the local Kafka + schema registry + MinIO stack")
    stack.add_argument("action", choices=["fetch", "up", "down", "status"])
    stack.add_argument("--data-dir", help="where the stack keeps its data (default: the dev stack's)")
    stack.set_defaults(func=cmd_stack)

    dev = sub.add_parser("dev", help="run the whole system locally, in the foreground")
    dev.set_defaults(func=cmd_dev)

    submit = sub.add_parser("submit", help="submit a prompt to the API")
    submit.add_argument("prompt")
    submit.add_argument("--wait", action="store_true", help="follow progress, then download the MP4")
    submit.add_argument("--output", "-o", help="where to save the MP4 (default: <job id>.mp4)")
    submit.add_argument("--model", help="a model id (`reelstream models` lists them); default: the server's")
    submit.add_argument("--width", type=int)
    submit.add_argument("--height", type=int)
    submit.add_argument("--duration-seconds", dest="duration_seconds", type=float)
    submit.add_argument("--fps", type=int)
    submit.add_argument("--steps", type=int)
    submit.add_argument("--seed", type=int)
    submit.add_argument("--webhook-url", dest="webhook_url")
    submit.set_defaults(func=cmd_submit)
    models = sub.add_parser("models", help="list the registered models with their limits and defaults")
    models.set_defaults(func=cmd_models)
    status = sub.add_parser("status", help="show a job")
    status.add_argument("job_id")
    status.set_defaults(func=cmd_status)
    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(func=cmd_cancel)

    keys = sub.add_parser("keys", help="create, list or revoke API keys (needs an admin key)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="mint a key; prints it once on stdout")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", action="append", choices=["submitter", "viewer", "admin"])
    create.add_argument("--expires-in", dest="expires_in", type=parse_duration, help="e.g. 90d, 12h")
    create.add_argument("--name", help="a label for people")
    create.set_defaults(func=cmd_keys)
    listing = keys_sub.add_parser("list", help="keys' metadata (never a secret)")
    listing.add_argument("--tenant")
    listing.set_defaults(func=cmd_keys)
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id (final)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys)

    topics = sub.add_parser("topics", help="create the declared topics (idempotent)")
    topics.add_argument("action", choices=["ensure"])
    topics.set_defaults(func=cmd_topics)

    dlq = sub.add_parser("dlq", help="list or replay a stage's dead letters")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    dlq_list = dlq_sub.add_parser("list", help="the latest dead letters (never their payloads)")
    dlq_list.add_argument("stage", choices=DLQ_STAGES)
    dlq_list.add_argument("--limit", type=int, default=20)
    dlq_list.set_defaults(func=cmd_dlq)
    dlq_replay = dlq_sub.add_parser("replay", help="re-produce dead letters to their source topic")
    dlq_replay.add_argument("stage", choices=DLQ_STAGES)
    which = dlq_replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--offset", type=int, help="the dead letter's offset (see `dlq list`)")
    which.add_argument("--all", action="store_true", help="every dead letter of the stage")
    dlq_replay.set_defaults(func=cmd_dlq)
    config = sub.add_parser("config", help="every setting: value and source (default, env, file)")
    config.add_argument("--json", action="store_true", help="as JSON")
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = or_exit("reelstream", lambda: LogSettings.from_env(os.environ, default_format="text"))
    configure_logging("reelstream-cli", replace(log, level="DEBUG") if args.verbose else log)
    try:
        return int(args.func(args, os.environ))
    except ReelstreamError as exc:
        print(f"reelstream: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
