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


# --- every way to log in shares the counters, whatever the spelling -----------------------------

ADMIN_LOGIN = "/admin/login/"
PASSWORD = "a-long-passphrase"


def api_login(client, username, password):
    return client.post(TOKEN, {"username": username, "password": password}, content_type="application/json")


def page_login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def admin_login(client, username, password):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password, "next": "/admin/"})


LOGIN_PATHS = {"api": api_login, "page": page_login, "admin": admin_login}


def assert_limited(response, reason="Too many login attempts for this account"):
    assert response.status_code == 429, response.content[:300]
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()["detail"] if response.headers["Content-Type"].startswith("application/json") else None
    assert reason in (body or response.content.decode())


@pytest.mark.django_db
def test_admin_login_is_limited_and_shares_the_counters(client, admin_user):
    """The attack: wrong passwords for the admin through /admin/login/, which was
    Django's own unlimited view. Now the 11th try is a 429 and the right password is
    not even checked, there and on the other login paths."""
    for _ in range(10):
        wrong = admin_login(client, "boss", "wrong")
        assert wrong.status_code == 200
        assert "Please enter the correct username and password" in wrong.content.decode()
    right = admin_login(client, "boss", PASSWORD)
    assert_limited(right)
    assert "_auth_user_id" not in client.session
    assert_limited(api_login(client, "boss", PASSWORD))
    assert_limited(page_login(client, "BOSS", PASSWORD))
    # The admin's own page, with its styles, says why.
    assert 'class="errornote"' in right.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("last", ["api", "page", "admin"])
def test_wrong_passwords_on_every_path_add_up_for_the_username(client, customer, last):
    for path in ("api", "page", "admin", "api", "page", "admin", "api", "page", "admin", "api"):
        assert LOGIN_PATHS[path](client, "alice", "wrong").status_code in (200, 401)
    assert_limited(LOGIN_PATHS[last](client, "alice", PASSWORD))


@pytest.mark.django_db
def test_admin_login_attempts_count_toward_the_address_limit(client, customer):
    for i in range(30):  # 30 names, so the per-username limit never trips
        assert admin_login(client, f"guess{i}", "wrong").status_code == 200
    for path in ("api", "page", "admin"):
        assert_limited(LOGIN_PATHS[path](client, "alice", PASSWORD), "Too many login attempts from your network")


BOB_LOOKALIKES = {
    "full-width b": "\uff42ob",
    "all full-width": "\uff42\uff4f\uff42",
    "full-width capitals": "\uff22\uff2f\uff22",
    "mathematical bold": "\U0001d41b\U0001d428\U0001d41b",
    "circled": "\u24d1\u24de\u24d1",
    "capitals and spaces": " BOB ",
    "ideographic space": "bob\u3000",
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["api", "page", "admin"])
@pytest.mark.parametrize("spelling", BOB_LOOKALIKES.values(), ids=BOB_LOOKALIKES.keys())
def test_a_lookalike_spelling_of_a_locked_name_is_locked_too(client, other_customer, path, spelling):
    """The attack: bob is locked; "\uff42ob" (a full-width b) logged in as bob through the
    login page, which normalises (NFKC) while the counter keyed on the raw text."""
    for _ in range(10):
        assert api_login(client, "bob", "wrong").status_code == 401
    refused = LOGIN_PATHS[path](client, spelling, PASSWORD)
    assert_limited(refused)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", BOB_LOOKALIKES.values(), ids=BOB_LOOKALIKES.keys())
def test_wrong_passwords_under_lookalike_spellings_lock_the_name(client, other_customer, spelling):
    for path in ("api", "page") * 5:
        assert LOGIN_PATHS[path](client, spelling, "wrong").status_code in (200, 401)
    assert_limited(api_login(client, "bob", PASSWORD))


@pytest.mark.django_db
@pytest.mark.parametrize("number", [424242, 424242.0, 4.24242e5])
def test_a_json_number_never_logs_in_as_an_all_digit_name(client, number):
    """The attack: an all-digit account (allowed before; sign-up refuses them now) is
    locked; {"username": 424242} was ignored by the counter and logged in as "424242".
    Now a number is a 400 before any password check."""
    from accounts.models import User

    User.objects.create_user(username="424242", password=PASSWORD)  # an account from before the rule
    for _ in range(10):
        assert api_login(client, "424242", "wrong").status_code == 401
    as_number = client.post(TOKEN, {"username": number, "password": PASSWORD}, content_type="application/json")
    assert as_number.status_code == 400, as_number.content
    assert as_number.json()["username"] == ["Not a valid string."]
    for spelling in ("424242", " 424242", "\uff14\uff12\uff14\uff12\uff14\uff12"):  # full-width digits too
        assert_limited(api_login(client, spelling, PASSWORD))
        assert_limited(page_login(client, spelling, PASSWORD))


@pytest.mark.django_db
def test_numbers_and_other_json_types_never_reach_the_password_check(client, customer):
    for value in (0, 1, 424242, -1, 1e30, True, None, [], {}, ["alice"], {"u": "alice"}):
        response = client.post(TOKEN, {"username": value, "password": PASSWORD}, content_type="application/json")
        assert response.status_code == 400, (value, response.content)
    password_as_number = client.post(
        TOKEN, {"username": "alice", "password": 12345678}, content_type="application/json"
    )
    assert password_as_number.status_code == 400


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


def form_post(base_url: str, path: str, username: str, password: str) -> httpx.Response:
    """A browser's log-in through a form page: its CSRF token first, then the POST."""
    with httpx.Client(base_url=base_url, timeout=20) as browser:
        page = browser.get(path)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        data = {"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/admin/"}
        return browser.post(path, data=data, headers={"Referer": f"{base_url}{path}"})


@pytest.mark.live
def test_a_lookalike_on_another_instance_meets_the_same_counter(start_app, redis_server):
    """Two instances, one Redis: bob is locked through instance A's API; a full-width
    (or bold) spelling through instance B's login page or admin login is refused too."""
    env = {"LOGIN_RATE_PER_USERNAME": "3/min", "LOGIN_RATE_PER_IP": "100/min"}
    app_a = start_app(redis_url=redis_server.url, **env)
    app_b = start_app(redis_url=redis_server.url, **env)
    for _ in range(3):
        assert httpx.post(f"{app_a.url}{TOKEN}", json={"username": "bob", "password": "wrong"}).status_code == 401
    for path, spelling in (("/accounts/login/", "\uff42ob"), ("/admin/login/", "\U0001d41b\U0001d428\U0001d41b")):
        refused = form_post(app_b.url, path, spelling, "demo-pass-123")
        assert refused.status_code == 429, (path, refused.text[:300])
        assert "Too many login attempts for this account" in refused.text
    assert httpx.post(f"{app_b.url}{TOKEN}", json={"username": "BOB", "password": "demo-pass-123"}).status_code == 429


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


def from_address(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z works on Linux)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=20)


def random_address(i: int) -> str:
    return f"198.51.100.{i % 250 + 1}, 203.0.113.{(i * 7) % 250 + 1}"


@pytest.mark.live
def test_a_forged_x_forwarded_for_straight_to_the_app_is_keyed_on_the_real_peer(start_app):
    """The attack: the app port reached directly (docker run -p 8000:8000), a new
    X-Forwarded-For per request, and the per-address login limit never trips, because
    --proxy-headers believed it from every peer. Now only the proxy's address
    (FORWARDED_ALLOW_IPS, default loopback 127.0.0.1) is believed; 127.0.0.2 is not the proxy."""
    app = start_app(proxy_headers=True, LOGIN_RATE_PER_IP="3/min", LOGIN_RATE_PER_USERNAME="1000/min")
    wrong = {"password": "wrong"}
    with from_address("127.0.0.2") as stranger:
        statuses = [
            stranger.post(
                f"{app.url}{TOKEN}", json={"username": f"u{i}", **wrong}, headers={"X-Forwarded-For": random_address(i)}
            ).status_code
            for i in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]
    # The proxy itself (loopback) is believed: each forwarded client has its own budget.
    with from_address("127.0.0.1") as proxy:
        for i in range(4):
            forwarded = {"X-Forwarded-For": f"192.0.2.{i + 1}"}
            assert (
                proxy.post(f"{app.url}{TOKEN}", json={"username": "x", **wrong}, headers=forwarded).status_code == 401
            )


@pytest.mark.live
def test_the_trusted_proxy_is_configurable_and_nobody_else_is_believed(start_app):
    app = start_app(
        proxy_headers=True,
        FORWARDED_ALLOW_IPS="127.0.0.3",
        LOGIN_RATE_PER_IP="2/min",
        LOGIN_RATE_PER_USERNAME="1000/min",
    )
    wrong = {"username": "x", "password": "wrong"}
    with from_address("127.0.0.1") as loopback:  # loopback is no longer the proxy
        statuses = [
            loopback.post(f"{app.url}{TOKEN}", json=wrong, headers={"X-Forwarded-For": random_address(i)}).status_code
            for i in range(3)
        ]
    assert statuses == [401, 401, 429]
    with from_address("127.0.0.3") as proxy:
        for i in range(3):
            forwarded = {"X-Forwarded-For": f"192.0.2.{i + 1}"}
            assert proxy.post(f"{app.url}{TOKEN}", json=wrong, headers=forwarded).status_code == 401


@pytest.mark.live
def test_a_forged_x_forwarded_proto_straight_to_the_app_does_not_make_it_https(start_app):
    """Production (DEBUG off): plain http is sent to https. A direct peer claiming
    X-Forwarded-Proto: https used to be served as if on https (Django's
    SECURE_PROXY_SSL_HEADER believed anyone); now only the proxy's word counts."""
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "test-limits-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    app = start_app(proxy_headers=True, **production)
    with from_address("127.0.0.2") as stranger:
        forged = stranger.get(f"{app.url}/api/products/", headers={"X-Forwarded-Proto": "https"})
    assert forged.status_code == 301
    assert forged.headers["Location"].startswith("https://")
    with from_address("127.0.0.1") as proxy:
        assert proxy.get(f"{app.url}/api/products/", headers={"X-Forwarded-Proto": "https"}).status_code == 200


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
