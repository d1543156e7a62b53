"""The store, drop-off points and the service area: place_order refuses a drop-off
outside SERVICE_RADIUS_KM before any stock is taken, in the service, the API and the
checkout page; and the ETA formula (docs/live-updates.md, "ETA") on known distances."""

import math
import uuid

import pytest
from django.urls import reverse

from orders.errors import BadPosition, OutsideServiceArea
from orders.factories import ProductFactory
from orders.geo import distance_km, eta_minutes
from orders.models import Order, Product
from orders.services import place_order

pytestmark = pytest.mark.django_db

STORE = (48.8757, 2.3376)
# About 1.2 km north of the store; about 11 km north (outside the default 5 km).
INSIDE = (48.8865, 2.3376)
OUTSIDE = (48.9757, 2.3376)
ADDRESS = "5 Long Road, Flat 2, Riverside"


@pytest.fixture(autouse=True)
def _store(settings):
    settings.STORE_LATITUDE, settings.STORE_LONGITUDE = STORE
    settings.SERVICE_RADIUS_KM = 5.0
    settings.RIDER_SPEED_KMH = 20.0
    settings.ETA_HANDOVER_MINUTES = 2


@pytest.fixture
def milk():
    return ProductFactory(name="Whole Milk", stock=10)


def stock_of(product):
    return Product.objects.get(pk=product.pk).stock


# --- the service -------------------------------------------------------------------------


def test_a_drop_off_inside_the_area_is_stored(customer, milk):
    order, created = place_order(
        customer=customer, lines=[(milk.pk, 1)], address=ADDRESS, latitude=INSIDE[0], longitude=INSIDE[1]
    )
    stored = Order.objects.get(pk=order.pk)
    assert created and (stored.latitude, stored.longitude) == INSIDE
    assert stock_of(milk) == 9


def test_without_a_point_the_address_is_enough(customer, milk):
    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
    assert (order.latitude, order.longitude) == (None, None)


def test_a_drop_off_outside_the_area_is_refused_before_any_stock_is_taken(customer, milk):
    with pytest.raises(OutsideServiceArea) as refused:
        place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS, latitude=OUTSIDE[0], longitude=OUTSIDE[1])
    assert refused.value.status_code == 400
    assert "11.1 km from our store" in str(refused.value) and "within 5 km" in str(refused.value)
    assert stock_of(milk) == 10 and not Order.objects.exists()


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (91, 2.3),
        (-90.5, 2.3),
        (48.8, 180.5),
        (float("nan"), 2.3),
        (48.8, float("inf")),
        ("48.8", 2.3),
        (True, 2.3),
        (48.8, None),
        (None, 2.3),
    ],
)
def test_bad_points_are_refused_and_nothing_is_taken(customer, milk, latitude, longitude):
    with pytest.raises(BadPosition):
        place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS, latitude=latitude, longitude=longitude)
    assert stock_of(milk) == 10 and not Order.objects.exists()


def test_the_radius_follows_the_setting(customer, milk, settings):
    settings.SERVICE_RADIUS_KM = 1.0  # INSIDE is 1.2 km away
    with pytest.raises(OutsideServiceArea):
        place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS, latitude=INSIDE[0], longitude=INSIDE[1])


# --- the API -----------------------------------------------------------------------------


def body(milk, point=None, **extra):
    data = {"items": [{"product": str(milk.pk), "quantity": 1}], "address": ADDRESS, **extra}
    if point:
        data["latitude"], data["longitude"] = point
    return data


def test_api_stores_the_drop_off_and_shows_it_to_the_customer(api, customer, milk):
    response = api(customer).post("/api/orders/", body(milk, INSIDE), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["latitude"], data["longitude"]) == INSIDE
    assert data["rider_location"] is None and data["eta_minutes"] is None, "no rider yet"


def test_api_refuses_a_drop_off_outside_the_area_with_400_and_takes_nothing(api, customer, milk):
    response = api(customer).post("/api/orders/", body(milk, OUTSIDE), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "outside_service_area"
    assert "we deliver within 5 km" in response.json()["detail"]
    assert stock_of(milk) == 10 and not Order.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"latitude": 91, "longitude": 2.3},
        {"latitude": "48.8", "longitude": "2.3"},
        {"latitude": 48.8},
        {"latitude": True, "longitude": 2.3},
    ],
)
def test_api_bad_points_are_400_and_take_nothing(api, customer, milk, extra):
    response = api(customer).post("/api/orders/", body(milk, **extra), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()  # a field error (DRF's shape) or the service's {"detail", "code"}
    assert "latitude" in errors or errors.get("code") == "bad_position", errors
    assert stock_of(milk) == 10 and not Order.objects.exists()


# --- the checkout page -------------------------------------------------------------------


def checkout(client, milk, point=None):
    session = client.session
    session["cart"] = {str(milk.pk): 1}
    session.save()
    data = {"address": ADDRESS, "note": "", "idempotency_key": str(uuid.uuid4())}
    if point:
        data["latitude"], data["longitude"] = point
    return client.post(reverse("orders:checkout"), data)


def test_checkout_page_stores_the_pin(customer_client, milk):
    response = checkout(customer_client, milk, INSIDE)
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.latitude, order.longitude) == INSIDE


def test_checkout_page_refuses_a_pin_outside_the_area_with_a_form_error(customer_client, milk):
    response = checkout(customer_client, milk, OUTSIDE)
    assert response.status_code == 400
    html = response.content.decode()
    assert "we deliver within 5 km" in html and "errorlist" in html
    assert stock_of(milk) == 10 and not Order.objects.exists()


def test_checkout_page_refuses_a_pin_out_of_range(customer_client, milk):
    response = checkout(customer_client, milk, (123, 2.3))
    assert response.status_code == 400
    assert stock_of(milk) == 10 and not Order.objects.exists()


# --- ETA ---------------------------------------------------------------------------------

# One degree of latitude is 111.195 km on haversine's sphere (radius 6371.0088 km).
KM_PER_DEGREE = 6371.0088 * math.pi / 180


@pytest.mark.parametrize(
    ("rider_km_north", "drop_km_north", "via_store", "expected"),
    [
        # straight line: km / 20 km/h * 60 + 2, rounded up
        (0.0, 0.0, False, 2),  # already there: the handover only
        (0.0, 1.0, False, 5),  # 3 min + 2
        (0.0, 2.0, False, 8),  # 6 + 2
        (0.0, 2.1, False, 9),  # 6.3 + 2 -> 9
        (1.0, 3.0, False, 8),  # 2 km apart
        (3.0, 0.0, False, 11),  # 9 + 2, going south
        # before pickup: rider -> store -> drop-off
        (1.0, 2.0, True, 11),  # 1 + 2 km = 9 min + 2
        (0.0, 2.0, True, 8),  # at the store: same as straight
    ],
)
def test_eta_is_distance_over_speed_plus_handover_rounded_up(rider_km_north, drop_km_north, via_store, expected):
    def north(km):
        return (STORE[0] + km / KM_PER_DEGREE, STORE[1])

    assert distance_km(STORE, north(drop_km_north)) == pytest.approx(drop_km_north, abs=1e-6)
    assert eta_minutes(north(rider_km_north), north(drop_km_north), via_store=via_store) == expected


def test_eta_follows_the_speed_setting(settings):
    settings.RIDER_SPEED_KMH = 10.0
    far = (STORE[0] + 2 / KM_PER_DEGREE, STORE[1])
    assert eta_minutes(STORE, far, via_store=False) == 14  # 12 + 2


def test_no_drop_off_no_eta():
    assert eta_minutes(STORE, None, via_store=False) is None


# --- the map's tiles and the CSP -------------------------------------------------------------


def test_the_tile_servers_origin_is_allowed_in_img_src_and_nothing_inline(customer_client, milk):
    session = customer_client.session
    session["cart"] = {str(milk.pk): 1}
    session.save()
    response = customer_client.get(reverse("orders:checkout"))
    policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    assert 'data-map="checkout"' in html and "leaflet-1.9.4/leaflet.js" in html
    assert 'data-tile-url="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html


@pytest.mark.parametrize(
    ("url", "sources"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", ["https://tile.openstreetmap.org"]),
        ("https://{s}.tile.example.com/{z}/{x}/{y}.png", ["https://*.tile.example.com"]),
        ("/tiles/{z}/{x}/{y}.png", []),
    ],
)
def test_map_tile_sources(url, sources):
    from quickcommerce.settings import map_tile_sources

    assert map_tile_sources(url) == sources
