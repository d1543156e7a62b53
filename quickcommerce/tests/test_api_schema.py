"""The OpenAPI schema and the API agree, case by case; schemathesis runs
against the live server in test_hostile_input.py with every check but one.

Each case is what schemathesis found: an answer the schema did not document, a
number accepted where the schema says string, a request the schema allowed refused.
"""

import pytest
import yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def responses(schema, path, method):
    return set(schema["paths"][path][method]["responses"])


def parameter(schema, path, name):
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


# --- what the schema says ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/products/", "/api/orders/"])
def test_paged_lists_document_their_404_and_page_bounds(schema, path):
    assert {"400", "404"} <= responses(schema, path, "get")
    assert parameter(schema, path, "page")["schema"]["minimum"] == 1
    assert parameter(schema, path, "page_size")["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}


def test_the_token_endpoints_document_400_and_401(schema):
    assert {"200", "400", "401", "429"} <= responses(schema, "/api/auth/token/", "post")
    assert {"200", "400", "401"} <= responses(schema, "/api/auth/token/refresh/", "post")
    assert {"201", "400", "409", "429"} <= responses(schema, "/api/auth/register/", "post")


def test_an_order_needs_one_line_at_least_and_the_schema_says_so(schema):
    items = schema["components"]["schemas"]["PlaceOrderInputRequest"]["properties"]["items"]
    assert items["minItems"] == 1
    assert items["maxItems"] == 50


# --- what the API does ------------------------------------------------------------------------------


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("page", ["0", "-1", "abc", "99999"])
def test_a_page_that_does_not_exist_is_the_documented_404(client, customer, page):
    client.force_login(customer)
    response = client.get("/api/orders/", {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "code": "not_found"}


@pytest.mark.parametrize("size", ["0", "-5", "null", "abc", "1.5", "101", "", " 5"])
def test_a_bad_page_size_is_a_400_not_silently_the_default(client, size):
    response = client.get("/api/products/", {"page_size": size})
    assert response.status_code == 400
    assert response.json()["page_size"]


def test_a_good_page_size_is_used(client):
    from orders.factories import ProductFactory

    ProductFactory.create_batch(3)
    assert len(client.get("/api/products/", {"page_size": "2"}).json()["results"]) == 2


@pytest.mark.parametrize("status", ["", "nope", "PLACED"])
def test_a_blank_or_unknown_status_filter_is_a_400(client, customer, status):
    client.force_login(customer)
    response = client.get("/api/orders/", {"status": status})
    assert response.status_code == 400
    assert response.json()["status"]


@pytest.mark.parametrize("number", [0, 42, 1.5, -1])
def test_numbers_are_refused_where_the_schema_says_string(client, customer, partner, number):
    from dispatch.services import set_availability
    from orders.factories import ProductFactory, make_order

    product = ProductFactory(stock=10)
    client.force_login(customer)
    line = [{"product": str(product.pk), "quantity": 1}]
    assert (
        post(client, "/api/orders/", {"items": line, "address": "1 Main St, Springfield", "note": number}).status_code
        == 400
    )
    assert post(client, "/api/orders/", {"items": line, "address": number}).status_code == 400
    order = make_order(customer, [(product, 1)])
    assert post(client, f"/api/orders/{order.ref}/cancel/", {"reason": number}).status_code == 400
    client.logout()
    register = {"username": number, "password": "a-long-passphrase", "role": "customer"}
    assert post(client, "/api/auth/register/", register).status_code == 400
    assert post(client, "/api/auth/token/", {"username": number, "password": "x"}).status_code == 400
    assert post(client, "/api/auth/token/refresh/", {"refresh": number}).status_code == 400

    set_availability(partner=partner, online=True)
    client.force_login(partner)
    accepted = post(client, f"/api/orders/{order.ref}/accept/", {})
    advance = post(client, f"/api/orders/{order.ref}/status/", {"status": "picked_up", "code": number})
    assert accepted.status_code in (200, 409) and advance.status_code == 400


@pytest.mark.parametrize("value", [1, 0, "true", "yes", "on", None, "false"])
def test_online_is_true_or_false_only(client, partner, value):
    client.force_login(partner)
    response = post(client, "/api/partners/me/availability/", {"online": value})
    assert response.status_code == 400
    assert response.json()["online"]
    assert post(client, "/api/partners/me/availability/", {"online": True}).status_code == 200


def test_an_order_with_no_lines_is_refused_as_the_schema_now_says(client, customer):
    client.force_login(customer)
    response = post(client, "/api/orders/", {"items": [], "address": "1 Main St, Springfield"})
    assert response.status_code == 400
