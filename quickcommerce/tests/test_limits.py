"""Abuse limits (docs/security.md): logins and tokens per username and per client
address, sign-ups per address, orders per customer, websockets per user.

In-process tests run with the production defaults (LOGIN_RATE_PER_USERNAME 10/min,
LOGIN_RATE_PER_IP 30/min, ORDER_RATE_PER_CUSTOMER 30/min); the live ones start
the app server with small limits of their own.
"""

import asyncio
import json
import re

import httpx
import pytest
from django.urls import reverse

TOKEN = "/api/auth/token/"


def wrong_login(client, username):
    return client.post(TOKEN, {"username": username, "password": "wrong"}, content_type="application/json")


@pytest.mark.django_db
def test_token_endpoint_is_limited_per_username_then_per_address(client, customer):
    for _ in range(10):
        assert wrong_login(client, "alice").status_code == 401
    refused = wrong_login(client, "ALICE ")  # the same account, however it is typed
    assert refused.status_code == 429
    assert "Too many login attempts for this account" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    # Even the right password is not checked now.
    right = client.post(TOKEN, {"username": "alice", "password": "a-long-passphrase"}, content_type="application/json")
    assert right.status_code == 429
    # Other accounts are still fine, until the address itself hits 30 a minute.
    # 12 from this address so far (a refused attempt is not counted, the address check ran first).
    for i in range(18):
        assert wrong_login(client, f"someone{i}").status_code == 401
    by_address = wrong_login(client, "someone-else")
    assert by_address.status_code == 429
    assert "Too many login attempts from your network" in by_address.json()["detail"]


@pytest.mark.django_db
def test_login_page_shares_the_limit_and_answers_429_with_the_reason(client, customer):
    for _ in range(10):
        assert wrong_login(client, "alice").status_code == 401
    page = client.post(reverse("login"), {"username": "alice", "password": "a-long-passphrase"})
    assert page.status_code == 429
    assert "Too many login attempts for this account" in page.content.decode()
    assert int(page.headers["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session  # not logged in
    # Another account logs in through the page normally.
    other = client.post(reverse("login"), {"username": "bob", "password": "x"})
    assert other.status_code == 200  # the form again, with "wrong password"


@pytest.mark.django_db
def test_orders_are_limited_per_customer_on_the_api_and_the_checkout_page(client, customer, other_customer):
    from orders.factories import ProductFactory

    product = ProductFactory(stock=1000)
    body = {"items": [{"product": str(product.pk), "quantity": 1}], "address": "1 Main St, Springfield"}
    client.force_login(customer)
    for _ in range(30):
        assert client.post("/api/orders/", body, content_type="application/json").status_code == 201
    refused = client.post("/api/orders/", body, content_type="application/json")
    assert refused.status_code == 429
    assert "placing orders too quickly" in refused.json()["detail"]
    assert "Retry-After" in refused.headers

    # The page shares the counter: the checkout keeps the cart and says why.
    client.post(reverse("orders:cart-add"), {"product": product.pk, "quantity": 1})
    page = client.post(
        reverse("orders:checkout"),
        {"address": "1 Main St, Springfield", "note": "", "idempotency_key": "0f8fad5b-d9cb-469f-a165-70867728950e"},
    )
    assert page.status_code == 429
    assert "placing orders too quickly" in page.content.decode()

    # Another customer is not affected.
    client.force_login(other_customer)
    assert client.post("/api/orders/", body, content_type="application/json").status_code == 201


@pytest.mark.django_db
def test_sign_ups_are_limited_per_address(client):
    for i in range(20):
        body = {"username": f"new{i}", "password": "a-long-passphrase", "role": "customer"}
        assert client.post("/api/auth/register/", body, content_type="application/json").status_code == 201
    body = {"username": "new-too-many", "password": "a-long-passphrase", "role": "customer"}
    refused = client.post("/api/auth/register/", body, content_type="application/json")
    assert refused.status_code == 429
    assert "Too many sign-ups" in refused.json()["detail"]


# --- live: across instances, and websockets -----------------------------------------------------


@pytest.mark.live
def test_login_limit_holds_across_instances_sharing_redis(start_app, redis_server):
    env = {"LOGIN_RATE_PER_USERNAME": "3/min", "LOGIN_RATE_PER_IP": "100/min"}
    app_a = start_app(redis_url=redis_server.url, **env)
    app_b = start_app(redis_url=redis_server.url, **env)
    wrong = {"username": "alice", "password": "wrong"}
    assert httpx.post(f"{app_a.url}{TOKEN}", json=wrong).status_code == 401
    assert httpx.post(f"{app_b.url}{TOKEN}", json=wrong).status_code == 401
    assert httpx.post(f"{app_a.url}{TOKEN}", json=wrong).status_code == 401
    refused = httpx.post(f"{app_b.url}{TOKEN}", json=wrong)
    assert refused.status_code == 429, refused.text
    assert httpx.post(f"{app_a.url}{TOKEN}", json={"username": "bob", "password": "demo-pass-123"}).status_code == 200


@pytest.mark.live
async def test_websockets_per_user_are_capped_with_4429(start_app):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    app = await asyncio.to_thread(start_app, WS_MAX_CONNECTIONS_PER_USER="3")
    async with httpx.AsyncClient(base_url=app.url) as http:
        access = (await http.post(TOKEN, json={"username": "sam", "password": "demo-pass-123"})).json()["access"]
        other = (await http.post(TOKEN, json={"username": "priya", "password": "demo-pass-123"})).json()["access"]
    url = f"{app.ws_url}/ws/orders/"
    headers = {"Authorization": f"Bearer {access}"}
    sockets = [await connect(url, additional_headers=headers) for _ in range(3)]
    try:
        for ws in sockets:
            assert '"snapshot"' in await asyncio.wait_for(ws.recv(), 10)
        async with connect(url, additional_headers=headers) as extra:
            # The reason comes as a last message (API clients), then in the close frame.
            last = json.loads(await asyncio.wait_for(extra.recv(), 10))
            assert last == {"event": "error", "code": 4429, "detail": "Too many open connections for this account."}
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(extra.recv(), 10)
        assert closed.value.rcvd.code == 4429
        assert closed.value.rcvd.reason == "Too many open connections for this account."
        # Other users are not affected.
        async with connect(url, additional_headers={"Authorization": f"Bearer {other}"}) as ws:
            assert '"snapshot"' in await asyncio.wait_for(ws.recv(), 10)
        # A closed socket frees its slot.
        await sockets.pop().close()
        await asyncio.sleep(0.3)
        async with connect(url, additional_headers=headers) as ws:
            assert '"snapshot"' in await asyncio.wait_for(ws.recv(), 10)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    assert re.search(r"already has 3 sockets", app.log())


@pytest.mark.live
def test_limits_fail_open_when_their_redis_is_down(start_app, redis_server):
    """The counters live in the channel layer's Redis: an outage must not lock everyone out."""
    app = start_app(redis_url=redis_server.url, LOGIN_RATE_PER_USERNAME="2/min", ORDER_RATE_PER_CUSTOMER="1/min")
    redis_server.stop()
    for _ in range(4):
        response = httpx.post(f"{app.url}{TOKEN}", json={"username": "alice", "password": "demo-pass-123"}, timeout=20)
        assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access']}"}
    product = next(p for p in httpx.get(f"{app.url}/api/products/").json()["results"] if p["stock"] > 5)["id"]
    body = {"items": [{"product": product, "quantity": 1}], "address": "1 Main St, Springfield"}
    for _ in range(2):
        assert httpx.post(f"{app.url}/api/orders/", json=body, headers=headers, timeout=20).status_code == 201
    assert "cache unavailable" in app.log()
