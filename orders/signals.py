"""What happened to an order, announced after the change is committed.

``orders`` sits below ``dispatch`` (docs/architecture.md, "Layers"): it cannot call
the live updates, so it announces each change on ``order_changed`` and the live
machinery subscribes (``dispatch.apps.DispatchConfig.ready``). The names below are
also the ``event`` every client receives.
"""

from django.db import transaction
from django.dispatch import Signal

NEW_ORDER = "new_order"
ORDER_ACCEPTED = "order_accepted"
ORDER_STATUS_UPDATE = "order_status_update"

# Sent with ``event`` (one of the names above), ``order`` and ``previous_partner_id``
# (a partner who just lost the order, or None).
order_changed = Signal()


def announce_after_commit(event: str, order, *, previous_partner_id=None) -> None:
    """Send ``order_changed`` once the current transaction commits (never if it rolls back)."""
    transaction.on_commit(
        lambda: order_changed.send(
            sender=type(order), event=event, order=order, previous_partner_id=previous_partner_id
        )
    )
