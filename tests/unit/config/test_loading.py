"""Parsing the registry: strict types, one error naming the variable and the form, sources, the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reelstream.config import load_config
from reelstream.config.show import render
from reelstream.errors import ConfigurationError
from reelstream.settings import IngestSettings, NotifierSettings, PipelineSettings, WorkerSettings

CREDENTIALS = {"REELSTREAM_S3_ACCESS_KEY": "ak", "REELSTREAM_S3_SECRET_KEY": "s3-secret-value"}


def test_defaults_parse_without_any_variable() -> None:
    config = load_config({})
    assert config.values.replication_factor == 1
    assert set(config.sources.values()) <= {"default"}
    assert config.unknown == ()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("REELSTREAM_REPLICATION_FACTOR", "three", "an integer >= 1"),
        ("REELSTREAM_REPLICATION_FACTOR", "0", "an integer >= 1"),
        ("REELSTREAM_LEASE_SECONDS", "30s", "a number > 0"),
        ("REELSTREAM_LAG_INTERVAL_SECONDS", "nan", "a number > 0"),
        ("REELSTREAM_HTTP_PORT", "70000", "an integer >= 0 and <= 65535"),
        ("REELSTREAM_MAX_ATTEMPTS", "2.5", "an integer >= 1"),
        ("REELSTREAM_VAE_TILING", "maybe", "on or off"),
        ("REELSTREAM_COMPILE", "maybe", "one of auto, on, off"),
        ("REELSTREAM_ATTENTION", "fastest", "one of auto, cudnn, flash, efficient, math"),
        ("REELSTREAM_LOG_LEVEL", "loud", "DEBUG, INFO, WARNING, ERROR"),
        ("REELSTREAM_POOL_MAX_WORK_UNITS", "-5", "an integer >= 1"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_the_expected_form(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config({name: value})
    message = caught.value.message
    assert f"{name}={value!r}" in message
    assert f"expected {expected}" in message


def test_every_refused_variable_is_named_in_one_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config({"REELSTREAM_TICK_SECONDS": "-1", "REELSTREAM_METRICS_PORT": "x"})
    assert "REELSTREAM_TICK_SECONDS" in caught.value.message
    assert "REELSTREAM_METRICS_PORT" in caught.value.message


@pytest.mark.parametrize(
    ("name", "value", "form"),
    [
        ("REELSTREAM_TENANT_LIMITS", "tenant-a=speed:3", "tenant-a=rate:0.5"),
        ("REELSTREAM_TENANT_WEIGHTS", "tenant-a=heavy", "tenant-a=2,tenant-b=1"),
        ("REELSTREAM_TENANT_CLASSES", "tenant-a", "tenant-a=premium"),
        ("REELSTREAM_WEBHOOK_RETRY_SCHEDULE", "0,soon", "comma-separated seconds"),
    ],
)
def test_compact_forms_keep_their_parsers(name: str, value: str, form: str) -> None:
    with pytest.raises(ConfigurationError, match=name) as caught:
        load_config({name: value})
    assert form in caught.value.message


def test_a_refused_secret_is_never_echoed() -> None:
    for env in (
        {"REELSTREAM_S3_SECRET_KEY": "hunter2-plain", "REELSTREAM_TICK_SECONDS": "x"},
        {"REELSTREAM_API_KEYS": "hunter2-plain"},
    ):
        with pytest.raises(ConfigurationError) as caught:
            load_config(env)
        assert "hunter2" not in caught.value.message


def test_an_empty_variable_is_an_unset_one() -> None:
    config = load_config({"REELSTREAM_METRICS_PORT": "", "REELSTREAM_VAE_TILING": " "})
    assert (config.values.metrics_port, config.values.vae_tiling) == (0, True)
    assert config.source_of("metrics_port") == "default"


def test_the_file_is_read_under_the_environment(tmp_path: Path) -> None:
    file = tmp_path / "reelstream.env"
    file.write_text("# production\nREELSTREAM_REPLICATION_FACTOR=3\nREELSTREAM_POOLS='gpu-a,gpu-b'\n")
    env = {"REELSTREAM_CONFIG_FILE": str(file), "REELSTREAM_POOLS": "default", **CREDENTIALS}
    config = load_config(env)
    assert config.source_of("replication_factor") == "file"
    assert config.source_of("pools") == "env"
    assert config.source_of("tick_seconds") == "default"
    pipeline = PipelineSettings.from_config(config)
    assert (pipeline.replication_factor, pipeline.pools) == (3, ("default",))


def test_a_bad_value_in_the_file_says_so(tmp_path: Path) -> None:
    file = tmp_path / "reelstream.env"
    file.write_text("REELSTREAM_REPLICATION_FACTOR=three\n")
    with pytest.raises(ConfigurationError, match=r"REELSTREAM_REPLICATION_FACTOR='three' \(from the file\)"):
        load_config({"REELSTREAM_CONFIG_FILE": str(file)})
    with pytest.raises(ConfigurationError, match="REELSTREAM_CONFIG_FILE"):
        load_config({"REELSTREAM_CONFIG_FILE": str(tmp_path / "missing.env")})


def test_the_three_pool_fields_reach_pipeline_settings() -> None:
    """REPLICATION_FACTOR, POOL_MODELS and POOL_MAX_WORK_UNITS were declared but never read before."""
    env = {
        **CREDENTIALS,
        "REELSTREAM_REPLICATION_FACTOR": "3",
        "REELSTREAM_POOL_MODELS": "mochi-1, tiny-mochi",
        "REELSTREAM_POOL_MAX_WORK_UNITS": "66343680",
    }
    pipeline = PipelineSettings.from_env(env)
    assert pipeline.replication_factor == 3
    assert pipeline.pool_models == frozenset({"mochi-1", "tiny-mochi"})
    assert pipeline.pool_max_work_units == 66343680
    worker = WorkerSettings.from_env(env, slot=0)
    assert worker.max_work_units == 66343680  # what the slot advertises in its heartbeats
    assert PipelineSettings.from_env(CREDENTIALS).pool_models is None  # empty: every model


def test_the_worker_slot_comes_from_its_argument_or_the_environment() -> None:
    assert WorkerSettings.from_env({**CREDENTIALS, "REELSTREAM_SLOT": "5"}).slot == 5
    assert WorkerSettings.from_env({**CREDENTIALS, "REELSTREAM_SLOT": "5"}, slot=2).slot == 2
    with pytest.raises(ConfigurationError, match="REELSTREAM_SLOT"):
        WorkerSettings.from_env(CREDENTIALS)


def test_required_values_are_named_when_missing() -> None:
    with pytest.raises(ConfigurationError, match="REELSTREAM_S3_ACCESS_KEY is not set"):
        PipelineSettings.from_env({})
    with pytest.raises(ConfigurationError, match="REELSTREAM_API_KEYS is not set"):
        IngestSettings.from_env(CREDENTIALS)
    with pytest.raises(ConfigurationError, match="REELSTREAM_KEY_DIR is not set"):
        NotifierSettings.from_env(CREDENTIALS)
    with pytest.raises(ConfigurationError, match="REELSTREAM_KEY_DIR is not set"):
        IngestSettings.from_env({**CREDENTIALS, "REELSTREAM_API_KEYS": "k=t"})


def test_config_output_lists_every_setting_with_its_source_and_masks_secrets() -> None:
    env = {
        **CREDENTIALS,
        "REELSTREAM_API_KEY": "rs_live_topsecret",
        "REELSTREAM_TICK_SECONDS": "2",
        "REELSTREAM_TYPO": "1",
    }
    config = load_config(env)
    text = render(config)
    assert "topsecret" not in text
    assert "s3-secret-value" not in text
    assert "warning: REELSTREAM_TYPO is set but no setting declares it" in text
    rows = {row["name"]: row for row in json.loads(render(config, as_json=True))["settings"]}
    assert rows["REELSTREAM_API_KEY"] == {"name": "REELSTREAM_API_KEY", "value": "***", "source": "env"}
    assert rows["REELSTREAM_TICK_SECONDS"] == {
        "name": "REELSTREAM_TICK_SECONDS",
        "value": "2.0",
        "source": "env",
    }
    assert rows["REELSTREAM_LEASE_SECONDS"]["source"] == "default"
    assert rows["REELSTREAM_KEY_DIR"]["value"] == ""


def test_given_values_are_only_those_set_in_the_environment_or_the_file() -> None:
    """The dev stack uses services that already run elsewhere only when their variables are set."""
    config = load_config({"REELSTREAM_KAFKA_BOOTSTRAP": "kafka:9092", **CREDENTIALS})
    assert config.given("kafka_bootstrap") == "kafka:9092"
    assert config.given("s3_secret_key") == "s3-secret-value"  # the dev stack passes it on, revealed
    assert config.given("schema_registry_url") is None  # its default is not "given"


def test_the_notifiers_deleted_key_grace_is_a_setting() -> None:
    env = {**CREDENTIALS, "REELSTREAM_KEY_DIR": "/keys"}
    assert NotifierSettings.from_env(env).deleted_key_grace_seconds == 300.0
    grace = {**env, "REELSTREAM_WEBHOOK_DELETED_KEY_GRACE_SECONDS": "45"}
    assert NotifierSettings.from_env(grace).deleted_key_grace_seconds == 45.0
    with pytest.raises(ConfigurationError, match="REELSTREAM_WEBHOOK_DELETED_KEY_GRACE_SECONDS"):
        NotifierSettings.from_env({**env, "REELSTREAM_WEBHOOK_DELETED_KEY_GRACE_SECONDS": "-1"})
