"""The dispatch JSON API: the partners' board and deliveries, and the admin's partner list.

Thin views: parse, check the role, call dispatch.services (or a read), answer with
the order serializer. Domain errors (already taken, offline, wrong code) are
mapped to their status by quickcommerce.api.
"""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, IsPartner
from accounts.selectors import is_partner_online
from dispatch.location import record_location
from dispatch.selectors import AVAILABLE_LIMIT, partners_overview
from dispatch.serializers import (
    AdvanceOrderInputSerializer,
    AvailabilityInputSerializer,
    AvailabilityOutputSerializer,
    LocationInputSerializer,
    PartnerOverviewSerializer,
)
from dispatch.services import accept_order, advance_order, set_availability
from orders.api import error_responses, order_response
from orders.selectors import active_orders_of, available_orders, with_details
from orders.serializers import OrderSerializer


class AvailableOrderListApi(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["dispatch"],
        summary="Orders waiting for a partner",
        description=(
            f"Unassigned placed orders, oldest first (at most {AVAILABLE_LIMIT}), in public form: the area, never "
            "the address or the customer. Empty while you are offline."
        ),
        responses={200: OrderSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request):
        if not is_partner_online(request.user):
            return Response([])
        orders = with_details(available_orders())[:AVAILABLE_LIMIT]
        # viewer=None: the partner audience, public fields only.
        return Response(OrderSerializer(orders, many=True, context={"viewer": None}).data)


class OrderAcceptApi(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["dispatch"],
        summary="Accept an order",
        description="First partner wins; you then see the address and the customer's contact.",
        request=None,
        responses={
            200: OrderSerializer,
            **error_responses(
                401, 403, 404, (409, "Already taken by another partner, you are offline, or at capacity.")
            ),
        },
        examples=[
            OpenApiExample(
                "Lost the race",
                value={"detail": "Already taken by another partner.", "code": "already_taken"},
                response_only=True,
                status_codes=["409"],
            )
        ],
    )
    def post(self, request, ref):
        order = accept_order(partner=request.user, order_ref=ref)
        return order_response(order, request.user)


class OrderAdvanceApi(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["dispatch"],
        summary="Move your order one step on",
        description=(
            "accepted -> picked_up -> out_for_delivery -> delivered. Delivering needs the customer's "
            "code; five wrong codes lock it until an admin resets it."
        ),
        request=AdvanceOrderInputSerializer,
        responses={
            200: OrderSerializer,
            **error_responses(
                (400, "Bad input, or a wrong delivery code (the detail says how many tries are left)."),
                401,
                403,
                (404, "No such order assigned to you."),
                (409, "Not the next step, or the delivery code is locked."),
            ),
        },
        examples=[
            OpenApiExample("Picked up", value={"status": "picked_up"}, request_only=True),
            OpenApiExample("Delivered", value={"status": "delivered", "code": "4821"}, request_only=True),
            OpenApiExample(
                "Wrong code",
                value={"detail": "Wrong delivery code. 4 tries left.", "code": "wrong_delivery_code"},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request, ref):
        serializer = AdvanceOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = advance_order(partner=request.user, order_ref=ref, to_status=data["status"], code=data["code"])
        return order_response(order, request.user)


class PartnerAvailabilityApi(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["partners"],
        summary="Go online or offline",
        description="Only online partners see the board and can accept orders.",
        request=AvailabilityInputSerializer,
        responses={200: AvailabilityOutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        serializer = AvailabilityInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = set_availability(partner=request.user, online=serializer.validated_data["online"])
        output = {"online": profile.online, "active_orders": active_orders_of(request.user).count()}
        return Response(AvailabilityOutputSerializer(output).data)


class PartnerLocationApi(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        tags=["partners"],
        summary="Share your position while delivering",
        description=(
            "Only while you are online with an active order; the customer of each of your active orders and "
            "admins see it (docs/live-updates.md, rider_location). At most one position per "
            "LOCATION_MIN_INTERVAL_SECONDS is kept: a faster one is dropped silently (still 204)."
        ),
        request=LocationInputSerializer,
        responses={
            204: None,
            **error_responses(
                (400, "Not a position: latitude -90..90, longitude -180..180, finite numbers."),
                401,
                403,
                (409, "You are offline or have no active order: nothing was stored."),
            ),
        },
        examples=[
            OpenApiExample("A position", value={"lat": 48.8757, "lng": 2.3376, "accuracy": 12}, request_only=True)
        ],
    )
    def post(self, request):
        serializer = LocationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        extras = {name: data.get(name) for name in ("accuracy", "heading", "speed")}
        record_location(partner=request.user, latitude=data["lat"], longitude=data["lng"], **extras)
        return Response(status=204)


class PartnerListApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        tags=["partners"],
        summary="All delivery partners (admins)",
        responses={200: PartnerOverviewSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request):
        partners = sorted(partners_overview(), key=lambda row: row.username)
        return Response(PartnerOverviewSerializer(partners, many=True).data)
