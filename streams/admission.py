"""`reelstream-admission`: the Faust adapter around admission_policy, partitioned by tenant.

It remembers the pool of every job id it admitted in a changelog-backed table sharded like the commands
topic, which is what makes duplicate submissions droppable and cancellations routable.
"""

from __future__ import annotations

import logging
import os

import faust

from reelstream.metrics import Metrics
from reelstream.settings import PipelineSettings
from schemas.topics import COMMANDS, SCHEDULER_INBOX
from streams.admission_policy import Admit, Drop, ForwardCancel, PoolCapacity, Reject, decide
from streams.app import StreamContext, create_app, faust_topic, run_worker
from streams.publishing import publish_change

logger = logging.getLogger(__name__)


def build_admission(
    settings: PipelineSettings, pool_id: str = "default", metrics: Metrics | None = None
) -> faust.App:
    app = create_app("admission", settings)
    capacity = PoolCapacity(models=settings.pool_models, max_work_units=settings.pool_max_work_units)
    ctx = StreamContext(app, settings, "admission", metrics)
    ctx.metrics.expect_topics([COMMANDS.name])
    pools = app.Table("job-pools", key_type=bytes, value_type=bytes, partitions=COMMANDS.partitions)

    @app.agent(faust_topic(app, COMMANDS))
    async def admit(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            async with ctx.dead_lettering(event):
                command = await ctx.decoded(COMMANDS, event)
                if command is None:
                    continue
                publisher = await ctx.publisher()
                known = pools.get(command.job_id.encode())
                decision = decide(
                    command,
                    known.decode() if known is not None else None,
                    pool_id=pool_id,
                    capacity=capacity,
                    default_model=settings.default_model,
                )
                ctx.metrics.admission_decision(type(decision).__name__.lower(), command.tenant_id)
                match decision:
                    case Admit(admitted):
                        pools[command.job_id.encode()] = pool_id.encode()
                        await publisher.publish(
                            SCHEDULER_INBOX, pool_id, admitted, partition=settings.pool_partition(pool_id)
                        )
                    case ForwardCancel(request):
                        await publisher.publish(
                            SCHEDULER_INBOX,
                            request.pool_id,
                            request,
                            partition=settings.pool_partition(request.pool_id),
                        )
                    case Reject(rejection):
                        pools[command.job_id.encode()] = b""
                        await publish_change(publisher, rejection.status, rejection.type)
                    case Drop(reason):
                        logger.info("dropped command: %s", reason, extra={"job_id": command.job_id})

    return app


def main() -> None:
    settings = PipelineSettings.from_env(os.environ)
    metrics = Metrics(settings.metrics.tenant_classes)
    app = build_admission(settings, os.environ.get("REELSTREAM_POOL", settings.pools[0]), metrics)
    run_worker(app, settings, metrics)


if __name__ == "__main__":
    main()
