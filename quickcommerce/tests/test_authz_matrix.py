# ruff: noqa: E501 - the matrix reads best one case per line
"""Authorization matrix: every URL pattern in the URLconf, as every kind of visitor.

The walk over ``get_resolver()`` is the point: a new view that nobody classified
here fails ``test_every_url_pattern_is_classified``, so no page or endpoint can
escape the matrix. Each case names a URL, a method, which order its ``<ref>`` is,
and what each of the six visitors gets:

- ``OK``: let in (any answer but a refusal: 2xx, 3xx that is not the login page,
  or a 400/409 about the input or the order's state);
- ``LOGIN``: anonymous refused (pages: redirect to the login page; API: 401);
- ``DENY``: signed in, wrong role (403);
- ``HIDDEN``: not theirs, or no such order (404 - never a 403 that would confirm it exists).

Admin URLs (/admin/...) are one group: staff only (others are sent to the admin login).
The websocket path is checked over a real socket (``test_websocket_matrix``).
"""

import asyncio
import json

import httpx
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from orders.models import Order

OK, LOGIN, DENY, HIDDEN = "ok", "login", "deny", "hidden"
ROLES = ("anon", "alice", "bob", "p1", "p2", "admin")
UNKNOWN_REF = "ZZZZZZZZ"


def everyone(outcome):
    return dict.fromkeys(ROLES, outcome)


def by_role(*, anon, customer, partner, admin):
    return {"anon": anon, "alice": customer, "bob": customer, "p1": partner, "p2": partner, "admin": admin}


CUSTOMER_PAGE = by_role(anon=LOGIN, customer=OK, partner=DENY, admin=DENY)
PARTNER_PAGE = by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY)
ADMIN_PAGE = by_role(anon=LOGIN, customer=DENY, partner=DENY, admin=OK)
PUBLIC = everyone(OK)
SIGNED_OUT_ONLY = by_role(anon=OK, customer=OK, partner=OK, admin=OK)  # signed-in visitors are redirected home


# (url name, method, ref: which order or None, body, {role: outcome})
# placed_a: alice's, not yet accepted (on the board). taken_a: alice's, accepted by p1.
# placed_b: bob's, on the board. unknown: a well-formed ref of no order.
CASES = [
    ("healthz", "get", None, None, PUBLIC),
    ("favicon", "get", None, None, PUBLIC),
    ("service-worker", "get", None, None, PUBLIC),
    ("manifest", "get", None, None, PUBLIC),
    ("offline", "get", None, None, PUBLIC),
    ("login", "get", None, None, SIGNED_OUT_ONLY),
    ("logout", "post", None, None, PUBLIC),
    ("accounts:register", "get", None, None, SIGNED_OUT_ONLY),
    ("accounts:home", "get", None, None, PUBLIC),
    ("accounts:settings", "get", None, None, CUSTOMER_PAGE),
    ("accounts:settings", "post", None, {}, CUSTOMER_PAGE),
    # customer pages
    ("orders:catalog", "get", None, None, PUBLIC),
    ("orders:product", "get", "product", None, PUBLIC),
    ("orders:mini-cart", "get", None, None, CUSTOMER_PAGE),
    # Uploaded pictures: the app serves them only with DEBUG on (tests run with it off); nginx does.
    ("media", "get", "picture", None, everyone(HIDDEN)),
    ("orders:cart", "get", None, None, CUSTOMER_PAGE),
    ("orders:cart-add", "post", None, {}, CUSTOMER_PAGE),
    ("orders:cart-update", "post", None, {}, CUSTOMER_PAGE),
    ("orders:cart-remove", "post", None, {}, CUSTOMER_PAGE),
    ("orders:checkout", "get", None, None, CUSTOMER_PAGE),
    ("orders:list", "get", None, None, CUSTOMER_PAGE),
    ("orders:detail", "get", "placed_a", None, by_role(anon=LOGIN, customer=OK, partner=DENY, admin=DENY) | {"bob": HIDDEN}),
    ("orders:detail", "get", "unknown", None, by_role(anon=LOGIN, customer=HIDDEN, partner=DENY, admin=DENY)),
    ("orders:cancel", "post", "placed_a", {}, by_role(anon=LOGIN, customer=OK, partner=DENY, admin=DENY) | {"bob": HIDDEN}),
    ("orders:cancel", "post", "unknown", {}, by_role(anon=LOGIN, customer=HIDDEN, partner=DENY, admin=DENY)),
    # partner pages
    ("dispatch:board", "get", None, None, PARTNER_PAGE),
    ("dispatch:availability", "post", None, {"online": "true"}, PARTNER_PAGE),
    ("dispatch:accept", "post", "placed_b", {}, PARTNER_PAGE),
    ("dispatch:accept", "post", "unknown", {}, by_role(anon=LOGIN, customer=DENY, partner=HIDDEN, admin=DENY)),
    ("dispatch:advance", "post", "taken_a", {"status": "picked_up"}, PARTNER_PAGE | {"p2": HIDDEN}),
    ("dispatch:advance", "post", "unknown", {"status": "picked_up"}, PARTNER_PAGE | {"p1": HIDDEN, "p2": HIDDEN}),
    ("dispatch:history", "get", None, None, PARTNER_PAGE),
    ("dispatch:dashboard", "get", None, None, ADMIN_PAGE),
    # API
    ("api-register", "post", None, {}, PUBLIC),
    ("api-token", "post", None, {}, PUBLIC),
    ("api-token-refresh", "post", None, {}, PUBLIC),
    ("api-logout", "post", None, {}, PUBLIC),
    ("api-me", "get", None, None, by_role(anon=LOGIN, customer=OK, partner=OK, admin=OK)),
    ("api-products", "get", None, None, PUBLIC),
    ("api-schema", "get", None, None, PUBLIC),
    ("api-docs", "get", None, None, PUBLIC),
    ("api-not-found", "get", None, None, everyone(HIDDEN)),
    ("api-orders", "get", None, None, by_role(anon=LOGIN, customer=OK, partner=OK, admin=OK)),
    ("api-orders", "post", None, {}, by_role(anon=LOGIN, customer=OK, partner=DENY, admin=DENY)),
    # p2 is online: a placed order is on the board for every partner; an assigned one only for its partner.
    ("api-order", "get", "placed_a", None, by_role(anon=LOGIN, customer=OK, partner=OK, admin=OK) | {"bob": HIDDEN}),
    ("api-order", "get", "taken_a", None, by_role(anon=LOGIN, customer=OK, partner=OK, admin=OK) | {"bob": HIDDEN, "p2": HIDDEN}),
    ("api-order", "get", "unknown", None, by_role(anon=LOGIN, customer=HIDDEN, partner=HIDDEN, admin=HIDDEN)),
    ("api-order-cancel", "post", "placed_a", {}, by_role(anon=LOGIN, customer=OK, partner=DENY, admin=OK) | {"bob": HIDDEN}),
    ("api-order-cancel", "post", "unknown", {}, by_role(anon=LOGIN, customer=HIDDEN, partner=DENY, admin=HIDDEN)),
    ("api-orders-available", "get", None, None, by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY)),
    ("api-order-accept", "post", "placed_b", {}, by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY)),
    ("api-order-accept", "post", "unknown", {}, by_role(anon=LOGIN, customer=DENY, partner=HIDDEN, admin=DENY)),
    ("api-order-status", "post", "taken_a", {"status": "picked_up"}, by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY) | {"p2": HIDDEN}),
    ("api-order-status", "post", "unknown", {"status": "picked_up"}, by_role(anon=LOGIN, customer=DENY, partner=HIDDEN, admin=DENY)),
    ("api-partners", "get", None, None, by_role(anon=LOGIN, customer=DENY, partner=DENY, admin=OK)),
    ("api-partner-availability", "post", None, {"online": True}, by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY)),
    # a position: p1 (with an active order) 204, p2 (none) 409: both past the role check
    ("api-partner-location", "post", None, {"lat": 48.88, "lng": 2.34}, by_role(anon=LOGIN, customer=DENY, partner=OK, admin=DENY)),
]  # fmt: skip


# --- the URLconf walk -----------------------------------------------------------------------


def walk(patterns, prefix="", namespace=None):
    """(route, name, is_admin) for every URL pattern, however deeply included."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns:
                ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from walk(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield route, name, route.startswith("admin/")


def test_every_url_pattern_is_classified():
    patterns = list(walk(get_resolver().url_patterns))
    assert len(patterns) > 40  # the walk really went into the includes (admin alone has dozens)
    unnamed = [route for route, name, is_admin in patterns if not name and not is_admin]
    assert not unnamed, f"URL patterns without a name cannot be classified: {unnamed}"
    ours = {name for _, name, is_admin in patterns if not is_admin}
    classified = {case[0] for case in CASES}
    assert ours - classified == set(), f"unclassified URL patterns (add them to CASES): {sorted(ours - classified)}"
    assert classified - ours == set(), f"CASES name URLs that no longer exist: {sorted(classified - ours)}"
    # Everything under admin/ is the admin site's (one group: staff only, test_admin_site_is_staff_only).
    admin_names = {name for _, name, is_admin in patterns if is_admin and name}
    assert admin_names and all(name.startswith("admin:") for name in admin_names)
    # ... whose login goes through the login limits first (accounts.views.admin_login).
    from accounts.views import admin_login

    assert reverse("admin:login") == "/admin/login/"
    assert resolve("/admin/login/").func is admin_login


# --- the world the matrix runs in --------------------------------------------------------------


@pytest.fixture
def world(customer, other_customer, partner, other_partner, admin_user):
    from dispatch.services import accept_order, set_availability
    from orders.factories import ProductFactory, make_order

    product = ProductFactory(stock=1000)
    set_availability(partner=partner, online=True)
    set_availability(partner=other_partner, online=True)
    placed_a = make_order(customer, [(product, 1)])
    taken_a = make_order(customer, [(product, 1)])
    accept_order(partner=partner, order_ref=taken_a.ref)
    placed_b = make_order(other_customer, [(product, 1)])
    users = {"alice": customer, "bob": other_customer, "p1": partner, "p2": other_partner, "admin": admin_user}
    refs = {"placed_a": placed_a.ref, "taken_a": taken_a.ref, "placed_b": placed_b.ref, "unknown": UNKNOWN_REF}
    kwargs = {"product": {"slug": product.slug}, "picture": {"path": "products/x.webp"}}
    return {"users": users, "refs": refs, "kwargs": kwargs}


def outcome_of(response, *, api: bool) -> str:
    status = response.status_code
    assert status < 500, response.content[:500]
    location = response.headers.get("Location", "")
    # A refusal sends to the login page with ?next=; logging out just lands there.
    if status == 401 or (status == 302 and "/login/?next=" in location and not api):
        return LOGIN
    if status == 403:
        return DENY
    if status == 404:
        return HIDDEN
    return OK


def request_as(client, users, role, method, url, body, *, api):
    if role != "anon":
        client.force_login(users[role])
    if method == "get":
        return client.get(url)
    if api:
        return client.post(url, data=json.dumps(body or {}), content_type="application/json")
    return client.post(url, data=body or {})


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "ref", "body", "expected"), CASES, ids=[f"{c[1]}-{c[0]}-{c[2] or ''}" for c in CASES]
)
def test_matrix(client, world, role, name, method, ref, body, expected):
    kwargs = world["kwargs"].get(ref) or {"ref": world["refs"][ref]} if ref else {}
    url = reverse(name, kwargs=kwargs)
    api = url.startswith("/api/")
    response = request_as(client, world["users"], role, method, url, body, api=api)
    got = outcome_of(response, api=api)
    assert got == expected[role], f"{method.upper()} {url} as {role}: {response.status_code} -> {got}"
    if got == OK:
        assert response.status_code not in (401, 403, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_admin_site_is_staff_only(client, world, role):
    order = Order.objects.get(ref=world["refs"]["taken_a"])
    urls = [
        reverse("admin:index"),
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:accounts_user_changelist"),
    ]
    if role != "anon":
        client.force_login(world["users"][role])
    for url in urls:
        response = client.get(url)
        if role == "admin":
            assert response.status_code == 200, url
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith(reverse("admin:login")), url


# --- what each may see of an order ------------------------------------------------------------


@pytest.mark.django_db
def test_contact_details_only_for_the_customer_the_assigned_partner_and_admins(client, world):
    users, refs = world["users"], world["refs"]
    url = reverse("api-order", kwargs={"ref": refs["taken_a"]})
    for role in ("alice", "p1", "admin"):
        client.force_login(users[role])
        data = client.get(url).json()
        assert data["address"] and data["customer"]["phone"] is not None, role
        assert ("delivery_code" in data) == (role != "p1"), role  # never to partners
    # On the board, other partners see the area only.
    client.force_login(users["p2"])
    board_order = client.get(reverse("api-order", kwargs={"ref": refs["placed_a"]})).json()
    assert "address" not in board_order and "customer" not in board_order and "delivery_code" not in board_order
    available = client.get(reverse("api-orders-available")).json()
    assert {o["ref"] for o in available} == {refs["placed_a"], refs["placed_b"]}
    assert all("address" not in o and "customer" not in o for o in available)


@pytest.mark.django_db
def test_order_lists_hold_only_what_each_may_see(client, world):
    users, refs = world["users"], world["refs"]
    expected = {
        "alice": {refs["placed_a"], refs["taken_a"]},
        "bob": {refs["placed_b"]},
        "p1": {refs["taken_a"]},
        "p2": set(),
        "admin": {refs["placed_a"], refs["taken_a"], refs["placed_b"]},
    }
    for role, refs_seen in expected.items():
        client.force_login(users[role])
        listed = {o["ref"] for o in client.get(reverse("api-orders")).json()["results"]}
        assert listed == refs_seen, role
    client.force_login(users["alice"])
    page = client.get(reverse("orders:list")).content.decode()
    assert refs["placed_a"] in page and refs["placed_b"] not in page
    client.force_login(users["p2"])
    board = client.get(reverse("dispatch:board")).content.decode()
    assert refs["placed_b"] in board and refs["taken_a"] not in board


# --- the websocket path -------------------------------------------------------------------------


@pytest.mark.live
async def test_websocket_matrix(start_app):
    """/ws/orders/ as each visitor: anonymous refused; each snapshot holds only what that
    visitor may see, with contact details only where allowed."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    app = await asyncio.to_thread(start_app)
    async with httpx.AsyncClient(base_url=app.url, timeout=20) as http:

        async def token(username):
            response = await http.post("/api/auth/token/", json={"username": username, "password": "demo-pass-123"})
            assert response.status_code == 200, response.text
            return response.json()["access"]

        tokens = {name: await token(name) for name in ("alice", "bob", "sam", "priya", "admin")}
        auth = {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}
        for partner in ("sam", "priya"):
            assert (
                await http.post("/api/partners/me/availability/", json={"online": True}, headers=auth[partner])
            ).status_code == 200
        products = (await http.get("/api/products/")).json()["results"]
        product = next(p for p in products if p["stock"] > 5)["id"]

        async def place(name):
            body = {"items": [{"product": product, "quantity": 1}], "address": "9 Secret Lane, Flat 1, Camden"}
            response = await http.post("/api/orders/", json=body, headers=auth[name])
            assert response.status_code == 201, response.text
            return response.json()["ref"]

        a_placed, a_taken, b_placed = await place("alice"), await place("alice"), await place("bob")
        assert (await http.post(f"/api/orders/{a_taken}/accept/", headers=auth["sam"])).status_code == 200

    async def snapshot(name):
        async with connect(f"{app.ws_url}/ws/orders/", additional_headers=auth[name]) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["event"] == "snapshot"
        return {o["ref"]: o for o in message["orders"]}

    mine = {a_placed, a_taken, b_placed}
    alice, bob, sam, priya, admin = [await snapshot(n) for n in ("alice", "bob", "sam", "priya", "admin")]
    assert set(alice) & mine == {a_placed, a_taken}
    assert set(bob) & mine == {b_placed}
    assert set(sam) & mine == {a_placed, a_taken, b_placed}
    assert set(priya) & mine == {a_placed, b_placed}  # not sam's delivery
    assert set(admin) & mine == mine
    assert "address" in sam[a_taken] and "address" not in sam[a_placed] and "address" not in priya[b_placed]
    assert all("delivery_code" not in o for o in [*sam.values(), *priya.values()])
    assert "address" in alice[a_taken] and "address" in admin[b_placed]

    # Anonymous: no Origin -> 403 at the handshake; our Origin, no credentials -> 4401.
    with pytest.raises(InvalidStatus):
        async with connect(f"{app.ws_url}/ws/orders/"):
            pass
    async with connect(f"{app.ws_url}/ws/orders/", origin=app.url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4401
