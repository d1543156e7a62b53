from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self):
        # Registered here, before any URLconf loads, so every app's urls.py can use <ref:ref>.
        from django.urls import register_converter

        from orders.converters import RefConverter

        register_converter(RefConverter, "ref")
