"""Dispatch rules: availability, accepting, delivering, and the admin's actions.

The only place these rules live. Each contested change is one compare-and-set
(see orders.services.transition_order and ARCHITECTURE.md).
"""

import hmac

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import PartnerProfile, User
from dispatch import events
from dispatch.errors import (
    DeliveryCodeLocked,
    OrderAlreadyTaken,
    PartnerAtCapacity,
    PartnerOffline,
    WrongDeliveryCode,
)
from orders.errors import InvalidOrder, InvalidTransition, NotAllowed, OrderChanged, OrderNotFound
from orders.models import ACTIVE_STATUSES, MAX_CODE_ATTEMPTS, Order, OrderEvent, new_delivery_code, next_partner_step
from orders.selectors import active_orders_of
from orders.services import cancel_order, transition_order

S = Order.Status


def _require(user, role, message):
    if not (user and user.is_authenticated and user.role == role):
        raise NotAllowed(message)


def partner_profile(partner: User) -> PartnerProfile:
    profile, _ = PartnerProfile.objects.get_or_create(user=partner, defaults={"display_name": partner.display_name})
    return profile


def set_availability(*, partner: User, online: bool) -> PartnerProfile:
    """Only online partners see and accept new orders."""
    _require(partner, User.Role.PARTNER, "Only delivery partners have an availability.")
    profile = partner_profile(partner)
    if profile.online != online:
        PartnerProfile.objects.filter(pk=profile.pk).update(online=online, updated_at=timezone.now())
        profile.online = online
        transaction.on_commit(lambda: events.publish_partner(partner))
    return profile


def has_capacity(active_count: int) -> bool:
    """The capacity rule: a partner may hold PARTNER_MAX_ACTIVE_ORDERS active orders."""
    return active_count < settings.PARTNER_MAX_ACTIVE_ORDERS


def accept_order(*, partner: User, order_ref: str) -> Order:
    """Exactly one partner wins a placed order; every other gets OrderAlreadyTaken."""
    _require(partner, User.Role.PARTNER, "Only delivery partners can accept orders.")
    if not partner_profile(partner).online:
        raise PartnerOffline()
    order = Order.objects.filter(ref=order_ref).first()
    if order is None:
        raise OrderNotFound()
    if order.partner_id == partner.pk:
        raise InvalidTransition("You already have this order.")
    limit = settings.PARTNER_MAX_ACTIVE_ORDERS
    if not has_capacity(active_orders_of(partner).count()):
        raise PartnerAtCapacity(
            "Finish your current delivery before accepting another."
            if limit == 1
            else f"You already have {limit} active orders; finish one first."
        )
    if order.status == S.CANCELLED:
        raise InvalidTransition("This order was cancelled.")
    if order.status != S.PLACED or order.partner_id is not None:
        raise OrderAlreadyTaken()
    try:
        order = transition_order(
            order=order,
            to_status=S.ACCEPTED,
            actor=partner,
            match={"partner__isnull": True},
            changes={"partner": partner, "delivery_code": new_delivery_code(), "code_attempts": 0},
            event=events.ORDER_ACCEPTED,
        )
    except OrderChanged:
        raise OrderAlreadyTaken() from None
    # The capacity check above and the win are two steps: the same partner accepting
    # two orders at once could pass both. Count again after winning and hand the order
    # back if that happened, so at rest nobody holds more than the limit.
    if active_orders_of(partner).count() > limit:
        _withdraw_accept(order, partner)
        raise PartnerAtCapacity("Finish your current delivery before accepting another.")
    return order


def _withdraw_accept(order: Order, partner: User) -> None:
    with transaction.atomic():
        undone = Order.objects.filter(pk=order.pk, version=order.version, partner=partner, status=S.ACCEPTED).update(
            status=S.PLACED,
            partner=None,
            delivery_code="",
            code_attempts=0,
            accepted_at=None,
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        if not undone:
            return
        order.refresh_from_db()
        OrderEvent.objects.create(
            order=order,
            status=S.PLACED,
            version=order.version,
            actor=partner,
            note="Accept withdrawn: the partner was already at capacity.",
        )
        transaction.on_commit(lambda: events.publish(events.ORDER_STATUS_UPDATE, order, previous_partner_id=partner.pk))


def _assigned_order(partner: User, order_ref: str) -> Order:
    order = Order.objects.filter(ref=order_ref, partner=partner).select_related("customer").first()
    if order is None:
        raise OrderNotFound()  # someone else's order: do not reveal it exists
    return order


def advance_order(*, partner: User, order_ref: str, to_status: str, code: str | None = None) -> Order:
    """The assigned partner moves the order one step on; delivering needs the code."""
    _require(partner, User.Role.PARTNER, "Only delivery partners can update deliveries.")
    order = _assigned_order(partner, order_ref)
    if to_status not in S.values:
        raise InvalidOrder(f"Unknown status: {to_status!r}.")
    expected = next_partner_step(order.status)
    if to_status != expected:
        if expected is None:
            raise InvalidTransition(f"Order {order.ref} is {order.get_status_display().lower()}; nothing left to do.")
        raise InvalidTransition(
            f"Order {order.ref} is {order.get_status_display().lower()}; the next step is {S(expected).label.lower()}."
        )
    if to_status == S.DELIVERED:
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
    Order.objects.filter(pk=order.pk, code_attempts__lt=MAX_CODE_ATTEMPTS).update(code_attempts=F("code_attempts") + 1)
    order.refresh_from_db(fields=["code_attempts"])
    left = MAX_CODE_ATTEMPTS - order.code_attempts
    if left <= 0:
        raise DeliveryCodeLocked()
    raise WrongDeliveryCode(f"Wrong delivery code. {left} {'try' if left == 1 else 'tries'} left.")


# --- Admin actions: also through the transition table, also on the timeline ------


def release_order(*, admin: User, order_ref: str, reason: str = "") -> Order:
    """Put an accepted order back on the board for any partner."""
    _require(admin, User.Role.ADMIN, "Only admins can release orders.")
    order = Order.objects.filter(ref=order_ref).first()
    if order is None:
        raise OrderNotFound()
    return transition_order(
        order=order,
        to_status=S.PLACED,
        actor=admin,
        changes={"partner": None, "delivery_code": "", "code_attempts": 0, "accepted_at": None},
        note=reason or "Released back to the board by an admin.",
    )


def reassign_order(*, admin: User, order_ref: str, partner: User) -> Order:
    """Hand an accepted order to another partner (before pickup)."""
    _require(admin, User.Role.ADMIN, "Only admins can reassign orders.")
    if not partner.is_partner:
        raise InvalidOrder(f"{partner} is not a delivery partner.")
    order = Order.objects.filter(ref=order_ref).first()
    if order is None:
        raise OrderNotFound()
    if order.status != S.ACCEPTED:
        raise InvalidTransition("Only accepted orders that are not picked up yet can be reassigned.")
    if order.partner_id == partner.pk:
        raise InvalidTransition(f"Order {order.ref} is already assigned to {partner}.")
    now = timezone.now()
    previous_partner_id = order.partner_id
    with transaction.atomic():
        won = Order.objects.filter(pk=order.pk, status=S.ACCEPTED, version=order.version).update(
            partner=partner, version=F("version") + 1, updated_at=now
        )
        if not won:
            raise OrderChanged()
        order.refresh_from_db()
        OrderEvent.objects.create(
            order=order, status=order.status, version=order.version, actor=admin, note=f"Reassigned to {partner}."
        )
        transaction.on_commit(
            lambda: events.publish(events.ORDER_STATUS_UPDATE, order, previous_partner_id=previous_partner_id)
        )
    return order


def reset_delivery_code(*, admin: User, order_ref: str) -> Order:
    """Unlock a delivery code after too many wrong tries (the code stays the same)."""
    _require(admin, User.Role.ADMIN, "Only admins can reset delivery codes.")
    order = Order.objects.filter(ref=order_ref).first()
    if order is None:
        raise OrderNotFound()
    if not order.code_locked or order.status not in ACTIVE_STATUSES:
        raise InvalidTransition(f"The delivery code of order {order.ref} is not locked.")
    with transaction.atomic():
        unlocked = Order.objects.filter(
            pk=order.pk, version=order.version, code_attempts__gte=MAX_CODE_ATTEMPTS, status__in=ACTIVE_STATUSES
        ).update(code_attempts=0, version=F("version") + 1, updated_at=timezone.now())
        if not unlocked:
            raise OrderChanged()
        order.refresh_from_db()
        OrderEvent.objects.create(
            order=order, status=order.status, version=order.version, actor=admin, note="Delivery code unlocked."
        )
        transaction.on_commit(lambda: events.publish(events.ORDER_STATUS_UPDATE, order))
    return order


def admin_cancel_order(*, admin: User, order_ref: str, reason: str = "") -> Order:
    _require(admin, User.Role.ADMIN, "Only admins can cancel any order.")
    return cancel_order(actor=admin, order_ref=order_ref, reason=reason or "Cancelled by an admin.")
