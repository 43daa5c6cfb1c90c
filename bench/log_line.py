"""Benchmark: the cost of one structured log line, the one every accepted job leaves in each service.

    .venv/bin/python bench/log_line.py [--lines 20000]

Installs a service's logging (reelstream.logs.logging_config: context and redacting filters, the JSON
formatter, a stream handler), writing to /dev/null so the terminal is not timed, and prints microseconds per
`logger.info("job %s accepted …", extra=…)`:
  - with LogRecord's defaults (the caller's file and line, process id, thread and process names), and
  - with `process_wide_logging()` as every service's process runs it,
both measured in this run, alternating, best of `--repeats`, and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelstream.logs import LogSettings, logging_config, process_wide_logging

JOB_ID = "job_01JD0Z8Y7X6W5V4T3S2R1Q0P9N"
DEFAULTS = {
    "_srcfile": logging._srcfile,
    "logProcesses": logging.logProcesses,
    "logThreads": logging.logThreads,
    "logMultiprocessing": logging.logMultiprocessing,
}


def full_records() -> None:
    for name, value in DEFAULTS.items():
        setattr(logging, name, value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.config.dictConfig(logging_config("reelstream-bench", LogSettings()))
    sink = open(os.devnull, "w")  # noqa: SIM115  # open for the whole run
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
    logger = logging.getLogger("ingest.acceptance")

    def line() -> None:
        logger.info(
            "job %s accepted for tenant %s",
            JOB_ID,
            "tenant-a",
            extra={"job_id": JOB_ID, "tenant_id": "tenant-a"},
        )

    best = {"LogRecord defaults": float("inf"), "process_wide_logging()": float("inf")}
    for _ in range(args.repeats):
        for label, setup in (
            ("LogRecord defaults", full_records),
            ("process_wide_logging()", process_wide_logging),
        ):
            setup()
            seconds = timeit.timeit(line, number=args.lines)
            best[label] = min(best[label], seconds / args.lines * 1e6)
    print(f"one log line through a service's logging, {args.lines} lines, best of {args.repeats}")
    for label, micros in best.items():
        print(f"  {label:<26} {micros:6.2f} µs")
    print(f"  ratio {best['process_wide_logging()'] / best['LogRecord defaults']:.2f}")


if __name__ == "__main__":
    main()
