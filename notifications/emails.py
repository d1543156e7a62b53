"""The emails customers get about their order: which moments, and what each one says.

Four moments (``MOMENTS``): accepted (the rider's name and the delivery code), out for
delivery, delivered (a receipt: items and totals), cancelled (by whom; nothing will be
delivered or charged). Each is an HTML and a plain-text template
(``templates/notifications/order_email.{html,txt}``) with the order's tracking link.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from orders.models import Order
from orders.signals import ORDER_ACCEPTED

ACCEPTED = "accepted"
OUT_FOR_DELIVERY = "out_for_delivery"
DELIVERED = "delivered"
CANCELLED = "cancelled"
MOMENTS = (ACCEPTED, OUT_FOR_DELIVERY, DELIVERED, CANCELLED)

SUBJECTS = {
    ACCEPTED: "{rider} accepted your order {ref}",
    OUT_FOR_DELIVERY: "Your order {ref} is on the way",
    DELIVERED: "Delivered: your order {ref} (receipt)",
    CANCELLED: "Your order {ref} was cancelled",
}


def moment_of(event: str, order: Order) -> tuple[str, str] | None:
    """``(moment, key)`` when this change is one a customer hears about, else None.

    ``key`` is what makes the email unique for the order: one per moment, and for
    "accepted" one per rider (an order released and taken by someone else names the new
    rider). An admin's change that keeps the status (reassign, unlock a code) keeps the
    key, so it sends nothing new.
    """
    if event == ORDER_ACCEPTED and order.status == Order.Status.ACCEPTED:
        return ACCEPTED, f"{ACCEPTED}:{order.partner_id}"
    if order.status in (Order.Status.OUT_FOR_DELIVERY, Order.Status.DELIVERED, Order.Status.CANCELLED):
        return str(order.status), str(order.status)
    return None


def rider_name(order: Order) -> str:
    if order.partner is None:
        return ""
    profile = getattr(order.partner, "partner_profile", None)
    return (profile.display_name if profile else "") or order.partner.display_name


def cancelled_by(order: Order) -> str:
    """Who cancelled: "you", "us" (an admin) or "" (not known), from the timeline."""
    for event in reversed(list(order.events.all())):
        if event.status == Order.Status.CANCELLED:
            if event.actor is not None and event.actor_id == order.customer_id:
                return "you"
            return "us"
    return ""


def order_email(order: Order, moment: str) -> EmailMultiAlternatives:
    """The email for ``moment`` of ``order`` (loaded with its customer, partner, items and events)."""
    context = {
        "order": order,
        "moment": moment,
        "customer_name": order.customer.first_name or order.customer.username,
        "rider": rider_name(order),
        "items": list(order.items.all()),
        "cancelled_by": cancelled_by(order) if moment == CANCELLED else "",
        "tracking_url": settings.SITE_URL + order.get_absolute_url(),
        "settings_url": settings.SITE_URL + reverse("accounts:settings"),
    }
    subject = SUBJECTS[moment].format(rider=context["rider"] or "A rider", ref=order.ref)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/order_email.txt", context),
        to=[order.customer.email],
    )
    message.attach_alternative(render_to_string("notifications/order_email.html", context), "text/html")
    return message
