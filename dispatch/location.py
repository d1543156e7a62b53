"""Partners' positions: taken while they deliver, shown to the customers they deliver to
and to admins, kept briefly (docs/security.md, "Location").

``record_location`` is the one write a websocket causes (``dispatch.consumers`` calls
it for a ``{"type": "location"}`` frame; ``POST /api/partners/me/location/`` too). It
changes no order: it stores the partner's last position on their ``PartnerProfile``
and appends a ``TrailPoint`` to each of their active orders, then publishes a
``rider_location`` event after commit (``dispatch.publish.publish_location``).

Rules, each once, here:

- only an online partner with an active order is located (else ``NotOnDelivery``,
  409), and nothing is stored;
- values: finite numbers, latitude -90..90, longitude -180..180 (else ``BadPosition``,
  400); ``accuracy``/``speed`` >= 0 and ``heading`` 0..360 when given (checked, not stored);
- at most one position per partner per ``LOCATION_MIN_INTERVAL_SECONDS``, as one
  compare-and-set on ``located_at`` (so two app instances cannot both take one); an
  update inside the interval is dropped silently (``None``);
- a trail keeps the last ``TRAIL_POINTS`` points per order; ``purge_trails`` deletes
  points older than ``LOCATION_RETENTION_HOURS`` (``manage.py purge_locations``);
  going offline forgets the last position (``dispatch.services.set_availability``).
"""

import dataclasses
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import PartnerProfile, User
from dispatch.errors import NotOnDelivery
from dispatch.publish import publish_location
from orders.errors import BadPosition, NotAllowed
from orders.geo import parse_point
from orders.models import TRAIL_POINTS, Order, TrailPoint
from orders.selectors import active_orders_of
from quickcommerce.db import atomic

# Optional fields of a position and their allowed range (checked, not stored).
EXTRAS = {"accuracy": (0.0, 1e6), "heading": (0.0, 360.0), "speed": (0.0, 1e3)}


@dataclasses.dataclass(frozen=True)
class Position:
    partner: User
    latitude: float
    longitude: float
    at: datetime
    orders: tuple[Order, ...]


def check_extras(extras: dict) -> None:
    for name, (low, high) in EXTRAS.items():
        value = extras.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadPosition(f"{name} must be a number.")
        if not low <= value <= high:
            raise BadPosition(f"{name} must be from {low:g} to {high:g}.")


def record_location(*, partner: User, latitude, longitude, now: datetime | None = None, **extras) -> Position | None:
    """Take ``partner``'s position (see the module's rules). Returns what was stored, or
    None when it came inside the interval and was dropped."""
    if not partner.is_partner:
        raise NotAllowed("Only delivery partners share a location.")
    point = parse_point(latitude, longitude)
    check_extras({name: extras.get(name) for name in EXTRAS})
    if not PartnerProfile.objects.filter(user=partner, online=True).exists():
        raise NotOnDelivery("You are offline: your location is not shared.")
    orders = tuple(active_orders_of(partner).order_by("pk"))
    if not orders:
        raise NotOnDelivery("You have no active order: your location is not shared.")
    now = now or timezone.now()
    not_too_soon = Q(located_at__isnull=True) | Q(located_at__lte=now - min_interval())
    with atomic():
        taken = PartnerProfile.objects.filter(not_too_soon, user=partner, online=True).update(
            latitude=point[0], longitude=point[1], located_at=now
        )
        if not taken:
            return None
        TrailPoint.objects.bulk_create(
            [TrailPoint(order=order, latitude=point[0], longitude=point[1], at=now) for order in orders]
        )
        for order in orders:
            _trim(order)
        position = Position(partner=partner, latitude=point[0], longitude=point[1], at=now, orders=orders)
        transaction.on_commit(lambda: _publish(position))
    return position


def min_interval() -> timedelta:
    return timedelta(seconds=settings.LOCATION_MIN_INTERVAL_SECONDS)


def _trim(order) -> None:
    """Keep the order's newest TRAIL_POINTS points."""
    older = list(
        TrailPoint.objects.filter(order=order).order_by("-at", "-pk").values_list("pk", flat=True)[TRAIL_POINTS:]
    )
    if older:
        TrailPoint.objects.filter(pk__in=older).delete()


def _publish(position: Position) -> None:
    publish_location(position)


def purge_locations(*, now: datetime | None = None) -> tuple[int, int]:
    """Delete trail points older than LOCATION_RETENTION_HOURS and forget partners' last
    positions as old; returns ``(points deleted, positions forgotten)``."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.LOCATION_RETENTION_HOURS)
    deleted, _ = TrailPoint.objects.filter(at__lt=cutoff).delete()
    forgotten = PartnerProfile.objects.filter(located_at__lt=cutoff).update(
        latitude=None, longitude=None, located_at=None
    )
    return deleted, forgotten
