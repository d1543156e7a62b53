"""The admins' live dashboard: access, numbers that match the data, the live fragments'
shape, and a query count that does not grow with the rows shown."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.factories import CustomerFactory, PartnerFactory
from dispatch import chart, fragments, selectors
from dispatch.factories import order_in_status
from dispatch.services import accept_order, set_availability
from orders import signals
from orders.factories import ProductFactory, make_order
from orders.models import Order

pytestmark = pytest.mark.django_db

URL = reverse("dispatch:dashboard")
S = Order.Status


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def product():
    return ProductFactory(stock=1000)


def backdate(order, **deltas):
    """Move an order's timestamps into the past: ``created_at=timedelta(minutes=30)``."""
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(**{field: now - delta for field, delta in deltas.items()})
    return Order.objects.get(pk=order.pk)


def section(html, element_id):
    """The outer HTML of the element with ``element_id`` (sections and divs nest fine here)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"', html)
    assert match, f"no element #{element_id}"
    tag = match.group(1)
    depth, pos = 0, match.start()
    for token in re.finditer(rf"<(/?){tag}\b[^>]*>", html[pos:]):
        depth += -1 if token.group(1) else 1
        if depth == 0:
            return html[pos : pos + token.end()]
    raise AssertionError(f"#{element_id} is not closed")


def tile(html, status):
    match = re.search(
        rf'<div class="tile tile-status[^"]*" data-status="{status}"([^>]*)>', section(html, "dash-counts")
    )
    assert match, status
    attrs = dict(re.findall(r'data-(\w+)="(\d+)"', match.group(1)))
    return {key: int(value) for key, value in attrs.items()}


def order_rows(html):
    return re.findall(r'<div id="dash-order-([A-Z0-9]+)" class="([^"]*)" role="row"', html)


class TopLevel(HTMLParser):
    """The top-level elements of a websocket message, as htmx's ws extension swaps them."""

    VOID = {"br", "img", "input", "hr", "meta", "link", "rect", "line"}

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.elements = []

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.elements.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.depth += 1

    def handle_startendtag(self, tag, attrs):
        if self.depth == 0:
            self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag not in self.VOID:
            self.depth -= 1


def top_level(html):
    parser = TopLevel()
    parser.feed(html)
    parser.close()
    assert parser.depth == 0, "unbalanced fragment"
    return parser.elements


# --- access -----------------------------------------------------------------------------------


def test_dashboard_sends_anonymous_visitors_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["customer", "partner"])
def test_dashboard_is_403_for_customers_and_partners(client, make_user, role, product):
    order = make_order(CustomerFactory(), [(product, 1)])
    client.force_login(make_user(role))
    response = client.get(URL)
    assert response.status_code == 403
    assert order.ref not in response.content.decode()


def test_dashboard_page_renders_every_block(admin_client, product):
    order = make_order(CustomerFactory(first_name="Carla", last_name="Diaz"), [(product, 2)])
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for element_id in ("dash-counts", "dash-orders", "dash-partners", "dash-timing", "dash-chart"):
        assert f'id="{element_id}"' in html
    row = section(html, f"dash-order-{order.ref}")
    assert f'data-ref="{order.ref}" data-version="{order.version}"' in row
    assert "Carla Diaz" in row
    assert f"{order.total:.2f}" in row
    assert reverse("admin:orders_order_change", args=[order.ref]) in row


# --- numbers ----------------------------------------------------------------------------------


def test_counts_per_status_today_and_open_now(admin_client, product):
    customer = CustomerFactory()
    for _ in range(2):
        make_order(customer, [(product, 1)])
    order_in_status(S.ACCEPTED, customer=customer, products_with_qty=[(product, 1)])
    order_in_status(S.DELIVERED, customer=customer, products_with_qty=[(product, 1)])
    order_in_status(S.CANCELLED, customer=customer, products_with_qty=[(product, 1)])
    # Placed two days ago and still open: open now, but not today's.
    backdate(make_order(customer, [(product, 1)]), created_at=timedelta(days=2))

    html = admin_client.get(URL).content.decode()

    assert tile(html, "placed") == {"today": 2, "now": 3}
    assert tile(html, "accepted") == {"today": 1, "now": 1}
    assert tile(html, "picked_up") == {"today": 0, "now": 0}
    assert tile(html, "delivered") == {"today": 1}
    assert tile(html, "cancelled") == {"today": 1}
    counts = section(html, "dash-counts")
    assert 'data-metric="open" data-now="4"' in counts
    assert 'data-metric="today" data-today="5"' in counts


def test_open_orders_older_than_the_promise_are_late(admin_client, product, settings):
    settings.DELIVERY_PROMISE_MINUTES = 10
    fresh = make_order(CustomerFactory(), [(product, 1)])
    late = backdate(make_order(CustomerFactory(), [(product, 1)]), created_at=timedelta(minutes=25))
    # Delivered long ago, slowly: over the promise, but not "late" any more.
    slow = order_in_status(S.DELIVERED, products_with_qty=[(product, 1)])
    slow = backdate(slow, created_at=timedelta(minutes=40), delivered_at=timedelta(minutes=5))

    html = admin_client.get(URL).content.decode()

    rows = dict(order_rows(html))
    assert "late" in rows[late.ref].split()
    assert "late" not in rows[fresh.ref].split()
    assert "late" not in rows[slow.ref].split()
    assert "25 min" in section(html, f"dash-order-{late.ref}")
    assert "over" in section(html, f"dash-order-{slow.ref}")
    timing = section(html, "dash-timing")
    assert re.search(r'data-metric="late">1 <span class="muted">of 2 open', timing)
    assert '<span class="tile-sub is-late">1 late</span>' in section(html, "dash-counts")


def test_median_minutes_to_accept_and_to_deliver_today(admin_client, product, settings):
    settings.DELIVERY_PROMISE_MINUTES = 10
    midnight = selectors.start_of_today(timezone.now())

    def timed(status, accept_after, deliver_after=None):
        order = order_in_status(status, products_with_qty=[(product, 1)])
        created = midnight + timedelta(seconds=30)
        changes = {"created_at": created, "accepted_at": created + timedelta(minutes=accept_after)}
        if deliver_after is not None:
            changes["delivered_at"] = created + timedelta(minutes=deliver_after)
        Order.objects.filter(pk=order.pk).update(**changes)

    timed(S.DELIVERED, 2, 12)
    timed(S.DELIVERED, 4, 8)
    timed(S.ACCEPTED, 6)
    make_order(CustomerFactory(), [(product, 1)])  # not accepted: not in the medians

    html = admin_client.get(URL).content.decode()

    timing = section(html, "dash-timing")
    assert 'data-metric="median-accept">4.0 min<' in timing
    assert 'data-metric="median-deliver">10.0 min<' in timing
    assert 'data-metric="on-time">1/2 (50%)<' in timing


def test_medians_show_a_dash_without_data(admin_client):
    timing = section(admin_client.get(URL).content.decode(), "dash-timing")
    assert 'data-metric="median-accept">—<' in timing
    assert 'data-metric="median-deliver">—<' in timing


def test_partners_list_online_active_order_and_deliveries_today(admin_client, product):
    busy = PartnerFactory(username="ravi", first_name="Ravi", last_name="K")
    idle = PartnerFactory(username="priya", first_name="Priya", last_name="S")
    PartnerFactory(username="omar", first_name="Omar", last_name="T")
    order_in_status(S.DELIVERED, partner=busy, products_with_qty=[(product, 1)])
    order_in_status(S.DELIVERED, partner=busy, products_with_qty=[(product, 1)])
    active = order_in_status(S.PICKED_UP, partner=busy, products_with_qty=[(product, 1)])
    set_availability(partner=idle, online=True)

    partners = section(admin_client.get(URL).content.decode(), "dash-partners")

    names = re.findall(r'data-partner="(\w+)"', partners)
    assert names == ["ravi", "priya", "omar"]  # busy, then online, then offline
    ravi = re.search(r'<li [^>]*data-partner="ravi".*?</li>', partners, re.S).group(0)
    assert 'data-online="true" data-delivered-today="2"' in ravi
    assert active.ref in ravi and "Picked up" in ravi
    assert re.search(r'data-partner="priya" data-online="true" data-delivered-today="0"', partners)
    assert re.search(r'data-partner="omar" data-online="false"', partners)
    assert "2 online of 3" in partners


def test_chart_is_inline_svg_with_one_bar_per_status_and_5_minutes(admin_client, product):
    customer = CustomerFactory()
    half_an_hour_ago = timezone.now() - timedelta(minutes=30)
    same_bucket = [make_order(customer, [(product, 1)]) for _ in range(2)]
    same_bucket.append(order_in_status(S.DELIVERED, customer=customer, products_with_qty=[(product, 1)]))
    Order.objects.filter(pk__in=[o.pk for o in same_bucket]).update(created_at=half_an_hour_ago)
    backdate(make_order(customer, [(product, 1)]), created_at=timedelta(minutes=90))
    backdate(make_order(customer, [(product, 1)]), created_at=timedelta(hours=4))  # outside the window

    chart = section(admin_client.get(URL).content.decode(), "dash-chart")

    assert "<svg" in chart and 'role="img"' in chart
    series = re.findall(r'<g class="chart-series s-(\w+)" data-status="\1">(.*?)</g>', chart, re.S)
    assert [status for status, _ in series] == list(S.values)
    bars = {status: len(re.findall(r'<rect class="chart-bar"', body)) for status, body in series}
    assert bars == {"placed": 2, "accepted": 0, "picked_up": 0, "out_for_delivery": 0, "delivered": 1, "cancelled": 0}
    assert "4 orders" in chart
    # The text alternative: one row per 5 minutes over 3 hours, with the same numbers.
    rows = re.findall(r'<tr><th scope="row">(\d\d:\d\d)</th>(.*?)</tr>', chart, re.S)
    assert len(rows) == 36
    totals = [int(re.findall(r'<td class="num">(\d+)</td>', cells)[-1]) for _, cells in rows]
    assert sorted(t for t in totals if t) == [1, 3]


def test_chart_buckets_are_labelled_in_local_time(settings, product):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30
    order = backdate(make_order(CustomerFactory(), [(product, 1)]), created_at=timedelta(minutes=42))
    drawn = chart.orders_chart()
    [bucket] = [bucket for bucket in drawn["buckets"] if bucket["total"]]
    local = timezone.localtime(order.created_at)
    assert bucket["label"] == local.replace(minute=local.minute - local.minute % 5).strftime("%H:%M")
    assert drawn["end"] - drawn["start"] == timedelta(hours=3)


def test_chart_scale_keeps_tallest_bar_inside_the_plot():
    drawn = chart.orders_chart()
    assert drawn["total"] == 0
    assert [tick["value"] for tick in drawn["ticks"]] == [0, 1]
    for peak in (1, 3, 7, 19, 101):
        step = chart._nice_step(peak)
        assert step * 4 >= peak


# --- the orders table -------------------------------------------------------------------------


def test_orders_table_newest_first_capped_and_filtered_by_status(admin_client, product):
    customer = CustomerFactory()
    older = backdate(make_order(customer, [(product, 1)]), created_at=timedelta(minutes=5))
    newer = make_order(customer, [(product, 1)])
    done = order_in_status(S.DELIVERED, customer=customer, products_with_qty=[(product, 1)])
    done = backdate(done, created_at=timedelta(minutes=50))

    refs = [ref for ref, _ in order_rows(admin_client.get(URL).content.decode())]
    assert refs == [newer.ref, older.ref, done.ref]

    html = admin_client.get(URL, {"status": "delivered"}).content.decode()
    assert [ref for ref, _ in order_rows(html)] == [done.ref]
    assert 'data-filter="delivered"' in html
    assert 'aria-current="page"' in section(html, "dash-orders-panel")

    open_refs = [ref for ref, _ in order_rows(admin_client.get(URL, {"status": "open"}).content.decode())]
    assert open_refs == [newer.ref, older.ref]

    # Unknown filters are "all", never a 500.
    assert len(order_rows(admin_client.get(URL, {"status": "<script>"}).content.decode())) == 3


def test_orders_table_is_capped(admin_client, product, monkeypatch):
    monkeypatch.setattr(selectors, "ORDERS_SHOWN", 3)
    customer = CustomerFactory()
    for _ in range(5):
        make_order(customer, [(product, 1)])
    assert len(selectors.dashboard_orders(limit=selectors.ORDERS_SHOWN)) == 3


def test_htmx_request_answers_the_panel_and_fresh_blocks(admin_client, product):
    order = make_order(CustomerFactory(), [(product, 1)])
    response = admin_client.get(URL, {"status": "placed"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    elements = top_level(html)
    assert elements[0][0] == "section" and elements[0][1]["id"] == "dash-orders-panel"
    assert "hx-swap-oob" not in elements[0][1]
    oob = {attrs["id"]: attrs["hx-swap-oob"] for _, attrs in elements[1:]}
    assert oob == {"dash-counts": "true", "dash-partners": "true", "dash-timing": "true", "dash-chart": "true"}
    assert order.ref in html
    # A filtered panel refetches itself when the socket (re)opens (the snapshot has all rows).
    assert "htmx:wsOpen from:body" in elements[0][1]["hx-trigger"]


# --- live fragments -----------------------------------------------------------------------


def test_admin_event_html_for_a_new_order_prepends_the_row(product):
    order = make_order(CustomerFactory(), [(product, 1)])
    order = Order.objects.select_related("customer", "partner").get(pk=order.pk)

    html = fragments.admin_event_html(signals.NEW_ORDER, order)

    elements = top_level(html)
    tags = [tag for tag, _ in elements]
    assert set(tags) <= {"div", "section"}, "table parts would be dropped by the HTML parser"
    (stub, stub_attrs), (wrapper, wrapper_attrs) = elements[:2]
    assert stub == wrapper == "div"
    assert stub_attrs == {
        "id": f"dash-order-{order.ref}",
        "hx-swap-oob": "delete",
        "data-ref": order.ref,
        "data-version": str(order.version),
    }
    assert wrapper_attrs == {"hx-swap-oob": "afterbegin:#dash-orders"}
    assert html.count(f'id="dash-order-{order.ref}"') == 2  # the stub and the one row
    oob = {attrs["id"]: attrs["hx-swap-oob"] for _, attrs in elements[2:]}
    assert oob == {"dash-counts": "true", "dash-partners": "true", "dash-timing": "true", "dash-chart": "true"}
    assert f"{order.get_status_display()}: 1" in section(html, "dash-chart"), "the chart moves with the event"


def test_admin_event_html_for_a_change_replaces_the_row(product):
    partner = PartnerFactory()
    set_availability(partner=partner, online=True)
    order = make_order(CustomerFactory(), [(product, 1)])
    accept_order(partner=partner, order_ref=order.ref)
    order = Order.objects.select_related("customer", "partner").get(pk=order.pk)

    html = fragments.admin_event_html(signals.ORDER_ACCEPTED, order)

    elements = top_level(html)
    tag, row = elements[0]
    assert tag == "div"
    assert row["id"] == f"dash-order-{order.ref}"
    assert row["hx-swap-oob"] == "true"
    assert row["data-ref"] == order.ref and row["data-version"] == str(order.version) == "2"
    assert row["data-status"] == "accepted"
    assert html.count(f'id="dash-order-{order.ref}"') == 1
    assert [attrs["id"] for _, attrs in elements[1:]] == ["dash-counts", "dash-partners", "dash-timing", "dash-chart"]
    assert "Accepted: 1" in section(html, "dash-chart")
    partners = section(html, "dash-partners")
    assert order.ref in partners  # the partner's active order


def test_admin_partner_html_is_the_partners_block(product):
    partner = PartnerFactory(username="zed")
    set_availability(partner=partner, online=True)
    html = fragments.admin_partner_html()
    [(tag, attrs)] = top_level(html)
    assert (tag, attrs["id"], attrs["hx-swap-oob"]) == ("section", "dash-partners", "true")
    assert 'data-partner="zed" data-online="true"' in html


def test_admin_snapshot_html_has_every_live_block(product):
    orders = [make_order(CustomerFactory(), [(product, 1)]) for _ in range(3)]
    html = fragments.admin_snapshot_html()
    elements = top_level(html)
    assert {tag for tag, _ in elements} <= {"div", "section"}
    swaps = {attrs.get("id", ""): attrs["hx-swap-oob"] for _, attrs in elements}
    assert swaps == {
        "dash-counts": "true",
        "dash-partners": "true",
        "dash-timing": "true",
        "": "innerHTML:#dash-orders[data-filter='all']",
        "dash-chart": "true",
    }
    rows = [ref for ref, _ in order_rows(html)]
    assert rows == [order.ref for order in reversed(orders)]


# --- query counts -----------------------------------------------------------------------------


def _populate(n_orders, n_partners, product):
    partners = [PartnerFactory() for _ in range(n_partners)]
    for partner in partners:
        set_availability(partner=partner, online=True)
    customer = CustomerFactory()
    for i in range(n_orders):
        order = make_order(customer, [(product, 1)])
        if i < n_partners:
            accept_order(partner=partners[i], order_ref=order.ref)


def _queries(callable_):
    with CaptureQueriesContext(connection) as captured:
        callable_()
    return len(captured)


def _measure(admin_client):
    order = Order.objects.select_related("customer", "partner").order_by("-created_at").first()
    return {
        "page": _queries(lambda: admin_client.get(URL)),
        "htmx": _queries(lambda: admin_client.get(URL, headers={"HX-Request": "true"})),
        "event": _queries(lambda: fragments.admin_event_html(signals.ORDER_STATUS_UPDATE, order)),
        "partner": _queries(lambda: fragments.admin_partner_html()),
        "snapshot": _queries(fragments.admin_snapshot_html),
    }


def test_query_count_does_not_grow_with_orders_and_partners(admin_client, product):
    _populate(5, 2, product)
    small = _measure(admin_client)
    _populate(35, 6, product)
    assert Order.objects.count() == 40
    large = _measure(admin_client)
    assert small == large, (small, large)


# --- rows read -----------------------------------------------------------------------------------


def _rows_read(callable_):
    """How many rows the store hands back to ``callable_``'s queries: each query recorded,
    then counted again in SQL (SQLite)."""
    queries = []

    def record(execute, sql, params, many, context):
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        callable_()
    with connection.cursor() as cursor:
        total = 0
        for sql, params in queries:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS counted", params)  # noqa: S608 - the ORM's own SQL
            total += cursor.fetchone()[0]
    return total


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts each query's rows again in SQL")
def test_counts_and_timing_read_no_more_rows_with_more_open_and_cancelled_orders(product, settings):
    # Rendered once a second while orders flow, and on every page load: counting in
    # Python read every open order.
    settings.DELIVERY_PROMISE_MINUTES = 10
    customer = CustomerFactory()
    backdate(make_order(customer, [(product, 1)]), created_at=timedelta(minutes=25))
    order_in_status(S.CANCELLED, customer=customer, products_with_qty=[(product, 1)])
    few = _rows_read(selectors.live_numbers)

    for _ in range(30):
        make_order(customer, [(product, 1)])
    for _ in range(10):
        order_in_status(S.CANCELLED, customer=customer, products_with_qty=[(product, 1)])
    many = _rows_read(selectors.live_numbers)

    counts, timing = selectors.live_numbers()
    assert (counts["open_total"], counts["late"], timing["oldest_open"]) == (31, 1, 25)
    assert few == many, (few, many)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts each query's rows again in SQL")
def test_partners_deliveries_today_are_counted_in_the_store(product):
    partner = PartnerFactory()
    order_in_status(S.DELIVERED, partner=partner, products_with_qty=[(product, 1)])
    one = _rows_read(selectors.partners_overview)
    for _ in range(8):
        order_in_status(S.DELIVERED, partner=partner, products_with_qty=[(product, 1)])
    nine = _rows_read(selectors.partners_overview)

    assert [row.delivered_today for row in selectors.partners_overview()] == [9]
    assert one == nine, (one, nine)
