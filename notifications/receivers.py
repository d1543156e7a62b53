"""Order changes that customers hear about by email (``orders.signals.order_changed``)."""

import logging

from django.conf import settings

from notifications.emails import moment_of
from notifications.queue import enqueue
from notifications.tasks import send_order_email

logger = logging.getLogger(__name__)


def on_order_changed(sender, *, event, order, **kwargs) -> None:
    """Queue the customer's email for this change, if it is one of the moments. Runs after
    the commit; a failure (Redis down, in-process send failing) is logged, never raised:
    the order change already happened and stands."""
    moment = moment_of(event, order) if settings.ORDER_EMAILS else None
    if moment is None:
        return
    try:
        enqueue(send_order_email, order.pk, *moment)
    except Exception:
        logger.exception("could not queue the %s email for order %s", moment[0], order.ref)
