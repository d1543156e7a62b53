"""orders.services: placing, moving and cancelling orders, and who may see which.

Orders are only ever made through ``place_order`` (orders.factories.make_order) and
moved on through the services (orders.factories.order_in_status), so every
timeline in these tests is a real one.
"""

import itertools
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from accounts.factories import AdminFactory, PartnerFactory
from dispatch import services as dispatch_services
from dispatch.factories import order_in_status
from orders import services, signals
from orders.errors import (
    InvalidOrder,
    InvalidTransition,
    NotAllowed,
    OrderChanged,
    OrderNotFound,
    OutOfStock,
    StockChanged,
)
from orders.factories import DEFAULT_ADDRESS, ProductFactory, make_order
from orders.models import MAX_CODE_ATTEMPTS, STATUS_TIMESTAMP, Order, OrderEvent, OrderItem, Product
from orders.selectors import order_for, orders_visible_to
from orders.services import (
    DELIVERY_FEE,
    FREE_DELIVERY_FROM,
    MAX_LINES,
    RESTOCK_STATUSES,
    cancel_order,
    place_order,
    transition_order,
)
from quickcommerce.testing import interleave

pytestmark = pytest.mark.django_db

S = Order.Status


# --- helpers -------------------------------------------------------------------------


def stock_of(product):
    return Product.objects.get(pk=product.pk).stock


def fresh(order):
    return Order.objects.get(pk=order.pk)


def snapshot(order):
    """Everything a failed change must leave alone."""
    order = fresh(order)
    return (
        order.status,
        order.version,
        order.partner_id,
        order.delivery_code,
        list(order.events.values_list("status", "version", "actor_id", "note")),
        sorted((item.product_id, Product.objects.get(pk=item.product_id).stock) for item in order.items.all()),
    )


@pytest.fixture
def milk():
    return ProductFactory(name="Whole Milk", price=Decimal("1.19"), stock=10)


@pytest.fixture
def bread():
    return ProductFactory(name="Sourdough Loaf", price=Decimal("3.29"), stock=5)


# --- place_order: totals, items, area, timeline, stock ------------------------------------


def test_place_order_computes_totals_server_side_from_catalog_prices(customer, milk, bread):
    # given a basket below the free-delivery threshold
    order, created = place_order(customer=customer, lines=[(milk.pk, 3), (bread.pk, 1)], address=DEFAULT_ADDRESS)

    # then the money is Decimal, computed from the catalog, and stored as such
    assert created is True
    order = fresh(order)
    assert order.subtotal == Decimal("6.86")  # 3 x 1.19 + 3.29
    assert order.delivery_fee == DELIVERY_FEE == Decimal("1.99")
    assert order.total == Decimal("8.85")
    assert all(isinstance(value, Decimal) for value in (order.subtotal, order.delivery_fee, order.total))
    assert order.item_count == 4
    assert order.customer == customer
    assert order.status == S.PLACED
    assert order.version == 1
    assert order.partner is None
    assert order.delivery_code == ""


@pytest.mark.parametrize(
    ("price", "fee"),
    [
        (Decimal("0.50"), DELIVERY_FEE),
        (Decimal("14.99"), DELIVERY_FEE),
        (FREE_DELIVERY_FROM, Decimal("0.00")),  # "from": the threshold itself is free
        (Decimal("15.01"), Decimal("0.00")),
        (Decimal("80.00"), Decimal("0.00")),
    ],
)
def test_delivery_fee_below_the_threshold_free_from_it(customer, price, fee):
    product = ProductFactory(price=price)
    order = fresh(make_order(customer, [(product, 1)]))
    assert order.subtotal == price
    assert order.delivery_fee == fee
    assert order.total == price + fee


def test_items_copy_name_and_unit_price_so_later_catalog_changes_do_not_touch_the_order(customer, milk, bread):
    order = make_order(customer, [(milk, 2), (bread, 1)])

    # when the catalog changes after the order was placed
    Product.objects.filter(pk=milk.pk).update(name="Milk (new recipe)", price=Decimal("9.99"))
    Product.objects.filter(pk=bread.pk).update(price=Decimal("0.01"))

    # then the order keeps what the customer agreed to pay for
    items = {item.product_id: item for item in OrderItem.objects.filter(order=order)}
    assert (items[milk.pk].name, items[milk.pk].unit_price, items[milk.pk].quantity) == (
        "Whole Milk",
        Decimal("1.19"),
        2,
    )
    assert items[milk.pk].line_total == Decimal("2.38")
    assert (items[bread.pk].name, items[bread.pk].unit_price, items[bread.pk].line_total) == (
        "Sourdough Loaf",
        Decimal("3.29"),
        Decimal("3.29"),
    )
    order = fresh(order)
    assert order.subtotal == Decimal("5.67")
    assert order.total == Decimal("7.66")


def test_area_comes_from_the_address_and_never_shows_the_street(customer, milk):
    order = fresh(make_order(customer, [(milk, 1)], address="  221B Baker Street, Flat 2, Marylebone  ", note=" ring "))
    assert order.address == "221B Baker Street, Flat 2, Marylebone"
    assert order.area == "Marylebone"
    assert "Baker" not in order.area
    assert "221B" not in order.area
    assert order.note == "ring"


def test_the_first_event_is_placed_version_1_by_the_customer(customer, milk):
    order = make_order(customer, [(milk, 1)])
    assert list(order.events.values_list("status", "version", "actor", "note")) == [(S.PLACED, 1, customer.pk, "")]


def test_stock_is_taken_per_line(customer, milk, bread):
    make_order(customer, [(milk, 3), (bread, 5)])
    assert stock_of(milk) == 7
    assert stock_of(bread) == 0  # exactly the last ones: allowed, and never below zero


def test_product_ids_may_come_as_strings(customer, milk):
    # the API emits str(pk) (same on SQLite and MongoDB) and accepts it back
    order = make_order(customer, [(str(milk.pk), 2)])
    assert [(item.product_id, item.quantity) for item in order.items.all()] == [(milk.pk, 2)]


def test_duplicate_lines_are_merged_into_one_item(customer, milk, bread):
    order = make_order(customer, [(milk, 2), (bread, 1), (str(milk.pk), 3)])
    items = sorted(order.items.values_list("product_id", "quantity"))
    assert items == sorted([(milk.pk, 5), (bread.pk, 1)])
    assert fresh(order).item_count == 6
    assert stock_of(milk) == 5


def test_merged_lines_may_not_exceed_the_maximum_quantity(customer):
    product = ProductFactory(stock=500)
    with pytest.raises(InvalidOrder, match="between 1 and 99"):
        place_order(customer=customer, lines=[(product.pk, 50), (product.pk, 50)], address=DEFAULT_ADDRESS)
    assert stock_of(product) == 500
    assert not Order.objects.exists()


def test_quantity_limits_are_inclusive(customer):
    product = ProductFactory(stock=500)
    order = make_order(customer, [(product, 99)])
    assert order.item_count == 99
    assert make_order(customer, [(product, 1)]).item_count == 1


# --- place_order: bad input -----------------------------------------------------------------


def _bad_lines(product):
    return {
        "no lines": [],
        "None for lines": None,
        f"more than {MAX_LINES} lines": [(product.pk, 1)] * (MAX_LINES + 1),
        "quantity 0": [(product.pk, 0)],
        "quantity 100": [(product.pk, 100)],
        "quantity -1": [(product.pk, -1)],
        "quantity as a string": [(product.pk, "2")],
        "quantity True": [(product.pk, True)],
        "quantity 1.5": [(product.pk, 1.5)],
        "quantity None": [(product.pk, None)],
        "unknown product id": [(987654, 1)],
        "malformed product id": [("abc", 1)],
        "empty product id": [("", 1)],
        "None product id": [(None, 1)],
    }


BAD_LINES = list(_bad_lines(Product(pk=1)))


@pytest.mark.parametrize("case", BAD_LINES)
def test_bad_lines_are_an_invalid_order_and_take_nothing(customer, published, case, django_capture_on_commit_callbacks):
    product = ProductFactory(stock=100)
    lines = _bad_lines(product)[case]
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidOrder) as error:
        place_order(customer=customer, lines=lines, address=DEFAULT_ADDRESS)
    assert error.value.status_code == 400
    assert str(error.value)
    assert stock_of(product) == 100
    assert not Order.objects.exists()
    assert not OrderEvent.objects.exists()
    assert published == []


def test_exactly_max_lines_are_allowed(customer):
    products = ProductFactory.create_batch(MAX_LINES)
    order = make_order(customer, [(product, 1) for product in products])
    assert order.items.count() == MAX_LINES


def test_an_inactive_product_cannot_be_ordered(customer, milk):
    hidden = ProductFactory(name="Discontinued Cola", active=False, stock=50)
    with pytest.raises(InvalidOrder, match="Discontinued Cola is no longer sold"):
        place_order(customer=customer, lines=[(milk.pk, 1), (hidden.pk, 1)], address=DEFAULT_ADDRESS)
    assert stock_of(milk) == 10
    assert stock_of(hidden) == 50
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("address", "", "address"),
        ("address", "   \n ", "address"),
        ("address", None, "address"),
        ("address", "x" * 501, "address"),
        ("note", "x" * 301, "note"),
        ("idempotency_key", "k" * 65, "idempotency key"),
    ],
)
def test_bad_address_note_or_key_is_an_invalid_order(customer, milk, field, value, message):
    kwargs = {"customer": customer, "lines": [(milk.pk, 1)], "address": DEFAULT_ADDRESS, field: value}
    with pytest.raises(InvalidOrder, match=message):
        place_order(**kwargs)
    assert stock_of(milk) == 10
    assert not Order.objects.exists()


def test_longest_allowed_address_note_and_key(customer, milk):
    order, created = place_order(
        customer=customer, lines=[(milk.pk, 1)], address="a" * 500, note="n" * 300, idempotency_key="k" * 64
    )
    assert created
    order = fresh(order)
    assert (len(order.address), len(order.note), order.idempotency_key) == (500, 300, "k" * 64)


@pytest.mark.parametrize("role", ["partner", "admin"])
def test_only_customers_place_orders(make_user, milk, role):
    with pytest.raises(NotAllowed) as error:
        place_order(customer=make_user(role), lines=[(milk.pk, 1)], address=DEFAULT_ADDRESS)
    assert error.value.status_code == 403
    assert stock_of(milk) == 10
    assert not Order.objects.exists()


@pytest.mark.parametrize("bad", [-1, 0])
def test_a_bad_quantity_is_refused_even_next_to_a_good_line_for_the_same_product(customer, milk, bad):
    with pytest.raises(InvalidOrder):
        place_order(customer=customer, lines=[(milk.pk, 5), (milk.pk, bad)], address=DEFAULT_ADDRESS)
    assert stock_of(milk) == 10


@pytest.mark.skipif(settings.USE_MONGO, reason="integer primary keys (SQLite) only")
@pytest.mark.parametrize("bad_id", [True, 1.5])
def test_a_bool_or_float_product_id_is_malformed_not_product_one(customer, bad_id):
    product_one = ProductFactory(pk=1, stock=10)
    with pytest.raises(InvalidOrder):
        place_order(customer=customer, lines=[(bad_id, 1)], address=DEFAULT_ADDRESS)
    assert stock_of(product_one) == 10


@pytest.mark.skipif(settings.USE_MONGO, reason="integer primary keys (SQLite) only")
@pytest.mark.parametrize("huge_id", [2**63, 10**20, str(10**20)])
def test_a_product_id_beyond_any_key_is_an_invalid_order(customer, huge_id):
    with pytest.raises(InvalidOrder):
        place_order(customer=customer, lines=[(huge_id, 1)], address=DEFAULT_ADDRESS)


# --- place_order: stock -----------------------------------------------------------------


def test_out_of_stock_names_the_product_and_takes_nothing(customer, published, django_capture_on_commit_callbacks):
    eggs = ProductFactory(name="Free-Range Eggs", stock=2)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(OutOfStock) as error:
        place_order(customer=customer, lines=[(eggs.pk, 3)], address=DEFAULT_ADDRESS)
    assert error.value.status_code == 409
    assert str(error.value) == "Not enough Free-Range Eggs in stock: only 2 left."
    assert error.value.product == eggs
    assert error.value.available == 2
    assert stock_of(eggs) == 2
    assert not Order.objects.exists()
    assert published == []


def test_sold_out_says_out_of_stock(customer):
    popcorn = ProductFactory(name="Popcorn", stock=0)
    with pytest.raises(OutOfStock, match=r"^Sorry, Popcorn is out of stock\.$"):
        place_order(customer=customer, lines=[(popcorn.pk, 1)], address=DEFAULT_ADDRESS)


def test_when_the_second_line_is_short_the_first_lines_stock_is_given_back(customer):
    # given two products; stock is taken line by line in a fixed order (by str(pk)),
    # so arrange that the line taken FIRST has plenty and the SECOND is short
    one, two = ProductFactory(stock=10), ProductFactory(stock=10)
    taken_first, taken_second = sorted([one, two], key=lambda product: str(product.pk))
    Product.objects.filter(pk=taken_second.pk).update(stock=1)
    Product.objects.filter(pk=taken_first.pk).update(stock=10)

    # when the order needs 4 of each
    with pytest.raises(OutOfStock) as error:
        place_order(customer=customer, lines=[(one.pk, 4), (two.pk, 4)], address=DEFAULT_ADDRESS)

    # then the short product is named and the first line's 4 are back on the shelf
    assert taken_second.name in str(error.value)
    assert stock_of(taken_first) == 10
    assert stock_of(taken_second) == 1
    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()


def test_the_last_unit_is_sold_once(customer, other_customer):
    last = ProductFactory(stock=1)
    make_order(customer, [(last, 1)])
    with pytest.raises(OutOfStock):
        make_order(other_customer, [(last, 1)])
    assert stock_of(last) == 0
    assert Order.objects.count() == 1


# --- place_order: idempotency and the deferred publish -----------------------------------


def test_same_key_twice_returns_the_same_order_and_takes_stock_once(
    customer, milk, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, created_first = place_order(
            customer=customer, lines=[(milk.pk, 2)], address=DEFAULT_ADDRESS, idempotency_key="checkout-1"
        )
        # a double submit, even with a different basket, replays the first order
        second, created_second = place_order(
            customer=customer, lines=[(milk.pk, 5)], address="elsewhere", idempotency_key="  checkout-1  "
        )
    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert stock_of(milk) == 8
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1
    assert published == [(signals.NEW_ORDER, first.ref, 1, S.PLACED)]


def test_different_customers_may_use_the_same_key(customer, other_customer, milk):
    first, created_first = place_order(customer=customer, lines=[(milk.pk, 1)], address="a, B", idempotency_key="k1")
    second, created_second = place_order(
        customer=other_customer, lines=[(milk.pk, 1)], address="c, D", idempotency_key="k1"
    )
    assert created_first and created_second
    assert first.pk != second.pk
    assert second.customer == other_customer
    assert stock_of(milk) == 8


def test_without_a_key_every_call_is_a_new_order(customer, milk):
    first, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=DEFAULT_ADDRESS)
    second, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=DEFAULT_ADDRESS)
    assert first.pk != second.pk
    assert first.idempotency_key != second.idempotency_key
    assert stock_of(milk) == 8


def test_racing_double_submit_makes_one_order_and_gives_the_losers_stock_back(
    customer, milk, monkeypatch, published, django_capture_on_commit_callbacks
):
    # given two submits with one key: the second one's lookup ran before the first
    # one's order existed (simulated: the first submit completes while the second is
    # taking stock), so only the unique constraint can catch it
    winner = {}

    def first_submit():
        winner["order"], winner["created"] = place_order(
            customer=customer, lines=[(milk.pk, 2)], address=DEFAULT_ADDRESS, idempotency_key="dup"
        )

    interleave(monkeypatch, services, "_take_stock", first_submit)

    with django_capture_on_commit_callbacks(execute=True):
        order, created = place_order(
            customer=customer, lines=[(milk.pk, 2)], address=DEFAULT_ADDRESS, idempotency_key="dup"
        )

    # then the loser returns the winner's order and its stock went back
    assert winner["created"] is True
    assert (order.pk, created) == (winner["order"].pk, False)
    assert Order.objects.count() == 1
    assert stock_of(milk) == 8
    assert published == [(signals.NEW_ORDER, order.ref, 1, S.PLACED)]


def test_new_order_is_published_once_per_order_and_only_after_commit(
    customer, other_customer, milk, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = make_order(customer, [(milk, 1)])
        second = make_order(other_customer, [(milk, 1)])
        assert published == [], "nobody hears of an order before it is committed"
    assert len(callbacks) == 2
    assert published == [(signals.NEW_ORDER, first.ref, 1, S.PLACED), (signals.NEW_ORDER, second.ref, 1, S.PLACED)]


# --- transition_order and the table ------------------------------------------------------


def _actor_for(order, role):
    if role == "customer":
        return order.customer
    if role == "partner":
        return order.partner or PartnerFactory()
    return AdminFactory()


@pytest.mark.parametrize(
    ("from_status", "to_status", "role"), list(itertools.product(S, S, ["customer", "partner", "admin"]))
)
def test_transition_order_follows_the_table(
    from_status, to_status, role, published, django_capture_on_commit_callbacks
):
    # given an order brought to from_status through the services
    order = order_in_status(from_status)
    actor = _actor_for(order, role)
    before = snapshot(order)
    allowed = services.can_transition(from_status, to_status, role)

    if not allowed:
        # then a move the table does not allow is refused and changes nothing
        with pytest.raises(InvalidTransition) as error:
            transition_order(order=order, to_status=to_status, actor=actor)
        assert order.ref in str(error.value)
        assert snapshot(order) == before
        return

    # when the table allows it
    with django_capture_on_commit_callbacks(execute=True):
        result = transition_order(order=order, to_status=to_status, actor=actor, note="why")

    # then exactly one step: status, version + 1, one event by the actor, its timestamp
    stored = fresh(order)
    assert (result.status, result.version) == (stored.status, stored.version) == (to_status, before[1] + 1)
    new_events = list(stored.events.values_list("status", "version", "actor_id", "note"))
    assert new_events == [*before[4], (to_status, before[1] + 1, actor.pk, "why")]
    if to_status in STATUS_TIMESTAMP:
        assert getattr(stored, STATUS_TIMESTAMP[to_status]) is not None
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, before[1] + 1, to_status)]


def test_every_change_bumps_the_version_by_one_and_appends_one_event(customer, partner):
    order = order_in_status(S.DELIVERED, customer=customer, partner=partner)
    timeline = list(order.events.order_by("version").values_list("status", "version", "actor_id"))
    assert timeline == [
        (S.PLACED, 1, customer.pk),
        (S.ACCEPTED, 2, partner.pk),
        (S.PICKED_UP, 3, partner.pk),
        (S.OUT_FOR_DELIVERY, 4, partner.pk),
        (S.DELIVERED, 5, partner.pk),
    ]
    assert order.version == 5
    stamps = [order.created_at, order.accepted_at, order.picked_up_at, order.out_for_delivery_at, order.delivered_at]
    assert None not in stamps
    assert stamps == sorted(stamps)
    assert order.cancelled_at is None


def test_a_stale_order_object_loses_the_compare_and_set_and_changes_nothing(customer, partner):
    # given two copies of the same placed order, read before anything happened
    order = make_order(customer)
    stale = fresh(order)

    # when the customer cancels through one copy
    transition_order(order=fresh(order), to_status=S.CANCELLED, actor=customer)
    after_cancel = snapshot(order)

    # then a change through the stale copy (allowed from what it still believes) is refused
    with pytest.raises(OrderChanged) as error:
        transition_order(order=stale, to_status=S.ACCEPTED, actor=partner)
    assert error.value.status_code == 409
    assert snapshot(order) == after_cancel
    assert fresh(order).status == S.CANCELLED


def test_the_compare_and_set_also_checks_the_version(admin_user):
    # given an accepted order and a copy read before an admin action that bumped
    # only the version (status unchanged)
    order = order_in_status(S.ACCEPTED)
    Order.objects.filter(pk=order.pk).update(code_attempts=MAX_CODE_ATTEMPTS)  # a locked code
    stale = fresh(order)
    dispatch_services.reset_delivery_code(admin=admin_user, order_ref=order.ref)
    before = snapshot(order)
    assert before[0] == stale.status and before[1] == stale.version + 1

    with pytest.raises(OrderChanged):
        transition_order(order=stale, to_status=S.PICKED_UP, actor=stale.partner)
    assert snapshot(order) == before


def test_the_match_condition_is_part_of_the_compare_and_set(other_partner):
    order = order_in_status(S.ACCEPTED)
    before = snapshot(order)
    with pytest.raises(OrderChanged):
        transition_order(order=order, to_status=S.PICKED_UP, actor=other_partner, match={"partner": other_partner})
    assert snapshot(order) == before


def test_transition_to_an_unknown_status_is_an_invalid_transition(customer):
    order = make_order(customer)
    with pytest.raises(InvalidTransition):
        transition_order(order=order, to_status="teleported", actor=customer)


# --- cancel_order -------------------------------------------------------------------------


def test_customer_cancels_a_placed_order_and_the_stock_goes_back(
    customer, milk, published, django_capture_on_commit_callbacks
):
    order = make_order(customer, [(milk, 4)])
    assert stock_of(milk) == 6

    with django_capture_on_commit_callbacks(execute=True):
        cancelled = cancel_order(actor=customer, order_ref=order.ref, reason="Ordered by mistake.")
        assert published == []

    stored = fresh(order)
    assert cancelled.status == stored.status == S.CANCELLED
    assert stored.version == 2
    assert stored.cancelled_at is not None
    assert stock_of(milk) == 10
    assert list(stored.events.values_list("status", "version", "actor_id", "note"))[-1] == (
        S.CANCELLED,
        2,
        customer.pk,
        "Ordered by mistake.",
    )
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, 2, S.CANCELLED)]


def test_a_long_reason_is_cut_to_the_note_length(customer):
    order = make_order(customer)
    cancel_order(actor=customer, order_ref=order.ref, reason="r" * 400)
    assert fresh(order).events.last().note == "r" * 300


@pytest.mark.parametrize("status", [S.ACCEPTED, S.PICKED_UP, S.OUT_FOR_DELIVERY, S.DELIVERED])
def test_customer_cannot_cancel_once_accepted(customer, milk, status):
    order = order_in_status(status, customer=customer, products_with_qty=[(milk, 2)])
    before = snapshot(order)
    with pytest.raises(InvalidTransition) as error:
        cancel_order(actor=customer, order_ref=order.ref)
    assert error.value.status_code == 409
    label = S(status).label.lower()
    assert str(error.value) == f"Order {order.ref} is already {label} and can no longer be cancelled."
    assert snapshot(order) == before
    assert stock_of(milk) == 8


def test_another_customer_cannot_cancel_or_even_see_the_order(customer, other_customer, milk):
    order = make_order(customer, [(milk, 1)])
    before = snapshot(order)
    with pytest.raises(OrderNotFound) as error:
        cancel_order(actor=other_customer, order_ref=order.ref)
    assert error.value.status_code == 404
    assert snapshot(order) == before


def test_partners_cannot_cancel(partner, other_partner):
    placed = make_order()
    dispatch_services.set_availability(partner=partner, online=True)
    with pytest.raises(NotAllowed):
        cancel_order(actor=partner, order_ref=placed.ref)  # visible to online partners, still not theirs to cancel
    accepted = order_in_status(S.ACCEPTED, partner=other_partner)
    before = snapshot(accepted)
    with pytest.raises(NotAllowed):
        cancel_order(actor=other_partner, order_ref=accepted.ref)
    assert snapshot(accepted) == before
    assert fresh(placed).status == S.PLACED


def test_stock_goes_back_only_before_pickup():
    assert {S.PLACED, S.ACCEPTED} == RESTOCK_STATUSES


@pytest.mark.parametrize("status", [S.PLACED, S.ACCEPTED, S.PICKED_UP, S.OUT_FOR_DELIVERY])
def test_admin_cancels_any_open_order_and_restocks_only_before_pickup(
    admin_user, milk, status, published, django_capture_on_commit_callbacks
):
    order = order_in_status(status, products_with_qty=[(milk, 3)])
    version = order.version
    assert stock_of(milk) == 7

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(actor=admin_user, order_ref=order.ref, reason="Store closed.")

    stored = fresh(order)
    assert stored.status == S.CANCELLED
    assert stored.version == version + 1
    assert stock_of(milk) == (10 if status in RESTOCK_STATUSES else 7)
    assert stored.events.last().actor == admin_user
    assert stored.events.last().note == "Store closed."
    assert published == [(signals.ORDER_STATUS_UPDATE, order.ref, version + 1, S.CANCELLED)]


def test_a_delivered_order_cannot_be_cancelled_even_by_an_admin(admin_user):
    order = order_in_status(S.DELIVERED)
    before = snapshot(order)
    with pytest.raises(InvalidTransition, match="already delivered"):
        cancel_order(actor=admin_user, order_ref=order.ref)
    assert snapshot(order) == before


@pytest.mark.parametrize("second_actor", ["customer", "admin"])
def test_cancelling_twice_fails_and_returns_the_stock_once(customer, admin_user, milk, second_actor):
    order = make_order(customer, [(milk, 4)])
    cancel_order(actor=customer, order_ref=order.ref)
    before = snapshot(order)
    actor = customer if second_actor == "customer" else admin_user
    with pytest.raises(InvalidTransition, match="already cancelled"):
        cancel_order(actor=actor, order_ref=order.ref)
    assert snapshot(order) == before
    assert stock_of(milk) == 10


def test_a_cancel_that_loses_the_race_to_an_accept_changes_nothing(customer, partner, milk, monkeypatch):
    # given the customer's cancel read the order while it was placed, and a partner
    # accepts it before the cancel's compare-and-set
    order = make_order(customer, [(milk, 2)])
    dispatch_services.set_availability(partner=partner, online=True)
    interleave(
        monkeypatch,
        services,
        "transition_order",
        lambda: dispatch_services.accept_order(partner=partner, order_ref=order.ref),
    )

    # then the customer is told why, in terms of the order as it is now
    with pytest.raises(InvalidTransition, match="already accepted and can no longer be cancelled"):
        cancel_order(actor=customer, order_ref=order.ref)

    # and the partner keeps the order and no stock came back for a cancel that never happened
    stored = fresh(order)
    assert (stored.status, stored.partner, stored.version) == (S.ACCEPTED, partner, 2)
    assert stock_of(milk) == 8


# --- who sees which order ---------------------------------------------------------------------


@pytest.fixture
def world(customer, other_customer, partner, other_partner):
    """Two customers' orders: placed (unassigned), one assigned to each partner."""
    return {
        "placed": make_order(customer),
        "mine": order_in_status(S.ACCEPTED, customer=customer, partner=partner),
        "theirs": order_in_status(S.PICKED_UP, customer=other_customer, partner=other_partner),
        "other_placed": make_order(other_customer),
        "cancelled": order_in_status(S.CANCELLED, customer=other_customer),
    }


def _refs(queryset):
    return set(queryset.values_list("ref", flat=True))


def test_customers_see_only_their_own_orders(world, customer, other_customer):
    assert _refs(orders_visible_to(customer)) == {world["placed"].ref, world["mine"].ref}
    assert _refs(orders_visible_to(other_customer)) == {
        world["theirs"].ref,
        world["other_placed"].ref,
        world["cancelled"].ref,
    }


def test_partners_see_their_assignments_and_the_unassigned_placed_orders(world, partner, other_partner):
    assert _refs(orders_visible_to(partner)) == {world["mine"].ref, world["placed"].ref, world["other_placed"].ref}
    assert _refs(orders_visible_to(other_partner)) == {
        world["theirs"].ref,
        world["placed"].ref,
        world["other_placed"].ref,
    }
    # a fresh partner sees only the board, and never a cancelled order — and only while online
    fresh_partner = PartnerFactory()
    assert _refs(orders_visible_to(fresh_partner)) == set()
    dispatch_services.set_availability(partner=fresh_partner, online=True)
    assert _refs(orders_visible_to(fresh_partner)) == {world["placed"].ref, world["other_placed"].ref}


def test_admins_see_everything_and_nobody_else_sees_anything(world, admin_user):
    assert _refs(orders_visible_to(admin_user)) == {order.ref for order in world.values()}
    assert _refs(orders_visible_to(AnonymousUser())) == set()
    assert _refs(orders_visible_to(None)) == set()


def test_get_order_for_hides_other_peoples_orders(world, customer, partner, admin_user):
    assert order_for(customer, world["mine"].ref) == world["mine"]
    assert order_for(partner, world["mine"].ref) == world["mine"]
    assert order_for(partner, world["placed"].ref) == world["placed"]
    assert order_for(admin_user, world["theirs"].ref) == world["theirs"]
    for user, ref in [
        (customer, world["theirs"].ref),
        (partner, world["theirs"].ref),
        (partner, world["cancelled"].ref),
        (admin_user, "ZZZZZZZZ"),
        (customer, ""),
    ]:
        with pytest.raises(OrderNotFound):
            order_for(user, ref)


def test_set_stock_is_a_compare_and_set_against_the_stock_the_admin_saw():
    product = ProductFactory(stock=10)
    services.set_stock(product=product, shown=10, stock=40)
    assert stock_of(product) == 40
    # a sale happened after the admin loaded the page: their edit must not overwrite it
    Product.objects.filter(pk=product.pk).update(stock=38)
    with pytest.raises(StockChanged, match="it is 38 now, not 40") as error:
        services.set_stock(product=product, shown=40, stock=100)
    assert error.value.status_code == 409
    assert stock_of(product) == 38


# --- transactions: all or nothing, and events only after the commit ------------------------------
# These run on real commits (transaction=True); against MongoDB (MONGO_URI=... make test) the same
# assertions hold through the backend's multi-document transaction (quickcommerce.db.atomic).


@pytest.fixture
def announced(db):
    """What the live machinery saw at each announcement: (event, stored?, events stored, in a transaction?)."""
    from django.db import connection

    seen = []

    def receiver(sender, *, event, order, **kwargs):
        stored = Order.objects.filter(pk=order.pk, version=order.version).exists()
        timeline = OrderEvent.objects.filter(order_id=order.pk, version=order.version).count()
        seen.append((event, stored, timeline, connection.in_atomic_block))

    signals.order_changed.connect(receiver, dispatch_uid="test-announced")
    yield seen
    signals.order_changed.disconnect(dispatch_uid="test-announced")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failing", ["items", "first event"])
def test_a_failure_midway_through_creating_an_order_leaves_nothing_behind(customer, milk, monkeypatch, failing):
    # given the items or the first timeline row cannot be written
    def broken(*args, **kwargs):
        raise RuntimeError("the store refused the write")

    target = OrderItem.objects if failing == "items" else OrderEvent.objects
    monkeypatch.setattr(type(target), "bulk_create" if failing == "items" else "create", broken)
    before = Product.objects.get(pk=milk.pk).stock

    # when the customer places an order
    with pytest.raises(RuntimeError):
        place_order(customer=customer, lines=[(milk.pk, 2)], address=DEFAULT_ADDRESS)

    # then no order is left (no PLACED order without items on the boards), and the stock is back
    assert Order.objects.count() == 0
    assert OrderItem.objects.count() == 0
    assert Product.objects.get(pk=milk.pk).stock == before


@pytest.mark.django_db(transaction=True)
def test_live_events_go_out_only_after_the_change_is_stored(customer, milk, announced):
    # placing an order, then changing it: each announcement comes after the commit
    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=DEFAULT_ADDRESS)
    cancel_order(actor=customer, order_ref=order.ref)
    assert announced == [
        (signals.NEW_ORDER, True, 1, False),
        (signals.ORDER_STATUS_UPDATE, True, 1, False),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_change_whose_timeline_row_fails_is_rolled_back_and_never_announced(customer, milk, monkeypatch, announced):
    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=DEFAULT_ADDRESS)
    announced.clear()

    def broken(*args, **kwargs):
        raise RuntimeError("the store refused the write")

    monkeypatch.setattr(type(OrderEvent.objects), "create", broken)
    with pytest.raises(RuntimeError):
        transition_order(order=order, to_status=Order.Status.CANCELLED, actor=customer)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.version) == (Order.Status.PLACED, 1)
    assert announced == []
