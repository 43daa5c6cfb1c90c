"""`reelstream`: the umbrella command. The environment is read here, once, and passed down."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from reelstream.errors import ReelstreamError
from reelstream.stack.manager import ExternalServices, LocalStack, StackLayout, read_state, stop_recorded

logger = logging.getLogger("reelstream")


def _layout(args: argparse.Namespace, env: Mapping[str, str]) -> StackLayout:
    layout = StackLayout.dev(env)
    if args.data_dir:
        layout = StackLayout(data_dir=Path(args.data_dir), cache_dir=layout.cache_dir)
    return layout


def cmd_stack(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    layout = _layout(args, env)
    stack = LocalStack(layout, env, ExternalServices.from_env(env))
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

    bootstrap = env.get("REELSTREAM_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    created = asyncio.run(ensure_topics(bootstrap, ALL_TOPICS))
    print("created: " + (", ".join(created) if created else "none (all existed)"))
    return 0


def cmd_dev(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from reelstream.dev import run_dev

    return run_dev(env)


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

    topics = sub.add_parser("topics", help="create the declared topics (idempotent)")
    topics.add_argument("action", choices=["ensure"])
    topics.set_defaults(func=cmd_topics)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(args, os.environ))
    except ReelstreamError as exc:
        print(f"reelstream: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
