"""The installable board (issue 20) in a real Chromium: Chromium's own installability check
passes (manifest parsed without errors, a service worker controlling the page), the
offline page shows when the server is gone, and the screen stays awake while online."""

import pytest
from playwright.sync_api import expect, sync_playwright

from quickcommerce.testing import require_binary
from quickcommerce.tests import test_browser
from quickcommerce.tests.test_browser import CHROMIUM_ARGS, LIVE, WS_PROBE, login, wait_socket

# test_browser's fixtures: one Chromium per module, the app with Redis, fresh contexts.
browser = test_browser.browser
app = test_browser.app
new_context = test_browser.new_context

pytestmark = [pytest.mark.live, pytest.mark.browser]

SW_READY = "() => navigator.serviceWorker.ready.then((registration) => registration.scope)"


def open_board(new_context):
    page = login(new_context(), "sam")
    page.goto("/partner/")
    wait_socket(page)
    return page


def test_chromium_finds_the_board_installable(app, tmp_path):
    # A profile on disk: Chromium never offers to install from an incognito context
    # (Playwright's new_context), so its check would only say "in-incognito".
    executable = require_binary("chromium", path="/usr/bin/chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=executable, headless=True, args=CHROMIUM_ARGS, base_url=app.url
        )
        try:
            context.set_default_timeout(LIVE)
            context.add_init_script(WS_PROBE)
            page = login(context, "sam")
            page.goto("/partner/")
            wait_socket(page)
            assert page.evaluate(SW_READY) == f"{app.url}/"
            page.reload()  # now controlled by the service worker, as an installed app would be
            page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            cdp = context.new_cdp_session(page)
            manifest = cdp.send("Page.getAppManifest")
            assert manifest["url"] == f"{app.url}/manifest.webmanifest"
            assert manifest["errors"] == []
            parsed = manifest.get("manifest") or {}
            if parsed:  # newer Chromium returns the parsed manifest too
                assert parsed["startUrl"] == f"{app.url}/partner/"
                assert parsed["display"].lower().endswith("standalone")  # "kStandalone" in Chromium 156
            assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
        finally:
            context.close()


def test_the_offline_page_shows_when_the_server_is_gone(new_context, app):
    page = open_board(new_context)
    page.evaluate(SW_READY)
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    app.stop()
    page.goto("/partner/")
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    # The cached stylesheet came with it.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)"


def test_the_screen_stays_awake_while_online(new_context):
    page = open_board(new_context)
    toggle = page.locator("#availability-toggle")
    if toggle.inner_text().strip() == "Go online":
        toggle.click()
    expect(page.locator("html")).to_have_attribute("data-wake-lock", "held")
    page.locator("#availability-toggle").click()
    expect(page.locator("#availability")).to_contain_text("You are offline")
    expect(page.locator("html")).to_have_attribute("data-wake-lock", "released")
