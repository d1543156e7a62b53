"""The catalog and orders API (/api/products/, /api/orders/...), through the real
URLs, JWT authentication, serializers and services."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from dispatch.factories import order_in_status
from dispatch.services import accept_order, set_availability
from orders.factories import CategoryFactory, ProductFactory, make_order
from orders.models import Order, OrderItem, Product
from orders.selectors import order_with_details
from orders.serializers import OrderSerializer
from orders.services import cancel_order
from quickcommerce.testing import app_env, manage

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/products/"
ORDERS = "/api/orders/"
ADDRESS = "12 Baker Street, Flat 3, Marylebone"
PRIVATE_KEYS = {"address", "customer"}


def detail_url(order_or_ref):
    return f"{ORDERS}{getattr(order_or_ref, 'ref', order_or_ref)}/"


@pytest.fixture
def milk():
    return ProductFactory(name="Whole Milk", price=Decimal("1.19"), stock=10)


@pytest.fixture
def bread():
    return ProductFactory(name="Sourdough", price=Decimal("3.30"), stock=5)


def place_body(*lines, address=ADDRESS, **extra):
    return {"items": [{"product": str(p.pk), "quantity": q} for p, q in lines], "address": address, **extra}


def stock_of(product):
    return Product.objects.get(pk=product.pk).stock


# --- GET /api/products/ ---------------------------------------------------------------


def test_products_are_public_paginated_and_shaped_for_clients(api):
    dairy = CategoryFactory(name="Dairy", slug="dairy")
    ProductFactory(name="Butter", category=dairy, price=Decimal("2.5"), stock=3, unit="250 g", description="Salted")
    ProductFactory(name="Gone", category=dairy, active=False)

    response = api().get(PRODUCTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None
    (product,) = body["results"]
    butter = Product.objects.get(name="Butter")
    assert product == {
        "id": str(butter.pk),
        "name": "Butter",
        "slug": butter.slug,
        "category": "dairy",
        "category_name": "Dairy",
        "price": "2.50",
        "stock": 3,
        "unit": "250 g",
        "description": "Salted",
        "in_stock": True,
        "image": None,
        "thumbnail": None,
    }


def test_products_search_category_and_page_size(api):
    fruit, bakery = CategoryFactory(slug="fruit"), CategoryFactory(slug="bakery")
    ProductFactory(name="Apple", category=fruit)
    ProductFactory(name="Banana", category=fruit, description="yellow and sweet")
    ProductFactory(name="Bagel", category=bakery, stock=0)

    def names(**params):
        return [p["name"] for p in api().get(PRODUCTS, params).json()["results"]]

    assert names() == ["Apple", "Bagel", "Banana"]
    assert names(category="fruit") == ["Apple", "Banana"]
    assert names(search="ba") == ["Bagel", "Banana"]
    assert names(search="SWEET") == ["Banana"]
    assert names(search="ba", category="bakery") == ["Bagel"]
    assert names(category="nope") == []
    page = api().get(PRODUCTS, {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert api().get(PRODUCTS, {"search": "x" * 101}).status_code == 400


def test_products_ignore_a_stale_token(api):
    ProductFactory()
    client = api()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get(PRODUCTS).status_code == 200


# --- POST /api/orders/ ----------------------------------------------------------------


def test_place_order_computes_prices_server_side_and_takes_stock(api, customer, milk, bread):
    body = place_body((milk, 2), (bread, 1), note="Ring twice")
    # A client trying to set its own prices is ignored.
    body["items"][0]["price"] = "0.01"
    body["total"] = "0.01"
    body["subtotal"] = "0.01"

    response = api(customer).post(ORDERS, body, format="json")

    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "placed" and order["status_display"] == "Placed"
    assert order["subtotal"] == "5.68"  # 2 x 1.19 + 3.30
    assert order["delivery_fee"] == "1.99"
    assert order["total"] == "7.67"
    assert order["item_count"] == 3
    assert {(i["product"], i["unit_price"], i["quantity"], i["line_total"]) for i in order["items"]} == {
        (str(milk.pk), "1.19", 2, "2.38"),
        (str(bread.pk), "3.30", 1, "3.30"),
    }
    assert order["address"] == ADDRESS and order["area"] == "Marylebone" and order["note"] == "Ring twice"
    assert order["customer"] == {"name": "Alice", "phone": "+1 555 0100"}
    assert order["partner"] is None
    assert "delivery_code" not in order, "no code before a partner accepts"
    assert [(e["status"], e["actor"]) for e in order["events"]] == [("placed", "customer")]
    assert stock_of(milk) == 8 and stock_of(bread) == 4
    stored = Order.objects.get(ref=order["ref"])
    assert stored.customer == customer and stored.total == Decimal("7.67")


def test_place_order_accepts_integer_product_ids(api, customer, milk):
    body = {"items": [{"product": milk.pk, "quantity": 1}], "address": ADDRESS}
    response = api(customer).post(ORDERS, body, format="json")
    assert response.status_code == 201
    assert response.json()["items"][0]["product"] == str(milk.pk)


def test_place_order_without_enough_stock_is_409_naming_the_product_and_takes_nothing(api, customer, milk, bread):
    response = api(customer).post(ORDERS, place_body((milk, 2), (bread, 6)), format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "Not enough Sourdough in stock: only 5 left.", "code": "out_of_stock"}
    assert stock_of(milk) == 10 and stock_of(bread) == 5
    assert not Order.objects.exists()


def test_place_order_sold_out_is_409(api, customer):
    popcorn = ProductFactory(name="Popcorn", stock=0)
    response = api(customer).post(ORDERS, place_body((popcorn, 1)), format="json")
    assert response.status_code == 409
    assert "Popcorn is out of stock" in response.json()["detail"]


def test_idempotency_key_replay_returns_the_first_order_and_takes_stock_once(api, customer, milk):
    client = api(customer)
    first = client.post(ORDERS, place_body((milk, 3)), format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    again = client.post(ORDERS, place_body((milk, 3)), format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Order.objects.count() == 1
    assert stock_of(milk) == 7

    other = client.post(ORDERS, place_body((milk, 1)), format="json", HTTP_IDEMPOTENCY_KEY="key-2")
    assert other.status_code == 201 and other.json()["ref"] != first.json()["ref"]
    assert stock_of(milk) == 6


def test_idempotency_keys_belong_to_one_customer(api, customer, other_customer, milk):
    mine = api(customer).post(ORDERS, place_body((milk, 1)), format="json", HTTP_IDEMPOTENCY_KEY="same")
    theirs = api(other_customer).post(ORDERS, place_body((milk, 1)), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["ref"] != theirs.json()["ref"]


def test_idempotency_key_too_long_is_400(api, customer, milk):
    response = api(customer).post(ORDERS, place_body((milk, 1)), format="json", HTTP_IDEMPOTENCY_KEY="k" * 65)
    assert response.status_code == 400
    assert not Order.objects.exists()


def _lines(**line):
    return {"items": [line], "address": ADDRESS}


BAD_BODIES = {
    # quantities
    "quantity zero": lambda p: _lines(product=p, quantity=0),
    "quantity negative": lambda p: _lines(product=p, quantity=-1),
    "quantity 100": lambda p: _lines(product=p, quantity=100),
    "quantity huge": lambda p: _lines(product=p, quantity=10**40),
    "quantity string": lambda p: _lines(product=p, quantity="2"),
    "quantity float": lambda p: _lines(product=p, quantity=2.0),
    "quantity fraction": lambda p: _lines(product=p, quantity=1.5),
    "quantity bool": lambda p: _lines(product=p, quantity=True),
    "quantity null": lambda p: _lines(product=p, quantity=None),
    "quantity list": lambda p: _lines(product=p, quantity=[1]),
    "quantity object": lambda p: _lines(product=p, quantity={"$gt": 0}),
    "quantity missing": lambda p: _lines(product=p),
    "merged lines over 99": lambda p: {
        "items": [{"product": p, "quantity": 60}, {"product": p, "quantity": 60}],
        "address": ADDRESS,
    },
    # products
    "product unknown": lambda p: _lines(product="987654321", quantity=1),
    "product not a number": lambda p: _lines(product="abc", quantity=1),
    "product blank": lambda p: _lines(product="", quantity=1),
    "product huge": lambda p: _lines(product=10**30, quantity=1),
    "product huge string": lambda p: _lines(product="9" * 40, quantity=1),
    "product float": lambda p: _lines(product=1.5, quantity=1),
    "product bool": lambda p: _lines(product=True, quantity=1),
    "product null": lambda p: _lines(product=None, quantity=1),
    "product object": lambda p: _lines(product={"$ne": None}, quantity=1),
    "product missing": lambda p: _lines(quantity=1),
    # items
    "items missing": lambda p: {"address": ADDRESS},
    "items empty": lambda p: {"items": [], "address": ADDRESS},
    "items a string": lambda p: {"items": "milk", "address": ADDRESS},
    "items an object": lambda p: {"items": {"product": p, "quantity": 1}, "address": ADDRESS},
    "items null": lambda p: {"items": None, "address": ADDRESS},
    "item not an object": lambda p: {"items": [p], "address": ADDRESS},
    "item a list": lambda p: {"items": [[p, 1]], "address": ADDRESS},
    "item nested garbage": lambda p: {"items": [{"product": [[{}]], "quantity": {"a": [1]}}], "address": ADDRESS},
    "51 lines": lambda p: {"items": [{"product": p, "quantity": 1}] * 51, "address": ADDRESS},
    # address and note
    "address missing": lambda p: {"items": [{"product": p, "quantity": 1}]},
    "address blank": lambda p: {"items": [{"product": p, "quantity": 1}], "address": "   "},
    "address null": lambda p: {"items": [{"product": p, "quantity": 1}], "address": None},
    "address object": lambda p: {"items": [{"product": p, "quantity": 1}], "address": {"street": "x"}},
    "address too long": lambda p: {"items": [{"product": p, "quantity": 1}], "address": "x" * 501},
    "note too long": lambda p: {"items": [{"product": p, "quantity": 1}], "address": ADDRESS, "note": "n" * 301},
    # the body itself
    "body a list": lambda p: [{"product": p, "quantity": 1}],
    "body a string": lambda p: "order",
    "body a number": lambda p: 42,
    "body null": lambda p: None,
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_place_order_bad_input_is_400_and_changes_nothing(api, customer, milk, case):
    body = BAD_BODIES[case](str(milk.pk))

    response = api(customer).post(ORDERS, json.dumps(body), content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json(), "a 400 says what is wrong"
    assert not Order.objects.exists()
    assert stock_of(milk) == 10


def test_place_order_inactive_product_is_400(api, customer):
    gone = ProductFactory(name="Old Cheese", active=False, stock=10)
    response = api(customer).post(ORDERS, place_body((gone, 1)), format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Old Cheese is no longer sold.", "code": "invalid_order"}
    assert stock_of(gone) == 10


@pytest.mark.parametrize("raw", ["{not json", '{"items": [', "", "NaN", '{"items": Infinity}'])
def test_place_order_malformed_json_is_400(api, customer, raw):
    response = api(customer).post(ORDERS, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()


def test_place_order_needs_a_customer(api, partner, admin_user, milk):
    assert api().post(ORDERS, place_body((milk, 1)), format="json").status_code == 401
    assert api(partner).post(ORDERS, place_body((milk, 1)), format="json").status_code == 403
    assert api(admin_user).post(ORDERS, place_body((milk, 1)), format="json").status_code == 403
    assert not Order.objects.exists()


# --- GET /api/orders/ -------------------------------------------------------------------


def test_customers_list_only_their_own_orders(api, customer, other_customer):
    mine = make_order(customer)
    make_order(other_customer)

    response = api(customer).get(ORDERS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [o["ref"] for o in body["results"]] == [mine.ref]
    assert body["results"][0]["address"] == ADDRESS


def test_order_list_filters_by_status_and_paginates(api, customer):
    placed = [make_order(customer) for _ in range(3)]
    cancelled = order_in_status(Order.Status.CANCELLED, customer=customer)

    client = api(customer)
    assert client.get(ORDERS).json()["count"] == 4
    assert [o["ref"] for o in client.get(ORDERS, {"status": "cancelled"}).json()["results"]] == [cancelled.ref]
    assert {o["ref"] for o in client.get(ORDERS, {"status": "placed"}).json()["results"]} == {o.ref for o in placed}
    page = client.get(ORDERS, {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["next"]
    assert client.get(ORDERS, {"status": "lost"}).status_code == 400
    assert client.get(ORDERS, {"page": 99}).status_code == 404


def test_paging_through_orders_made_in_the_same_millisecond_shows_each_exactly_once(api, customer, milk):
    # given 45 orders whose created_at is the same instant (a burst: MongoDB keeps milliseconds)
    Product.objects.filter(pk=milk.pk).update(stock=100)
    orders = [make_order(customer, [(milk, 1)]) for _ in range(45)]
    Order.objects.filter(pk__in=[order.pk for order in orders]).update(created_at=orders[0].created_at)

    # when the client pages through them, 20 at a time
    client = api(customer)
    pages = [client.get(ORDERS, {"page": page, "page_size": 20}).json() for page in (1, 2, 3)]

    # then every order comes exactly once, newest first with the primary key breaking the tie
    refs = [order["ref"] for page in pages for order in page["results"]]
    assert [len(page["results"]) for page in pages] == [20, 20, 5]
    assert refs == [order.ref for order in sorted(orders, key=lambda order: order.pk, reverse=True)]


def test_partners_list_their_assigned_orders_and_admins_all(api, partner, admin_user):
    set_availability(partner=partner, online=True)
    mine = order_in_status(Order.Status.PICKED_UP, partner=partner)
    unassigned = make_order()
    someone_elses = order_in_status(Order.Status.ACCEPTED)

    listed = api(partner).get(ORDERS).json()["results"]
    assert [o["ref"] for o in listed] == [mine.ref]
    assert listed[0]["address"] == ADDRESS, "the assigned partner sees where to go"
    assert "delivery_code" not in listed[0]

    everything = {o["ref"] for o in api(admin_user).get(ORDERS).json()["results"]}
    assert everything == {mine.ref, unassigned.ref, someone_elses.ref}


def test_order_list_queries_do_not_grow_with_orders(api, customer):
    client = api(customer)

    def list_query_count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(ORDERS).status_code == 200
        return len(queries)

    make_order(customer)
    few = list_query_count()
    for _ in range(8):
        make_order(customer, [(ProductFactory(), 1), (ProductFactory(), 2)])
    cancel_order(actor=customer, order_ref=make_order(customer).ref)
    assert list_query_count() == few


def test_order_list_needs_a_login(api):
    assert api().get(ORDERS).status_code == 401


# --- GET /api/orders/{ref}/ and visibility ------------------------------------------------


def test_customer_sees_their_order_and_another_customer_gets_404(api, customer, other_customer):
    order = make_order(customer)

    mine = api(customer).get(detail_url(order))
    theirs = api(other_customer).get(detail_url(order))

    assert mine.status_code == 200
    assert mine.json()["ref"] == order.ref and set(mine.json()) >= PRIVATE_KEYS
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "order_not_found"


def test_unknown_and_malformed_refs_are_404(api, customer):
    client = api(customer)
    assert client.get(detail_url("ZZZZZZZZ")).status_code == 404
    for bad in ("abc", "zzzzzzzz", "ZZZZZZZZZ", "ZZZZ0000", "%00"):
        assert client.get(f"{ORDERS}{bad}/").status_code == 404, bad


def test_order_detail_needs_a_login(api, customer):
    assert api().get(detail_url(make_order(customer))).status_code == 401


def test_online_partner_sees_an_unassigned_order_in_public_form_only(api, partner):
    order = make_order(note="Gate code 1234")

    assert api(partner).get(detail_url(order)).status_code == 404, "offline partners do not browse the board"
    set_availability(partner=partner, online=True)
    response = api(partner).get(detail_url(order))

    assert response.status_code == 200
    body = response.json()
    assert body["area"] == "Marylebone"
    assert not PRIVATE_KEYS & set(body) and "delivery_code" not in body
    assert ADDRESS not in json.dumps(body) and order.customer.phone not in json.dumps(body)
    assert "Gate code 1234" not in json.dumps(body), "the note can say how to find the door"


def test_assigned_partner_sees_contact_but_never_the_code(api, customer, partner, other_partner):
    order = order_in_status(Order.Status.OUT_FOR_DELIVERY, customer=customer, partner=partner)
    set_availability(partner=other_partner, online=True)

    assigned = api(partner).get(detail_url(order))
    assert assigned.status_code == 200
    body = assigned.json()
    assert body["address"] == ADDRESS
    assert body["customer"] == {"name": "Alice", "phone": "+1 555 0100"}
    assert body["partner"] == {"name": "Ravi"}
    assert "delivery_code" not in body
    # (not a substring check on the whole JSON: four random digits can occur in a timestamp)
    assert all(order.delivery_code not in (event.get("note") or "") for event in body["events"])
    assert all("code" not in key for event in body["events"] for key in event)

    assert api(other_partner).get(detail_url(order)).status_code == 404


def test_delivery_code_shows_to_the_customer_and_admins_from_acceptance_while_open(api, customer, partner, admin_user):
    order = make_order(customer)
    assert "delivery_code" not in api(customer).get(detail_url(order)).json()

    set_availability(partner=partner, online=True)
    accept_order(partner=partner, order_ref=order.ref)
    code = Order.objects.get(pk=order.pk).delivery_code

    for viewer in (customer, admin_user):
        body = api(viewer).get(detail_url(order)).json()
        assert body["delivery_code"] == code
        assert body["partner"] == {"name": "Ravi"}
        assert body["status"] == "accepted" and body["accepted_at"]
    assert "delivery_code" not in api(partner).get(detail_url(order)).json()

    delivered = order_in_status(Order.Status.DELIVERED, customer=customer)
    assert "delivery_code" not in api(customer).get(detail_url(delivered)).json(), "closed: no code any more"


def test_admin_sees_any_order_with_contact(api, customer, admin_user):
    order = make_order(customer)
    body = api(admin_user).get(detail_url(order)).json()
    assert body["address"] == ADDRESS and body["customer"]["name"] == "Alice"


# --- POST /api/orders/{ref}/cancel/ -------------------------------------------------------


def cancel_url(order):
    return f"{detail_url(order)}cancel/"


def test_customer_cancels_a_placed_order_and_stock_returns(api, customer, milk):
    order = make_order(customer, [(milk, 4)])
    assert stock_of(milk) == 6

    response = api(customer).post(cancel_url(order), {"reason": "Changed my mind"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and body["cancelled_at"]
    assert body["events"][-1] == {
        "status": "cancelled",
        "at": body["events"][-1]["at"],
        "actor": "customer",
        "note": "Changed my mind",
    }
    assert stock_of(milk) == 10
    again = api(customer).post(cancel_url(order))
    assert again.status_code == 409


def test_cancel_without_a_body_works(api, customer):
    order = make_order(customer)
    assert api(customer).post(cancel_url(order)).status_code == 200


def test_customer_cannot_cancel_once_accepted(api, customer):
    order = order_in_status(Order.Status.ACCEPTED, customer=customer)
    response = api(customer).post(cancel_url(order))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert Order.objects.get(pk=order.pk).status == Order.Status.ACCEPTED


def test_admin_cancels_an_accepted_order(api, admin_user):
    order = order_in_status(Order.Status.ACCEPTED)
    response = api(admin_user).post(cancel_url(order), {"reason": "Store closed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["events"][-1]["actor"] == "admin"


def test_cancel_someone_elses_order_is_404_partners_403_anonymous_401(api, customer, other_customer, partner):
    order = make_order(customer)
    assert api(other_customer).post(cancel_url(order)).status_code == 404
    assert api(partner).post(cancel_url(order)).status_code == 403
    assert api().post(cancel_url(order)).status_code == 401
    assert api(customer).post(f"{ORDERS}nope/cancel/").status_code == 404
    assert api(customer).post(cancel_url(order), {"reason": "r" * 301}, format="json").status_code == 400
    assert Order.objects.get(pk=order.pk).status == Order.Status.PLACED


def test_items_keep_the_price_paid(api, customer, milk):
    order = make_order(customer, [(milk, 1)])
    Product.objects.filter(pk=milk.pk).update(price=Decimal("9.99"))
    item = api(customer).get(detail_url(order)).json()["items"][0]
    assert item["unit_price"] == "1.19"
    assert OrderItem.objects.get(order=order).unit_price == Decimal("1.19")


# --- OpenAPI ------------------------------------------------------------------------------


def test_openapi_schema_generates_without_warnings_and_documents_every_endpoint(tmp_path):
    out = tmp_path / "schema.json"
    result = manage(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(out), env=app_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    schema = json.loads(out.read_text())
    expected = {
        ("/api/products/", "get", "catalog"),
        ("/api/orders/", "get", "orders"),
        ("/api/orders/", "post", "orders"),
        ("/api/orders/{ref}/", "get", "orders"),
        ("/api/orders/{ref}/cancel/", "post", "orders"),
        ("/api/orders/available/", "get", "dispatch"),
        ("/api/orders/{ref}/accept/", "post", "dispatch"),
        ("/api/orders/{ref}/status/", "post", "dispatch"),
        ("/api/partners/me/availability/", "post", "partners"),
        ("/api/partners/", "get", "partners"),
    }
    for path, method, tag in expected:
        operation = schema["paths"][path][method]
        assert operation["tags"] == [tag], (path, method)
        assert operation.get("summary"), (path, method)
    place = schema["paths"]["/api/orders/"]["post"]
    assert {"201", "200", "400", "409"} <= set(place["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in place["parameters"])
    assert place["requestBody"]["content"]["application/json"]["examples"]
    assert schema["paths"]["/api/orders/{ref}/status/"]["post"]["responses"]["404"]


# --- OrderSerializer without a request (the websocket messages use it) ------------------------


def test_order_serializer_needs_no_request_and_applies_the_audience_rules(customer, partner):
    order = order_in_status(Order.Status.ACCEPTED, customer=customer, partner=partner)

    def keys(viewer):
        return set(OrderSerializer(order, context={"viewer": viewer}).data)

    public = keys(None)
    private = {"address", "customer", "note", "latitude", "longitude", "rider_location", "eta_minutes"}
    assert {"ref", "status", "items", "total", "area", "events", "partner"} <= public
    assert not (private | {"delivery_code"}) & public
    assert keys(partner) == public | private
    assert keys(customer) == public | private | {"delivery_code"}
    assert keys(User(role=User.Role.ADMIN)) == public | private | {"delivery_code"}, "an audience stand-in"
    assert keys(User(role=User.Role.PARTNER)) == public, "an unsaved partner is not the assigned one"
    assert OrderSerializer(order, context={}).data.keys() == public


@pytest.mark.parametrize("status", [Order.Status.PLACED, Order.Status.OUT_FOR_DELIVERY, Order.Status.CANCELLED])
def test_one_shared_serialisation_cut_per_viewer_is_what_a_serializer_per_viewer_gives(customer, partner, status):
    # OrderSerializer.data_for: one serializer instance per process, one serialisation per
    # order instance (the API's answer and the live event's audiences), a copy per viewer
    order = order_in_status(status, customer=customer, partner=partner)
    order = order_with_details(order.pk)
    viewers = [None, customer, partner, User(role=User.Role.ADMIN), User(role=User.Role.PARTNER)]
    for viewer in viewers:
        expected = json.loads(json.dumps(OrderSerializer(order, context={"viewer": viewer}).data))
        assert OrderSerializer.data_for(order, viewer) == expected, viewer
    assert OrderSerializer._shared() is OrderSerializer._shared()


def test_the_area_every_partner_sees_is_never_a_recipient(api, customer, milk):
    client = api(customer)
    # given an address whose last line names the recipient
    body = place_body((milk, 1), address="221B Baker Street\nc/o Sherlock Holmes")
    assert client.post(ORDERS, body, format="json").json()["area"] == "Nearby"
    # an area the customer gives wins over parsing the address
    body = place_body((milk, 1), address="221B Baker Street\nc/o Sherlock Holmes", area="  Marylebone ")
    assert client.post(ORDERS, body, format="json").json()["area"] == "Marylebone"


@pytest.mark.parametrize("area", ["c/o Sherlock Holmes", "Flat 3", "NW1 6XE", "holmes@example.com", "x" * 61, 42])
def test_an_area_that_could_find_the_door_is_refused(api, customer, milk, area):
    body = place_body((milk, 1), area=area)
    response = api(customer).post(ORDERS, body, format="json")
    assert response.status_code == 400, response.content
    assert Order.objects.count() == 0
