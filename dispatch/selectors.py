"""Reads for the partner pages: the board (and its live pushes) and the history.

Every function here answers in a fixed number of queries, whatever the number of
orders, so the board stays cheap as orders pile up.
"""

from dataclasses import dataclass
from datetime import datetime, time

from django.utils import timezone

from accounts.models import PartnerProfile
from dispatch.errors import DeliveryCodeLocked
from dispatch.services import has_capacity
from orders.models import MAX_CODE_ATTEMPTS, Order, next_partner_step
from orders.selectors import active_orders_of, available_orders

S = Order.Status

# A board is for picking the next order, not for browsing them all (a phone, a thumb).
AVAILABLE_LIMIT = 50

# The label of the partner's button for each step of the transition table.
STEP_LABELS = {
    S.PICKED_UP: "Mark picked up",
    S.OUT_FOR_DELIVERY: "Start delivery",
    S.DELIVERED: "Mark delivered",
}


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
    if status != S.DELIVERED:
        return PartnerStep(status=status, label=STEP_LABELS[status])
    return PartnerStep(
        status=status,
        label=STEP_LABELS[status],
        needs_code=True,
        tries_left=max(0, MAX_CODE_ATTEMPTS - order.code_attempts),
        blocked=DeliveryCodeLocked.default_message if order.code_locked else "",
    )


def is_online(partner) -> bool:
    return PartnerProfile.objects.filter(user=partner, online=True).exists()


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


def board_context(partner) -> dict:
    """Everything board.html and its partials need for ``partner``.

    ``online``, ``active`` (orders with ``next_step``), ``can_accept`` and
    ``available`` (empty while offline: only online partners see new orders).
    """
    online = is_online(partner)
    active = board_active_orders(partner)
    return {
        "online": online,
        "active": active,
        "can_accept": can_accept_more(online=online, active_count=len(active)),
        "available": list(board_available_orders()) if online else [],
    }


# --- History -----------------------------------------------------------------------


def delivered_orders_of(partner):
    """The partner's delivered orders, newest first."""
    return Order.objects.filter(partner=partner, status=S.DELIVERED).order_by("-delivered_at", "-pk")


def deliveries_since(partner, since: datetime) -> int:
    return delivered_orders_of(partner).filter(delivered_at__gte=since).count()


def start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def delivery_minutes(order: Order) -> int | None:
    """Whole minutes from accepting to delivering the order (None if unknown)."""
    if not (order.accepted_at and order.delivered_at):
        return None
    return round((order.delivered_at - order.accepted_at).total_seconds() / 60)
