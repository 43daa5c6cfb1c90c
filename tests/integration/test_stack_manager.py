"""The stack manager: reuse of a running stack, clear failures, and prerequisites."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.manager import (
    Endpoints,
    ExternalServices,
    LocalStack,
    StackError,
    StackLayout,
    read_state,
)
from devstack.prereqs import MissingPrerequisite, find_java


def minio_only(stack: Endpoints) -> ExternalServices:
    """Kafka and the registry come from the session stack, so these tests start only a MinIO (fast)."""
    return ExternalServices(
        kafka_bootstrap=stack.kafka_bootstrap,
        schema_registry_url=stack.schema_registry_url,
        kafka_security=stack.kafka_security,
        registry_auth=stack.registry_auth,
    )


def test_starting_twice_reuses_the_running_stack_and_stops_only_what_it_started(
    tmp_path: Path, stack: Endpoints
) -> None:
    layout = StackLayout.ephemeral(tmp_path, os.environ)
    first = LocalStack(layout, os.environ, minio_only(stack))
    endpoints = first.up()
    try:
        second = LocalStack(layout, os.environ, minio_only(stack))
        assert second.up() == endpoints
        assert second.reused
        second.stop()
        assert first._minio().is_ready(), "the second handle stopped a service it did not start"
    finally:
        first.stop()
    assert not first._minio().is_ready()
    assert not (tmp_path / "stack.json").exists()


def test_a_taken_port_fails_clearly(tmp_path: Path, stack: Endpoints) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        layout = StackLayout(
            data_dir=tmp_path, cache_dir=StackLayout.dev(os.environ).cache_dir, minio_port=port
        )
        with pytest.raises(StackError, match=f"port {port}.*already in use"):
            LocalStack(layout, os.environ, minio_only(stack)).up()


def test_missing_java_names_the_prerequisite_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingPrerequisite, match=r"java is required for Apache Kafka.*install a JDK"):
        find_java(17, "Apache Kafka", {"PATH": str(tmp_path)}, jvm_dirs=[])


def test_the_cli_without_java_on_path_says_so_and_exits_nonzero(tmp_path: Path) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "REELSTREAM_JVM_DIRS": "",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "devstack.cli", "stack", "up", "--data-dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "java is required" in result.stderr
    assert "JAVA_HOME" in result.stderr
    assert not (tmp_path / "stack.json").exists()


def test_a_stopped_service_starts_again_on_its_ports_with_its_data(tmp_path: Path, stack: Endpoints) -> None:
    from minio import Minio

    local = LocalStack(StackLayout.ephemeral(tmp_path, os.environ), os.environ, minio_only(stack))
    endpoints = local.up()
    try:
        client = Minio(
            endpoints.s3_endpoint.split("://", 1)[1],
            access_key=endpoints.s3_access_key,
            secret_key=endpoints.s3_secret_key,
            secure=False,
        )
        client.put_object(endpoints.s3_bucket, "kept.txt", io.BytesIO(b"kept"), 4)
        first_pid = read_state(tmp_path)["pids"]["minio"]
        local.stop_service("minio", kill=True)
        assert not local._minio().is_ready()
        with pytest.raises(StackError, match="not running"):
            local.stop_service("minio")
        local.start_service("minio")
        assert local.endpoints() == endpoints
        assert client.get_object(endpoints.s3_bucket, "kept.txt").read() == b"kept"
        assert read_state(tmp_path)["pids"]["minio"] not in (first_pid, None)
        with pytest.raises(StackError, match="already running"):
            local.start_service("minio")
        with pytest.raises(StackError, match="external"):
            local.start_service("kafka")
        with pytest.raises(StackError, match="no stack service named 'redis'"):
            local.start_service("redis")
    finally:
        local.stop()
    assert not local._minio().is_ready()
