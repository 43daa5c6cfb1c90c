"""The local broker's configuration: secured (SASL_SSL + an SSL controller, the authorizer, no ACL no access)
or open; a storage folder formatted open is never started secured (no admin user: it would hang)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.kafka import KafkaService
from devstack.process import ServiceStartError


def _service(tmp_path: Path, secured: bool) -> KafkaService:
    return KafkaService(tmp_path / "kafka", tmp_path / "logs", 19092, 19093, secured)


def test_a_secured_broker_takes_only_sasl_ssl_and_authorizes(tmp_path: Path) -> None:
    service = _service(tmp_path, secured=True)
    props = dict(line.split("=", 1) for line in service._properties().splitlines() if "=" in line)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert service.tls.ca_file.exists()
    assert service.tls.keystore.stat().st_mode & 0o077 == 0  # the broker's key is the owner's only
    security = service.admin_security()
    assert security.secured
    assert security.ca_file == str(service.tls.ca_file)
    assert service._format_users()[0] == "--add-scram"


def test_an_open_broker_has_no_credentials(tmp_path: Path) -> None:
    service = _service(tmp_path, secured=False)
    assert "PLAINTEXT://127.0.0.1:19092" in service._properties()
    assert not service.admin_security().secured
    assert service._format_users() == []


def test_storage_formatted_open_is_not_started_secured(tmp_path: Path) -> None:
    service = _service(tmp_path, secured=True)
    (service.data_dir / "logs").mkdir(parents=True)
    (service.data_dir / "logs" / "meta.properties").write_text("version=1\n")
    with pytest.raises(ServiceStartError, match="REELSTREAM_DEV_KAFKA_AUTH=off"):
        service.process(tmp_path / "libs", {})
