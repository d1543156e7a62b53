from datetime import timedelta

import pytest
from django.core.management import call_command

from accounts.models import PartnerProfile, User
from accounts.selectors import is_partner_online
from dispatch import demo
from dispatch import services as dispatch
from dispatch.chart import orders_chart
from dispatch.demo import DEMO_PASSWORD, DEMO_USERS
from dispatch.errors import OrderAlreadyTaken
from dispatch.selectors import live_numbers
from orders.models import Category, Order, OrderEvent, Product
from orders.selectors import active_orders_of, available_orders
from orders.services import place_order

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(User.objects.values_list("username", "role")),
        sorted(Product.objects.values_list("slug", "stock", "price")),
        sorted(Order.objects.values_list("ref", "status", "version")),
        OrderEvent.objects.count(),
        sorted(PartnerProfile.objects.values_list("user__username", "online")),
    )


def test_seed_creates_catalog_users_and_past_orders():
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Category.objects.count() >= 6
    assert Product.objects.count() >= 40
    assert Product.objects.filter(stock=0).exists(), "one product shows the out-of-stock state"
    for username, role, *_ in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.check_password(DEMO_PASSWORD)
    assert User.objects.get(username="admin").is_staff
    assert PartnerProfile.objects.filter(user__role="partner").count() == 4
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {"placed", "picked_up", "delivered", "cancelled"} <= statuses
    delivered = Order.objects.filter(status="delivered").first()
    assert list(delivered.events.values_list("status", flat=True)) == [
        "placed",
        "accepted",
        "picked_up",
        "out_for_delivery",
        "delivered",
    ]


def test_seed_twice_changes_nothing():
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = snapshot()
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert snapshot() == first


def test_seed_reset_wipes_and_reseeds():
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    Product.objects.filter(slug="bananas").update(stock=1)
    before = set(Order.objects.values_list("ref", flat=True))
    call_command("seed", "--reset", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Product.objects.get(slug="bananas").stock == 120 - 2  # fresh stock, less the seeded order
    assert not before & set(Order.objects.values_list("ref", flat=True))
    assert Order.objects.count() == len(demo.SEED_ORDERS)


def test_a_reset_that_fails_midway_wipes_nothing(monkeypatch):
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    before = snapshot()

    def broken_catalog():
        raise RuntimeError("catalog step failed")

    monkeypatch.setattr(demo, "_seed_catalog", broken_catalog)
    with pytest.raises(RuntimeError, match="catalog step failed"):
        demo.seed_demo(reset=True)
    assert snapshot() == before


def test_two_partners_can_race_for_a_new_order_right_after_seeding():
    # Given a fresh seed (what `make run` does)
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    ravi, priya = User.objects.get(username="ravi"), User.objects.get(username="priya")
    # then ravi is online and free, and priya is free too (one tap on "Go online")
    assert not active_orders_of(ravi).exists() and not active_orders_of(priya).exists()
    assert is_partner_online(ravi)
    dispatch.set_availability(partner=priya, online=True)
    # and when a customer orders, both see it and exactly one wins
    order, _ = place_order(
        customer=User.objects.get(username="alice"),
        lines=[(Product.objects.get(slug="bananas").pk, 1)],
        address="1 Test Lane, Riverside",
        idempotency_key="race",
    )
    assert order.ref in {o.ref for o in available_orders()}
    dispatch.accept_order(partner=ravi, order_ref=order.ref)
    with pytest.raises(OrderAlreadyTaken):
        dispatch.accept_order(partner=priya, order_ref=order.ref)


def test_seeded_timing_shows_real_medians_and_a_chart():
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    _, timing = live_numbers()
    # Real minutes, not the 0.0 of orders made in one instant (a seed just after
    # midnight puts some of them in yesterday; the newest ones stay today).
    assert timing["median_accept"] >= 1
    assert timing["median_deliver"] >= 5
    chart = orders_chart()
    assert sum(1 for bucket in chart["buckets"] if bucket["total"]) >= 5, "orders spread over the 3 hours"
    delivered = Order.objects.filter(status="delivered")
    assert all(o.delivered_at - o.created_at > timedelta(minutes=5) for o in delivered)
    # the timeline follows the timestamps
    for order in delivered:
        times = list(order.events.order_by("version").values_list("at", flat=True))
        assert times == sorted(times) and times[0] == order.created_at
