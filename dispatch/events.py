"""Live events: names, audience groups, rendering, and ``publish``.

Services call ``publish(event, order)`` from ``transaction.on_commit`` — after the
change is stored, never before. ``publish`` sends one message per audience group;
each message carries both forms of the event, rendered once per audience (not once
per socket): ``html`` (hx-swap-oob fragments for browser pages, from the same
partials the pages use; a string, or a list of strings sent as separate frames)
and ``json`` (``{"event", "ref", "version", "order"}`` for API clients, from the
API's serializer). The consumer forwards one or the other.

Audiences (ARCHITECTURE.md "Live updates"):

| group | who | sees |
|---|---|---|
| ``partners`` | online partners | orders appear on and leave the board; public fields only (the area) |
| ``partner.<id>`` | one partner | their own assigned orders, with contact details; their availability |
| ``customer.<id>`` | one customer | their own orders, with the delivery code |
| ``admins`` | admins | everything |

Group names are built only here. A failed publish (Redis down) is logged and
swallowed: the write already happened and is the truth; clients catch up from the
snapshot they get when they reconnect.
"""

import json
import logging
import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

NEW_ORDER = "new_order"
ORDER_ACCEPTED = "order_accepted"
ORDER_STATUS_UPDATE = "order_status_update"
PARTNER_UPDATE = "partner_update"
SNAPSHOT = "snapshot"

PARTNERS_GROUP = "partners"
ADMINS_GROUP = "admins"

# The consumer method each message is dispatched to (Channels: "order.event" -> order_event).
ORDER_MESSAGE = "order.event"
PARTNER_MESSAGE = "partner.event"

PUBLISH_TIMEOUT_SECONDS = 2.0


def customer_group(user_or_id) -> str:
    return f"customer.{_id(user_or_id)}"


def partner_group(user_or_id) -> str:
    return f"partner.{_id(user_or_id)}"


def _id(user_or_id) -> str:
    # ObjectIds and ints both become safe group-name characters.
    return str(getattr(user_or_id, "pk", user_or_id))


# --- rendering ---------------------------------------------------------------------

_FIRST_TAG = re.compile(r"^\s*<([a-zA-Z][a-zA-Z0-9-]*)")


def oob(html: str, swap: str = "true") -> str:
    """Mark a partial's root element for an out-of-band swap (by its id)."""
    match = _FIRST_TAG.match(html)
    if not match:
        return html
    end = match.end()
    return f'{html[:end]} hx-swap-oob="{swap}"{html[end:]}'


def _attrs(order) -> str:
    return f'data-ref="{order.ref}" data-version="{order.version}"'


def render_partial(name: str, context: dict) -> str:
    return render_to_string(name, context).strip()


def audience_viewer(role: str):
    """An unsaved user standing for a whole audience, for the serializer's visibility rules."""
    from accounts.models import User

    return User(role=role, username=f"({role} audience)")


def order_json(event: str, order, viewer) -> dict:
    from orders.serializers import OrderSerializer

    data = OrderSerializer(order, context={"viewer": viewer}).data
    # Plain types only: the channel layer serialises with msgpack.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return {"event": event, "ref": order.ref, "version": order.version, "order": data}


def order_json_text(event: str, order, viewer) -> str:
    """The JSON frame, serialised once per audience (not once per socket)."""
    return json.dumps(order_json(event, order, viewer), cls=DjangoJSONEncoder)


def partners_board_html(order) -> str:
    """What every partner's board does about this order: show the card or drop it."""
    from orders.models import Order

    if order.status == Order.Status.PLACED and order.partner_id is None:
        card = render_partial("dispatch/board.html#available-card", {"order": order, "can_accept": True})
        return f'<div hx-swap-oob="beforeend:#available-orders">{card}</div>'
    return f'<div id="available-{order.ref}" hx-swap-oob="delete" {_attrs(order)}></div>'


def partner_active_html(partner) -> str:
    from dispatch.selectors import board_active_orders

    active = board_active_orders(partner)  # each order carries .next_step for its button
    return oob(render_partial("dispatch/board.html#active-orders", {"active": active, "user": partner}))


def customer_status_html(order) -> str:
    return oob(render_partial("orders/detail.html#order-status", {"order": order, "user": order.customer}))


def customer_row_html(order) -> str:
    return oob(render_partial("orders/list.html#order-row", {"order": order, "user": order.customer}))


def customer_html(order) -> list[str]:
    """Two websocket messages: htmx parses a message in a <template>, where a <tr>
    next to a <section> is dropped, so the list row travels on its own."""
    return [customer_status_html(order), customer_row_html(order)]


# --- publishing ---------------------------------------------------------------------


def _send(messages) -> None:
    """Send ``[(group, message), ...]``; log and swallow failures (never a 500)."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all():
        import asyncio

        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            for group, message in messages:
                await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("publish failed for groups %s", [group for group, _ in messages])


def publish(event: str, order, *, previous_partner_id=None) -> None:
    """Tell every audience about ``event`` on ``order`` (call after commit)."""
    try:
        messages = _order_messages(event, order, previous_partner_id)
    except Exception:
        # Never let a live update break the request that made the change.
        logger.exception("could not build the live event %s for order %s", event, getattr(order, "ref", order))
        return
    _send(messages)


def _order_messages(event, order, previous_partner_id):
    from accounts.models import User
    from dispatch.dashboard import admin_event_html
    from orders.models import Order
    from orders.selectors import with_details

    try:
        order = with_details(Order.objects.select_related("customer", "partner")).get(pk=order.pk)
    except Order.DoesNotExist:
        return []
    base = {"type": ORDER_MESSAGE, "event": event, "ref": order.ref, "version": order.version}
    messages = []
    # Partners: only when the board changes (an order appears or leaves it).
    if event in (NEW_ORDER, ORDER_ACCEPTED) or order.status in (Order.Status.PLACED, Order.Status.CANCELLED):
        messages.append(
            (
                PARTNERS_GROUP,
                {**base, "html": partners_board_html(order), "json": order_json_text(event, order, None)},
            )
        )
    # The assigned partner (and a partner who just lost the order) see their active list.
    for partner_id in {order.partner_id, previous_partner_id} - {None}:
        partner = order.partner if partner_id == order.partner_id else User.objects.get(pk=partner_id)
        viewer = partner if partner_id == order.partner_id else None
        messages.append(
            (
                partner_group(partner_id),
                {**base, "html": partner_active_html(partner), "json": order_json_text(event, order, viewer)},
            )
        )
    customer_event = ORDER_STATUS_UPDATE if event == ORDER_ACCEPTED else event
    messages.append(
        (
            customer_group(order.customer_id),
            {
                **base,
                "event": customer_event,
                "html": customer_html(order),
                "json": order_json_text(customer_event, order, order.customer),
            },
        )
    )
    messages.append(
        (
            ADMINS_GROUP,
            {
                **base,
                "html": admin_event_html(event, order),
                "json": order_json_text(event, order, audience_viewer(User.Role.ADMIN)),
            },
        )
    )
    return messages


def publish_partner(partner) -> None:
    """A partner's availability changed: their own sockets re-subscribe; admins see it."""
    from accounts.models import PartnerProfile

    profile = PartnerProfile.objects.filter(user=partner).first()
    online = bool(profile and profile.online)
    message = {
        "type": PARTNER_MESSAGE,
        "event": PARTNER_UPDATE,
        "partner_id": _id(partner),
        "online": online,
        "json": json.dumps(
            {"event": PARTNER_UPDATE, "partner": {"id": _id(partner), "username": partner.username, "online": online}}
        ),
        "html": "",
    }
    from dispatch.dashboard import admin_partner_html

    _send([(partner_group(partner), message), (ADMINS_GROUP, {**message, "html": admin_partner_html(partner)})])
