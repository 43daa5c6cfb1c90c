"""The development OIDC provider's configuration: one console client registered at ingest's console, users
whose tokens name the tenant and roles in the claims ingest is told to read, for the audience ingest
checks; and the dev command's switch."""

from __future__ import annotations

from pathlib import Path

from devstack.dev import dev_provider
from devstack.manager import StackLayout
from devstack.oidc import AUDIENCE, CONSOLE_CLIENT_ID, OidcProviderService, OidcUser
from devstack.services import PipelineConfig
from reelstream.config import load_config
from reelstream.settings import OidcSettings


def test_the_provider_and_ingest_agree_on_issuer_audience_client_and_claims(tmp_path: Path) -> None:
    service = OidcProviderService(
        tmp_path,
        tmp_path,
        4321,
        ("http://127.0.0.1:8000/",),
        {"ada": OidcUser("tenant-a", ("viewer", "submitter"))},
        tenant_claim="org",
        roles_claim="groups",
    )
    config = service.config()
    oidc = OidcSettings.from_env(service.ingest_env())
    assert oidc is not None
    assert (oidc.issuer, oidc.audience, oidc.jwks_url) == (config["issuer"], AUDIENCE, service.jwks_url)
    assert (oidc.tenant_claim, oidc.roles_claim) == ("org", "groups")
    assert oidc.console_client_id == CONSOLE_CLIENT_ID
    assert "openid" in oidc.console_scope.split()
    assert config["clients"] == [
        {
            "client_id": CONSOLE_CLIENT_ID,
            "redirect_uris": ["http://127.0.0.1:8000/console/"],
            "post_logout_redirect_uris": ["http://127.0.0.1:8000/console/"],
        }
    ]
    assert config["users"] == {"ada": {"tenant": "tenant-a", "roles": ["viewer", "submitter"], "name": "ada"}}


def test_the_dev_command_runs_the_provider_for_its_own_console_on_the_configured_port(tmp_path: Path) -> None:
    env = {"REELSTREAM_DEV_OIDC": "true", "REELSTREAM_DEV_OIDC_PORT": "9555", "XDG_DATA_HOME": str(tmp_path)}
    assert load_config(env).values.dev_oidc
    config = PipelineConfig(api_keys={"k": "dev"}, webhook_secret="s", http_port=8001)
    service = dev_provider(StackLayout.dev(env), config, env)
    assert service.issuer == "http://127.0.0.1:9555"
    assert service.console_urls == ("http://127.0.0.1:8001",)
    assert {u.tenant for u in service.users.values()} == {"dev"}  # the dev tenant `reelstream dev` records
    assert not load_config({}).values.dev_oidc  # off unless asked for
