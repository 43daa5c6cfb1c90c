"""One slot's part in a gang attempt (streams/gang.py): join the attempt's `torch.distributed` group, render
with the gang, wait for the others, leave the group.

Rendezvous: the leader (rank 0) serves a TCP store at `GangSettings.address(leader_slot)`
(REELSTREAM_GANG_RENDEZVOUS: "tcp://127.0.0.1:{port}" in dev and tests, the leader pod's stable DNS name
in the chart, the port REELSTREAM_GANG_PORT_BASE + the leader's slot); the members connect to it. Keys are
prefixed with the attempt, so a late member of an earlier attempt cannot join a later one. Backend: gloo on
CPU, nccl on CUDA. REELSTREAM_GANG_TIMEOUT_SECONDS bounds the rendezvous and every collective: a member that
died makes the others fail the attempt (GangBroken, retriable) instead of hanging.

What each member reports: the leader runs the ordinary attempt (started, progress, outcome: gpu_consumers.job)
with a renderer that renders as rank 0 (`GangRenderer`); the other members report only heartbeats (which
renew their slot's lease) and their own failure (`run_member`). After the render every member waits at a
final barrier until the leader has reported the outcome: a member that finished its part keeps beating the
attempt until then, so the scheduler never takes its quiet slot for a lost one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from gpu_consumers.job import render_request
from gpu_consumers.render.base import (
    CancelCheck,
    ProgressCallback,
    RenderCanceled,
    RenderedVideo,
    Renderer,
    RenderRequest,
)
from gpu_consumers.render.gang import GangContext
from reelstream.errors import ReelstreamError
from reelstream.kafka.clients import riding_out_outages
from reelstream.settings import GangSettings
from schemas.events import DispatchRender, ErrorInfo, RenderFailed

logger = logging.getLogger(__name__)


class GangBroken(ReelstreamError):
    """The gang could not meet, or a member left it (died, timed out): the attempt is retried."""

    code = "gang_broken"
    retriable = True


class Gang:
    """The group of one gang attempt, as this slot sees it. `join` and `leave` run in a worker thread."""

    def __init__(self, command: DispatchRender, settings: GangSettings, device: str) -> None:
        if command.gang_leader_slot is None or command.gang_size < 2:
            raise ValueError("not a gang dispatch")
        self.command, self.settings = command, settings
        self.backend = "nccl" if device.startswith("cuda") else "gloo"
        self.context: GangContext | None = None
        self._lock = threading.Lock()

    def join(self) -> GangContext:
        import torch.distributed as dist
        from torch._C._distributed_c10d import PrefixStore, TCPStore

        cmd = self.command
        address = urlsplit(self.settings.address(cmd.gang_leader_slot or 0))
        timeout = timedelta(seconds=self.settings.timeout_seconds)
        try:
            store = TCPStore(
                address.hostname or "127.0.0.1",
                address.port or 0,
                cmd.gang_size,
                is_master=cmd.gang_rank == 0,
                timeout=timeout,
                wait_for_workers=False,
            )
            attempt_store = PrefixStore(f"{cmd.job_id}/{cmd.attempt}", store)
            with self._lock:
                if dist.is_initialized():  # left by an attempt whose render thread never returned
                    dist.destroy_process_group()
                dist.init_process_group(
                    self.backend,
                    store=attempt_store,
                    rank=cmd.gang_rank,
                    world_size=cmd.gang_size,
                    timeout=timeout,
                )
                self.context = GangContext(cmd.gang_rank, cmd.gang_size, dist.group.WORLD)
        except (RuntimeError, ValueError) as exc:  # torch's DistStoreError/DistNetworkError are RuntimeErrors
            raise GangBroken(f"the gang of {cmd.gang_size} did not meet: {type(exc).__name__}") from exc
        logger.info("joined the gang", extra={"rank": cmd.gang_rank, "gang_size": cmd.gang_size})
        return self.context

    def leave(self) -> None:
        """Wait (bounded) until every member is done, then destroy the group. Never raises: a member that
        is gone by now changes nothing (the outcome was reported, or the attempt already failed)."""
        import torch.distributed as dist

        with self._lock:
            if self.context is None or not dist.is_initialized():
                return
            try:
                dist.barrier()
            except RuntimeError as exc:
                logger.warning("a gang member left before the end: %s", type(exc).__name__)
            finally:
                dist.destroy_process_group()
                self.context = None


class GangRenderer:
    """The slot's renderer, rendering as one member of `gang`: it joins the group first (in the render's
    thread), and turns a broken group into GangBroken."""

    def __init__(self, inner: Renderer, gang: Gang) -> None:
        self.inner, self.gang = inner, gang
        self.name = inner.name

    @property
    def settings(self) -> dict[str, str]:
        return {**self.inner.settings, "gang": str(self.gang.command.gang_size)}

    def load(self) -> None:
        self.inner.load()

    def render(
        self,
        request: RenderRequest,
        on_progress: ProgressCallback,
        is_canceled: CancelCheck,
        *,
        gang: GangContext | None = None,
    ) -> RenderedVideo:
        context = self.gang.join()
        try:
            return self.inner.render(request, on_progress, is_canceled, gang=context)
        except RenderCanceled:
            raise
        except RuntimeError as exc:  # a collective failed: a member died or timed out
            raise GangBroken(f"the gang broke during the render: {type(exc).__name__}: {exc}") from exc


def _quiet(stage: str, step: int, total: int) -> None:
    return None  # a member's progress is the leader's to report


async def run_gang_attempt(
    command: DispatchRender,
    gang: Gang,
    renderer: Renderer,
    canceled: threading.Event,
    as_leader: Callable[[Renderer], Awaitable[None]],
    report: Callable[[RenderFailed], Awaitable[None]],
) -> None:
    """This slot's part in a gang attempt: the leader runs the ordinary attempt (`as_leader`, given the
    gang's renderer), another member `run_member`; then each waits for the rest and leaves the group."""
    member = GangRenderer(renderer, gang)
    try:
        if command.gang_rank == 0:
            await as_leader(member)
        else:
            await run_member(command, member, canceled, report)
    finally:
        await asyncio.to_thread(gang.leave)


async def run_member(
    command: DispatchRender,
    renderer: GangRenderer,
    canceled: threading.Event,
    report: Callable[[RenderFailed], Awaitable[None]],
) -> None:
    """A non-leader's attempt: render as its rank and report only a failure."""
    try:
        if canceled.is_set():
            raise RenderCanceled("canceled before it started")
        await asyncio.to_thread(renderer.render, render_request(command), _quiet, canceled.is_set)
    except ReelstreamError as exc:
        code = "canceled" if isinstance(exc, RenderCanceled) else exc.code
        logger.warning("gang member failed: %s", code, extra={"job_id": command.job_id})
        await _failed(command, ErrorInfo(code, exc.message, exc.retriable and code != "canceled"), report)
    except Exception as exc:  # a bug or an unexpected library error: fail the attempt, keep the worker
        logger.exception("gang member crashed", extra={"job_id": command.job_id})
        await _failed(command, ErrorInfo("internal", f"{type(exc).__name__}: {exc}", True), report)


async def _failed(
    command: DispatchRender, error: ErrorInfo, report: Callable[[RenderFailed], Awaitable[None]]
) -> None:
    failed = RenderFailed(job_id=command.job_id, slot=command.slot, attempt=command.attempt, error=error)
    await riding_out_outages(lambda: report(failed))
