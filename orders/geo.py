"""Places on the map: the store, drop-offs, the service area and the ETA.

Distances are straight lines on the sphere (haversine, the ``haversine`` package); the
ETA is an estimate, not a route: docs/live-updates.md ("ETA") gives the formula.
"""

import json
import math

from django.conf import settings
from haversine import Unit, haversine

from orders.errors import BadPosition, OutsideServiceArea
from orders.models import ACTIVE_STATUSES, Order, TrailPoint

Point = tuple[float, float]


def store_point() -> Point:
    return (settings.STORE_LATITUDE, settings.STORE_LONGITUDE)


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadPosition()
    number = float(value)
    if not math.isfinite(number):
        raise BadPosition()
    return number


def parse_point(latitude, longitude) -> Point:
    """``(lat, lng)`` as finite floats in range, or BadPosition (400). Numbers only:
    a string, a boolean, NaN or infinity is refused."""
    lat, lng = _number(latitude), _number(longitude)
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise BadPosition()
    return (lat, lng)


def distance_km(a: Point, b: Point) -> float:
    return haversine(a, b, unit=Unit.KILOMETERS)


def drop_off(latitude, longitude) -> Point | None:
    """A drop-off point for a new order: None when neither is given; both or neither;
    in range; within SERVICE_RADIUS_KM of the store (else OutsideServiceArea, 400)."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise BadPosition("Give both a latitude and a longitude for the drop-off, or neither.")
    point = parse_point(latitude, longitude)
    distance = distance_km(store_point(), point)
    if distance > settings.SERVICE_RADIUS_KM:
        raise OutsideServiceArea(distance, settings.SERVICE_RADIUS_KM)
    return point


def eta_minutes(rider: Point, destination: Point | None, *, via_store: bool) -> int | None:
    """Minutes until the rider at ``rider`` reaches ``destination``: the straight-line
    distance (through the store when ``via_store``: before pickup) at RIDER_SPEED_KMH,
    plus ETA_HANDOVER_MINUTES, rounded up. None without a destination."""
    if destination is None:
        return None
    distance = (
        distance_km(rider, store_point()) + distance_km(store_point(), destination)
        if via_store
        else distance_km(rider, destination)
    )
    minutes = distance / settings.RIDER_SPEED_KMH * 60 + settings.ETA_HANDOVER_MINUTES
    return math.ceil(round(minutes, 6))


def map_config() -> dict:
    """What every map needs (templates put it in data- attributes for static/js/maps.js)."""
    return {
        "tile_url": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
        "store_name": settings.STORE_NAME,
        "store_lat": settings.STORE_LATITUDE,
        "store_lng": settings.STORE_LONGITUDE,
        "radius_km": settings.SERVICE_RADIUS_KM,
    }


def drop_off_of(order) -> Point | None:
    if order.latitude is None or order.longitude is None:
        return None
    return (order.latitude, order.longitude)


def rider_of(order) -> dict | None:
    """``{"lat", "lng", "at"}``: where the order's partner last was, while the order is
    active and they have shared a position; else None (never after delivery or cancel).
    Reads ``order.partner.partner_profile`` (selected with the order: WITH_PARTIES)."""
    if order.status not in ACTIVE_STATUSES or order.partner_id is None:
        return None
    profile = getattr(order.partner, "partner_profile", None)
    if profile is None or profile.located_at is None or profile.latitude is None:
        return None
    return {"lat": profile.latitude, "lng": profile.longitude, "at": profile.located_at}


def order_eta(order, rider: dict | None = None) -> int | None:
    """The order's ETA in minutes from its rider's last position (see ``eta_minutes``);
    None without a rider position or a drop-off point."""
    rider = rider or rider_of(order)
    if rider is None:
        return None
    return eta_minutes(
        (rider["lat"], rider["lng"]), drop_off_of(order), via_store=order.status == Order.Status.ACCEPTED
    )


def trail_json(order) -> str:
    """The order's trail as JSON ``[[lat, lng], ...]``, oldest first (one query)."""
    points = TrailPoint.objects.filter(order=order).order_by("at", "pk").values_list("latitude", "longitude")
    return json.dumps([[round(lat, 6), round(lng, 6)] for lat, lng in points])
