"""The server's tool commands (dev, stack, topics, dlq, models, config). The environment is read here, once,
and passed down.

`reelstream` is the client distribution's command (clients/python); it finds these through the
`reelstream.commands` entry points (devstack/commands.py). `python -m devstack.cli` runs them without it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from devstack.manager import ExternalServices, LocalStack, StackLayout, read_state, stop_recorded
from devstack.steps import ConsoleSteps
from reelstream.config import load_config, or_exit
from reelstream.errors import ReelstreamError
from reelstream.logs import LogSettings, configure_logging
from reelstream.models import load_registry
from reelstream.settings import kafka_security_from_config, registry_auth_from_config
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
            if "SECRET" not in key and "PASSWORD" not in key:
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

    config = load_config(env)
    security = kafka_security_from_config(config)
    created = asyncio.run(ensure_topics(config.values.kafka_bootstrap, ALL_TOPICS, security=security))
    print("created: " + (", ".join(created) if created else "none (all existed)"))
    return 0


def cmd_dev(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from devstack.dev import run_dev

    return run_dev(env)


def cmd_models(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The registered models (built-in and REELSTREAM_EXTRA_MODELS), each with its limits and defaults."""
    for spec in load_registry(env.get("REELSTREAM_EXTRA_MODELS", "")):
        print(spec.summary())
    return 0


def cmd_dlq(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from reelstream import dlq

    config = load_config(env)
    settings, security = config.values, kafka_security_from_config(config)
    bootstrap, registry = settings.kafka_bootstrap, settings.schema_registry_url
    auth = registry_auth_from_config(config)
    if args.action == "list":
        parked = asyncio.run(dlq.list_stage(bootstrap, registry, args.stage, args.limit, security, auth))
        print("offset\ttime\tsource\terror\tvalue size\treplays")
        for item in parked:
            print(dlq.describe(item))
        return 0
    if not args.all and args.offset is None:
        raise ReelstreamError("dlq replay needs --offset N or --all")
    offsets = None if args.all else {args.offset}
    count = asyncio.run(dlq.replay_stage(bootstrap, registry, args.stage, offsets, security, auth))
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

    models = sub.add_parser("models", help="list the registered models with their limits and defaults")
    models.set_defaults(func=cmd_models)
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
