"""A SubmitJob produced straight to Kafka keeps the webhook URL rules of an HTTP submission: admission parks
one that breaks them (with the reason, not the URL) and ingest refuses the same URLs, by the same rule."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ingest.submission import parse_submission
from reelstream.errors import InvalidRecordError
from reelstream.http_settings import WebhookTargetPolicy
from reelstream.params import InvalidRequest
from reelstream.webhooks.targets import MAX_URL_CHARS, parse_networks
from schemas import events as ev
from tests.unit.streams.test_admission_service import DictStore, service_factory, submit

LONG = "https://example.com/" + "a" * (MAX_URL_CHARS - len("https://example.com/") + 1)
REFUSED = {
    "http without the dev setting": ("http://example.com/hook", "https"),
    "longer than the cap": (LONG, f"at most {MAX_URL_CHARS} characters"),
    "credentials": ("https://user:secret-pw@example.com/hook", "credentials"),
    "cloud metadata": ("https://169.254.169.254/latest", "special-purpose"),
    "6to4 wrapping loopback": ("https://[2002:7f00:1::1]/hook", "special-purpose"),
    "private": ("https://10.1.2.3/hook", "special-purpose"),
    "not a URL": ("hook", "https"),
}
ACCEPTED = ("https://example.com/hook", "https://[2001:4860:4860::8888]:8443/x?t=1", None)
DEV = WebhookTargetPolicy(allow_http=True, allow_networks=parse_networks("127.0.0.0/8"))


def _with_url(url: str | None) -> ev.SubmitJob:
    return replace(submit(job_id="j-url"), webhook_url=url)


@pytest.mark.parametrize(("url", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_admission_parks_a_submission_whose_webhook_url_breaks_the_rules(url: str, reason: str) -> None:
    store = DictStore()
    with pytest.raises(InvalidRecordError) as refused:
        service_factory().handle(_with_url(url), store)
    message = str(refused.value)
    assert "webhook_url" in message
    assert reason in message
    assert "secret-pw" not in message  # the reason, never the URL
    assert "169.254" not in message
    assert store.pools == {}  # nothing remembered,
    assert store.quotas == {}  # nothing charged


@pytest.mark.parametrize("url", ACCEPTED)
def test_admission_admits_a_submission_whose_webhook_url_keeps_the_rules(url: str | None) -> None:
    store = DictStore()
    service_factory().handle(_with_url(url), store)
    assert store.pools == {"j-url": b"gpu-b"}


def test_the_dev_policy_lets_http_and_the_allowed_loopback_through_as_ingest_does() -> None:
    store = DictStore()
    service_factory(targets=DEV).handle(_with_url("http://127.0.0.1:9/hook"), store)
    assert store.pools == {"j-url": b"gpu-b"}
    with pytest.raises(InvalidRecordError):  # still refused: not in the allowed networks
        service_factory(targets=DEV).handle(_with_url("http://10.0.0.1/hook"), DictStore())


def _ingest_refuses(url: str, targets: WebhookTargetPolicy) -> bool:
    body = json.dumps({"prompt": "a fox", "model": "tiny-mochi", "webhook_url": url}).encode()
    try:
        parse_submission(body, default_model="tiny-mochi", targets=targets)
    except InvalidRequest as exc:
        return any(error.field == "webhook_url" for error in exc.errors)
    return False


def _admission_refuses(url: str, targets: WebhookTargetPolicy) -> bool:
    try:
        service_factory(targets=targets).handle(_with_url(url), DictStore())
    except InvalidRecordError:
        return True
    return False


@pytest.mark.parametrize("targets", [WebhookTargetPolicy(), DEV], ids=["production", "dev"])
@pytest.mark.parametrize(
    "url",
    [u for u, _ in REFUSED.values()]
    + [u for u in ACCEPTED if u]
    + ["http://127.0.0.1:9/hook", "https://[::ffff:127.0.0.1]/x", "https://example.com:99999/"],
)
def test_ingest_and_admission_refuse_exactly_the_same_urls(url: str, targets: WebhookTargetPolicy) -> None:
    assert _ingest_refuses(url, targets) == _admission_refuses(url, targets)
