"""Live updates over real sockets: the real app under uvicorn, real redis-server, real websocket clients.

The channel layer is Redis in every test here (as in production); the JSON stream
is what API clients see, the HTML stream is what the htmx pages swap in.
"""

import asyncio
import json
import re
from datetime import timedelta

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from quickcommerce.testing import manage

pytestmark = pytest.mark.live

PASSWORD = "demo-pass-123"
ADDRESS = "221B Baker Street, Flat 2, Marylebone"


# --- helpers -----------------------------------------------------------------------------


class Api:
    def __init__(self, base_url):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=20)

    def token(self, username, password=PASSWORD):
        response = self.http.post("/api/auth/token/", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access"]

    def headers(self, username):
        return {"Authorization": f"Bearer {self.token(username)}"}

    def register(self, username, role):
        response = self.http.post(
            "/api/auth/register/", json={"username": username, "password": "a-long-passphrase", "role": role}
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {self.token(username, 'a-long-passphrase')}"}

    def go_online(self, headers, online=True):
        response = self.http.post("/api/partners/me/availability/", json={"online": online}, headers=headers)
        assert response.status_code == 200, response.text

    def product_id(self, index=0):
        products = self.http.get("/api/products/").json()["results"]
        in_stock = [p for p in products if p["stock"] > 20]
        return in_stock[index]["id"]

    def place(self, headers, product=None, quantity=1):
        body = {"items": [{"product": product or self.product_id(), "quantity": quantity}], "address": ADDRESS}
        response = self.http.post("/api/orders/", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    def accept(self, headers, ref):
        return self.http.post(f"/api/orders/{ref}/accept/", headers=headers)

    def advance(self, headers, ref, status, code=None):
        body = {"status": status} | ({"code": code} if code else {})
        return self.http.post(f"/api/orders/{ref}/status/", json=body, headers=headers)

    def session_cookie(self, username, password=PASSWORD):
        """Log in through the real login page, as a browser does."""
        client = httpx.Client(base_url=self.base_url, timeout=20)
        page = client.get("/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{self.base_url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    def admin_operation(self, cookie, ref, name, **data):
        """Run an admin operation on one order through its admin page, as an admin does."""
        client = httpx.Client(base_url=self.base_url, timeout=20, headers={"Cookie": cookie})
        url = f"/admin/orders/order/{ref}/operation/{name}/"
        page = client.get(url)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            url, data={**data, "csrfmiddlewaretoken": csrf}, headers={"Referer": self.base_url + url}
        )
        assert response.status_code == 302, response.text


def jwt_socket(app, access, **kwargs):
    return connect(f"{app.ws_url}/ws/orders/", additional_headers={"Authorization": f"Bearer {access}"}, **kwargs)


def session_socket(app, cookie, origin=None):
    return connect(
        f"{app.ws_url}/ws/orders/",
        additional_headers={"Cookie": cookie},
        origin=origin or app.url,
    )


async def next_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def wait_for_event(ws, event, ref=None, timeout=10):
    """Skip other messages until ``event`` (about ``ref``) arrives."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen = []
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no {event} for {ref} within {timeout}s; saw {seen}")
        message = await next_json(ws, left)
        seen.append((message.get("event"), message.get("ref")))
        if message.get("event") == event and (ref is None or message.get("ref") == ref):
            return message


async def drain(ws, seconds=0.3):
    messages = []
    with pytest.raises(TimeoutError):
        while True:
            messages.append(await asyncio.wait_for(ws.recv(), seconds))
    return messages


@pytest.fixture
def app(start_app, redis_server):
    return start_app(redis_url=redis_server.url)


@pytest.fixture
def api(app):
    return Api(app.url)


# --- JSON stream (API clients) ---------------------------------------------------------------


async def test_partner_sockets_see_new_orders_and_acceptance_customer_sees_status(app, api):
    sam, priya = api.headers("sam"), api.headers("priya")
    api.go_online(sam)
    api.go_online(priya)
    alice, bob = api.headers("alice"), api.headers("bob")
    async with (
        jwt_socket(app, sam["Authorization"][7:]) as ws_sam,
        jwt_socket(app, priya["Authorization"][7:]) as ws_priya,
        jwt_socket(app, alice["Authorization"][7:]) as ws_alice,
        jwt_socket(app, bob["Authorization"][7:]) as ws_bob,
    ):
        for ws in (ws_sam, ws_priya, ws_alice, ws_bob):
            assert (await next_json(ws))["event"] == "snapshot"

        # A customer orders over HTTP: both partner boards hear of it, with no contact data.
        order = await asyncio.to_thread(api.place, alice)
        for ws in (ws_sam, ws_priya):
            message = await wait_for_event(ws, "new_order", order["ref"])
            assert message["order"]["area"] == "Marylebone"
            assert "address" not in message["order"]
            assert "customer" not in message["order"]
            assert "delivery_code" not in message["order"]
        placed = await wait_for_event(ws_alice, "new_order", order["ref"])
        assert placed["order"]["status"] == "placed"

        # Sam accepts: both boards see order_accepted; the customer sees the status and the code.
        response = await asyncio.to_thread(api.accept, sam, order["ref"])
        assert response.status_code == 200, response.text
        for ws in (ws_sam, ws_priya):
            accepted = await wait_for_event(ws, "order_accepted", order["ref"])
            assert accepted["version"] > placed["version"]
        update = await wait_for_event(ws_alice, "order_status_update", order["ref"])
        assert update["order"]["status"] == "accepted"
        assert re.fullmatch(r"\d{4}", update["order"]["delivery_code"])
        code = update["order"]["delivery_code"]

        # Sam's own stream carries the full order (he is assigned); Priya's never does.
        for step in ("picked_up", "out_for_delivery"):
            assert (await asyncio.to_thread(api.advance, sam, order["ref"], step)).status_code == 200
            message = await wait_for_event(ws_alice, "order_status_update", order["ref"])
            assert message["order"]["status"] == step
        assert (await asyncio.to_thread(api.advance, sam, order["ref"], "delivered", code)).status_code == 200
        delivered = await wait_for_event(ws_alice, "order_status_update", order["ref"])
        assert delivered["order"]["status"] == "delivered"
        for message in [json.loads(m) for m in await drain(ws_priya)]:
            assert "address" not in message.get("order", {}), message

        # Bob heard nothing about Alice's order. Prove the silence is not luck: his own
        # order's event, sent after all of the above, reaches him, and it is the first thing he got.
        own = await asyncio.to_thread(api.place, bob)
        first = await next_json(ws_bob)
        assert (first["event"], first["ref"]) == ("new_order", own["ref"])


async def test_session_socket_gets_html_fragments_with_the_pages_ids(app, api):
    api.go_online(api.headers("sam"))
    alice = api.headers("alice")
    async with (
        session_socket(app, api.session_cookie("sam")) as ws_partner,
        session_socket(app, api.session_cookie("alice")) as ws_customer,
    ):
        snapshot = await asyncio.wait_for(ws_partner.recv(), 10)
        assert 'id="active-orders"' in snapshot
        assert 'id="available-orders"' in snapshot
        assert 'hx-swap-oob="true"' in snapshot
        for _ in range(2):  # the customer's snapshot: status sections, then list rows
            await asyncio.wait_for(ws_customer.recv(), 10)

        order = await asyncio.to_thread(api.place, alice)
        card = await asyncio.wait_for(ws_partner.recv(), 10)
        assert 'hx-swap-oob="beforeend:#available-orders"' in card
        assert f'id="available-{order["ref"]}"' in card
        assert "Baker Street" not in card  # the street never reaches other partners

        await asyncio.to_thread(api.accept, api.headers("sam"), order["ref"])
        messages = [await asyncio.wait_for(ws_partner.recv(), 10) for _ in range(2)]
        assert any(f'id="available-{order["ref"]}" hx-swap-oob="delete"' in m for m in messages)
        assert any('id="active-orders"' in m and "Baker Street" in m for m in messages)
        # The customer's first frames since the snapshot are the accept's (version 2): no
        # page of theirs held the new order, so it was HTML for nobody. The status section
        # and the list row come as separate frames: htmx parses a frame in a <template>,
        # where a <tr> next to a <section> would be dropped.
        status, row = [await asyncio.wait_for(ws_customer.recv(), 10) for _ in range(2)]
        assert status.lstrip().startswith("<section")
        assert f'id="order-{order["ref"]}-status"' in status and 'data-version="2"' in status
        assert row.lstrip().startswith("<tr")
        assert f'id="order-{order["ref"]}-row"' in row and 'data-version="2"' in row


CAPACITY_NOTE = re.compile(r'<p\b[^>]*\bid="capacity-note"[^>]*>')


async def capacity_state(ws, timeout=10):
    """The next pushed #capacity-note of this partner's board: "full" or "free"."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        frame = await asyncio.wait_for(ws.recv(), deadline - asyncio.get_running_loop().time())
        note = CAPACITY_NOTE.search(frame)
        if note:
            return "free" if " hidden" in note.group(0) else "full"


async def test_each_partner_gets_their_own_capacity_state_when_an_admin_moves_orders(app, api):
    # given sam holds an order (at capacity: one active order each) and his board is open
    sam, priya = api.headers("sam"), api.headers("priya")
    api.go_online(sam)
    api.go_online(priya)
    alice = api.headers("alice")
    first = await asyncio.to_thread(api.place, alice)
    assert (await asyncio.to_thread(api.accept, sam, first["ref"])).status_code == 200
    admin = api.session_cookie("admin")
    async with session_socket(app, api.session_cookie("sam")) as ws:
        assert await capacity_state(ws) == "full"  # the snapshot

        # when an admin releases his order, his board may offer Accept again
        await asyncio.to_thread(api.admin_operation, admin, first["ref"], "release", reason="Stuck")
        assert await capacity_state(ws) == "free"

        # when an admin hands him priya's order, his board stops offering Accept
        second = await asyncio.to_thread(api.place, alice)
        assert (await asyncio.to_thread(api.accept, priya, second["ref"])).status_code == 200
        await asyncio.to_thread(api.admin_operation, admin, second["ref"], "reassign", partner="sam")
        assert await capacity_state(ws) == "full"


async def test_admin_dashboard_socket_follows_orders_placed_and_accepted_elsewhere(app, api):
    sam = api.headers("sam")
    api.go_online(sam)
    async with session_socket(app, api.session_cookie("admin")) as ws:
        snapshot = await asyncio.wait_for(ws.recv(), 10)
        assert 'id="dash-counts"' in snapshot and 'id="dash-partners"' in snapshot

        order = await asyncio.to_thread(api.place, api.headers("alice"))
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert f'id="dash-order-{order["ref"]}"' in frame and 'data-status="placed"' in frame
        assert 'id="dash-counts"' in frame

        assert (await asyncio.to_thread(api.accept, sam, order["ref"])).status_code == 200
        frame = await asyncio.wait_for(ws.recv(), 10)
        row = re.search(rf'<div[^>]*id="dash-order-{order["ref"]}"[^>]*>', frame).group(0)
        assert 'data-status="accepted"' in row
        if 'id="dash-counts"' not in frame:
            # the blocks went out with the new order less than ADMIN_BLOCKS_SECONDS ago:
            # they follow on their own when that time is up
            frame = await asyncio.wait_for(ws.recv(), 10)
            assert "dash-order-" not in frame
        assert 'id="dash-counts"' in frame and 'id="dash-partners"' in frame


# --- refusals ------------------------------------------------------------------------------


async def test_anonymous_bad_and_expired_tokens_are_refused(app, api):
    from rest_framework_simplejwt.tokens import AccessToken

    # No credentials, no Origin: the origin check refuses the handshake.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{app.ws_url}/ws/orders/"):
            pass
    assert refused.value.response.status_code == 403

    # No credentials from our own origin: accepted, then closed with 4401.
    async with connect(f"{app.ws_url}/ws/orders/", origin=app.url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4401

    expired = AccessToken()
    expired["user_id"] = "1"
    expired.set_exp(lifetime=-timedelta(minutes=1))
    for token in ("garbage", str(expired)):
        async with jwt_socket(app, token) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4401


async def test_origin_rules_for_session_and_jwt_sockets(app, api):
    cookie = api.session_cookie("alice")
    with pytest.raises(InvalidStatus) as refused:
        async with session_socket(app, cookie, origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    access = api.token("alice")
    with pytest.raises(InvalidStatus):
        async with jwt_socket(app, access, origin="https://evil.example"):
            pass
    async with jwt_socket(app, access) as ws:  # no Origin at all: a non-browser client
        assert (await next_json(ws))["event"] == "snapshot"


# --- reconnect, scale-out, burst ----------------------------------------------------------


async def test_reconnect_gets_a_snapshot_with_what_was_missed(app, api):
    sam = api.headers("sam")
    api.go_online(sam)
    alice = api.headers("alice")
    async with jwt_socket(app, api.token("alice")) as ws:
        await next_json(ws)
        order = await asyncio.to_thread(api.place, alice)
        await wait_for_event(ws, "new_order", order["ref"])
    # Offline meanwhile: the order is accepted and picked up.
    assert api.accept(sam, order["ref"]).status_code == 200
    assert api.advance(sam, order["ref"], "picked_up").status_code == 200
    async with jwt_socket(app, api.token("alice")) as ws:
        snapshot = await next_json(ws)
    assert snapshot["event"] == "snapshot"
    mine = {o["ref"]: o for o in snapshot["orders"]}
    assert mine[order["ref"]]["status"] == "picked_up"
    assert mine[order["ref"]]["version"] == 3


async def test_a_client_on_instance_b_sees_an_order_placed_through_instance_a(start_app, redis_server):
    app_a = start_app(redis_url=redis_server.url)
    app_b = start_app(redis_url=redis_server.url)
    api_a, api_b = Api(app_a.url), Api(app_b.url)
    sam = api_b.headers("sam")
    api_b.go_online(sam)
    async with jwt_socket(app_b, sam["Authorization"][7:]) as ws:
        await next_json(ws)
        order = await asyncio.to_thread(api_a.place, api_a.headers("alice"))
        message = await wait_for_event(ws, "new_order", order["ref"])
    assert message["order"]["ref"] == order["ref"]


def log_out_of_the_page(base_url, cookie):
    """Log out as the page's logout button does (a POST with the CSRF token)."""
    csrf = re.search(r"csrftoken=([^;]+)", cookie).group(1)
    response = httpx.post(
        f"{base_url}/accounts/logout/",
        headers={"Cookie": cookie, "X-CSRFToken": csrf, "Origin": base_url, "Referer": f"{base_url}/"},
    )
    assert response.status_code == 302, response.text


async def close_code(ws, timeout=10) -> int:
    """Read until the server closes ``ws``; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return closed.value.rcvd.code


async def still_open(ws) -> bool:
    await drain(ws)
    await ws.send(json.dumps({"type": "ping"}))
    return '"pong"' in await asyncio.wait_for(ws.recv(), 10)


async def test_sockets_lose_their_right_on_every_instance(start_app, redis_server):
    # given two instances sharing Redis; every socket is on B, every change goes through A
    app_a, app_b = start_app(redis_url=redis_server.url), start_app(redis_url=redis_server.url)
    api_a, api_b = Api(app_a.url), Api(app_b.url)

    # a browser logout closes that session's sockets only (alice is signed in twice)
    leaving, staying = api_b.session_cookie("alice"), api_b.session_cookie("alice")
    async with session_socket(app_b, leaving) as gone, session_socket(app_b, staying) as kept:
        await drain(gone)
        await asyncio.to_thread(log_out_of_the_page, app_a.url, leaving)
        assert await close_code(gone) == 4401
        assert await still_open(kept)
    # and the logged-out session cannot open a new one
    async with session_socket(app_b, leaving) as again:
        assert await close_code(again) == 4401

    # an API logout (its refresh token revoked) closes the user's token sockets
    tokens = api_a.http.post("/api/auth/token/", json={"username": "bob", "password": PASSWORD}).json()
    async with jwt_socket(app_b, tokens["access"]) as ws:
        await next_json(ws)
        response = await asyncio.to_thread(api_a.http.post, "/api/auth/logout/", json={"refresh": tokens["refresh"]})
        assert response.status_code == 200, response.text
        assert await close_code(ws) == 4401

    # an admin deactivating a partner, or changing a user's role, closes their sockets
    for username, change in (("priya", "user.is_active = False"), ("sam", "user.role = 'customer'")):
        async with jwt_socket(app_b, api_b.token(username)) as ws:
            await next_json(ws)
            script = f"from accounts.models import User\nuser = User.objects.get(username={username!r})\n"
            script += f"{change}\nuser.save()"
            done = await asyncio.to_thread(manage, "shell", "-c", script, env=app_a.env())
            assert done.returncode == 0, done.stderr
            assert await close_code(ws) == 4401
    # and nobody else's sockets are touched
    async with jwt_socket(app_b, api_b.token("ravi")) as ravi:
        assert await still_open(ravi)


@pytest.mark.parametrize("layer", ["pubsub", "core"])
async def test_burst_every_socket_gets_every_new_order_exactly_once(start_app, redis_server, layer):
    app = start_app(redis_url=redis_server.url, REDIS_CHANNEL_LAYER=layer)
    api = Api(app.url)
    partners = 100
    orders = 200
    access = api.token("sam")
    api.go_online({"Authorization": f"Bearer {access}"})
    customers = [api.register(f"burst{i}", "customer") for i in range(4)]
    product = api.product_id()
    stocked = manage(
        "shell", "-c", f"from orders.models import Product; Product.objects.filter(pk={product!r}).update(stock=10**6)",
        env=app.env(),
    )  # fmt: skip
    assert stocked.returncode == 0, stocked.stderr
    api.http.close()

    sockets = [await jwt_socket(app, access, max_queue=None) for _ in range(partners)]
    try:
        for ws in sockets:
            assert (await next_json(ws))["event"] == "snapshot"

        async def place_many(headers, count):
            async with httpx.AsyncClient(base_url=app.url, timeout=60) as http:
                refs = []
                for _ in range(count):
                    body = {"items": [{"product": product, "quantity": 1}], "address": ADDRESS}
                    response = await http.post("/api/orders/", json=body, headers=headers)
                    assert response.status_code == 201, response.text
                    refs.append(response.json()["ref"])
                return refs

        placed = await asyncio.gather(*(place_many(h, orders // len(customers)) for h in customers))
        expected = sorted(ref for refs in placed for ref in refs)
        assert len(set(expected)) == orders

        async def collect(ws):
            got = []
            while len(got) < orders:
                message = await next_json(ws, timeout=30)
                if message["event"] == "new_order":
                    got.append(message["ref"])
            return got

        received = await asyncio.gather(*(collect(ws) for ws in sockets))
        for got in received:
            assert sorted(got) == expected  # all of them, each exactly once
        # and nothing extra trails behind
        assert not [m for m in await drain(sockets[0], 0.5) if json.loads(m)["event"] == "new_order"]
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def test_a_client_that_stops_reading_holds_up_no_other_socket_and_loses_nothing(app, api, redis_server):
    """A real slow client: its socket stops reading (TCP backpressure all the way to the
    server's write buffer), while another socket of the same group must keep getting every
    event; once the slow one reads again it gets them all, in order (dispatch/hub.py)."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    sam = api.headers("sam")
    api.go_online(sam)
    access = sam["Authorization"][7:]
    events = 64
    pad = "x" * 256_000  # 64 x 256 KB: far more than the kernel's socket buffers hold
    layer = RedisPubSubChannelLayer(hosts=[redis_server.url])
    async with (
        jwt_socket(app, access, max_size=None) as fast,
        jwt_socket(app, access, max_size=None, max_queue=1) as slow,  # stops reading when 1 frame waits
    ):
        assert (await next_json(fast))["event"] == "snapshot"
        assert (await next_json(slow))["event"] == "snapshot"
        for n in range(events):
            text = json.dumps({"event": "new_order", "ref": f"SLOW{n:04d}", "pad": pad})
            message = {"type": "order.event", "event": "new_order", "ref": f"SLOW{n:04d}", "json": text, "html": ""}
            await layer.group_send("partners", message)
        fast_got = [(await next_json(fast, timeout=20))["ref"] for _ in range(events)]
        assert fast_got == [f"SLOW{n:04d}" for n in range(events)]
        # Only now does the slow client read: everything is there, in order, nothing twice.
        slow_got = [(await next_json(slow, timeout=20))["ref"] for _ in range(events)]
        assert slow_got == fast_got
        assert await drain(slow, 0.3) == []
    await layer.flush()


# --- Redis faults ------------------------------------------------------------------------


async def test_redis_outage_closes_sockets_cleanly_orders_still_succeed_and_reconnect_resyncs(app, api, redis_server):
    alice = api.headers("alice")
    sam = api.headers("sam")
    api.go_online(sam)
    async with jwt_socket(app, sam["Authorization"][7:]) as ws:
        await next_json(ws)
        redis_server.stop()
        # The watchdog notices within a second or two and closes with 4503 (unavailable).
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4503

    # Redis is down: the order is still taken (the write is the truth), never a 500.
    order = await asyncio.to_thread(api.place, alice)
    # The live event is built and sent after the response (dispatch.publish.Publisher).
    assert "publish failed" in await asyncio.to_thread(app.wait_for_log, "publish failed")

    # While Redis is down a new socket is refused cleanly (4503).
    async with jwt_socket(app, sam["Authorization"][7:]) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4503

    # Redis is back: reconnecting clients get a snapshot with what they missed.
    redis_server.start()
    async with jwt_socket(app, sam["Authorization"][7:]) as ws:
        snapshot = await next_json(ws)
    assert snapshot["event"] == "snapshot"
    assert order["ref"] in {o["ref"] for o in snapshot["orders"]}
