"""The maps in a real Chromium (Playwright), against the real app under uvicorn with Redis:
the checkout pin, the partner's browser sharing its position (Playwright's geolocation,
moved with ``set_geolocation``), the customer's map and ETA following live, the admin's
dashboard map. No tiles load here (no network): the maps draw their markers and lines
on a plain background. ``UPDATE_SCREENSHOTS=1`` writes docs/screenshots/order-tracking-*
and dashboard-map-*."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from quickcommerce.tests import test_browser as base
from quickcommerce.tests.test_browser import DESKTOP, LIVE, PHONE, SCREENSHOTS, login, open_board, wait_socket

pytestmark = [pytest.mark.live, pytest.mark.browser]

STORE = (48.8757, 2.3376)
KM = 1 / 111.19508  # one km of latitude, in degrees
ADDRESS = "7 Canal Street, Flat 4, Riverside"


browser = base.browser  # the module's Chromium, and its contexts on this module's app
new_context = base.new_context


@pytest.fixture
def app(redis_server, start_app):
    # Every position counts (no interval): the test moves the rider a few times.
    return start_app(
        redis_url=redis_server.url,
        LOCATION_MIN_INTERVAL_SECONDS="0",
        STORE_LATITUDE=STORE[0],
        STORE_LONGITUDE=STORE[1],
    )


def wait_near(page: Page, selector: str, attribute: str, latitude: float) -> None:
    """Wait until ``selector``'s ``attribute`` starts with a latitude within ~1 m of ``latitude``."""
    page.wait_for_function(
        """([selector, attribute, latitude]) => {
             const value = document.querySelector(selector)?.getAttribute(attribute);
             return value && Math.abs(parseFloat(value) - latitude) < 1e-5;
           }""",
        arg=[selector, attribute, latitude],
        timeout=LIVE,
    )


def checkout_with_a_pin(customer: Page) -> str:
    """One item; at checkout, tap the map about 1-2 km from the store; place the order."""
    customer.goto("/?q=sparkling")
    customer.locator("#add-sparkling-water").click()
    expect(customer.locator("#cart-badge")).to_have_text("1")
    customer.goto("/checkout/")
    customer.get_by_label("Delivery address").fill(ADDRESS)
    area = customer.locator("#checkout-map")
    expect(area).to_have_class(re.compile("map-ready"))
    box = area.bounding_box()
    customer.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)  # north of the store
    expect(customer.locator("#pin-status")).to_contain_text("Pin set")
    latitude = float(customer.locator('[data-pin="latitude"]').input_value())
    assert latitude > STORE[0], "the pin is north of the store"
    customer.get_by_role("button", name=re.compile(r"^Place order")).click()
    expect(customer).to_have_url(re.compile(r"/orders/[A-Z0-9]+/$"))
    return customer.locator("h1 .ref").inner_text().strip()


def test_checkout_pin_outside_the_area_is_refused_on_the_page(new_context):
    customer = login(new_context(), "alice")
    customer.goto("/?q=sparkling")
    customer.locator("#add-sparkling-water").click()
    expect(customer.locator("#cart-badge")).to_have_text("1")
    customer.goto("/checkout/")
    customer.get_by_label("Delivery address").fill(ADDRESS)
    expect(customer.locator("#checkout-map")).to_have_class(re.compile("map-ready"))
    # A pin far away (as a drag would leave it): the page warns, the server refuses.
    customer.evaluate(
        """() => { document.querySelector('[data-pin="latitude"]').value = "49.2";
                   document.querySelector('[data-pin="longitude"]').value = "2.3376"; }"""
    )
    customer.get_by_role("button", name=re.compile(r"^Place order")).click()
    expect(customer.locator(".errorlist")).to_contain_text("we deliver within 5 km")
    expect(customer).to_have_url(re.compile(r"/checkout/$"))


def test_use_my_location_puts_the_pin_where_the_browser_is(new_context):
    here = (STORE[0] + 0.5 * KM, STORE[1])
    customer = login(
        new_context(permissions=["geolocation"], geolocation={"latitude": here[0], "longitude": here[1]}), "alice"
    )
    customer.goto("/?q=sparkling")
    customer.locator("#add-sparkling-water").click()
    expect(customer.locator("#cart-badge")).to_have_text("1")
    customer.goto("/checkout/")
    customer.get_by_role("button", name="Use my location").click()
    expect(customer.locator("#pin-status")).to_contain_text("Pin set, 0.5 km from the store")
    assert float(customer.locator('[data-pin="latitude"]').input_value()) == pytest.approx(here[0], abs=1e-6)


def test_the_riders_position_moves_the_customers_map_and_eta_live(new_context):
    write = os.environ.get("UPDATE_SCREENSHOTS", "") == "1"
    customer = login(new_context(), "alice")
    ref = checkout_with_a_pin(customer)
    wait_socket(customer)
    order_map = customer.locator("#order-map")
    expect(order_map).to_have_attribute("data-drop-lat", re.compile(r"^48\.8"))
    expect(customer.locator(f"#order-{ref}-rider")).to_have_count(0)  # nobody is on the way yet

    # Sam's browser shares its position: asked once (granted here), sent over his socket.
    start = {"latitude": STORE[0] - 1 * KM, "longitude": STORE[1]}
    sam_context = new_context(permissions=["geolocation"], geolocation=start)
    sam = login(sam_context, "sam")
    open_board(sam)
    sam.get_by_role("button", name=f"Accept order {ref}").click()
    note = sam.locator("#share-note")
    expect(note).to_contain_text("Sharing your location")
    expect(note).to_contain_text(f"(order #{ref})")
    expect(note.locator("[data-share-state]")).to_contain_text("Last sent")

    # The customer's page follows without a reload: the ETA text and the rider's marker.
    rider = customer.locator(f"#order-{ref}-rider")
    expect(rider).to_contain_text(re.compile(r"Arriving in about \d+ min"))
    wait_near(customer, "#order-map", "data-rider-lat", start["latitude"])
    first_eta = int(re.search(r"about (\d+) min", rider.inner_text()).group(1))

    admin = login(new_context(), "admin")
    admin.goto("/dashboard/")
    wait_socket(admin)
    dash_map = admin.locator("#dash-map")
    expect(dash_map).to_have_attribute("data-partners-shown", "1")
    expect(dash_map).to_have_attribute("data-drops-shown", re.compile(r"^[1-9]"))

    # He rides to the store and on: the marker moves and the ETA drops, live, on both maps.
    sam_context.set_geolocation({"latitude": STORE[0], "longitude": STORE[1]})
    wait_near(customer, "#order-map", "data-rider-lat", STORE[0])
    wait_near(admin, "#dash-map", "data-first-partner", STORE[0])
    sam.get_by_role("button", name="Mark picked up").click()
    expect(customer.locator(f"#order-{ref}-status .status")).to_have_text("Picked up")
    drop = float(order_map.get_attribute("data-drop-lat"))
    sam_context.set_geolocation({"latitude": drop, "longitude": STORE[1]})
    wait_near(customer, "#order-map", "data-rider-lat", drop)
    expect(rider).to_contain_text("Arriving in about")
    last_eta = int(re.search(r"about (\d+) min", customer.locator(f"#order-{ref}-rider").inner_text()).group(1))
    assert last_eta < first_eta
    # The markers (store, drop-off, rider) and the trail are drawn, with no tiles at all.
    assert customer.locator("#order-map path.leaflet-interactive").count() >= 4
    if write:
        for viewport in (DESKTOP, PHONE):
            for page, name in ((customer, "order-tracking"), (admin, "dashboard-map")):
                page.set_viewport_size(viewport)
                target = page.locator("#order-map" if name == "order-tracking" else "#dash-map-card")
                target.scroll_into_view_if_needed()
                page.screenshot(path=SCREENSHOTS / f"{name}-{viewport['width']}.png", full_page=viewport is PHONE)

    # Delivered: no live rider any more on the customer's page.
    sam.get_by_role("button", name="Start delivery").click()
    expect(customer.locator(f"#order-{ref}-status .status")).to_have_text("Out for delivery")
    code = customer.locator(f"#order-{ref}-status .code").inner_text().strip()
    sam.locator(f"#code-{ref}").fill(code)
    sam.locator(f"#active-{ref}").get_by_role("button", name="Mark delivered").click()
    expect(customer.locator(f"#order-{ref}-status .status")).to_have_text("Delivered", timeout=LIVE)
    expect(customer.locator(f"#order-{ref}-rider")).to_have_count(0)
    expect(order_map).not_to_have_attribute("data-rider-lat", re.compile("."))
    expect(sam.locator("#share-note")).to_have_count(0)
