"""The partner's delivery history: /partner/history/."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dispatch.services import accept_order, advance_order, set_availability
from dispatch.views import HISTORY_PAGE_SIZE
from orders.models import Category, Order, Product
from orders.services import place_order

pytestmark = pytest.mark.django_db

HISTORY = reverse("dispatch:history")
S = Order.Status


@pytest.fixture
def product(db):
    category = Category.objects.create(name="Bakery", slug="bakery")
    return Product.objects.create(category=category, name="Bagels", slug="bagels", price="2.00", stock=1000)


@pytest.fixture
def deliver(customer, product):
    """Place an order and take it all the way to delivered, through the services.
    ``took`` and ``ago`` then set the recorded times, as if the delivery were real."""

    def deliver_one(partner, *, quantity=1, address="4 Mill Lane, Riverside", took=None, ago=None):
        set_availability(partner=partner, online=True)
        order, _ = place_order(customer=customer, lines=[(product.pk, quantity)], address=address)
        order = accept_order(partner=partner, order_ref=order.ref)
        for step in (S.PICKED_UP, S.OUT_FOR_DELIVERY):
            advance_order(partner=partner, order_ref=order.ref, to_status=step)
        order = advance_order(partner=partner, order_ref=order.ref, to_status=S.DELIVERED, code=order.delivery_code)
        if took is not None or ago is not None:
            delivered_at = timezone.now() - (ago or timedelta())
            accepted_at = delivered_at - (took or (order.delivered_at - order.accepted_at))
            Order.objects.filter(pk=order.pk).update(accepted_at=accepted_at, delivered_at=delivered_at)
            order.refresh_from_db()
        return order

    return deliver_one


def rows_of(html):
    return re.findall(r'<tr id="delivery-([A-Z0-9]+)"', html)


def test_history_lists_my_deliveries_newest_first_with_durations(client, partner, other_partner, deliver):
    older = deliver(partner, quantity=3, took=timedelta(minutes=14), ago=timedelta(minutes=50))
    newer = deliver(partner, quantity=1, address="9 Quay Street, Harbourside", took=timedelta(minutes=8, seconds=20))
    someone_elses = deliver(other_partner)
    client.force_login(partner)

    response = client.get(HISTORY)

    assert response.status_code == 200
    html = response.content.decode()
    assert rows_of(html) == [newer.ref, older.ref]
    assert someone_elses.ref not in html
    older_row = re.search(rf'<tr id="delivery-{older.ref}".*?</tr>', html, re.S).group(0)
    assert "14 min" in older_row
    assert "Riverside" in older_row
    assert ">3</td>" in older_row  # items
    assert "7.99" in older_row  # 3 x 2.00 + 1.99 delivery
    assert "8 min" in html
    assert "Harbourside" in html
    assert "Mill Lane" not in html  # the area, not the street


def test_history_totals_today_and_all_time(client, partner, deliver):
    deliver(partner)
    deliver(partner)
    deliver(partner, ago=timedelta(days=2))
    client.force_login(partner)

    html = client.get(HISTORY).content.decode()

    assert re.search(r"<dt>Deliveries today</dt><dd>2</dd>", html)
    assert re.search(r"<dt>All time</dt><dd>3</dd>", html)


def test_history_shows_only_delivered_orders(client, partner, customer, product, deliver):
    delivered = deliver(partner)
    set_availability(partner=partner, online=True)
    open_order, _ = place_order(customer=customer, lines=[(product.pk, 1)], address="1 High St, Town")
    accept_order(partner=partner, order_ref=open_order.ref)
    client.force_login(partner)

    html = client.get(HISTORY).content.decode()

    assert rows_of(html) == [delivered.ref]


def test_history_is_paginated(client, partner, deliver):
    for _ in range(HISTORY_PAGE_SIZE + 2):
        deliver(partner)
    client.force_login(partner)

    first = client.get(HISTORY).content.decode()
    second = client.get(HISTORY, {"page": 2}).content.decode()

    assert len(rows_of(first)) == HISTORY_PAGE_SIZE
    assert len(rows_of(second)) == 2
    assert not set(rows_of(first)) & set(rows_of(second))
    assert 'href="?page=2"' in first
    assert "Page 2 of 2" in second
    assert re.search(r"<dt>All time</dt><dd>22</dd>", second)
    # Nonsense page numbers are not an error.
    for page in ("abc", "999", "-1"):
        assert client.get(HISTORY, {"page": page}).status_code == 200


def test_history_without_deliveries(client, partner):
    client.force_login(partner)
    html = client.get(HISTORY).content.decode()
    assert "No deliveries yet." in html
    assert re.search(r"<dt>All time</dt><dd>0</dd>", html)


def test_history_queries_do_not_grow_with_deliveries(client, partner, deliver):
    client.force_login(partner)

    def history_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(HISTORY)
        assert response.status_code == 200
        return len(queries)

    for _ in range(3):
        deliver(partner)
    few = history_queries()
    for _ in range(15):
        deliver(partner)
    assert history_queries() == few
