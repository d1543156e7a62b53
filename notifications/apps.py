from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        # orders announces each committed change (orders.signals); customers hear about the
        # ones that matter by email. A sibling of dispatch: neither imports the other.
        from notifications.receivers import on_order_changed
        from orders.signals import order_changed

        order_changed.connect(on_order_changed, dispatch_uid="notifications.emails")
