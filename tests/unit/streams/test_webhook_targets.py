"""Where webhooks may go (SSRF guard): pure rules; the guarded client."""

from __future__ import annotations

import pytest

from reelstream.endpoints import Endpoints
from reelstream.errors import ConfigurationError
from reelstream.settings import NotifierSettings, PipelineSettings
from reelstream.webhooks.messages import (
    BLOCKED_TARGET,
    generate_secret,
    is_blocked_address,
    parse_networks,
)
from schemas.events import DeliveryOutcome, JobEvent, JobEventType, JobState
from streams.webhook_http import deliver, new_http_client
from tests.samples import job_status

BLOCKED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fd00::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:8.8.8.8",  # IPv4-mapped: refused whatever it wraps
    "not an address",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_blocked_address(address)


def test_the_allow_list_opens_only_its_networks() -> None:
    allow = parse_networks("127.0.0.0/8, ::1/128")
    assert not is_blocked_address("127.0.0.1", allow)
    assert not is_blocked_address("::1", allow)
    assert is_blocked_address("10.0.0.1", allow)
    assert is_blocked_address("169.254.169.254", allow)


def test_a_bad_allow_list_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_networks("127.0.0.0/8,nonsense")


def _settings(allow: str = "") -> NotifierSettings:
    endpoints = Endpoints("127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", "k", "s", "b")
    return NotifierSettings(
        pipeline=PipelineSettings(endpoints=endpoints),
        key_dir="/nonexistent",  # not read: these tests sign with a secret of their own
        webhook_allow_networks=allow,
    )


def _event(url: str) -> JobEvent:
    status = job_status(job_id="job-ssrf", tenant_id="tenant-a", state=JobState.SUCCEEDED, webhook_url=url)
    return JobEvent(job_id="job-ssrf", tenant_id="tenant-a", type=JobEventType.SUCCEEDED, status=status)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook?token=t",
        "http://localhost:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/hook",
        "http://10.0.0.1/hook",
    ],
)
async def test_a_blocked_target_is_recorded_and_never_contacted(url: str) -> None:
    settings = _settings()
    async with new_http_client(settings) as client:
        record = await deliver(client, generate_secret(), _event(url), 0)
    assert record.outcome is DeliveryOutcome.FAILED
    assert record.error == BLOCKED_TARGET
    assert record.status_code is None
