"""Publishing live events: one message per audience group, after the change is committed.

``orders.services`` announces every change on ``orders.signals.order_changed`` (after
commit); ``on_order_changed`` (connected in ``DispatchConfig.ready``) publishes it. Each
message carries both forms of the event, made once per audience: ``html``
(``dispatch.fragments``) for browser pages and ``json`` (``dispatch.payloads``) for API
clients; the consumer forwards the one its socket wants.

A failed publish (Redis down) is logged and swallowed: the write already happened and
is the truth; clients catch up from the snapshot they get when they reconnect.
"""

import asyncio
import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.models import User
from accounts.selectors import is_partner_online
from dispatch import audiences, fragments, payloads
from orders.geo import order_eta
from orders.models import Order
from orders.selectors import order_with_details
from orders.signals import NEW_ORDER, ORDER_ACCEPTED, ORDER_STATUS_UPDATE

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 2.0


def send(messages) -> None:
    """Send ``[(group, message), ...]``; log and swallow failures (never a 500)."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all():
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            for group, message in messages:
                await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("publish failed for groups %s", [group for group, _ in messages])


def on_order_changed(sender, *, event, order, previous_partner_id=None, **kwargs) -> None:
    """The receiver of ``orders.signals.order_changed``."""
    publish(event, order, previous_partner_id=previous_partner_id)


def publish(event: str, order, *, previous_partner_id=None) -> None:
    """Tell every audience about ``event`` on ``order`` (call after commit)."""
    try:
        messages = order_messages(event, order, previous_partner_id)
    except Exception:
        # Never let a live update break the request that made the change.
        logger.exception("could not build the live event %s for order %s", event, getattr(order, "ref", order))
        return
    send(messages)


def order_messages(event, order, previous_partner_id=None) -> list[tuple[str, dict]]:
    """``[(group, message), ...]`` for ``event`` on ``order``, each audience seeing what it may."""
    order = order_with_details(order.pk)
    if order is None:
        return []
    base = {"type": audiences.ORDER_MESSAGE, "event": event, "ref": order.ref, "version": order.version}
    messages = []
    # Partners: only when the board changes (an order appears or leaves it).
    if event in (NEW_ORDER, ORDER_ACCEPTED) or order.status in (Order.Status.PLACED, Order.Status.CANCELLED):
        json_text = payloads.order_json_text(event, order, None)
        messages.append(
            (audiences.PARTNERS_GROUP, {**base, "html": fragments.partners_board_html(order), "json": json_text})
        )
    # The assigned partner (and a partner who just lost the order) see their own board.
    for partner_id in {order.partner_id, previous_partner_id} - {None}:
        assigned = partner_id == order.partner_id
        partner = order.partner if assigned else User.objects.get(pk=partner_id)
        json_text = payloads.order_json_text(event, order, partner if assigned else None)
        messages.append(
            (audiences.partner_group(partner_id), {**base, "html": fragments.partner_html(partner), "json": json_text})
        )
    customer_event = ORDER_STATUS_UPDATE if event == ORDER_ACCEPTED else event
    messages.append(
        (
            audiences.customer_group(order.customer_id),
            {
                **base,
                "event": customer_event,
                "html": fragments.customer_html(order),
                "json": payloads.order_json_text(customer_event, order, order.customer),
            },
        )
    )
    admin = payloads.audience_viewer(User.Role.ADMIN)
    messages.append(
        (
            audiences.ADMINS_GROUP,
            {
                **base,
                "html": fragments.admin_event_html(event, order),
                "json": payloads.order_json_text(event, order, admin),
            },
        )
    )
    return messages


def on_access_revoked(sender, *, user_id, session_key=None, **kwargs) -> None:
    """The receiver of ``accounts.signals.access_revoked``: close that user's sockets (or
    one session's) on every instance; a client that reconnects is authenticated afresh."""
    send([(audiences.user_group(user_id), {"type": audiences.REVOKE_MESSAGE, "session_key": session_key})])


def partner_after_commit(partner) -> None:
    """Publish ``partner``'s availability once the current transaction commits."""
    transaction.on_commit(lambda: publish_partner(partner))


def publish_partner(partner) -> None:
    """A partner's availability changed: their own sockets re-subscribe; admins see it."""
    online = is_partner_online(partner)
    message = {
        "type": audiences.PARTNER_MESSAGE,
        "event": audiences.PARTNER_UPDATE,
        "partner_id": audiences.user_id(partner),
        "online": online,
        "json": payloads.partner_text(audiences.PARTNER_UPDATE, partner, online),
        "html": "",
    }
    admins = {**message, "html": fragments.admin_partner_html()}
    send([(audiences.partner_group(partner), message), (audiences.ADMINS_GROUP, admins)])


def publish_location(position) -> None:
    """A partner's new position (``dispatch.location``): to the customer of each of their
    active orders, that order's ref and ETA; to admins, the partner with their orders
    (coalesced per admin socket: ``dispatch.consumers``). Nobody else: not the board,
    not other partners, not other customers."""
    try:
        messages = location_messages(position)
    except Exception:
        logger.exception("could not build the location event of partner %s", position.partner.pk)
        return
    send(messages)


def location_messages(position) -> list[tuple[str, dict]]:
    at = position.at.isoformat()
    rider = {"lat": position.latitude, "lng": position.longitude, "at": position.at}
    partner_id = audiences.user_id(position.partner)
    base = {"type": audiences.LOCATION_MESSAGE, "event": audiences.RIDER_LOCATION, "partner_id": partner_id}
    messages = []
    etas = {}
    for order in position.orders:
        eta = etas[order.ref] = order_eta(order, rider)
        frame = {"event": audiences.RIDER_LOCATION, "ref": order.ref, "lat": rider["lat"], "lng": rider["lng"]}
        frame.update(at=at, eta_minutes=eta)
        messages.append(
            (
                audiences.customer_group(order.customer_id),
                {
                    **base,
                    "ref": order.ref,
                    "version": order.version,
                    "html": fragments.rider_html(order, rider, eta),
                    "json": json.dumps(frame),
                },
            )
        )
    name = getattr(getattr(position.partner, "partner_profile", None), "display_name", "") or (
        position.partner.display_name
    )
    admin_frame = {
        "event": audiences.RIDER_LOCATION,
        "partner": {"id": partner_id, "name": name},
        "lat": rider["lat"],
        "lng": rider["lng"],
        "at": at,
        "orders": [{"ref": ref, "eta_minutes": eta} for ref, eta in etas.items()],
    }
    admin_html = fragments.admin_rider_html(partner_id, name, rider, list(etas))
    messages.append((audiences.ADMINS_GROUP, {**base, "html": admin_html, "json": json.dumps(admin_frame)}))
    return messages
