"""Regression: REELSTREAM_REPLICATION_FACTOR was set by the chart and read by nothing, so the topics the
services create themselves (Faust changelogs, webhook retry tiers) got 1 replica on a cluster that needs
min.insync.replicas 2. The value must reach Faust's app config and every topic-creation request."""

from __future__ import annotations

from reelstream.kafka.admin import CompactedTopic, topic_requests
from reelstream.settings import NotifierSettings, PipelineSettings
from schemas.topics import retry_tiers
from streams.app import create_app

ENV = {
    "REELSTREAM_S3_ACCESS_KEY": "ak",
    "REELSTREAM_S3_SECRET_KEY": "sk",
    "REELSTREAM_KEY_DIR": "/run/secrets/reelstream-keys",
    "REELSTREAM_REPLICATION_FACTOR": "3",
}


def test_the_replication_factor_reaches_faust_s_app_config() -> None:
    settings = PipelineSettings.from_env(ENV)
    app = create_app("probe", settings)
    assert app.conf.topic_replication_factor == 3


def test_the_replication_factor_reaches_changelog_and_retry_tier_requests() -> None:
    notifier = NotifierSettings.from_env(ENV)
    rf = notifier.pipeline.replication_factor
    changelogs = [CompactedTopic("reelstream-probe-table-changelog", 4)]
    tiers = retry_tiers(notifier.retry_schedule)
    requests = topic_requests([*changelogs, *tiers], rf)
    assert requests
    assert {r.replication_factor for r in requests} == {3}
    assert {r.name for r in requests} == {"reelstream-probe-table-changelog", *(t.name for t in tiers)}
