"""What a well-formed record must satisfy before a stage acts on it: pure checks, no Kafka, no Faust.

A record that decodes but breaks one of these (a command about no job, a job event whose snapshot is
another job's, a webhook to something that is not an http(s) URL, a retry of nothing) can never be
processed, however often it is retried: the check raises `InvalidRecordError` (not retriable), and the
stage's dead-lettering wrapper parks the record as it was read and moves on.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from reelstream.errors import InvalidRecordError
from reelstream.http_settings import WebhookTargetPolicy
from schemas.events import (
    Command,
    InboxEvent,
    JobEvent,
    RetryWebhook,
    SubmitJob,
    WebhookPingRequested,
)


def check_command(command: Command) -> None:
    """A command names its job and its tenant (a rejection or an admission of job "" reaches no one)."""
    if not command.job_id or not command.tenant_id:
        raise InvalidRecordError(f"{type(command).__name__} {command.event_id} has an empty job or tenant id")


def check_submission_target(command: SubmitJob, targets: WebhookTargetPolicy) -> None:
    """A SubmitJob produced straight to Kafka keeps the webhook URL rules an HTTP submission keeps (https
    unless allowed, a length cap, no credentials, no literal special-purpose address): the same rule
    (`WebhookTargetPolicy.problem`). The reason is named, the URL is not (it may carry a token)."""
    url = command.webhook_url
    problem = None if url is None else targets.problem(url)
    if problem is not None:
        raise InvalidRecordError(f"SubmitJob {command.event_id}: webhook_url {problem}")


def _check_url(url: str, what: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidRecordError(f"{what} has a webhook URL that is not an http(s) URL")


def check_job_event(event: JobEvent) -> None:
    """A job event carries its own job's snapshot, and a webhook URL (if any) that can be posted to."""
    if not event.job_id or (event.status.job_id, event.status.tenant_id) != (event.job_id, event.tenant_id):
        raise InvalidRecordError(f"job event {event.event_id} carries the snapshot of another job")
    if event.status.webhook_url and event.status.job_key_id is None:  # a sealed one is checked in clear
        _check_url(event.status.webhook_url, f"job event {event.event_id}")


def check_ping(ping: WebhookPingRequested) -> None:
    if not ping.tenant_id or not ping.endpoint_id:
        raise InvalidRecordError(f"ping {ping.event_id} has an empty tenant or endpoint id")
    _check_url(ping.url, f"ping {ping.event_id}")


def check_webhook_request(request: RetryWebhook) -> None:
    """A retry is of exactly one thing: a job event, a ping or an endpoint.disabled notice, well-formed."""
    things = (request.job_event, request.ping, request.endpoint_disabled)
    if sum(thing is not None for thing in things) != 1:
        raise InvalidRecordError(f"webhook request {request.event_id} is not of exactly one event or ping")
    if request.endpoint_disabled is not None and request.endpoint_id is None:
        raise InvalidRecordError(f"webhook request {request.event_id}: a notice without an endpoint")
    if request.job_event is not None:
        check_job_event(request.job_event)
    if request.ping is not None:
        check_ping(request.ping)


def check_inbox_event(event: InboxEvent, pool_id: str) -> None:
    """An inbox record belongs to the pool whose partition it is on: a pool's scheduler must not queue, or
    count the slots of, another pool's jobs and workers."""
    named = getattr(event, "pool_id", pool_id)
    if named != pool_id:
        raise InvalidRecordError(
            f"{type(event).__name__} {event.event_id} names pool {named!r}, not {pool_id!r}"
        )
    if getattr(event, "job_id", None) == "":  # an idle slot's heartbeat names no job (None)
        raise InvalidRecordError(f"{type(event).__name__} {event.event_id} has an empty job id")
