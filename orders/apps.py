from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self):
        # Registered here, before any URLconf loads, so every app's urls.py can use <ref:ref>.
        from django.urls import register_converter

        from orders.converters import RefConverter

        register_converter(RefConverter, "ref")

        from django_cleanup.signals import cleanup_pre_delete

        from orders.images import delete_renditions
        from orders.models import Product

        cleanup_pre_delete.connect(delete_renditions, sender=Product, dispatch_uid="orders.delete_renditions")
