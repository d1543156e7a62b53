"""Stock and idempotency under concurrent requests, through the real app.

The real app runs under uvicorn on a seeded SQLite file; requests come from real
HTTP clients in threads released together by a barrier, so they really overlap
in the server. Nothing is sold twice, stock never goes negative, a retried
order is placed once.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from quickcommerce.testing import manage

pytestmark = pytest.mark.live

PASSWORD = "a-long-passphrase"
ADDRESS = "7 Rue Lepic, Flat 4, Montmartre"


# --- helpers -------------------------------------------------------------------------


def register_customers(base_url, count, prefix):
    """``count`` new customers registered through the API -> their auth headers."""

    def register(index):
        username = f"{prefix}{index}"
        with httpx.Client(base_url=base_url, timeout=60) as http:
            response = http.post(
                "/api/auth/register/", json={"username": username, "password": PASSWORD, "role": "customer"}
            )
            assert response.status_code == 201, response.text
            token = http.post("/api/auth/token/", json={"username": username, "password": PASSWORD})
            assert token.status_code == 200, token.text
            return {"Authorization": f"Bearer {token.json()['access']}"}

    with ThreadPoolExecutor(max_workers=min(count, 10)) as pool:
        return list(pool.map(register, range(count)))


def all_at_once(base_url, calls):
    """Run ``calls`` (each ``fn(http_client) -> result``) in threads released together.

    Every thread opens its connection first (a GET /healthz), so the barrier
    lines up the requests themselves, not the TCP handshakes."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get("/healthz")
            barrier.wait(timeout=60)
            return call(http)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def products_by_slug(base_url):
    response = httpx.get(f"{base_url}/api/products/", params={"page_size": 100})
    assert response.status_code == 200
    assert response.json()["next"] is None, "the demo catalog fits one page"
    return {product["slug"]: product for product in response.json()["results"]}


def stock_of(base_url, slug):
    return products_by_slug(base_url)[slug]["stock"]


def set_stock(app, slug, stock):
    """Test setup: put the shelf in a known state in the app's own database."""
    code = f"from orders.models import Product; assert Product.objects.filter(slug={slug!r}).update(stock={stock})"
    result = manage("shell", "-c", code, env=app.env())
    assert result.returncode == 0, result.stdout + result.stderr


def order_body(*lines):
    return {"items": [{"product": product_id, "quantity": qty} for product_id, qty in lines], "address": ADDRESS}


def explain(app, responses):
    """On failure: the statuses and bodies, and the server log (e.g. "database is locked")."""
    summary = [(r.status_code, r.text[:200]) for r in responses]
    return f"{summary}\n--- server log ---\n{app.log()[-4000:]}"


# --- tests ---------------------------------------------------------------------------


def test_twenty_customers_race_for_five_units(start_app):
    app = start_app()
    customers = register_customers(app.url, 20, "racer")
    set_stock(app, "bananas", 5)
    bananas = products_by_slug(app.url)["bananas"]
    assert bananas["stock"] == 5

    responses = all_at_once(
        app.url,
        [
            lambda http, headers=headers: http.post(
                "/api/orders/", json=order_body((bananas["id"], 1)), headers=headers
            )
            for headers in customers
        ],
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 15, explain(app, responses)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json() == {"detail": "Sorry, Bananas is out of stock.", "code": "out_of_stock"}
    assert stock_of(app.url, "bananas") == 0
    # Every 201 is a real order of its customer's, and the losers have none.
    for headers, response in zip(customers, responses, strict=True):
        listed = httpx.get(f"{app.url}/api/orders/", headers=headers).json()
        expected = [response.json()["ref"]] if response.status_code == 201 else []
        assert [order["ref"] for order in listed["results"]] == expected


def _first_and_last_taken(products):
    """Two well-stocked products in the order the service takes lines (by id), so a
    short *second* line really has to give back what the first one took."""
    stocked = sorted((p for p in products.values() if p["stock"] >= 40), key=lambda p: p["id"])
    return stocked[0], stocked[-1]


def test_a_short_second_line_refuses_the_order_and_gives_the_first_line_back(start_app, api_login):
    app = start_app()
    first, second = _first_and_last_taken(products_by_slug(app.url))
    set_stock(app, second["slug"], 1)
    headers = api_login(app.url, "alice")

    response = httpx.post(
        f"{app.url}/api/orders/", json=order_body((first["id"], 3), (second["id"], 2)), headers=headers
    )

    assert response.status_code == 409, response.text
    assert second["name"] in response.json()["detail"]
    after = products_by_slug(app.url)
    assert after[first["slug"]]["stock"] == first["stock"]
    assert after[second["slug"]]["stock"] == 1


def test_concurrent_orders_with_a_short_line_give_back_exactly(start_app):
    app = start_app()
    first, second = _first_and_last_taken(products_by_slug(app.url))
    customers = register_customers(app.url, 20, "basket")
    set_stock(app, second["slug"], 5)

    body = order_body((first["id"], 1), (second["id"], 1))
    responses = all_at_once(
        app.url,
        [lambda http, headers=headers: http.post("/api/orders/", json=body, headers=headers) for headers in customers],
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 5 + [409] * 15, explain(app, responses)
    after = products_by_slug(app.url)
    assert after[second["slug"]]["stock"] == 0
    assert after[first["slug"]]["stock"] == first["stock"] - 5, "every refused order gave its first line back"


def test_ten_concurrent_retries_with_one_idempotency_key_make_one_order(start_app):
    app = start_app()
    (headers,) = register_customers(app.url, 1, "retrier")
    milk = products_by_slug(app.url)["whole-milk"]
    body = order_body((milk["id"], 2))
    retry = {**headers, "Idempotency-Key": "checkout-5f1c"}

    responses = all_at_once(
        app.url, [lambda http: http.post("/api/orders/", json=body, headers=retry) for _ in range(10)]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], explain(app, responses)
    assert len({r.json()["ref"] for r in responses}) == 1
    listed = httpx.get(f"{app.url}/api/orders/", headers=headers).json()
    assert listed["count"] == 1
    assert stock_of(app.url, "whole-milk") == milk["stock"] - 2
