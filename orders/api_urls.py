from django.urls import path

from orders import api

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="api-products"),
    path("orders/", api.OrderListCreateApi.as_view(), name="api-orders"),
    path("orders/<ref:ref>/", api.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<ref:ref>/cancel/", api.OrderCancelApi.as_view(), name="api-order-cancel"),
]
