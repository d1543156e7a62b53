"""Partners hear new orders (issue 20): the board's sound, vibration, title count and system
notification, in a real Chromium against the real app with Redis. Fixtures and helpers
are test_browser's."""

import pytest
from playwright.sync_api import expect

from quickcommerce.tests import test_browser
from quickcommerce.tests.test_browser import login, place_quick_order, wait_socket

# test_browser's fixtures: one Chromium per module, the app with Redis, fresh contexts.
browser = test_browser.browser
app = test_browser.app
new_context = test_browser.new_context

pytestmark = [pytest.mark.live, pytest.mark.browser]

BOARD_TITLE = "Order board · quickcommerce"

# Records the board's alerts and the real Notification objects it creates, and lets a
# test put the page "in the background" (window.__away): headless Chromium keeps every
# page visible and focused, so visibilityState and hasFocus follow the flag instead.
ALERT_PROBE = """
window.__alerts = [];
window.__notifications = [];
window.__away = false;
document.addEventListener("board:new-orders", (event) => window.__alerts.push(event.detail));
Object.defineProperty(Document.prototype, "visibilityState", {get() { return window.__away ? "hidden" : "visible"; }});
Document.prototype.hasFocus = function () { return !window.__away; };
if (window.Notification) {
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title, options) {
      super(title, options);
      this.closedByPage = false;
      window.__notifications.push(this);
    }
    close() { this.closedByPage = true; super.close(); }
  };
}
"""


def board_page(new_context, username, *, go_online=True, notifications=True):
    context = new_context(permissions=["notifications"] if notifications else [])
    context.add_init_script(ALERT_PROBE)
    page = login(context, username)
    page.goto("/partner/")
    wait_socket(page)
    toggle = page.locator("#availability-toggle")
    if toggle.inner_text().strip() == ("Go online" if go_online else "Go offline"):
        toggle.click()
    expect(page.locator("#availability")).to_contain_text("You are online" if go_online else "You are offline")
    return page


def test_a_new_order_sounds_vibrates_counts_in_the_title_and_notifies_in_the_background(new_context):
    sam = board_page(new_context, "sam")
    # The partner turns sound on once (a tap: the gesture browsers need).
    sam.get_by_role("button", name="Turn on sound").click()
    expect(sam.locator("#alert-sound")).to_have_attribute("aria-pressed", "true")
    # Notification permission is granted to this context: no button to ask for it.
    expect(sam.locator("#alert-notify")).to_be_hidden()
    expect(sam).to_have_title(BOARD_TITLE)
    sam.evaluate("window.__away = true")

    customer = login(new_context(), "alice")
    first = place_quick_order(customer)
    expect(sam.locator(f"#available-{first}")).to_be_visible()
    expect(sam).to_have_title("(1) New orders · quickcommerce")
    [alert] = sam.evaluate("window.__alerts")
    assert alert["refs"] == [first]
    assert alert["sound"] is True  # the Web Audio chime played (the context is running)
    assert alert["notified"] is True
    # Chromium has navigator.vibrate (a desktop without a motor accepts and ignores it).
    assert alert["vibrated"] is True
    notification = sam.evaluate(
        "({title: __notifications[0].title, body: __notifications[0].body, n: __notifications.length})"
    )
    assert notification["title"] == "New order" and notification["n"] == 1
    assert f"#{first}" in notification["body"]

    second = place_quick_order(customer)
    expect(sam.locator(f"#available-{second}")).to_be_visible()
    expect(sam).to_have_title("(2) New orders · quickcommerce")

    # Clicking the notification brings the board back and closes it.
    sam.evaluate("window.__notifications[0].dispatchEvent(new Event('click'))")
    assert sam.evaluate("window.__notifications[0].closedByPage") is True

    # The partner looks: the count goes.
    sam.evaluate("window.__away = false; window.dispatchEvent(new Event('focus'))")
    expect(sam).to_have_title(BOARD_TITLE)

    # Sound stays on across visits (remembered); a board in front notifies nobody.
    sam.reload()
    wait_socket(sam)
    expect(sam.locator("#alert-sound")).to_have_attribute("aria-pressed", "true")
    third = place_quick_order(customer)
    expect(sam.locator(f"#available-{third}")).to_be_visible()
    expect(sam).to_have_title("(1) New orders · quickcommerce")
    assert [a["notified"] for a in sam.evaluate("window.__alerts")] == [False]


def test_no_alert_for_a_partner_who_cannot_take_the_order(new_context):
    sam = board_page(new_context, "sam")  # online, free: the witness
    noor = board_page(new_context, "noor")  # online, but at capacity (the seed's delivery in progress)
    priya = board_page(new_context, "priya", go_online=False)  # offline
    expect(noor.locator("#capacity-note")).to_be_visible()
    for page in (sam, noor, priya):
        page.evaluate("window.__away = true")

    customer = login(new_context(), "alice")
    ref = place_quick_order(customer)
    expect(sam.locator(f"#available-{ref}")).to_be_visible()
    expect(sam).to_have_title("(1) New orders · quickcommerce")
    # noor sees the card (without its Accept button) but gets no alert; priya sees nothing.
    expect(noor.locator(f"#available-{ref}")).to_be_attached()
    expect(noor.locator(f"#available-{ref} form")).to_be_hidden()
    for page in (noor, priya):
        page.wait_for_timeout(500)  # a live frame that would alert has reached sam already
        assert page.evaluate("window.__alerts") == []
        assert page.evaluate("window.__notifications.length") == 0
        expect(page).to_have_title(BOARD_TITLE)


def test_going_online_does_not_alert_for_the_orders_already_waiting(new_context):
    customer = login(new_context(), "alice")
    waiting = place_quick_order(customer)
    sam = board_page(new_context, "sam", go_online=False)
    sam.evaluate("window.__away = true")
    sam.locator("#availability-toggle").click()
    expect(sam.locator(f"#available-{waiting}")).to_be_visible()
    sam.wait_for_timeout(300)
    assert sam.evaluate("window.__alerts") == []
    expect(sam).to_have_title(BOARD_TITLE)


def test_the_partner_is_asked_before_notifications(new_context):
    sam = board_page(new_context, "sam", notifications=False)
    expect(sam.locator("#alert-notify")).to_be_visible()
    expect(sam.locator("#alert-sound")).to_have_text("Turn on sound")
