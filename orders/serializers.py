"""API shapes for the catalog and orders (input and output serializers).

Output serializers are plain ``Serializer``s so every key is deliberate. The one
visibility rule for an order lives in ``OrderSerializer``: the page-less clients
(the API and the JSON websocket messages) both go through it, with the viewer in
the context — ``OrderSerializer(order, context={"viewer": user_or_None})``.
"""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from orders.geo import order_eta, rider_of
from orders.models import (
    ACTIVE_STATUSES,
    AREA_MAX_LENGTH,
    MAX_ADDRESS,
    MAX_LINES,
    MAX_NOTE,
    MAX_QUANTITY,
    Order,
    Product,
)
from quickcommerce.api import QueryChoiceField, StrictCharField

# --- errors (for the OpenAPI schema; quickcommerce.api produces them) ---------------


class ErrorSerializer(serializers.Serializer):
    """What a refused request answers: DRF's ``detail``, plus a ``code`` for domain errors."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="Machine-readable reason, e.g. out_of_stock.")


# --- catalog ----------------------------------------------------------------------


class ProductSerializer(serializers.Serializer):
    id = serializers.CharField(source="pk", help_text="Opaque product id (a string on every store).")
    name = serializers.CharField()
    slug = serializers.SlugField()
    category = serializers.SlugField(source="category.slug")
    category_name = serializers.CharField(source="category.name")
    price = serializers.DecimalField(max_digits=9, decimal_places=2)
    stock = serializers.IntegerField()
    unit = serializers.CharField()
    description = serializers.CharField()
    in_stock = serializers.BooleanField()
    image = serializers.SerializerMethodField(
        help_text="The product's picture as uploaded (absolute URL), or null when it has none."
    )
    thumbnail = serializers.SerializerMethodField(
        help_text="A WebP rendition at most 240 px a side (absolute URL), or null when it has none."
    )

    def _absolute(self, url):
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_image(self, product):
        return self._absolute(product.image.url) if product.image else None

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_thumbnail(self, product):
        return self._absolute(product.thumbnail.url) if product.image else None


class ProductFilterSerializer(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    category = serializers.CharField(required=False, allow_blank=True, max_length=80, default="")


# --- placing an order ---------------------------------------------------------------


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}], "example": "12"})
class ProductIdField(serializers.Field):
    """A product id as the API emits it (a string), or an integer on SQLite.

    Checked against the primary key's own type and range, so garbage is a 400 here
    rather than an overflow in the database. Whether the product exists and is sold
    is the service's question."""

    default_error_messages = {"invalid": "Not a valid product id."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        if isinstance(data, str):
            data = data.strip()
            if not data or len(data) > 64:
                self.fail("invalid")
        pk_field = Product._meta.pk
        try:
            value = pk_field.to_python(data)
            pk_field.run_validators(value)
        except (DjangoValidationError, TypeError, ValueError):
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return str(value)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: no "2", no 2.0, no true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number only: no strings, no booleans (DRF's FloatField takes "1.5" and true)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


def latitude_field(**kwargs):
    return StrictFloatField(min_value=-90, max_value=90, **kwargs)


def longitude_field(**kwargs):
    return StrictFloatField(min_value=-180, max_value=180, **kwargs)


class OrderLineInputSerializer(serializers.Serializer):
    product = ProductIdField()
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class PlaceOrderInputSerializer(serializers.Serializer):
    """Prices and totals are never read from the client: the server computes them."""

    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    address = StrictCharField(max_length=MAX_ADDRESS)
    note = StrictCharField(required=False, allow_blank=True, max_length=MAX_NOTE, default="")
    area = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=AREA_MAX_LENGTH,
        default="",
        help_text="Your neighbourhood, shown to riders before one accepts (no numbers or names). "
        "Empty: the last part of the address that has no digits.",
    )
    latitude = latitude_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="The drop-off point (optional; with longitude). Farther than SERVICE_RADIUS_KM from the "
        "store: 400 outside_service_area, nothing taken.",
    )
    longitude = longitude_field(required=False, allow_null=True, default=None)


# --- order output -------------------------------------------------------------------


class OrderItemSerializer(serializers.Serializer):
    product = serializers.CharField(source="product_id")
    name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=9, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=10, decimal_places=2)


class OrderEventSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices)
    at = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor.role",
        allow_null=True,
        help_text="Who made the change, by role (customer, partner or admin; never a name); null if unknown.",
    )
    note = serializers.CharField(
        help_text="Empty unless you are the order's customer, its assigned partner or an admin."
    )


class OrderPartnerSerializer(serializers.Serializer):
    name = serializers.CharField(source="display_name")


class OrderCustomerSerializer(serializers.Serializer):
    name = serializers.CharField(source="display_name")
    phone = serializers.CharField()


class OrderSerializer(serializers.Serializer):
    """An order as ``context["viewer"]`` may see it.

    ``address``, ``customer``, ``note`` and the timeline's notes only for the order's
    customer, its assigned partner and admins; ``delivery_code`` only for the customer and admins, once
    accepted and while the order is open — never for a partner. ``viewer=None``
    is the partner audience: public fields only (the ``area``, never the door).
    """

    ref = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    status_display = serializers.CharField(source="get_status_display")
    version = serializers.IntegerField()
    items = OrderItemSerializer(many=True)
    item_count = serializers.IntegerField()
    subtotal = serializers.DecimalField(max_digits=10, decimal_places=2)
    delivery_fee = serializers.DecimalField(max_digits=8, decimal_places=2)
    total = serializers.DecimalField(max_digits=10, decimal_places=2)
    area = serializers.CharField()
    note = serializers.CharField(required=False, help_text="Only for the customer, the assigned partner, admins.")
    created_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    picked_up_at = serializers.DateTimeField(allow_null=True)
    out_for_delivery_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    partner = OrderPartnerSerializer(allow_null=True)
    events = OrderEventSerializer(many=True)
    # Present only for the viewers named above (not required in the schema).
    address = serializers.CharField(required=False, help_text="Only for the customer, the assigned partner, admins.")
    customer = OrderCustomerSerializer(required=False, help_text="Only for the customer, the assigned partner, admins.")
    delivery_code = serializers.CharField(
        required=False, help_text="Only for the customer and admins, from acceptance until the order is closed."
    )
    latitude = serializers.FloatField(
        required=False, allow_null=True, help_text="The drop-off point; with the address, for the same viewers."
    )
    longitude = serializers.FloatField(required=False, allow_null=True)
    rider_location = serializers.SerializerMethodField(
        help_text="The rider's last shared position {lat, lng, at} while the order is active; null otherwise. "
        "Only for the customer, the assigned partner, admins."
    )
    eta_minutes = serializers.SerializerMethodField(
        help_text="Minutes until the drop-off, estimated from the rider's last position (docs/live-updates.md); "
        "null without a position or a drop-off point. Same viewers as rider_location."
    )

    # The note can hold a gate code or a flat number: it travels with the address; so do
    # the drop-off point and the rider's position.
    PRIVATE_FIELDS = ("address", "customer", "note", "latitude", "longitude", "rider_location", "eta_minutes")

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}, "at": {"type": "string"}},
        }
    )
    def get_rider_location(self, order):
        rider = rider_of(order)
        return None if rider is None else {**rider, "at": rider["at"].isoformat()}

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_eta_minutes(self, order):
        return order_eta(order)

    def to_representation(self, order):
        return self.visible_to(super().to_representation(order), order, self.context.get("viewer"))

    @classmethod
    def everything(cls, order) -> dict:
        """Every field of ``order``, before the visibility rules: serialise once, then
        ``visible_to`` a copy per viewer (``data_for``). One serializer instance per class
        and process does it: DRF deep-copies every declared field, the nested serializers'
        too, for each new instance, which cost more than serialising the order; the
        instance keeps nothing between calls (no context, no data)."""
        return serializers.Serializer.to_representation(cls._shared(), order)

    @classmethod
    def _shared(cls):
        shared = cls.__dict__.get("_shared_instance")
        if shared is None:
            shared = cls()
            _build_fields(shared)  # now, once, rather than racing on first use in two threads
            cls._shared_instance = shared
        return shared

    @classmethod
    def data_for(cls, order, viewer) -> dict:
        """``order`` as ``viewer`` (a user, an audience viewer, or None: public) may see it,
        in plain JSON types, as ``OrderSerializer(order, context={"viewer": viewer}).data``.
        ``everything`` runs once per order instance (kept on it as JSON text), each viewer
        gets a fresh copy: the audiences of one live event and the API's answer to the
        request that made the change share one serialisation (the order as committed)."""
        version, text = getattr(order, "_serialized_json", (None, None))
        if text is None or version != order.version:  # (an instance changed since: afresh)
            text = json.dumps(cls.everything(order), cls=DjangoJSONEncoder)
            order._serialized_json = (order.version, text)
        return cls.visible_to(json.loads(text), order, viewer)

    @classmethod
    def visible_to(cls, data: dict, order, viewer) -> dict:
        """``data`` (all of ``order``'s fields), cut to what ``viewer`` may see, in place."""
        if not cls.sees_contact(viewer, order):
            for name in cls.PRIVATE_FIELDS:
                data.pop(name, None)
            # Timeline notes are free text (a cancel reason, an admin's release reason):
            # only the order's own parties read them, never the board.
            for event in data["events"]:
                event["note"] = ""
        if not cls.sees_delivery_code(viewer, order):
            data.pop("delivery_code", None)
        return data

    @staticmethod
    def sees_contact(viewer, order) -> bool:
        role = getattr(viewer, "role", None)
        if role == User.Role.ADMIN:
            return True
        pk = getattr(viewer, "pk", None)
        return role is not None and pk is not None and pk in (order.customer_id, order.partner_id)

    @staticmethod
    def sees_delivery_code(viewer, order) -> bool:
        if not (order.delivery_code and order.status in ACTIVE_STATUSES):
            return False
        role = getattr(viewer, "role", None)
        if role == User.Role.ADMIN:
            return True
        pk = getattr(viewer, "pk", None)
        return role == User.Role.CUSTOMER and pk is not None and pk == order.customer_id


def _build_fields(serializer) -> None:
    """Build ``serializer``'s fields and its nested serializers' (DRF builds them lazily)."""
    serializer = getattr(serializer, "child", serializer)
    for field in getattr(serializer, "fields", {}).values():
        _build_fields(field)


class OrderFilterSerializer(serializers.Serializer):
    status = QueryChoiceField(choices=Order.Status.choices, required=False)


class CancelOrderInputSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=MAX_NOTE, default="")
