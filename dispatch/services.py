"""Dispatch rules: availability, accepting, delivering, and the admin's operations.

The only place these rules live. Every change to an order goes through
``orders.services.transition_order`` (the transition table, one compare-and-set, the
timeline row and the live event); see "Concurrency" in docs/architecture.md.
"""

import contextlib
import hmac

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.models import PartnerProfile, User
from accounts.services import partner_profile
from dispatch import publish
from dispatch.errors import (
    DeliveryCodeLocked,
    OrderAlreadyTaken,
    PartnerAtCapacity,
    PartnerOffline,
    WrongDeliveryCode,
)
from dispatch.selectors import has_capacity
from orders.errors import InvalidOrder, InvalidTransition, NotAllowed, OrderChanged, OrderNotFound
from orders.models import ACTIVE_STATUSES, MAX_CODE_ATTEMPTS, Order, new_delivery_code, next_partner_step
from orders.selectors import active_orders_of
from orders.services import transition_order
from orders.signals import ORDER_ACCEPTED


def _require(user, role, message):
    if not (user and user.is_authenticated and user.role == role):
        raise NotAllowed(message)


def _order(order_ref: str) -> Order:
    order = Order.objects.filter(ref=order_ref).first()
    if order is None:
        raise OrderNotFound()
    return order


def set_availability(*, partner: User, online: bool) -> PartnerProfile:
    """Only online partners see and accept new orders."""
    _require(partner, User.Role.PARTNER, "Only delivery partners have an availability.")
    profile = partner_profile(partner)
    if profile.online != online:
        # Going offline forgets the last position: an offline partner is never located.
        forget = {} if online else {"latitude": None, "longitude": None, "located_at": None}
        PartnerProfile.objects.filter(pk=profile.pk).update(online=online, updated_at=timezone.now(), **forget)
        profile.online = online
        publish.partner_after_commit(partner)
    return profile


def _at_capacity_message() -> str:
    limit = settings.PARTNER_MAX_ACTIVE_ORDERS
    if limit == 1:
        return "Finish your current delivery before accepting another."
    return f"You already have {limit} active orders; finish one first."


def accept_order(*, partner: User, order_ref: str) -> Order:
    """Exactly one partner wins a placed order; every other gets OrderAlreadyTaken."""
    _require(partner, User.Role.PARTNER, "Only delivery partners can accept orders.")
    if not partner_profile(partner).online:
        raise PartnerOffline()
    order = _order(order_ref)
    if order.partner_id == partner.pk:
        raise InvalidTransition("You already have this order.")
    if not has_capacity(active_orders_of(partner).count()):
        raise PartnerAtCapacity(_at_capacity_message())
    if order.status == Order.Status.CANCELLED:
        raise InvalidTransition("This order was cancelled.")
    if order.status != Order.Status.PLACED or order.partner_id is not None:
        raise OrderAlreadyTaken()
    try:
        order = transition_order(
            order=order,
            to_status=Order.Status.ACCEPTED,
            actor=partner,
            match={"partner__isnull": True},
            changes={"partner": partner, "delivery_code": new_delivery_code(), "code_attempts": 0},
            event=ORDER_ACCEPTED,
        )
    except OrderChanged:
        raise OrderAlreadyTaken() from None
    # The capacity check above and the win are two steps: the same partner accepting
    # two orders at once could pass both. Count again after winning and, if that
    # happened, the system hands this order back, so at rest nobody holds more than the limit.
    if active_orders_of(partner).count() > settings.PARTNER_MAX_ACTIVE_ORDERS:
        _withdraw_accept(order)
        raise PartnerAtCapacity(_at_capacity_message())
    return order


def _withdraw_accept(order: Order) -> None:
    """The system puts an accept that broke the capacity rule back on the board."""
    # OrderChanged: an admin released or cancelled it meanwhile, so nothing is left to undo.
    with contextlib.suppress(OrderChanged):
        transition_order(
            order=order,
            to_status=Order.Status.PLACED,
            actor=None,
            match={"partner": order.partner_id},
            changes={"partner": None, "delivery_code": "", "code_attempts": 0, "accepted_at": None},
            note="Accept withdrawn: the partner was already at capacity.",
        )


def _assigned_order(partner: User, order_ref: str) -> Order:
    order = Order.objects.filter(ref=order_ref, partner=partner).select_related("customer").first()
    if order is None:
        raise OrderNotFound()  # someone else's order: do not reveal it exists
    return order


def advance_order(*, partner: User, order_ref: str, to_status: str, code: str | None = None) -> Order:
    """The assigned partner moves the order one step on; delivering needs the code."""
    _require(partner, User.Role.PARTNER, "Only delivery partners can update deliveries.")
    order = _assigned_order(partner, order_ref)
    if to_status not in Order.Status.values:
        raise InvalidOrder(f"Unknown status: {to_status!r}.")
    expected = next_partner_step(order.status)
    if to_status != expected:
        state = order.get_status_display().lower()
        if expected is None:
            raise InvalidTransition(f"Order {order.ref} is {state}; nothing left to do.")
        raise InvalidTransition(
            f"Order {order.ref} is {state}; the next step is {Order.Status(expected).label.lower()}."
        )
    if to_status == Order.Status.DELIVERED:
        _check_code(order, code)
    try:
        return transition_order(order=order, to_status=to_status, actor=partner, match={"partner": partner})
    except OrderChanged:
        raise InvalidTransition("The order changed meanwhile; reload it.") from None


def _check_code(order: Order, code):
    if order.code_locked:
        raise DeliveryCodeLocked()
    code = (code or "").strip()
    if not code:
        raise WrongDeliveryCode("Please enter the customer's 4-digit delivery code.")  # not counted as a try
    if order.delivery_code and hmac.compare_digest(code.encode(), order.delivery_code.encode()):
        return
    # Count the miss with a conditional update, so racing tries cannot exceed the limit.
    # A counter, not a change of the order: no version bump, no timeline row.
    Order.objects.filter(pk=order.pk, code_attempts__lt=MAX_CODE_ATTEMPTS).update(code_attempts=F("code_attempts") + 1)
    order.refresh_from_db(fields=["code_attempts"])
    left = MAX_CODE_ATTEMPTS - order.code_attempts
    if left <= 0:
        raise DeliveryCodeLocked()
    raise WrongDeliveryCode(f"Wrong delivery code. {left} {'try' if left == 1 else 'tries'} left.")


# --- Admin operations: also through the transition table, also on the timeline ------


def release_order(*, admin: User, order_ref: str, reason: str = "") -> Order:
    """Put an accepted order back on the board for any partner."""
    _require(admin, User.Role.ADMIN, "Only admins can release orders.")
    return transition_order(
        order=_order(order_ref),
        to_status=Order.Status.PLACED,
        actor=admin,
        changes={"partner": None, "delivery_code": "", "code_attempts": 0, "accepted_at": None},
        note=reason or "Released back to the board by an admin.",
    )


def reassign_order(*, admin: User, order_ref: str, partner: User) -> Order:
    """Hand an accepted order to another partner (before pickup)."""
    _require(admin, User.Role.ADMIN, "Only admins can reassign orders.")
    if not partner.is_partner:
        raise InvalidOrder(f"{partner} is not a delivery partner.")
    order = _order(order_ref)
    if order.status != Order.Status.ACCEPTED:
        raise InvalidTransition("Only accepted orders that are not picked up yet can be reassigned.")
    if order.partner_id == partner.pk:
        raise InvalidTransition(f"Order {order.ref} is already assigned to {partner}.")
    return transition_order(
        order=order,
        to_status=Order.Status.ACCEPTED,
        actor=admin,
        changes={"partner": partner},
        note=f"Reassigned to {partner}.",
    )


def reset_delivery_code(*, admin: User, order_ref: str) -> Order:
    """Unlock a delivery code after too many wrong tries (the code stays the same)."""
    _require(admin, User.Role.ADMIN, "Only admins can reset delivery codes.")
    order = _order(order_ref)
    if not order.code_locked or order.status not in ACTIVE_STATUSES:
        raise InvalidTransition(f"The delivery code of order {order.ref} is not locked.")
    return transition_order(
        order=order,
        to_status=order.status,
        actor=admin,
        match={"code_attempts__gte": MAX_CODE_ATTEMPTS},
        changes={"code_attempts": 0},
        note="Delivery code unlocked.",
    )
