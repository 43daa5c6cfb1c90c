"""`reelstream pool`: the GPU pools as their schedulers last published them, each slot busy (with its job and
tenant) or idle, and the jobs queued per tenant (an operator key)."""

from __future__ import annotations

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import OK, emit_json
from reelstream_client.models import Pool


def _table(pool: Pool) -> None:
    click.echo(
        f"pool {pool.pool} at {pool.taken_at}: {pool.busy} busy, {pool.idle} idle, {pool.queued} queued",
        err=True,
    )
    click.echo("slot\tstate\tgpu\tworker\tjob\ttenant\tmodel\tsince\tgang")
    for slot in pool.slots:
        job = slot.job
        busy = ("-",) * 5
        if job is not None:  # a gang's job shows on each of its slots, naming them all (the leader first)
            busy = (job.id, job.tenant, job.model, job.since, ",".join(map(str, job.gang)) or "-")
        click.echo("\t".join((str(slot.slot), slot.state, slot.gpu_name or "-", slot.worker_id, *busy)))
    click.echo("tenant\tqueued")
    for queue in pool.queues:
        click.echo(f"{queue.tenant}\t{queue.queued}")


@cli.command(name="pool")
@json_option
def pool() -> int:
    """The GPU pools: slots busy and idle, jobs queued per tenant (needs an operator key)."""
    obj = state()
    shown = obj.client().pool()
    if obj.as_json:
        emit_json(shown)
        return OK
    if not shown.data:
        click.echo("no pool has published its state yet", err=True)
    for each in shown.data:
        _table(each)
    return OK
