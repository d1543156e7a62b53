from django.urls import path

import orders.urls  # noqa: F401 - registers the <ref:ref> converter used below
from orders import api

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="api-products"),
    path("orders/", api.OrderListCreateApi.as_view(), name="api-orders"),
    path("orders/<ref:ref>/", api.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<ref:ref>/cancel/", api.OrderCancelApi.as_view(), name="api-order-cancel"),
]
