"""The query count of a page must not grow with the rows it lists.

The catalog (orders/tests/test_pages.py), the order detail (same file), the partner
board (dispatch/tests/test_board.py), the partner history (dispatch/tests/test_history.py)
and the dashboard (dispatch/tests/test_dashboard.py) already have this test; this file
adds the one page that had none: the customer's order list, with orders in several
states, some accepted by a partner, with one to three lines each.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch.factories import order_in_status
from orders.factories import ProductFactory, make_order
from orders.models import Order

pytestmark = pytest.mark.django_db

ORDER_LIST = reverse("orders:list")
S = Order.Status


def _add_orders(customer, products, count: int) -> None:
    for i in range(count):
        lines = [(product, 1) for product in products[: 1 + i % 3]]
        if i % 4 == 0:
            # a new partner each time (a partner's capacity is limited)
            order_in_status(S.OUT_FOR_DELIVERY, customer=customer, products_with_qty=lines)
        elif i % 4 == 1:
            order_in_status(S.CANCELLED, customer=customer, products_with_qty=lines)
        else:
            make_order(customer, lines)


def _queries(client, path: str, **params) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_customer_order_list_query_count_does_not_grow_with_orders(client, customer):
    products = [ProductFactory(stock=1000) for _ in range(3)]
    client.force_login(customer)

    _add_orders(customer, products, 5)
    few, html = _queries(client, ORDER_LIST)
    assert html.count('id="order-') >= 5

    _add_orders(customer, products, 55)
    assert Order.objects.filter(customer=customer).count() == 60
    many, html = _queries(client, ORDER_LIST)
    last_page, last_html = _queries(client, ORDER_LIST, page=3)

    assert many == few, (few, many)
    assert last_page == few, (few, last_page)
    # The pages really list the orders (a page of 20, then the rest), not an empty table.
    newest = Order.objects.filter(customer=customer).order_by("-created_at").first()
    assert newest.ref in html
    assert 'id="order-' in last_html
