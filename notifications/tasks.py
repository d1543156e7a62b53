"""The job that sends one order email, at most once (run by the RQ worker, or in-process).

Idempotent: the ``SentEmail`` row for (order, key) is written before the message goes
out (the unique constraint lets one writer win), and removed again if the mail server
refuses it, so the retry finds no row and sends. A job that runs twice (a retry after
a send that did succeed but whose worker died before returning, a duplicate enqueue)
finds the row and sends nothing.
"""

import logging

from django.db import IntegrityError

from notifications.emails import ACCEPTED, order_email
from notifications.models import SentEmail
from orders.models import Order
from orders.selectors import order_with_details
from quickcommerce.db import atomic

logger = logging.getLogger(__name__)


def send_order_email(order_pk, moment: str, key: str) -> str:
    """Send ``moment``'s email for the order, unless it went out already, the customer
    turned order emails off or has no address. Raises when the mail server fails (the
    queue retries). Returns what happened, for the worker's log."""
    order = order_with_details(order_pk)
    if order is None:
        return "gone"
    customer = order.customer
    if not customer.order_emails or not customer.email:
        return "opted out"
    if moment == ACCEPTED and (order.status == Order.Status.PLACED or f"{ACCEPTED}:{order.partner_id}" != key):
        return "stale"  # released or withdrawn before we got to it: the accept no longer holds
    try:
        with atomic():
            claim = SentEmail.objects.create(order=order, key=key, recipient=customer.email)
    except IntegrityError:
        return "already sent"
    try:
        order_email(order, moment).send()
    except Exception:
        SentEmail.objects.filter(pk=claim.pk).delete()
        logger.warning("order email %s for %s failed; it will be retried", key, order.ref, exc_info=True)
        raise
    return "sent"
