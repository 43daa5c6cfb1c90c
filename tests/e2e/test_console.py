"""The web console in a real browser (chromium) against the running pipeline: sign in, submit with
parameters, watch to done, play, download, cancel, field errors, tenant isolation, API keys, and the event
stream resuming after the page went offline, webhooks (endpoints, delivery log, resend, rotation). axe-core
on every page; screenshots into docs/console/."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import av
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from devstack.services import PipelineConfig
from tests.e2e.conftest import CONSOLE_ADMIN_KEY, OPERATOR_KEY, TENANT_A_KEY, TENANT_B_KEY
from tests.e2e.console_browser import check_page, chromium, ensure_console_built, sign_in
from tests.webhook_receiver import webhook_receiver

DONE_MS = 120_000  # a tiny-mochi render on CPU, on a loaded machine
PHONE = {"width": 390, "height": 844}
JOB_PAGE = re.compile(r"#/jobs/[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def browser(pipeline: PipelineConfig) -> Iterator[Browser]:
    ensure_console_built()
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # bypass_csp: axe-core is injected by the test; the app itself runs under its own strict policy
    context = browser.new_context(bypass_csp=True, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def submit(page: Page, base_url: str, prompt: str, **fields: str) -> str:
    page.goto(f"{base_url}/console/#/jobs/new")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    for label, value in fields.items():
        control = page.get_by_label(label, exact=True)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(JOB_PAGE)
    return page.url.rsplit("/", 1)[1]


def test_console_is_served_with_strict_headers(pipeline: PipelineConfig, browser: Browser) -> None:
    index = httpx.get(f"{pipeline.api_url}/console/")
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in index.headers["content-security-policy"]
    asset = next(p for p in index.text.split('"') if p.startswith("/console/assets/") and p.endswith(".js"))
    assert "immutable" in httpx.get(f"{pipeline.api_url}{asset}").headers["cache-control"]
    assert httpx.get(f"{pipeline.api_url}/openapi.json").status_code == 200  # public
    assert httpx.get(f"{pipeline.api_url}/docs").status_code == 200


def test_the_api_reference_renders_from_the_bundle(pipeline: PipelineConfig, context: BrowserContext) -> None:
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(pipeline.api_url) else outside.append(r.url))
    page.goto(f"{pipeline.api_url}/docs")
    expect(page.get_by_text("POST/v1/jobs").first).to_be_visible(timeout=30_000)
    assert outside == []
    check_page(page, "api-reference")


def test_sign_in_submit_watch_play_download(pipeline: PipelineConfig, page: Page) -> None:
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url))
    page.goto(f"{pipeline.api_url}/console/")
    page.get_by_label("API key").wait_for()
    interactive_ms = page.evaluate("performance.now()")  # since navigation started: the form can be used
    print(f"\nconsole interactive {interactive_ms:.0f} ms after navigation started")
    check_page(page, "sign-in")
    sign_in(page, pipeline.api_url, TENANT_A_KEY)
    job_id = submit(
        page,
        pipeline.api_url,
        "a paper boat on a puddle",
        **{"Model": "tiny-mochi", "Steps": "2", "Seed": "7", "Width (px)": "64", "Height (px)": "48"},
    )
    expect(page.locator(".badge")).to_have_text("succeeded", timeout=DONE_MS)
    video = page.locator("video")
    expect(video).to_be_visible()
    page.wait_for_function("() => document.querySelector('video').duration > 0", timeout=30_000)
    check_page(page, "job")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download MP4").click()
    path = download_info.value.path()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (64, 48)
        assert sum(1 for _ in container.decode(stream)) > 0
    seed = page.locator(".row", has=page.locator("dt", has_text="seed"))
    expect(seed.locator("dd")).to_have_text("7")  # the parameter record
    assert hosts == {"127.0.0.1"}  # the API and the object store: no font, icon or CDN host
    page.goto(f"{pipeline.api_url}/console/#/jobs")
    expect(page.locator(f'[data-job-id="{job_id}"]')).to_be_visible()
    check_page(page, "jobs")
    page.set_viewport_size(PHONE)
    check_page(page, "jobs-phone")


def test_bad_input_shows_the_fields_error(pipeline: PipelineConfig, page: Page) -> None:
    sign_in(page, pipeline.api_url, TENANT_A_KEY)
    page.goto(f"{pipeline.api_url}/console/#/jobs/new")
    page.get_by_label("Prompt", exact=True).fill("a fox")
    page.get_by_label("Width (px)").fill("17")
    page.get_by_role("button", name="Submit").click()
    error = page.locator('[data-field-error="width"]')
    expect(error).to_contain_text("16")
    expect(page.get_by_label("Width (px)")).to_have_attribute("aria-invalid", "true")
    check_page(page, "create-with-error")


def test_cancel_a_queued_job(pipeline: PipelineConfig, page: Page) -> None:
    sign_in(page, pipeline.api_url, TENANT_A_KEY)
    submit(page, pipeline.api_url, "waits for a mochi-1 slot", Model="mochi-1")  # no slot of it is up
    expect(page.locator(".badge")).to_have_text("queued", timeout=30_000)
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(".badge")).to_have_text("canceled", timeout=30_000)


def test_delete_a_job_after_confirming(pipeline: PipelineConfig, page: Page) -> None:
    sign_in(page, pipeline.api_url, TENANT_A_KEY)
    job_id = submit(page, pipeline.api_url, "deleted from the console", Model="mochi-1")  # stays queued
    expect(page.locator(".badge")).to_have_text("queued", timeout=30_000)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete job").click()
    expect(page).to_have_url(JOB_PAGE)  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete job").click()
    expect(page).to_have_url(re.compile(r"#/jobs$"))
    expect(page.get_by_text("deleted from the console")).to_have_count(0)
    gone = httpx.get(
        f"{pipeline.api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {TENANT_A_KEY}"}
    )
    assert gone.status_code == 404


def test_another_tenants_job_is_not_visible(pipeline: PipelineConfig, page: Page) -> None:
    theirs = httpx.post(
        f"{pipeline.api_url}/v1/jobs",
        json={"prompt": "tenant a's secret", "model": "tiny-mochi", "num_inference_steps": 2},
        headers={"Authorization": f"Bearer {TENANT_A_KEY}"},
    ).json()
    sign_in(page, pipeline.api_url, TENANT_B_KEY)
    expect(page.get_by_text("tenant a's secret")).to_have_count(0)
    page.goto(f"{pipeline.api_url}/console/#/jobs/{theirs['id']}")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_text("tenant a's secret")).to_have_count(0)


def test_the_list_is_filtered_by_the_api(pipeline: PipelineConfig, page: Page) -> None:
    auth = {"Authorization": f"Bearer {TENANT_B_KEY}"}
    mochi = {"prompt": "a mochi-1 lighthouse", "model": "mochi-1"}  # no mochi-1 slot is up: it stays queued
    waiting = httpx.post(f"{pipeline.api_url}/v1/jobs", json=mochi, headers=auth).json()
    httpx.post(
        f"{pipeline.api_url}/v1/jobs",
        json={"prompt": "a tiny-mochi lighthouse", "model": "tiny-mochi", "num_inference_steps": 2},
        headers=auth,
    ).raise_for_status()
    try:
        sign_in(page, pipeline.api_url, TENANT_B_KEY)
        expect(page.get_by_text("a tiny-mochi lighthouse")).to_be_visible()
        with page.expect_request(lambda r: "/v1/jobs?" in r.url and "model=mochi-1" in r.url):
            page.get_by_role("group", name="Filters").get_by_label("Model").select_option("mochi-1")
        expect(page.get_by_text("a mochi-1 lighthouse")).to_be_visible()
        expect(page.get_by_text("a tiny-mochi lighthouse")).to_have_count(0)
    finally:
        httpx.post(f"{pipeline.api_url}/v1/jobs/{waiting['id']}/cancel", json={}, headers=auth)


def test_a_key_is_created_and_shown_once(pipeline: PipelineConfig, page: Page) -> None:
    sign_in(page, pipeline.api_url, CONSOLE_ADMIN_KEY)  # its tenant has no jobs
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    check_page(page, "jobs-empty")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Tenant").fill("tenant-console")
    page.get_by_label("Name (optional)").fill("render farm")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key")
    expect(key).to_have_text(re.compile(r"^rs_live_[0-9a-f]{16}_"))
    check_page(page, "api-keys")
    created = key.inner_text()
    page.get_by_role("button", name="Done").click()
    page.reload()
    expect(page.get_by_role("cell", name="render farm", exact=True)).to_be_visible()
    assert created not in page.content()  # shown once: the list never has it
    page.get_by_role("link", name="Limits").click()
    expect(page.get_by_text("GPU budget")).to_be_visible()  # GET /v1/limits answered
    check_page(page, "limits")


def test_the_operator_creates_suspends_resumes_and_deletes_a_tenant(
    pipeline: PipelineConfig, page: Page
) -> None:
    tenant = f"console-{uuid.uuid4().hex[:8]}"
    sign_in(page, pipeline.api_url, OPERATOR_KEY)
    page.get_by_role("link", name="Tenants").click()
    page.get_by_label("Id", exact=True).fill(tenant)
    page.get_by_label("Name (optional)").fill("Console Inc")
    page.get_by_role("button", name="Create tenant").click()
    row = page.locator(f'[data-tenant-id="{tenant}"]')
    expect(row.get_by_role("cell", name="active", exact=True)).to_be_visible()
    check_page(page, "tenants")
    page.get_by_role("button", name=f"Suspend {tenant}").click()
    expect(row.get_by_role("cell", name="suspended", exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Resume {tenant}").click()
    expect(row.get_by_role("cell", name="active", exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Delete {tenant}").click()
    page.get_by_label(f"Type {tenant} to confirm").fill(tenant)
    page.get_by_role("button", name="Delete for good").click()
    expect(row.get_by_role("cell", name="deleted", exact=True)).to_be_visible()
    assert (
        httpx.get(
            f"{pipeline.api_url}/v1/admin/tenants/{tenant}",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        ).status_code
        == 404
    )


def test_a_tenant_admin_sees_no_tenants_page(pipeline: PipelineConfig, page: Page) -> None:
    sign_in(page, pipeline.api_url, CONSOLE_ADMIN_KEY)
    expect(page.get_by_role("link", name="API keys")).to_be_visible()
    expect(page.get_by_role("link", name="Tenants")).to_have_count(0)


def test_the_stream_resumes_after_going_offline(
    pipeline: PipelineConfig, context: BrowserContext, page: Page
) -> None:
    sign_in(page, pipeline.api_url, TENANT_A_KEY)
    submit(page, pipeline.api_url, "a lighthouse at dusk", Model="mochi-1")  # waits: no mochi-1 slot is up
    state = page.get_by_test_id("stream-state")
    expect(state).to_have_text("live", timeout=30_000)
    context.set_offline(True)
    expect(state).to_have_text("reconnecting…")
    context.set_offline(False)
    expect(state).to_have_text("live", timeout=30_000)  # back, with Last-Event-ID
    page.get_by_role("button", name="Cancel job").click()  # a snapshot that arrives on the resumed stream
    expect(page.locator(".badge")).to_have_text("canceled", timeout=30_000)


def test_a_tenant_admin_manages_webhooks_and_resends_a_failed_delivery(
    pipeline: PipelineConfig, page: Page
) -> None:
    """The Webhooks page: add an endpoint, ping it (the receiver answers 500), see the failed attempt in the
    delivery log, resend it (it arrives again under the same webhook-id), disable it, rotate the secret
    (the new one shown once)."""
    with webhook_receiver() as receiver:
        receiver.status = 500
        sign_in(page, pipeline.api_url, CONSOLE_ADMIN_KEY)
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_label("URL", exact=True).fill(receiver.url)
        page.get_by_role("button", name="Add endpoint").click()
        card = page.get_by_role("article", name=f"Endpoint {receiver.url}")
        expect(card).to_contain_text("enabled")
        check_page(page, "webhooks")

        card.get_by_role("button", name="Ping").click()
        expect(card.get_by_role("status")).to_contain_text("queued")
        first = receiver.wait_for(lambda d: b'"type":"ping"' in d.body, timeout=60)
        card.get_by_role("button", name="Delivery log").click()
        log = page.get_by_role("region", name="Delivery log")
        log.get_by_label("Status").select_option("failed")
        failed_row = log.locator("tr[data-status=failed]").first
        expect(failed_row).to_be_visible(timeout=60_000)  # the log follows the deliveries topic
        expect(failed_row).to_contain_text("ping")
        expect(failed_row).to_contain_text(first.headers["webhook-id"])
        check_page(page, "webhooks-delivery-log")
        receiver.status = 204
        failed_row.get_by_role("button", name="Resend").click()
        expect(log.get_by_role("status")).to_contain_text("queued")
        receiver.wait_for(
            lambda d: d.headers["webhook-id"] == first.headers["webhook-id"] and d.status == 204, timeout=60
        )

        card.get_by_role("button", name="Edit").click()
        card.get_by_label("Enabled").uncheck()
        card.get_by_role("button", name="Save").click()
        expect(card).to_contain_text("disabled")

        page.get_by_role("table", name="Signing secrets").get_by_role("button", name="Rotate").first.click()
        secret = page.get_by_test_id("new-secret")
        expect(secret).to_have_text(re.compile(r"^whsec_"))
        shown = secret.inner_text()
        page.get_by_role("button", name="Done").click()
        page.reload()
        expect(page.get_by_role("table", name="Signing secrets")).to_be_visible()
        assert shown not in page.content()  # shown once
        card.get_by_role("button", name="Delete").click()
        expect(page.get_by_role("article", name=f"Endpoint {receiver.url}")).to_have_count(0)
