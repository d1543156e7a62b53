"""What one order placement costs the store: queries and write transactions, pinned.

The request (``POST /api/orders/``, whose live event and answer both use the order as
its one transaction wrote it: ``orders.selectors.order_as_written``, no read after the
commit) and the live event's messages, built off the request
(``dispatch.publish.build_messages``, on the publisher's thread under the server), are
counted apart.
A write transaction is a ``BEGIN`` or a write outside one (SQLite's autocommit:
a transaction of its own); on SQLite each is one commit. Real commits: these tests
run outside the test's wrapping transaction (``transaction=True``).
"""

import json

import pytest
from django.db import connection

from dispatch import publish as publishing
from orders.models import Order
from orders.selectors import order_with_details
from orders.signals import NEW_ORDER, ORDER_STATUS_UPDATE

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Statements(list):
    """Every statement the default connection runs, with whether a transaction was open."""

    def __call__(self, execute, sql, params, many, context):
        self.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    def queries(self) -> int:
        return sum(1 for sql, _ in self if not sql.startswith(("BEGIN", "SAVEPOINT", "RELEASE")))

    def write_transactions(self) -> int:
        begins = sum(1 for sql, _ in self if sql.startswith("BEGIN"))
        lone_writes = sum(1 for sql, in_atomic in self if sql.startswith(WRITES) and not in_atomic)
        return begins + lone_writes


def place(api, customer, product, statements, quantity=1):
    client = api(customer)
    with connection.execute_wrapper(statements):
        response = client.post(
            "/api/orders/",
            {"items": [{"product": str(product.pk), "quantity": quantity}], "address": "12 Baker Street, Marylebone"},
            format="json",
        )
    return response


def test_placing_an_order_takes_two_write_transactions_and_a_fixed_number_of_queries(api, customer, milk, published):
    # given a customer and a product; the live event is recorded, not built (its build is counted below)
    statements = Statements()

    # when they place a one-line order through the API
    response = place(api, customer, milk, statements)

    # then: the stock decrement (one conditional UPDATE, its own transaction), then the
    # order, its item and its first event in one transaction; nothing read back
    assert response.status_code == 201, response.content
    assert published == [(NEW_ORDER, response.json()["ref"], 1, Order.Status.PLACED)]
    assert statements.write_transactions() == 2, statements
    writes = [sql.split()[:3] for sql, _ in statements if sql.startswith(WRITES)]
    assert len(writes) == 4, writes  # stock, order, item, event
    # the user (JWT), the products and the 4 writes: the live event and the answer use the
    # order as written (order.as_committed, orders.selectors.order_as_written)
    assert statements.queries() == 6, "\n".join(sql[:120] for sql, _ in statements)
    # and none of them sorts: the products are looked up by id into a dict
    assert not [sql for sql, _ in statements if "ORDER BY" in sql]


def test_a_second_line_adds_one_stock_update_and_its_transaction(api, customer, milk, bananas, published):
    statements = Statements()
    client = api(customer)
    with connection.execute_wrapper(statements):
        response = client.post(
            "/api/orders/",
            {
                "items": [{"product": str(milk.pk), "quantity": 1}, {"product": str(bananas.pk), "quantity": 1}],
                "address": "12 Baker Street, Marylebone",
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    assert statements.write_transactions() == 3, statements


def test_the_order_as_written_is_the_order_as_read_back(api, customer, milk, bananas, partner, admin_user):
    # given a two-line order placed through the API, with a note and a drop-off point
    client = api(customer)
    response = client.post(
        "/api/orders/",
        {
            "items": [{"product": str(bananas.pk), "quantity": 2}, {"product": str(milk.pk), "quantity": 3}],
            "address": "12 Baker Street, Marylebone",
            "note": "Ring twice.",
            "latitude": 48.88,
            "longitude": 2.34,
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    # then its answer (the order as written, no read) is what reading it back answers
    assert client.get(f"/api/orders/{response.json()['ref']}/").json() == response.json()


def test_the_answer_and_the_live_event_share_one_serialisation(api, customer, milk, monkeypatch):
    from orders.serializers import OrderSerializer

    # given every serialisation of a whole order counted
    calls = []
    real = OrderSerializer.everything.__func__

    def everything(cls, order):
        calls.append(order)
        return real(cls, order)

    monkeypatch.setattr(OrderSerializer, "everything", classmethod(everything))

    # when an order is placed through the API and its live messages are built (here at
    # once, in the request: without a server loop there is no publisher)
    response = place(api, customer, milk, Statements())

    # then the order was serialised once, for the answer and the four audiences alike
    assert response.status_code == 201
    assert len(calls) == 1


def test_the_live_messages_of_the_order_as_written_are_those_of_the_order_read_back(
    customer, milk, bananas, monkeypatch
):
    from django.utils import timezone

    from orders.services import place_order

    # given a placed order: the live event's order is the one its transaction wrote
    order, _ = place_order(
        customer=customer, lines=[(bananas.pk, 1), (milk.pk, 2)], address="12 Baker Street, Marylebone", note="Gate 4"
    )
    written = order.as_committed
    assert written is not None

    # then every audience's message is the one the order read back would make (built at
    # the same moment: the admins' blocks say when they were made)
    read_back = order_with_details(order.pk)
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    assert publishing.build_messages([(NEW_ORDER, written, None)]) == publishing.build_messages(
        [(NEW_ORDER, read_back, None)]
    )


def test_the_live_event_reads_the_order_in_the_request_and_builds_its_messages_with_fixed_queries(
    customer, milk, partner, admin_user
):
    # given a placed order (through the service, as the API does)
    from orders.services import place_order

    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address="12 Baker Street, Marylebone")

    # when the order is read as committed, with details (once, in the request)
    statements = Statements()
    with connection.execute_wrapper(statements):
        loaded = order_with_details(order.pk)
    # then: the order with customer and partner, its items, its timeline; no writes
    assert statements.queries() == 3, statements
    assert statements.write_transactions() == 0

    # and building every audience's messages (off the request under the server) costs
    # a fixed number of queries, however many orders, partners or sockets there are
    statements = Statements()
    with connection.execute_wrapper(statements):
        messages = publishing.build_messages([(NEW_ORDER, loaded, None)])
    assert [group for group, _ in messages] == ["partners", f"customer.{customer.pk}", "admins"]
    assert statements.write_transactions() == 0
    assert statements.queries() == BUILD_QUERIES, [sql for sql, _ in statements]

    # and a batch of two changes renders the admins' blocks once: the same queries as one
    statements = Statements()
    with connection.execute_wrapper(statements):
        publishing.build_messages([(NEW_ORDER, loaded, None), (NEW_ORDER, loaded, None)])
    assert statements.queries() == BUILD_QUERIES


BUILD_QUERIES = 8  # all of them the admins' counts, partners, timing blocks and chart


def test_a_new_order_builds_no_html_for_its_customer_yet_sends_their_api_clients_the_event(customer, milk, monkeypatch):
    from dispatch import fragments
    from orders.services import cancel_order, place_order

    # given a placed order, and from now on the customer's partials counted
    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address="12 Baker Street, Marylebone")
    rendered = []
    for name in ("customer_status_html", "customer_row_html"):
        real = getattr(fragments, name)
        monkeypatch.setattr(fragments, name, lambda order, real=real, name=name: rendered.append(name) or real(order))

    # when its new_order messages are built
    messages = dict(publishing.build_messages([(NEW_ORDER, order.as_committed, None)]))

    # then no partial of the customer's is rendered: their pages replace the order's status
    # section and list row by id, and no page holds a new order's (one loaded after the
    # commit shows it from the store); the API clients still get the event
    mine = messages[f"customer.{customer.pk}"]
    assert rendered == [] and not mine["html"]
    assert json.loads(mine["json"])["event"] == NEW_ORDER

    # and any later change renders both, for the pages that now show the order
    cancelled = cancel_order(actor=customer, order_ref=order.ref)
    rendered.clear()  # (the cancel published too: without a server loop, in the caller)
    messages = dict(publishing.build_messages([(ORDER_STATUS_UPDATE, order_with_details(cancelled.pk), None)]))
    assert rendered == ["customer_status_html", "customer_row_html"]
    assert f'id="order-{order.ref}-status"' in messages[f"customer.{customer.pk}"]["html"][0]
