"""The dispatch API: the board (/api/orders/available/), accepting, advancing with
the delivery code, availability, and the admin's partner list."""

import json

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.factories import PartnerFactory
from accounts.models import PartnerProfile
from dispatch.factories import order_in_status
from dispatch.services import set_availability
from orders.factories import make_order
from orders.models import MAX_CODE_ATTEMPTS, Order

pytestmark = pytest.mark.django_db

S = Order.Status
AVAILABLE = "/api/orders/available/"
AVAILABILITY = "/api/partners/me/availability/"
PARTNERS = "/api/partners/"
ADDRESS = "12 Baker Street, Flat 3, Marylebone"


def order_url(order, action=""):
    ref = getattr(order, "ref", order)
    return f"/api/orders/{ref}/{action + '/' if action else ''}"


@pytest.fixture
def online(partner):
    set_availability(partner=partner, online=True)
    return partner


def fresh(order):
    return Order.objects.get(pk=order.pk)


def assert_no_secrets(body, order):
    """What a partner must never receive about ``order``."""
    text = json.dumps(body)
    assert '"delivery_code":' not in text
    if order.delivery_code:
        assert f'"{order.delivery_code}"' not in text


# --- GET /api/orders/available/ ---------------------------------------------------------


def test_available_lists_unassigned_orders_oldest_first_in_public_form(api, online, customer):
    first = make_order(customer, note="Behind the blue gate")
    second = make_order(customer)
    order_in_status(S.ACCEPTED)  # taken: not on the board
    order_in_status(S.CANCELLED)

    response = api(online).get(AVAILABLE)

    assert response.status_code == 200
    body = response.json()
    assert [o["ref"] for o in body] == [first.ref, second.ref]
    for card in body:
        assert card["area"] == "Marylebone"
        assert "address" not in card and "customer" not in card and "delivery_code" not in card
        assert ADDRESS not in json.dumps(card) and customer.phone not in json.dumps(card)
        assert "blue gate" not in json.dumps(card)
        assert card["items"] and card["total"]


def test_available_route_is_not_a_ref_and_is_empty_while_offline(api, partner):
    make_order()
    response = api(partner).get(AVAILABLE)
    assert response.status_code == 200
    assert response.json() == []


def test_available_is_for_partners(api, customer, admin_user):
    assert api().get(AVAILABLE).status_code == 401
    assert api(customer).get(AVAILABLE).status_code == 403
    assert api(admin_user).get(AVAILABLE).status_code == 403


# --- POST /api/orders/{ref}/accept/ -------------------------------------------------------


def test_accept_assigns_the_order_and_answers_the_full_form(api, online, customer):
    order = make_order(customer)

    response = api(online).post(order_url(order, "accept"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "accepted" and body["accepted_at"]
    assert body["partner"] == {"name": "Ravi"}
    assert body["address"] == ADDRESS
    assert body["customer"] == {"name": "Alice", "phone": "+1 555 0100"}
    assert [e["status"] for e in body["events"]] == ["placed", "accepted"]
    assert body["events"][-1]["actor"] == "partner"
    stored = fresh(order)
    assert stored.partner == online and stored.delivery_code
    assert_no_secrets(body, stored)


def test_accept_an_order_already_taken_is_409(api, online, other_partner):
    order = make_order()
    set_availability(partner=other_partner, online=True)
    assert api(other_partner).post(order_url(order, "accept")).status_code == 200

    response = api(online).post(order_url(order, "accept"))

    assert response.status_code == 409
    assert response.json() == {"detail": "Already taken by another partner.", "code": "already_taken"}
    assert fresh(order).partner == other_partner


def test_accept_while_offline_is_409(api, partner):
    order = make_order()
    response = api(partner).post(order_url(order, "accept"))
    assert response.status_code == 409
    assert response.json()["code"] == "partner_offline"
    assert fresh(order).status == S.PLACED


def test_accept_at_capacity_is_409(api, online):
    order_in_status(S.PICKED_UP, partner=online)
    order = make_order()
    with override_settings(PARTNER_MAX_ACTIVE_ORDERS=1):
        response = api(online).post(order_url(order, "accept"))
    assert response.status_code == 409
    assert response.json()["code"] == "partner_at_capacity"
    assert fresh(order).partner is None


def test_accept_a_cancelled_order_is_409(api, online):
    order = order_in_status(S.CANCELLED)
    assert api(online).post(order_url(order, "accept")).status_code == 409


def test_accept_unknown_or_malformed_ref_is_404(api, online):
    assert api(online).post(order_url("ZZZZZZZZ", "accept")).status_code == 404
    assert api(online).post("/api/orders/not-a-ref/accept/").status_code == 404


def test_accept_is_for_partners(api, customer, admin_user):
    order = make_order(customer)
    assert api().post(order_url(order, "accept")).status_code == 401
    assert api(customer).post(order_url(order, "accept")).status_code == 403
    assert api(admin_user).post(order_url(order, "accept")).status_code == 403
    assert fresh(order).status == S.PLACED


# --- POST /api/orders/{ref}/status/ ---------------------------------------------------------


def advance(client, order, status, code=None):
    body = {"status": status} if code is None else {"status": status, "code": code}
    return client.post(order_url(order, "status"), body, format="json")


def test_the_assigned_partner_walks_the_order_to_delivered(api, online, customer):
    order = order_in_status(S.ACCEPTED, customer=customer, partner=online)
    client = api(online)

    for step in ("picked_up", "out_for_delivery"):
        response = advance(client, order, step)
        assert response.status_code == 200, response.content
        assert response.json()["status"] == step
        assert response.json()["address"] == ADDRESS
        assert_no_secrets(response.json(), fresh(order))

    response = advance(client, order, "delivered", code=fresh(order).delivery_code)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "delivered" and body["delivered_at"]
    assert [e["status"] for e in body["events"]] == ["placed", "accepted", "picked_up", "out_for_delivery", "delivered"]
    assert_no_secrets(body, fresh(order))
    assert advance(client, order, "delivered", code=fresh(order).delivery_code).status_code == 409, "nothing left"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.ACCEPTED, "out_for_delivery"),  # skips a step
        (S.ACCEPTED, "delivered"),
        (S.ACCEPTED, "accepted"),
        (S.PICKED_UP, "accepted"),  # backwards
        (S.PICKED_UP, "placed"),
        (S.OUT_FOR_DELIVERY, "picked_up"),
        (S.ACCEPTED, "cancelled"),  # not a partner's move
    ],
)
def test_anything_but_the_next_step_is_409(api, online, current, target):
    order = order_in_status(current, partner=online)
    response = advance(api(online), order, target, code="0000")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert fresh(order).status == current


def test_another_partners_order_is_404_not_403(api, online, other_partner):
    order = order_in_status(S.ACCEPTED, partner=other_partner)
    response = advance(api(online), order, "picked_up")
    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert advance(api(online), "ZZZZZZZZ", "picked_up").status_code == 404
    assert api(online).post("/api/orders/lowercase/status/", {"status": "picked_up"}).status_code == 404
    assert fresh(order).status == S.ACCEPTED


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "flying"}, {"status": None}, {"status": ["picked_up"]}, {"status": "picked_up", "code": {}}],
)
def test_bad_status_input_is_400(api, online, body):
    order = order_in_status(S.ACCEPTED, partner=online)
    response = api(online).post(order_url(order, "status"), body, format="json")
    assert response.status_code == 400
    assert fresh(order).status == S.ACCEPTED


def test_wrong_code_is_400_with_tries_left_and_five_lock_it(api, online, admin_user):
    order = order_in_status(S.OUT_FOR_DELIVERY, partner=online)
    right = fresh(order).delivery_code
    wrong = f"{(int(right) + 1) % 10_000:04d}"
    client = api(online)

    missing = advance(client, order, "delivered")
    assert missing.status_code == 400
    assert missing.json()["code"] == "wrong_delivery_code"
    for attempt in range(1, MAX_CODE_ATTEMPTS):
        response = advance(client, order, "delivered", code=wrong)
        assert response.status_code == 400
        left = MAX_CODE_ATTEMPTS - attempt
        assert response.json() == {
            "detail": f"Wrong delivery code. {left} {'try' if left == 1 else 'tries'} left.",
            "code": "wrong_delivery_code",
        }
    locking = advance(client, order, "delivered", code=wrong)
    assert locking.status_code == 409
    assert locking.json()["code"] == "delivery_code_locked"

    after = advance(client, order, "delivered", code=right)
    assert after.status_code == 409, "locked even with the right code"
    assert after.json()["code"] == "delivery_code_locked"
    assert fresh(order).status == S.OUT_FOR_DELIVERY


def test_status_is_for_partners(api, customer, admin_user):
    order = order_in_status(S.ACCEPTED, customer=customer)
    assert advance(api(), order, "picked_up").status_code == 401
    assert advance(api(customer), order, "picked_up").status_code == 403
    assert advance(api(admin_user), order, "picked_up").status_code == 403


def test_no_partner_response_ever_carries_the_delivery_code(api, online):
    order = order_in_status(S.OUT_FOR_DELIVERY, partner=online)
    stored = fresh(order)
    client = api(online)
    for response in (
        client.get(order_url(order)),
        client.get("/api/orders/"),
        client.get(AVAILABLE),
        advance(client, order, "delivered", code="bad"),
    ):
        assert_no_secrets(response.json(), stored)


# --- POST /api/partners/me/availability/ -------------------------------------------------------


def test_partner_goes_online_and_offline(api, partner):
    client = api(partner)

    response = client.post(AVAILABILITY, {"online": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"online": True, "active_orders": 0}
    assert PartnerProfile.objects.get(user=partner).online

    order_in_status(S.PICKED_UP, partner=partner)
    response = client.post(AVAILABILITY, {"online": False}, format="json")
    assert response.json() == {"online": False, "active_orders": 1}
    assert not PartnerProfile.objects.get(user=partner).online


@pytest.mark.parametrize("body", [{}, {"online": None}, {"online": "maybe"}, {"online": [True]}, {"online": {}}])
def test_availability_bad_input_is_400(api, partner, body):
    response = api(partner).post(AVAILABILITY, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "online" in response.json()


def test_availability_is_for_partners(api, customer, admin_user):
    assert api().post(AVAILABILITY, {"online": True}, format="json").status_code == 401
    assert api(customer).post(AVAILABILITY, {"online": True}, format="json").status_code == 403
    assert api(admin_user).post(AVAILABILITY, {"online": True}, format="json").status_code == 403


# --- GET /api/partners/ ------------------------------------------------------------------------


def test_admin_lists_partners_with_status_work_and_todays_deliveries(api, admin_user, partner, other_partner):
    set_availability(partner=partner, online=True)
    active = order_in_status(S.PICKED_UP, partner=partner)
    order_in_status(S.DELIVERED, partner=other_partner)
    order_in_status(S.DELIVERED, partner=other_partner)
    set_availability(partner=other_partner, online=False)

    response = api(admin_user).get(PARTNERS)

    assert response.status_code == 200
    by_username = {p["username"]: p for p in response.json()}
    assert by_username["rider1"] == {
        "id": str(partner.pk),
        "username": "rider1",
        "name": "Ravi",
        "phone": "+1 555 0200",
        "online": True,
        "active_orders": [active.ref],
        "deliveries_today": 0,
    }
    assert by_username["rider2"]["online"] is False
    assert by_username["rider2"]["active_orders"] == []
    assert by_username["rider2"]["deliveries_today"] == 2
    assert set(by_username) == {"rider1", "rider2"}, "customers and admins are not partners"


def test_partner_list_queries_do_not_grow_with_partners(api, admin_user):
    def partners_query_count():
        with CaptureQueriesContext(connection) as queries:
            assert api(admin_user).get(PARTNERS).status_code == 200
        return len(queries)

    for _ in range(2):
        order_in_status(S.ACCEPTED, partner=PartnerFactory())
    few = partners_query_count()
    for _ in range(6):
        order_in_status(S.DELIVERED, partner=PartnerFactory())
    assert partners_query_count() == few


def test_partner_list_is_for_admins(api, customer, partner):
    assert api().get(PARTNERS).status_code == 401
    assert api(customer).get(PARTNERS).status_code == 403
    assert api(partner).get(PARTNERS).status_code == 403


def test_admin_sees_the_winner_on_the_order(api, admin_user, online):
    order = make_order()
    api(online).post(order_url(order, "accept"))
    body = api(admin_user).get(order_url(order)).json()
    assert body["partner"] == {"name": "Ravi"}
    assert body["delivery_code"] == fresh(order).delivery_code


# --- free text stays with the order's own parties -----------------------------------------------

SECRET_REASON = "Jane Roe at 555-0101 says the gate code is 4242"


@pytest.mark.parametrize("how", ["admin release", "customer cancel"])
def test_timeline_notes_never_reach_partners_who_are_not_assigned(api, partner, other_partner, admin_user, how):
    from dispatch import payloads
    from dispatch.services import release_order
    from orders.selectors import order_with_details
    from orders.services import cancel_order

    set_availability(partner=other_partner, online=True)
    if how == "admin release":
        # given an order released back to the board with a reason naming the customer
        order = order_in_status(Order.Status.ACCEPTED, partner=set_online(partner))
        release_order(admin=admin_user, order_ref=order.ref, reason=SECRET_REASON)
    else:
        # given an order the customer cancelled with a reason (it leaves every board with this event)
        order = make_order()
        cancel_order(actor=order.customer, order_ref=order.ref, reason=SECRET_REASON)
    order = order_with_details(order.pk)

    # then the board's live JSON (every online partner) carries no note
    assert SECRET_REASON not in payloads.order_json_text("order_status_update", order, None)
    # nor does the API answer another partner (the released order is on their board)
    response = api(other_partner).get(order_url(order))
    if how == "admin release":
        assert response.status_code == 200
        assert SECRET_REASON not in response.content.decode()
        assert {event["note"] for event in response.json()["events"]} == {""}
    else:
        assert response.status_code == 404
    # while the customer and admins still read it
    for viewer in (order.customer, admin_user):
        assert SECRET_REASON in api(viewer).get(order_url(order)).content.decode()


def set_online(partner):
    set_availability(partner=partner, online=True)
    return partner
