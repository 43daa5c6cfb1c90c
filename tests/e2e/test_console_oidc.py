"""OIDC sign-in in a real browser: the console sends the user through the development provider's own login
and consent pages (panva's oidc-provider, devstack.oidc), lands on the jobs page with an access token that
ingest verifies against the provider's JWKS, submits a job as the token's tenant, and signs out (ending the
provider's session); an expired token sends the user back to the sign-in page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devstack.oidc import OidcProviderService
from devstack.services import Pipeline, PipelineConfig
from tests.e2e.conftest import OIDC_TENANT, OIDC_TENANT_KEY, TENANT_A_KEY
from tests.e2e.console_browser import check_page, chromium, ensure_console_built

JOB_PAGE = re.compile(r"#/jobs/[0-9a-f]{32}$")
SESSION = "reelstream.oidc.session"


@pytest.fixture(scope="module")
def browser(pipeline: PipelineConfig) -> Iterator[Browser]:
    ensure_console_built()
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(bypass_csp=True)  # axe-core is injected by the test
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in_with_provider(page: Page, api_url: str, provider: OidcProviderService, login: str) -> None:
    """Through the provider's real pages: the console's button, the provider's login form, its consent."""
    page.goto(f"{api_url}/console/")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password: the dev provider's login takes any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # consent: the console may call the API
    page.get_by_role("heading", name="Jobs").wait_for(timeout=30_000)


def test_sign_in_through_the_provider_submit_and_sign_out(
    pipeline: PipelineConfig,
    running_pipeline: Pipeline,
    oidc_provider: OidcProviderService,
    page: Page,
) -> None:
    page.goto(f"{pipeline.api_url}/console/")
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible()
    expect(page.get_by_label("API key")).to_be_visible()  # API-key sign-in stays
    check_page(page, "sign-in-sso")

    sign_in_with_provider(page, pipeline.api_url, oidc_provider, "ada")
    landed = urlsplit(page.url)
    assert (landed.path, landed.query) == ("/console/", "")  # the code and state left the address bar
    token = page.evaluate(f"JSON.parse(sessionStorage.getItem('{SESSION}')).accessToken")
    assert isinstance(token, str)
    assert token.count(".") == 2  # a JWT access token, kept in this tab only
    assert token not in page.url

    page.goto(f"{pipeline.api_url}/console/#/jobs/new")
    page.get_by_label("Prompt", exact=True).fill("signed in through the identity provider")
    page.get_by_label("Model", exact=True).select_option("mochi-1")  # no slot serves it: stays queued
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(JOB_PAGE)
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(".badge")).to_have_text("queued", timeout=30_000)

    def get(key: str) -> httpx.Response:
        return httpx.get(f"{pipeline.api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})

    assert get(OIDC_TENANT_KEY).status_code == 200  # the job is the token's tenant's
    assert get(TENANT_A_KEY).status_code == 404  # and nobody else's
    assert get(token).json()["id"] == job_id  # ingest itself accepts the browser's token
    page.get_by_role("button", name="Cancel job").click()  # leave nothing queued behind
    expect(page.locator(".badge")).to_have_text("canceled", timeout=30_000)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider's own sign-out page
    expect(page.get_by_label("API key")).to_be_visible(timeout=30_000)
    assert page.evaluate(f"sessionStorage.getItem('{SESSION}')") is None
    # the provider's session ended too: signing in again asks for the login once more
    page.get_by_role("button", name="Sign in with single sign-on").click()
    expect(page.locator('input[name="login"]')).to_be_visible(timeout=30_000)

    logs = "".join(p.read_text(errors="replace") for p in running_pipeline.log_dir.glob("*.log"))
    assert token not in logs  # never logged


def test_an_expired_token_sends_the_user_back_to_sign_in(
    pipeline: PipelineConfig, oidc_provider: OidcProviderService, page: Page
) -> None:
    page.clock.install()  # the page's clock: moved past the token's expiry below
    sign_in_with_provider(page, pipeline.api_url, oidc_provider, "ada")
    page.clock.fast_forward((oidc_provider.access_token_ttl_seconds + 1) * 1000)
    expect(page.get_by_role("status")).to_contain_text("expired", timeout=10_000)
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{SESSION}')") is None


def test_a_user_the_provider_does_not_know_is_not_signed_in(
    pipeline: PipelineConfig, oidc_provider: OidcProviderService, page: Page
) -> None:
    page.goto(f"{pipeline.api_url}/console/")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
    page.locator('input[name="login"]').fill("mallory")
    page.locator('input[name="password"]').fill("x")
    page.get_by_role("button", name="Sign-in").click()
    # the provider sends the browser back with access_denied: the console says so, signed out
    expect(page.get_by_role("status")).to_contain_text("refused: access_denied", timeout=30_000)
    assert urlsplit(page.url).query == ""
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{SESSION}')") is None


def test_the_operator_signed_in_through_the_provider_sees_every_tenant(
    pipeline: PipelineConfig, oidc_provider: OidcProviderService, browser: Browser
) -> None:
    """Usage: every tenant's totals; Load: any tenant's render load. Only for the operator's token."""
    for login, operator in (("otto", True), ("ada", False)):
        context = browser.new_context(bypass_csp=True)
        try:
            page = context.new_page()
            sign_in_with_provider(page, pipeline.api_url, oidc_provider, login)
            page.goto(f"{pipeline.api_url}/console/#/usage")
            every = page.get_by_role("heading", name="Every tenant")
            if operator:
                expect(every).to_be_visible(timeout=30_000)
                check_page(page, "usage-operator")
            page.goto(f"{pipeline.api_url}/console/#/load")
            expect(page.get_by_text("No succeeded jobs in this window.")).to_be_visible(timeout=30_000)
            tenant = page.get_by_label("Tenant", exact=True)
            if operator:
                expect(tenant).to_be_visible(timeout=30_000)
                with page.expect_response(lambda r: f"tenant={OIDC_TENANT}" in r.url) as answer:
                    tenant.select_option(OIDC_TENANT)  # another tenant's render load, the operator's choice
                assert answer.value.status == 200
                assert answer.value.json()["tenant"] == OIDC_TENANT
                check_page(page, "load-operator")
            else:
                page.wait_for_load_state("networkidle")
                expect(tenant).to_have_count(0)
                expect(every).to_have_count(0)  # (the usage page was left: checked below as well)
                page.goto(f"{pipeline.api_url}/console/#/usage")
                page.wait_for_load_state("networkidle")
                expect(page.get_by_role("heading", name="Usage")).to_be_visible()
                expect(every).to_have_count(0)
        finally:
            context.close()
