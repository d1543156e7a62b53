import pytest
from django.core.management import call_command

from accounts.models import PartnerProfile, User
from dispatch import demo
from dispatch.demo import DEMO_PASSWORD, DEMO_USERS
from orders.models import Category, Order, OrderEvent, Product

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
    assert PartnerProfile.objects.filter(user__role="partner").count() == 3
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
    assert Order.objects.count() == 5


def test_a_reset_that_fails_midway_wipes_nothing(monkeypatch):
    call_command("seed", stdout=open("/dev/null", "w"))  # noqa: SIM115
    before = snapshot()

    def broken_catalog():
        raise RuntimeError("catalog step failed")

    monkeypatch.setattr(demo, "_seed_catalog", broken_catalog)
    with pytest.raises(RuntimeError, match="catalog step failed"):
        demo.seed_demo(reset=True)
    assert snapshot() == before
