"""The JSON the live updates send to API clients: the API's own order serializer, with
the audience as the viewer, serialised once per audience (never once per socket)."""

import json

from django.core.serializers.json import DjangoJSONEncoder

from accounts.models import User
from dispatch.audiences import SNAPSHOT
from orders.serializers import OrderSerializer


def audience_viewer(role: str) -> User:
    """An unsaved user standing for a whole audience, for the serializer's visibility rules."""
    return User(role=role, username=f"({role} audience)")


def order_data(order, viewer) -> dict:
    """The order as ``viewer`` (a user, an audience viewer, or None: public) may see it, in
    plain types (the channel layer serialises with msgpack). The serializer runs once per
    order instance (``OrderSerializer.data_for``: for a change made by an API request,
    that request's answer already did)."""
    return OrderSerializer.data_for(order, viewer)


def order_json(event: str, order, viewer) -> dict:
    return {"event": event, "ref": order.ref, "version": order.version, "order": order_data(order, viewer)}


def order_json_text(event: str, order, viewer) -> str:
    return json.dumps(order_json(event, order, viewer), cls=DjangoJSONEncoder)


def snapshot_text(orders_with_viewers) -> str:
    """A snapshot frame: ``[(order, viewer), ...]`` in the order shown."""
    return json.dumps(
        {"event": SNAPSHOT, "orders": [order_data(order, viewer) for order, viewer in orders_with_viewers]}
    )


def partner_text(event: str, partner, online: bool) -> str:
    return json.dumps(
        {"event": event, "partner": {"id": str(partner.pk), "username": partner.username, "online": online}}
    )
