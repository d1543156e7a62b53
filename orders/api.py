"""The catalog and orders JSON API: one thin APIView per operation.

Each view parses input with an input serializer, checks the role, calls a
selector or a service, and answers with an output serializer. Business rules
(stock, idempotency, who may cancel) live in orders.services; domain errors are
mapped to ``{"detail", "code"}`` with their status by quickcommerce.api.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, IsCustomer
from accounts.throttles import OrderThrottle, ThrottleMessageMixin
from orders.errors import OrderNotFound
from orders.selectors import catalog_products, order_list_for, order_with_details, orders_visible_to, with_details
from orders.serializers import (
    CancelOrderInputSerializer,
    ErrorSerializer,
    OrderFilterSerializer,
    OrderSerializer,
    PlaceOrderInputSerializer,
    ProductFilterSerializer,
    ProductSerializer,
)
from orders.services import cancel_order, place_order
from quickcommerce.api import StrictPageNumberPagination

# --- shared API plumbing (dispatch.api uses it too) ----------------------------------


class ApiPagination(StrictPageNumberPagination):
    """``?page=`` (20 per page by default) and ``?page_size=`` up to 100."""

    page_size_query_param = "page_size"
    max_page_size = 100


def paginated_response(*, view, request, queryset, serializer_class, context=None):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)


_ERROR_DESCRIPTIONS = {
    401: "Not signed in (no or an invalid JWT).",
    403: "Your account type cannot do this.",
    404: "No such order, or not one you may see.",
    409: "Conflicts with the current state.",
    429: "Too many requests; see Retry-After.",
}


def error_responses(*codes):
    """OpenAPI responses for the errors an operation can answer: each a status code,
    or ``(code, description)`` to say more than the default."""
    responses = {}
    for entry in codes:
        code, description = entry if isinstance(entry, tuple) else (entry, None)
        if code == 400:
            responses[code] = OpenApiResponse(
                OpenApiTypes.OBJECT,
                description=description
                or "Bad input: field errors as {field: [messages]}, or {detail, code} when a rule refuses it.",
            )
        else:
            responses[code] = OpenApiResponse(ErrorSerializer, description=description or _ERROR_DESCRIPTIONS[code])
    return responses


def order_response(order, viewer, *, status_code=status.HTTP_200_OK):
    """The order, fresh with its items and timeline, as ``viewer`` may see it: as its change
    committed (``order.as_committed``, the live event's order too, which then reuses this
    serialisation: ``OrderSerializer.data_for``), else read now."""
    committed = getattr(order, "as_committed", None)
    if committed is not None:
        return Response(OrderSerializer.data_for(committed, viewer), status=status_code)
    return Response(OrderSerializer(order_with_details(order.pk), context={"viewer": viewer}).data, status=status_code)


# --- catalog ------------------------------------------------------------------------


class ProductListApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []
    pagination_class = ApiPagination

    @extend_schema(
        tags=["catalog"],
        summary="List products on sale",
        parameters=[ProductFilterSerializer],
        responses={200: ProductSerializer(many=True), **error_responses(400)},
    )
    def get(self, request):
        filters = ProductFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        products = catalog_products(
            search=filters.validated_data["search"], category_slug=filters.validated_data["category"]
        )
        return paginated_response(
            view=self,
            request=request,
            queryset=products,
            serializer_class=ProductSerializer,
            context={"request": request},
        )


# --- orders -------------------------------------------------------------------------


PLACE_ORDER_EXAMPLES = [
    OpenApiExample(
        "Two products",
        value={
            "items": [{"product": "12", "quantity": 2}, {"product": "7", "quantity": 1}],
            "address": "12 Baker Street, Flat 3, Marylebone",
            "note": "Ring twice.",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Not enough stock",
        value={"detail": "Not enough Bananas in stock: only 1 left.", "code": "out_of_stock"},
        response_only=True,
        status_codes=["409"],
    ),
    OpenApiExample(
        "Bad quantity",
        value={"items": [{"quantity": ["Ensure this value is less than or equal to 99."]}]},
        response_only=True,
        status_codes=["400"],
    ),
]


class OrderListCreateApi(ThrottleMessageMixin, APIView):
    """GET: the orders the caller may list. POST: a customer places an order
    (limited per customer: ORDER_RATE_PER_CUSTOMER, shared with the checkout page)."""

    pagination_class = ApiPagination

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsCustomer()]
        return [IsAuthenticated()]

    def get_throttles(self):
        if self.request.method == "POST":
            return [OrderThrottle()]
        return []

    @extend_schema(
        tags=["orders"],
        summary="List your orders",
        description="Customers: their own. Partners: the orders assigned to them. Admins: all.",
        parameters=[OrderFilterSerializer],
        responses={200: OrderSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request):
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        orders = order_list_for(request.user)
        if "status" in filters.validated_data:
            orders = orders.filter(status=filters.validated_data["status"])
        return paginated_response(
            view=self,
            request=request,
            queryset=with_details(orders),
            serializer_class=OrderSerializer,
            context={"viewer": request.user},
        )

    @extend_schema(
        tags=["orders"],
        summary="Place an order",
        description=(
            "Prices and totals are computed by the server; any price the client sends is ignored. "
            "Send an `Idempotency-Key` header to make retries safe: the same key again answers 200 "
            "with the first order instead of placing a second one."
        ),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Up to 64 characters, unique per order you mean to place.",
            )
        ],
        request=PlaceOrderInputSerializer,
        responses={
            201: OpenApiResponse(OrderSerializer, description="Placed."),
            200: OpenApiResponse(OrderSerializer, description="Already placed with this Idempotency-Key."),
            **error_responses(
                400,
                401,
                403,
                (409, "Not enough stock (the detail names the product); nothing was taken."),
                (429, "Placing orders too quickly; see Retry-After."),
            ),
        },
        examples=PLACE_ORDER_EXAMPLES,
    )
    def post(self, request):
        serializer = PlaceOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order, created = place_order(
            customer=request.user,
            lines=[(line["product"], line["quantity"]) for line in data["items"]],
            address=data["address"],
            note=data["note"],
            area=data["area"],
            idempotency_key=request.headers.get("Idempotency-Key"),
            latitude=data["latitude"],
            longitude=data["longitude"],
        )
        return order_response(
            order, request.user, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class OrderDetailApi(APIView):
    @extend_schema(
        tags=["orders"],
        summary="One order",
        description=(
            "Customers: their own. Partners: those assigned to them, and (while online) an "
            "unassigned placed order in public form. Admins: any. Anything else is a 404."
        ),
        responses={200: OrderSerializer, **error_responses(401, 404)},
    )
    def get(self, request, ref):
        order = with_details(orders_visible_to(request.user)).filter(ref=ref).first()
        if order is None:
            raise OrderNotFound()
        return Response(OrderSerializer(order, context={"viewer": request.user}).data)


class OrderCancelApi(APIView):
    permission_classes = [IsCustomer | IsAdmin]

    @extend_schema(
        tags=["orders"],
        summary="Cancel an order",
        description="Customers cancel their own order while it is placed; admins any open order.",
        request=CancelOrderInputSerializer,
        responses={
            200: OrderSerializer,
            **error_responses(400, 401, 403, 404, (409, "Already accepted (or closed): too late to cancel.")),
        },
    )
    def post(self, request, ref):
        serializer = CancelOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]
        order = cancel_order(actor=request.user, order_ref=ref, reason=reason)
        return order_response(order, request.user)
