"""Reads for the partner pages (the board, its live pushes, the history), the admins'
dashboard and the partner overviews (dashboard, API, admin).

Every function here answers in a fixed number of queries, whatever the number of
orders or partners, and stays inside what SQLite and MongoDB both support: plain
filters, ``select_related``/``prefetch_related``, ``values_list``, and grouped
aggregates (``Count``, also with a filter, and ``Min``). The dashboard's counts are
counted in the store, so open orders and deliveries read no more rows as they pile
up (dispatch/tests/test_dashboard.py pins it). Two things read a row per order, in
bounded windows: the medians (today's accepted and delivered orders; neither store
has a median both support) and the chart (its three hours, bucketed in Python).
Selectors never import services.
"""

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Min, Prefetch, Q
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_partner_online
from dispatch.errors import DeliveryCodeLocked
from orders.models import ACTIVE_STATUSES, FINAL_STATUSES, MAX_CODE_ATTEMPTS, Order, next_partner_step
from orders.selectors import NEWEST_FIRST, active_orders_of, available_orders

# A board is for picking the next order, not for browsing them all (a phone, a thumb).
AVAILABLE_LIMIT = 50

# The label of the partner's button for each step of the transition table.
STEP_LABELS = {
    Order.Status.PICKED_UP: "Mark picked up",
    Order.Status.OUT_FOR_DELIVERY: "Start delivery",
    Order.Status.DELIVERED: "Mark delivered",
}

OPEN_STATUSES = tuple(status for status in Order.Status if status not in FINAL_STATUSES)


@dataclass(frozen=True)
class PartnerStep:
    """The one thing the assigned partner can do next with an order."""

    status: str
    label: str
    needs_code: bool = False
    tries_left: int = MAX_CODE_ATTEMPTS
    blocked: str = ""  # why the step cannot be taken now (a locked delivery code)

    @property
    def had_wrong_tries(self) -> bool:
        return self.tries_left < MAX_CODE_ATTEMPTS


def partner_step(order: Order) -> PartnerStep | None:
    status = next_partner_step(order.status)
    if status is None:
        return None
    if status != Order.Status.DELIVERED:
        return PartnerStep(status=status, label=STEP_LABELS[status])
    return PartnerStep(
        status=status,
        label=STEP_LABELS[status],
        needs_code=True,
        tries_left=max(0, MAX_CODE_ATTEMPTS - order.code_attempts),
        blocked=DeliveryCodeLocked.default_message if order.code_locked else "",
    )


def has_capacity(active_count: int) -> bool:
    """The capacity rule: a partner may hold PARTNER_MAX_ACTIVE_ORDERS active orders
    (dispatch.services.accept_order enforces it; the board reads it to offer Accept)."""
    return active_count < settings.PARTNER_MAX_ACTIVE_ORDERS


def board_active_orders(partner) -> list[Order]:
    """The partner's active orders with their items, oldest accepted first; each
    carries ``next_step`` (a PartnerStep) for its button. Two queries."""
    orders = list(active_orders_of(partner).prefetch_related("items").order_by("accepted_at", "pk"))
    for order in orders:
        order.next_step = partner_step(order)
    return orders


def board_available_orders():
    """Placed, unassigned orders, oldest first (first come, first served), at most
    AVAILABLE_LIMIT of them. The cards show only the order's own fields (never the
    customer), so this is one query for any number of orders."""
    return available_orders().select_related(None)[:AVAILABLE_LIMIT]


def can_accept_more(*, online: bool, active_count: int) -> bool:
    """Whether the board offers Accept buttons. dispatch.services.accept_order is
    what enforces it; this only keeps the page from offering what would fail."""
    return online and has_capacity(active_count)


def board_context(partner, *, with_available: bool = True) -> dict:
    """Everything board.html and its partials need for ``partner``.

    ``online``, ``active`` (orders with ``next_step``), ``can_accept`` and
    ``available`` (empty while offline: only online partners see new orders; and
    left out with ``with_available=False``).
    """
    online = is_partner_online(partner)
    active = board_active_orders(partner)
    return {
        "online": online,
        "active": active,
        "can_accept": can_accept_more(online=online, active_count=len(active)),
        "available": list(board_available_orders()) if online and with_available else [],
    }


# --- History -----------------------------------------------------------------------


def delivered_orders_of(partner):
    """The partner's delivered orders, newest first."""
    return Order.objects.filter(partner=partner, status=Order.Status.DELIVERED).order_by("-delivered_at", "-pk")


def deliveries_since(partner, since: datetime) -> int:
    return delivered_orders_of(partner).filter(delivered_at__gte=since).count()


def start_of_today(now=None) -> datetime:
    """Midnight of ``now``'s day (default: today) in the current time zone."""
    day = timezone.localdate(now)
    return timezone.make_aware(datetime.combine(day, time.min))


def delivery_minutes(order: Order) -> int | None:
    """Whole minutes from accepting to delivering the order (None if unknown)."""
    if not (order.accepted_at and order.delivered_at):
        return None
    return round((order.delivered_at - order.accepted_at).total_seconds() / 60)


# --- Partner overviews (dashboard, API, admin) ---------------------------------------


def active_deliveries(lookup: str = "deliveries") -> Prefetch:
    """Prefetch each partner's active orders (oldest accepted first) as ``.active_deliveries``;
    ``lookup`` is the path from the queryset's model to the partner's orders."""
    return Prefetch(
        lookup,
        queryset=Order.objects.filter(status__in=ACTIVE_STATUSES).order_by("accepted_at", "pk"),
        to_attr="active_deliveries",
    )


@dataclass(frozen=True)
class PartnerRow:
    """A partner as the dashboard, the API and the admin show them."""

    pk: object
    username: str
    name: str
    phone: str
    online: bool
    active: list = field(default_factory=list)  # their active orders
    delivered_today: int = 0
    position: dict | None = None  # {lat, lng, at}: their last shared position, while online

    @property
    def refs(self) -> list[str]:
        return [order.ref for order in self.active]


def _position(profile) -> dict | None:
    if profile is None or not profile.online or profile.located_at is None or profile.latitude is None:
        return None
    return {"lat": profile.latitude, "lng": profile.longitude, "at": profile.located_at}


def partners_overview(*, now=None) -> list[PartnerRow]:
    """Every active partner: online, their active orders, deliveries today; three queries.
    Online and busy first, then online, then offline; by name within each."""
    now = now or timezone.now()
    partners = (
        User.objects.filter(role=User.Role.PARTNER, is_active=True)
        .select_related("partner_profile")
        .prefetch_related(active_deliveries())
    )
    delivered = dict(
        Order.objects.filter(status=Order.Status.DELIVERED, delivered_at__gte=start_of_today(now))
        .order_by()
        .values_list("partner_id")
        .annotate(n=Count("pk"))
    )
    rows = []
    for partner in partners:
        profile = getattr(partner, "partner_profile", None)
        rows.append(
            PartnerRow(
                pk=partner.pk,
                username=partner.username,
                name=(profile.display_name if profile else "") or partner.display_name,
                phone=(profile.phone if profile else "") or partner.phone,
                online=bool(profile and profile.online),
                active=partner.active_deliveries,
                delivered_today=delivered.get(partner.pk, 0),
                position=_position(profile),
            )
        )
    rows.sort(key=lambda row: (not row.online, not row.active, row.name.lower(), row.username))
    return rows


# --- The admins' dashboard -----------------------------------------------------------

ORDERS_SHOWN = 50
ALL = "all"
OPEN = "open"
CHART_BUCKET = timedelta(minutes=5)
CHART_BUCKETS = 36  # 3 hours


def filter_choices():
    return [(ALL, "All"), (OPEN, "Open"), *((status.value, status.label) for status in Order.Status)]


def clean_filter(value) -> str:
    """A status filter from the query string; anything unknown means "all" (never a 500)."""
    return value if value in {key for key, _ in filter_choices()} else ALL


def promise_minutes() -> int:
    return settings.DELIVERY_PROMISE_MINUTES


def _minutes(delta) -> float:
    return delta.total_seconds() / 60


def _median(values):
    return round(statistics.median(values), 1) if values else None


def decorate(order, now, promise=None):
    """Timing attributes the row shows: minutes so far (open) or taken (final), late."""
    promise = promise_minutes() if promise is None else promise
    end = order.delivered_at or order.cancelled_at
    if order.is_open or end is None:
        end = now
    order.dash_minutes = max(0, int(_minutes(end - order.created_at)))
    order.dash_due = order.created_at + timedelta(minutes=promise)
    order.dash_late = order.is_open and now > order.dash_due
    order.dash_over = order.status == Order.Status.DELIVERED and order.delivered_at > order.dash_due
    return order


def dashboard_orders(status_filter=ALL, *, now=None, limit=ORDERS_SHOWN):
    """Newest first, capped; one query."""
    now = now or timezone.now()
    orders = Order.objects.select_related("customer", "partner").order_by(*NEWEST_FIRST)
    if status_filter == OPEN:
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif status_filter != ALL:
        orders = orders.filter(status=status_filter)
    promise = promise_minutes()
    return [decorate(order, now, promise) for order in orders[:limit]]


def live_numbers(*, now=None):
    """Counts per status and the timing block; four queries, none of which sorts,
    and only the medians read one row per order (of today's accepted/delivered)."""
    now = now or timezone.now()
    promise = timedelta(minutes=promise_minutes())
    day = Order.objects.filter(created_at__gte=start_of_today(now)).order_by()
    today = Counter(dict(day.values_list("status").annotate(n=Count("pk"))))
    # Open orders by status: how many, how many are past the promise, the oldest.
    open_groups = (
        Order.objects.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"), late=Count("pk", filter=Q(created_at__lt=now - promise)), oldest=Min("created_at"))
    )
    open_now, late, oldest = Counter(), 0, None
    for status, count, late_count, created_at in open_groups:
        open_now[status] = count
        late += late_count
        oldest = created_at if oldest is None else min(oldest, created_at)
    open_total = sum(open_now.values())
    accepted_pairs = list(day.filter(accepted_at__isnull=False).values_list("created_at", "accepted_at"))
    delivered_pairs = list(
        day.filter(status=Order.Status.DELIVERED, delivered_at__isnull=False).values_list("created_at", "delivered_at")
    )

    statuses = [
        {
            "status": status.value,
            "label": status.label,
            "today": today[status],
            "now": open_now[status] if status in OPEN_STATUSES else None,
        }
        for status in Order.Status
    ]
    counts = {"statuses": statuses, "today_total": sum(today.values()), "open_total": open_total, "late": late}

    to_accept = [_minutes(accepted - created) for created, accepted in accepted_pairs]
    to_deliver = [delivered - created for created, delivered in delivered_pairs]
    on_time = sum(1 for took in to_deliver if took <= promise)
    timing = {
        "promise": promise_minutes(),
        "late": late,
        "open": open_total,
        "oldest_open": int(_minutes(now - oldest)) if oldest is not None else None,
        "median_accept": _median(to_accept),
        "median_deliver": _median([_minutes(took) for took in to_deliver]),
        "accepted_today": len(to_accept),
        "delivered_today": len(to_deliver),
        "on_time": on_time,
        "on_time_percent": round(100 * on_time / len(to_deliver)) if to_deliver else None,
        "as_of": now,
    }
    return counts, timing


def orders_per_bucket(*, now=None):
    """Orders created per 5 minutes over the last 3 hours, counted by current status:
    ``(start, [Counter(status -> n) per bucket])``. One query, a row per order of the
    three hours, bucketed here. (Tried: a ``Case`` of the 36 boundaries as the group
    key. On SQLite its comparisons cost about as much per row as this loop, 28 against
    34 ms at 6,000 orders, and compiling it 5 ms, against 1.3 ms for all of this at 10.)"""
    now = now or timezone.now()
    # 5-minute boundaries in UTC are 5-minute boundaries in every real time zone, and
    # UTC arithmetic keeps the window 3 hours long across a DST change.
    utc = now.astimezone(UTC)
    end = utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0) + CHART_BUCKET
    start = end - CHART_BUCKET * CHART_BUCKETS
    counts = [Counter() for _ in range(CHART_BUCKETS)]
    for created_at, status in (
        Order.objects.filter(created_at__gte=start, created_at__lt=end).order_by().values_list("created_at", "status")
    ):
        index = int((created_at - start) / CHART_BUCKET)
        if 0 <= index < CHART_BUCKETS:
            counts[index][status] += 1
    return start, counts
