from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "dispatch"

    def ready(self):
        # orders announces each committed change; the live updates publish it
        # (orders sits below dispatch and cannot call it: docs/architecture.md, "Layers").
        from accounts.signals import access_revoked
        from dispatch.publish import on_access_revoked, on_order_changed
        from orders.signals import order_changed

        order_changed.connect(on_order_changed, dispatch_uid="dispatch.publish")
        # accounts says when a user's sockets lose their right to exist; close them.
        access_revoked.connect(on_access_revoked, dispatch_uid="dispatch.revoke")
