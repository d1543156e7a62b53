"""dispatch.location: who is located, the rate limit, the bounded trail, retention; the
API endpoint; and what the customer's order page and JSON show (ETA, the live rider).
Over real websockets: dispatch/tests/test_location_live.py."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import PartnerProfile
from dispatch import location
from dispatch.errors import NotOnDelivery
from dispatch.location import purge_locations, record_location
from dispatch.services import advance_order, set_availability
from orders.errors import BadPosition
from orders.factories import ProductFactory
from orders.models import TRAIL_POINTS, Order, TrailPoint
from orders.services import place_order

pytestmark = pytest.mark.django_db

STORE = (48.8757, 2.3376)
KM = 1 / 111.19508  # one km of latitude, in degrees (haversine's sphere)
DROP = (STORE[0] + 2 * KM, STORE[1])  # 2 km north of the store


@pytest.fixture(autouse=True)
def _places(settings):
    settings.STORE_LATITUDE, settings.STORE_LONGITUDE = STORE
    settings.RIDER_SPEED_KMH, settings.ETA_HANDOVER_MINUTES = 20.0, 2
    settings.LOCATION_MIN_INTERVAL_SECONDS = 3


@pytest.fixture
def sent(monkeypatch):
    """The positions published (after commit), instead of sending them."""
    positions = []
    monkeypatch.setattr(location, "publish_location", positions.append)
    return positions


def active_order(customer, partner, status=Order.Status.ACCEPTED):
    product = ProductFactory(stock=10)
    order, _ = place_order(
        customer=customer, lines=[(product.pk, 1)], address="1 Rue X, Montmartre", latitude=DROP[0], longitude=DROP[1]
    )
    set_availability(partner=partner, online=True)
    from dispatch.services import accept_order

    accept_order(partner=partner, order_ref=order.ref)
    if status != Order.Status.ACCEPTED:
        advance_order(partner=partner, order_ref=order.ref, to_status=Order.Status.PICKED_UP)
        if status == Order.Status.OUT_FOR_DELIVERY:
            advance_order(partner=partner, order_ref=order.ref, to_status=status)
    return Order.objects.get(pk=order.pk)


def profile(partner):
    return PartnerProfile.objects.get(user=partner)


def test_a_position_is_stored_on_the_partner_and_the_trail_and_published(
    customer, partner, sent, django_capture_on_commit_callbacks
):
    order = active_order(customer, partner)
    with django_capture_on_commit_callbacks(execute=True):
        position = record_location(partner=partner, latitude=48.88, longitude=2.34, accuracy=8, heading=90, speed=4)
    stored = profile(partner)
    assert (stored.latitude, stored.longitude, stored.located_at) == (48.88, 2.34, position.at)
    assert list(TrailPoint.objects.filter(order=order).values_list("latitude", "longitude")) == [(48.88, 2.34)]
    assert sent == [position] and [o.ref for o in position.orders] == [order.ref]


def test_updates_inside_the_interval_are_dropped_silently(customer, partner, sent, django_capture_on_commit_callbacks):
    order = active_order(customer, partner)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert record_location(partner=partner, latitude=48.88, longitude=2.34, now=start)
        assert (
            record_location(partner=partner, latitude=48.89, longitude=2.35, now=start + timedelta(seconds=2)) is None
        )
        later = record_location(partner=partner, latitude=48.87, longitude=2.33, now=start + timedelta(seconds=3))
    assert later is not None
    assert (profile(partner).latitude, profile(partner).longitude) == (48.87, 2.33)
    assert TrailPoint.objects.filter(order=order).count() == 2
    assert len(sent) == 2


def test_the_trail_keeps_the_last_points_only(customer, partner, settings, sent):
    settings.LOCATION_MIN_INTERVAL_SECONDS = 0
    order = active_order(customer, partner)
    start = timezone.now()
    for i in range(TRAIL_POINTS + 5):
        record_location(partner=partner, latitude=48.0 + i / 1000, longitude=2.3, now=start + timedelta(seconds=i))
    trail = list(TrailPoint.objects.filter(order=order).order_by("at").values_list("latitude", flat=True))
    assert len(trail) == TRAIL_POINTS
    assert trail[0] == pytest.approx(48.005) and trail[-1] == pytest.approx(48.0 + (TRAIL_POINTS + 4) / 1000)


@pytest.mark.parametrize(
    "values",
    [
        {"latitude": 90.5, "longitude": 2.3},
        {"latitude": 48.8, "longitude": -180.1},
        {"latitude": float("nan"), "longitude": 2.3},
        {"latitude": 48.8, "longitude": float("inf")},
        {"latitude": "48.8", "longitude": 2.3},
        {"latitude": None, "longitude": 2.3},
        {"latitude": True, "longitude": 2.3},
        {"latitude": 48.8, "longitude": 2.3, "accuracy": -1},
        {"latitude": 48.8, "longitude": 2.3, "heading": 361},
        {"latitude": 48.8, "longitude": 2.3, "speed": "fast"},
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(customer, partner, sent, values):
    order = active_order(customer, partner)
    with pytest.raises(BadPosition):
        record_location(partner=partner, **values)
    assert profile(partner).located_at is None and not TrailPoint.objects.filter(order=order).exists()


def test_offline_partners_and_partners_without_an_active_order_are_never_located(
    customer, partner, other_partner, sent
):
    with pytest.raises(NotOnDelivery):
        record_location(partner=partner, latitude=48.88, longitude=2.34)  # offline
    set_availability(partner=other_partner, online=True)
    with pytest.raises(NotOnDelivery):
        record_location(partner=other_partner, latitude=48.88, longitude=2.34)  # online, nothing to deliver
    assert not PartnerProfile.objects.filter(located_at__isnull=False).exists()
    assert not TrailPoint.objects.exists() and sent == []


def test_after_delivery_nothing_is_stored_or_sent(customer, partner, sent, django_capture_on_commit_callbacks):
    order = active_order(customer, partner, Order.Status.OUT_FOR_DELIVERY)
    advance_order(partner=partner, order_ref=order.ref, to_status=Order.Status.DELIVERED, code=order.delivery_code)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotOnDelivery):
        record_location(partner=partner, latitude=48.88, longitude=2.34)
    assert sent == [] and not TrailPoint.objects.exists()


def test_going_offline_forgets_the_last_position(customer, partner, sent):
    active_order(customer, partner)
    record_location(partner=partner, latitude=48.88, longitude=2.34)
    set_availability(partner=partner, online=False)
    stored = profile(partner)
    assert (stored.latitude, stored.longitude, stored.located_at) == (None, None, None)


def test_purge_deletes_trails_and_positions_older_than_the_retention(customer, partner, settings, sent):
    settings.LOCATION_RETENTION_HOURS = 24
    order = active_order(customer, partner)
    old = timezone.now() - timedelta(hours=25)
    record_location(partner=partner, latitude=48.88, longitude=2.34, now=old)
    TrailPoint.objects.create(order=order, latitude=48.9, longitude=2.3, at=timezone.now())
    assert purge_locations() == (1, 1)
    assert list(TrailPoint.objects.values_list("latitude", flat=True)) == [48.9]
    assert profile(partner).located_at is None
    call_command("purge_locations", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert TrailPoint.objects.count() == 1, "a fresh point stays"


# --- the API -------------------------------------------------------------------------------

LOCATION = "/api/partners/me/location/"


def test_api_takes_a_position_with_204(api, customer, partner, sent):
    order = active_order(customer, partner)
    response = api(partner).post(LOCATION, {"lat": 48.88, "lng": 2.34, "accuracy": 5}, format="json")
    assert response.status_code == 204, response.content
    assert TrailPoint.objects.filter(order=order).count() == 1
    # inside the interval: still 204, nothing more stored
    assert api(partner).post(LOCATION, {"lat": 48.89, "lng": 2.35}, format="json").status_code == 204
    assert TrailPoint.objects.filter(order=order).count() == 1 and profile(partner).latitude == 48.88


@pytest.mark.parametrize(
    "body",
    [
        {"lat": 91, "lng": 2.3},
        {"lat": 48.8},
        {"lat": "48.8", "lng": "2.3"},
        {"lat": 48.8, "lng": 2.3, "heading": 400},
        {},
    ],
)
def test_api_bad_values_are_400(api, customer, partner, sent, body):
    active_order(customer, partner)
    response = api(partner).post(LOCATION, body, format="json")
    assert response.status_code == 400, response.content
    assert profile(partner).located_at is None


def test_api_refuses_offline_and_idle_partners_with_409(api, partner, customer, other_partner, sent):
    response = api(partner).post(LOCATION, {"lat": 48.88, "lng": 2.34}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "not_on_delivery"
    set_availability(partner=other_partner, online=True)
    assert api(other_partner).post(LOCATION, {"lat": 48.88, "lng": 2.34}, format="json").status_code == 409


def test_api_is_for_partners_only(api, customer, admin_user):
    assert api().post(LOCATION, {"lat": 48.88, "lng": 2.34}, format="json").status_code == 401
    for user in (customer, admin_user):
        assert api(user).post(LOCATION, {"lat": 48.88, "lng": 2.34}, format="json").status_code == 403


# --- what the customer sees: the order JSON and page ----------------------------------------


def test_order_json_and_page_show_the_eta_while_active_and_not_after(
    api, client, customer, other_customer, partner, sent
):
    order = active_order(customer, partner, Order.Status.PICKED_UP)
    record_location(partner=partner, latitude=STORE[0], longitude=STORE[1])  # at the store, 2 km to go

    data = api(customer).get(f"/api/orders/{order.ref}/").json()
    assert data["eta_minutes"] == 8  # 2 km at 20 km/h = 6 min, + 2
    assert data["rider_location"]["lat"] == STORE[0]
    client.force_login(customer)
    html = client.get(reverse("orders:detail", kwargs={"ref": order.ref})).content.decode()
    assert "Arriving in about 8 min" in html
    assert f'id="order-{order.ref}-rider"' in html and 'data-map="order"' in html
    # another customer sees nothing of it
    assert api(other_customer).get(f"/api/orders/{order.ref}/").status_code == 404

    order = Order.objects.get(pk=order.pk)
    advance_order(partner=partner, order_ref=order.ref, to_status=Order.Status.OUT_FOR_DELIVERY)
    advance_order(partner=partner, order_ref=order.ref, to_status=Order.Status.DELIVERED, code=order.delivery_code)
    data = api(customer).get(f"/api/orders/{order.ref}/").json()
    assert data["eta_minutes"] is None and data["rider_location"] is None
    html = client.get(reverse("orders:detail", kwargs={"ref": order.ref})).content.decode()
    assert "Arriving in about" not in html and f'id="order-{order.ref}-rider"' not in html


def test_before_pickup_the_eta_goes_through_the_store(api, customer, partner, sent):
    order = active_order(customer, partner, Order.Status.ACCEPTED)
    record_location(partner=partner, latitude=STORE[0] - KM, longitude=STORE[1])  # 1 km south of the store
    assert api(customer).get(f"/api/orders/{order.ref}/").json()["eta_minutes"] == 11  # (1 + 2) km = 9 min + 2


def test_the_board_says_when_and_with_whom_the_location_is_shared(client, customer, partner, sent):
    client.force_login(partner)
    set_availability(partner=partner, online=True)
    html = client.get(reverse("dispatch:board")).content.decode()
    assert "Your location is not shared" in html and "data-share-location" not in html
    order = active_order(customer, partner)
    html = client.get(reverse("dispatch:board")).content.decode()
    assert "data-share-location" in html
    assert f"Sharing your location</strong> with\n          Alice (order #{order.ref})" in html
    set_availability(partner=partner, online=False)
    assert "data-share-location" not in client.get(reverse("dispatch:board")).content.decode()
