"""Partners' positions over real sockets: two app instances (uvicorn) sharing a real
redis-server, real websocket clients. Who hears a position, who never does (proved by a
later message that must arrive first), the rate limit, bad values, refusals."""

import asyncio
import json

import pytest

from dispatch.tests.test_live import ADDRESS, Api, drain, jwt_socket, next_json, session_socket, wait_for_event

pytestmark = pytest.mark.live

STORE = (48.8757, 2.3376)
DROP = (48.8937, 2.3376)  # about 2 km north of the store


def token(headers):
    return headers["Authorization"][7:]


def place_with_drop_off(api, headers):
    body = {
        "items": [{"product": api.product_id(), "quantity": 1}],
        "address": ADDRESS,
        "latitude": DROP[0],
        "longitude": DROP[1],
    }
    response = api.http.post("/api/orders/", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def location(lat, lng, **extra):
    return json.dumps({"type": "location", "lat": lat, "lng": lng, **extra})


@pytest.fixture
def two_apps(start_app, redis_server):
    # No interval here: every position counts (the rate limit has its own test).
    env = {"LOCATION_MIN_INTERVAL_SECONDS": "0", "STORE_LATITUDE": STORE[0], "STORE_LONGITUDE": STORE[1]}
    return start_app(redis_url=redis_server.url, **env), start_app(redis_url=redis_server.url, **env)


async def test_a_position_reaches_exactly_the_orders_customer_and_admins_across_instances(two_apps):
    app_a, app_b = two_apps
    api_a, api_b = Api(app_a.url), Api(app_b.url)
    sam, priya, alice, bob, admin = (api_a.headers(name) for name in ("sam", "priya", "alice", "bob", "admin"))
    api_a.go_online(sam)
    api_a.go_online(priya)
    order = await asyncio.to_thread(place_with_drop_off, api_a, alice)
    assert (await asyncio.to_thread(api_a.accept, sam, order["ref"])).status_code == 200

    async with (
        jwt_socket(app_a, token(sam)) as ws_sam,  # the rider, on instance A
        jwt_socket(app_b, token(alice)) as ws_alice,  # her customer, on instance B
        session_socket(app_b, api_b.session_cookie("alice")) as page_alice,  # her order page
        jwt_socket(app_a, token(admin)) as ws_admin,
        jwt_socket(app_b, token(bob)) as ws_bob,  # another customer
        jwt_socket(app_b, token(priya)) as ws_priya,  # another (online) partner
    ):
        for ws in (ws_sam, ws_alice, ws_admin, ws_bob, ws_priya):
            assert (await next_json(ws))["event"] == "snapshot"
        await drain(page_alice)

        await ws_sam.send(location(STORE[0], STORE[1], accuracy=6.5, heading=None, speed=None))

        seen = await wait_for_event(ws_alice, "rider_location", order["ref"])
        assert set(seen) == {"event", "ref", "lat", "lng", "at", "eta_minutes"}
        assert (seen["lat"], seen["lng"]) == STORE
        # before pickup via the store (here: at it): 2.0015 km at 20 km/h = 6.005 min, + 2, rounded up
        assert seen["eta_minutes"] == 9
        fragment = await asyncio.wait_for(page_alice.recv(), 10)
        assert f'id="order-{order["ref"]}-rider"' in fragment and "Arriving in about 9 min" in fragment
        admin_seen = await wait_for_event(ws_admin, "rider_location")
        assert admin_seen["partner"]["name"] and admin_seen["orders"] == [{"ref": order["ref"], "eta_minutes": 9}]
        assert (admin_seen["lat"], admin_seen["lng"]) == STORE

        # Bob, Priya and Sam himself heard nothing: a later event they must get is the first thing they get.
        later = await asyncio.to_thread(api_a.place, bob)
        for ws in (ws_bob, ws_priya, ws_sam):
            first = await next_json(ws)
            if (first["event"], first.get("ref")) == ("order_accepted", order["ref"]):
                # Sam's accept, made just before the sockets opened, is published off the
                # request: on a busy machine it may land after their snapshot (harmless).
                first = await next_json(ws)
            assert (first["event"], first.get("ref")) == ("new_order", later["ref"]), first

        # After delivery: refused, and the customer hears nothing more about a rider.
        code = api_a.http.get(f"/api/orders/{order['ref']}/", headers=alice).json()["delivery_code"]
        for step in ("picked_up", "out_for_delivery"):
            assert (await asyncio.to_thread(api_a.advance, sam, order["ref"], step)).status_code == 200
        assert (await asyncio.to_thread(api_a.advance, sam, order["ref"], "delivered", code)).status_code == 200
        updates = [await wait_for_event(ws_alice, "order_status_update", order["ref"]) for _ in range(3)]
        assert [u["order"]["status"] for u in updates] == ["picked_up", "out_for_delivery", "delivered"]
        assert updates[0]["order"]["rider_location"]["lat"] == STORE[0], "while active: the last position"
        assert updates[-1]["order"]["rider_location"] is None and updates[-1]["order"]["eta_minutes"] is None
        await ws_sam.send(location(48.88, 2.34))
        refused = await wait_for_event(ws_sam, "location_refused")
        assert refused["code"] == "not_on_delivery"
        own = await asyncio.to_thread(api_b.place, alice)
        first = await wait_for_event(ws_alice, "new_order")
        assert first["ref"] == own["ref"]
        assert all(json.loads(m).get("event") != "rider_location" for m in await drain(ws_alice))


async def sam_delivering_to_alice(app):
    """Sam online with Alice's order (a drop-off point) accepted: ``(api, sam, alice, order)``."""
    api = Api(app.url)
    sam, alice = api.headers("sam"), api.headers("alice")
    api.go_online(sam)
    order = await asyncio.to_thread(place_with_drop_off, api, alice)
    assert (await asyncio.to_thread(api.accept, sam, order["ref"])).status_code == 200
    return api, sam, alice, order


async def test_positions_faster_than_the_interval_are_dropped(start_app, redis_server):
    app = start_app(redis_url=redis_server.url, LOCATION_MIN_INTERVAL_SECONDS="30")
    api, sam, alice, order = await sam_delivering_to_alice(app)
    async with jwt_socket(app, token(sam)) as ws_sam, jwt_socket(app, token(alice)) as ws_alice:
        await next_json(ws_sam)
        await next_json(ws_alice)
        await ws_sam.send(location(48.876, 2.338))
        first = await wait_for_event(ws_alice, "rider_location", order["ref"])
        await ws_sam.send(location(48.877, 2.339))  # too soon: dropped, silently
        response = api.http.post("/api/partners/me/location/", json={"lat": 48.878, "lng": 2.34}, headers=sam)
        assert response.status_code == 204  # dropped too, not an error
        # The next thing Alice hears is the pickup, not another position.
        assert (await asyncio.to_thread(api.advance, sam, order["ref"], "picked_up")).status_code == 200
        after = await next_json(ws_alice)
        assert (after["event"], after["order"]["status"]) == ("order_status_update", "picked_up")
        assert after["order"]["rider_location"]["lat"] == first["lat"] == 48.876
        assert [m for m in await drain(ws_sam) if "location_refused" in m] == []


@pytest.mark.parametrize(
    "frame",
    [
        location(91, 2.3),
        location(48.8, -181),
        '{"type": "location", "lat": NaN, "lng": 2.3}',
        location("48.8", 2.3),
        json.dumps({"type": "location", "lat": 48.8}),
        location(True, 2.3),
        location(48.8, 2.3, speed=-3),
    ],
)
async def test_bad_positions_are_refused_and_reach_nobody(start_app, redis_server, frame):
    app = start_app(redis_url=redis_server.url, LOCATION_MIN_INTERVAL_SECONDS="0")
    _api, sam, alice, _order = await sam_delivering_to_alice(app)
    async with jwt_socket(app, token(sam)) as ws_sam, jwt_socket(app, token(alice)) as ws_alice:
        await next_json(ws_sam)
        await next_json(ws_alice)
        await ws_sam.send(frame)
        # (The setup's order events may still be on their way: under load they came first.)
        refused = await wait_for_event(ws_sam, "location_refused")
        assert refused["code"] == "bad_position"
        await ws_sam.send(location(48.876, 2.338))  # a good one right after: the first position Alice hears
        seen = await wait_for_event(ws_alice, "rider_location")
        assert seen["lat"] == 48.876


async def test_offline_and_idle_partners_are_refused_and_nothing_is_sent(start_app, redis_server):
    app = start_app(redis_url=redis_server.url, LOCATION_MIN_INTERVAL_SECONDS="0")
    api = Api(app.url)
    priya, sam, admin = api.headers("priya"), api.headers("sam"), api.headers("admin")
    api.go_online(priya)  # online, no active order; sam stays offline
    async with (
        jwt_socket(app, token(priya)) as ws_priya,
        jwt_socket(app, token(sam)) as ws_sam,
        jwt_socket(app, token(admin)) as ws_admin,
    ):
        for ws in (ws_priya, ws_sam, ws_admin):
            await next_json(ws)
        for ws in (ws_priya, ws_sam):
            await ws.send(location(48.876, 2.338))
            refused = await next_json(ws)
            assert (refused["event"], refused["code"]) == ("location_refused", "not_on_delivery")
        for headers in (priya, sam):
            response = api.http.post("/api/partners/me/location/", json={"lat": 48.8, "lng": 2.3}, headers=headers)
            assert response.status_code == 409 and response.json()["code"] == "not_on_delivery"
        # Admins heard no position: the next thing they hear is a new order.
        later = await asyncio.to_thread(api.place, api.headers("bob"))
        first = await wait_for_event(ws_admin, "new_order")  # skips partner_update (priya went online)
        assert first["ref"] == later["ref"]
        partners = api.http.get("/api/partners/", headers=admin).json()
        assert partners  # the admin API answers; positions are not part of it


async def test_admins_get_at_most_one_position_per_partner_per_second(start_app, redis_server):
    app = start_app(redis_url=redis_server.url, LOCATION_MIN_INTERVAL_SECONDS="0")
    api, sam, alice, _order = await sam_delivering_to_alice(app)
    admin = api.headers("admin")
    async with (
        jwt_socket(app, token(sam)) as ws_sam,
        jwt_socket(app, token(alice)) as ws_alice,
        jwt_socket(app, token(admin)) as ws_admin,
    ):
        for ws in (ws_sam, ws_alice, ws_admin):
            await next_json(ws)
        await drain(ws_admin)
        lats = [round(48.870 + i / 1000, 3) for i in range(8)]
        for lat in lats:
            await ws_sam.send(location(lat, 2.338))
        # The customer gets every position...
        got = [(await wait_for_event(ws_alice, "rider_location"))["lat"] for _ in lats]
        assert got == lats
        # ...admins the first at once, then (a second later) only the latest.
        admin_lats = [json.loads(m)["lat"] for m in await drain(ws_admin, seconds=2.5)]
        assert admin_lats[0] == lats[0] and admin_lats[-1] == lats[-1]
        assert len(admin_lats) < len(lats), admin_lats
