"""Live events: names, audience groups, and ``publish``.

Services call ``publish(event, order)`` after the change is committed
(``transaction.on_commit``). Group names are built only here.
"""

import logging

logger = logging.getLogger(__name__)

NEW_ORDER = "new_order"
ORDER_ACCEPTED = "order_accepted"
ORDER_STATUS_UPDATE = "order_status_update"
PARTNER_UPDATE = "partner_update"

PARTNERS_GROUP = "partners"
ADMINS_GROUP = "admins"


def customer_group(user_or_id) -> str:
    user_id = getattr(user_or_id, "pk", user_or_id)
    return f"customer.{user_id}"


def publish(event: str, order) -> None:
    """Send ``event`` about ``order`` to its audiences. Filled in by the live-updates work."""
    logger.debug("publish %s %s v%s", event, order.ref, order.version)


def publish_partner(partner) -> None:
    """Tell admins a partner's availability or workload changed."""
    logger.debug("publish partner %s", partner.pk)
