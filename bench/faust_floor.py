"""The floor of a stream stage: a Faust agent that forwards each record of the commands topic to the scheduler
inbox unchanged, with the settings every reelstream stage has (streams.app.create_app) and nothing else: no
decoding, no table, no check, no log line. `bench/stream_stages.py --floor` runs it in admission's place,
so admission's cost per event can be read against what Faust itself costs per event.

    python bench/faust_floor.py      (environment as the pipeline's services get it)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust

from reelstream.settings import PipelineSettings
from schemas.topics import COMMANDS, SCHEDULER_INBOX
from streams.app import create_app, faust_topic, run_worker


def build_floor(settings: PipelineSettings) -> faust.App:
    # admission's app id, so the bench waits on the same consumer group; admission's producer linger
    app = create_app("admission", settings, producer_linger=0.005)
    partition = settings.pool_partition(settings.pools[0])

    @app.agent(faust_topic(app, COMMANDS))
    async def forward(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await app.producer.send(SCHEDULER_INBOX.name, event.key, event.value, partition, None, None)

    return app


if __name__ == "__main__":
    settings = PipelineSettings.from_env(os.environ)
    run_worker(build_floor(settings), settings)
