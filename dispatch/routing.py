from django.urls import path

from dispatch.consumers import OrdersConsumer
from dispatch.watchdog import ChannelLayerGuard

websocket_urlpatterns = [
    path("ws/orders/", ChannelLayerGuard(OrdersConsumer.as_asgi())),
]
