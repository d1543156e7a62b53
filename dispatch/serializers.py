"""API shapes for dispatch: advancing an order, availability, the partners overview."""

from rest_framework import serializers

from orders.models import Order


class AdvanceOrderInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, help_text="The next step: one status on.")
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=16,
        default="",
        help_text="The customer's 4-digit delivery code; needed for delivered.",
    )


class AvailabilityInputSerializer(serializers.Serializer):
    online = serializers.BooleanField()


class AvailabilityOutputSerializer(serializers.Serializer):
    online = serializers.BooleanField()
    active_orders = serializers.IntegerField(help_text="How many orders you are delivering now.")


class PartnerOverviewSerializer(serializers.Serializer):
    """A partner for the admin: expects the prefetches of ``dispatch.api.partners_overview``."""

    id = serializers.CharField(source="pk")
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    online = serializers.SerializerMethodField()
    active_orders = serializers.SerializerMethodField(help_text="Refs of the orders they are delivering now.")
    deliveries_today = serializers.SerializerMethodField(help_text="Orders they delivered since midnight.")

    @staticmethod
    def _profile(user):
        return getattr(user, "partner_profile", None)

    def get_name(self, user) -> str:
        profile = self._profile(user)
        return (profile.display_name if profile else "") or user.display_name

    def get_phone(self, user) -> str:
        profile = self._profile(user)
        return (profile.phone if profile else "") or user.phone

    def get_online(self, user) -> bool:
        profile = self._profile(user)
        return bool(profile and profile.online)

    def get_active_orders(self, user) -> list[str]:
        return [order.ref for order in user.active_deliveries]

    def get_deliveries_today(self, user) -> int:
        return len(user.delivered_today)
