"""The job commands: submit, status, list, watch, download, cancel."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from reelstream_client.cli.app import cli, json_option, state
from reelstream_client.cli.output import JOB_UNSUCCESSFUL, OK, ProgressView, emit_json
from reelstream_client.models import Job


def _key_values(_ctx: click.Context, _param: click.Parameter, pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE")
        result[key] = value
    return result


def _follow(job_id: str, timeout: float | None) -> Job:
    """Follow a job to its end, drawing progress on stderr unless --json asked for quiet."""
    obj = state()
    view = None if obj.as_json else ProgressView(sys.stderr)
    try:
        return obj.client().wait(job_id, timeout=timeout, on_update=view)
    finally:
        if view is not None:
            view.done()


def _outcome(job: Job) -> int:
    if job.status == "succeeded":
        return OK
    error = job.error.message if job.error and job.error.message else ""
    click.echo(f"job {job.id} {job.status}" + (f": {error}" if error else ""), err=True)
    return JOB_UNSUCCESSFUL


def _save(job: Job, output: str | None, poster: bool = False) -> Path:
    target = Path(output or f"{job.id}.{'jpg' if poster else 'mp4'}")
    obj = state()
    size = obj.client().download(job.id, target, variant="poster" if poster else "video")
    if not obj.as_json:
        click.echo(f"saved {target} ({size} bytes)", err=True)
    return target


@cli.command()
@click.argument("prompt")
@click.option("--model", help="a model id; default: the server's")
@click.option("--negative-prompt")
@click.option("--width", type=int)
@click.option("--height", type=int)
@click.option("--duration-seconds", type=float)
@click.option("--num-frames", type=int)
@click.option("--fps", type=int)
@click.option("--steps", "num_inference_steps", type=int, help="denoising steps")
@click.option("--guidance-scale", type=float)
@click.option("--seed", type=int)
@click.option("--quality", type=click.Choice(["preview", "standard"]))
@click.option(
    "--tier", type=click.Choice(["full", "fast"]), help="fast: First-Block Cache, quicker (default full)"
)
@click.option("--webhook-url")
@click.option("--priority", type=click.Choice(["high", "normal", "low"]))
@click.option("--deadline", help="ISO 8601 instant; not started by then: the job ends expired")
@click.option("--metadata", "-m", multiple=True, callback=_key_values, help="KEY=VALUE (repeatable)")
@click.option("--idempotency-key", help="default: a new one per invocation")
@click.option("--job-id", help="create the job under this id (PUT, idempotent by the id)")
@click.option("--wait", is_flag=True, help="follow progress, then download the MP4")
@click.option("--open", "open_after", is_flag=True, help="with --wait: open the video when saved")
@click.option("--output", "-o", help="with --wait: where to save the MP4 (default <job id>.mp4)")
@click.option("--timeout", "wait_timeout", type=float, help="with --wait: give up after this many seconds")
@json_option
def submit(
    prompt: str, wait: bool, open_after: bool, output: str | None, wait_timeout: float | None, **params: Any
) -> int:
    """Submit a prompt; with --wait, follow it and download the video."""
    obj = state()
    job = obj.client().submit(prompt, **params)
    if not obj.as_json:
        seed = job.parameters.seed if job.parameters else None
        click.echo(f"job {job.id} {job.status} (seed {seed})", err=True)
    if not wait:
        emit_json(job) if obj.as_json else click.echo(job.id)
        return OK
    job = _follow(job.id, wait_timeout)
    saved = _save(job, output) if job.status == "succeeded" else None
    if obj.as_json:
        emit_json(_with_path(job, saved))
    else:
        click.echo(str(saved) if saved else job.id)
    if saved and open_after:
        click.launch(str(saved))
    return _outcome(job)


def _tier(job: Job) -> str:
    """The tier a job renders at (`full` for a job from before tiers, or one not yet resolved)."""
    return (job.parameters.tier if job.parameters else None) or "full"


def _with_path(job: Job, saved: Path | None) -> dict[str, Any]:
    return {**dataclasses.asdict(job), "saved_to": str(saved) if saved else None}


@cli.command()
@click.argument("job_id")
@json_option
def status(job_id: str) -> int:
    """Show a job."""
    obj = state()
    job = obj.client().get(job_id)
    if obj.as_json:
        emit_json(job)
    else:
        progress = f"{job.progress * 100:.0f}%"
        click.echo(f"{job.id}  {job.status}  {progress}  {_tier(job)}  {job.created_at}  {job.prompt[:60]}")
        if job.error and job.error.message:
            click.echo(f"  error: {job.error.code}: {job.error.message}")
    return OK


@cli.command(name="list")
@click.option("--status", "statuses", multiple=True, help="only jobs in this status (repeatable)")
@click.option("--model", default=None, help="only jobs of this model")
@click.option("--since", default=None, help="only jobs created at or after this RFC 3339 time")
@click.option("--until", default=None, help="only jobs created before this RFC 3339 time")
@click.option("--limit", type=int, default=20, show_default=True, help="at most this many jobs (0: all)")
@json_option
def list_jobs(
    statuses: tuple[str, ...], model: str | None, since: str | None, until: str | None, limit: int
) -> int:
    """The caller's jobs, newest first (pages through them), filtered by the server."""
    obj = state()
    found = obj.client().list(
        status=statuses or None, model=model, created_after=since, created_before=until, limit=limit or None
    )
    jobs = list(found)
    if obj.as_json:
        emit_json(jobs)
        return OK
    for job in jobs:
        line = (job.id, job.status, f"{job.progress * 100:.0f}%", _tier(job), job.created_at, job.prompt[:50])
        click.echo("\t".join(str(part) for part in line))
    return OK


@cli.command()
@click.argument("job_id")
@click.option("--timeout", "wait_timeout", type=float, help="give up after this many seconds")
@json_option
def watch(job_id: str, wait_timeout: float | None) -> int:
    """Follow a job live (queue position and ETA, then percent) until it ends."""
    obj = state()
    if obj.as_json:  # one JSON object per snapshot, a line each
        job = obj.client().wait(
            job_id, timeout=wait_timeout, on_update=lambda j: click.echo(json.dumps(dataclasses.asdict(j)))
        )
    else:
        job = _follow(job_id, wait_timeout)
        click.echo(f"{job.id} {job.status}")
    return _outcome(job)


@cli.command()
@click.argument("job_id")
@click.option("--output", "-o", help="where to save it (default <job id>.mp4)")
@click.option("--poster", is_flag=True, help="the poster (first frame, JPEG) instead of the video")
@click.option("--open", "open_after", is_flag=True, help="open it when saved")
@json_option
def download(job_id: str, output: str | None, poster: bool, open_after: bool) -> int:
    """Download a finished job's video."""
    obj = state()
    job = obj.client().get(job_id)
    saved = _save(job, output, poster)
    if obj.as_json:
        emit_json({"job_id": job.id, "saved_to": str(saved), "bytes": saved.stat().st_size})
    else:
        click.echo(str(saved))
    if open_after:
        click.launch(str(saved))
    return OK


@cli.command()
@click.argument("job_id")
@click.option("--reason", help="recorded with the cancellation")
@json_option
def cancel(job_id: str, reason: str | None) -> int:
    """Cancel a job (queued or running)."""
    obj = state()
    job = obj.client().cancel(job_id, reason)
    emit_json(job) if obj.as_json else click.echo(f"job {job.id}: {job.status} (cancel requested)")
    return OK


@cli.command()
@click.argument("job_id")
@click.option("--missing-ok", is_flag=True, help="a job that is already gone is not an error")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@json_option
def delete(job_id: str, missing_ok: bool, yes: bool) -> int:
    """Delete a job and its video (a running job is canceled first). This cannot be undone."""
    obj = state()
    if not yes:
        click.confirm(f"Delete job {job_id} and its video?", abort=True, err=True)
    obj.client().delete(job_id, missing_ok=missing_ok)
    if obj.as_json:
        emit_json({"id": job_id, "deleted": True})
    else:
        click.echo(f"job {job_id}: deleted")
    return OK
