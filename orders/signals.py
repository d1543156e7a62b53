"""What happened to an order, announced after the change is committed.

``orders`` sits below ``dispatch`` (docs/architecture.md, "Layers"): it cannot call
the live updates, so it announces each change on ``order_changed`` and the live
machinery subscribes (``dispatch.apps.DispatchConfig.ready``). The names below are
also the ``event`` every client receives.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

from orders.selectors import order_with_details

logger = logging.getLogger(__name__)

NEW_ORDER = "new_order"
ORDER_ACCEPTED = "order_accepted"
ORDER_STATUS_UPDATE = "order_status_update"

# Sent with ``event``, ``order`` (as committed, with its details:
# ``orders.selectors.order_with_details``) and ``previous_partner_id`` (a partner who just
# lost the order, or None).
order_changed = Signal()


def announce_after_commit(event: str, order, *, previous_partner_id=None, written=None) -> None:
    """Once the current transaction commits (never if it rolls back): read ``order`` as
    committed, with its details, once — the live event and the API's answer
    (``order.as_committed``) both use that read — and send ``order_changed``.

    ``written``: the order with its details as this transaction wrote all of them
    (``orders.selectors.order_as_written``: a new order), which is what the commit
    stored, so it is not read back."""

    def announce():
        committed = written
        if committed is None:
            try:
                committed = order_with_details(order.pk)
            except Exception:
                # Never let a live update break the request that made the change.
                logger.exception("could not read order %s for the live event %s", getattr(order, "ref", order), event)
                return
        if committed is None:
            return
        order.as_committed = committed
        order_changed.send(sender=type(order), event=event, order=committed, previous_partner_id=previous_partner_id)

    transaction.on_commit(announce)
