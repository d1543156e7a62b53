"""API shapes for dispatch: advancing an order, availability, the partners overview."""

from rest_framework import serializers

from orders.models import Order
from orders.serializers import StrictFloatField, latitude_field, longitude_field
from quickcommerce.api import StrictBooleanField, StrictCharField


class AdvanceOrderInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, help_text="The next step: one status on.")
    code = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=16,
        default="",
        help_text="The customer's 4-digit delivery code; needed for delivered.",
    )


class AvailabilityInputSerializer(serializers.Serializer):
    online = StrictBooleanField()


class AvailabilityOutputSerializer(serializers.Serializer):
    online = serializers.BooleanField()
    active_orders = serializers.IntegerField(help_text="How many orders you are delivering now.")


class PartnerOverviewSerializer(serializers.Serializer):
    """A partner for the admin: a ``dispatch.selectors.PartnerRow``."""

    id = serializers.CharField(source="pk")
    username = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    online = serializers.BooleanField()
    active_orders = serializers.SerializerMethodField(help_text="Refs of the orders they are delivering now.")
    deliveries_today = serializers.IntegerField(
        source="delivered_today", help_text="Orders they delivered since midnight."
    )

    def get_active_orders(self, row) -> list[str]:
        return [order.ref for order in row.active]


class LocationInputSerializer(serializers.Serializer):
    """A partner's position (JSON numbers only). The websocket's ``{"type": "location"}``
    frame has the same fields."""

    lat = latitude_field()
    lng = longitude_field()
    accuracy = StrictFloatField(required=False, allow_null=True, min_value=0, help_text="Metres (checked, not stored).")
    heading = StrictFloatField(
        required=False, allow_null=True, min_value=0, max_value=360, help_text="Degrees (checked, not stored)."
    )
    speed = StrictFloatField(required=False, allow_null=True, min_value=0, help_text="m/s (checked, not stored).")
