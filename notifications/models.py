from django.db import models

from orders.models import Order


class SentEmail(models.Model):
    """One email a customer was sent about an order: the record that stops a second one.

    ``key`` names the moment (``out_for_delivery``, ``accepted:<partner id>``, ...). The
    unique (order, key) holds on both stores, so of two tries to send the same email
    only the first one's row is written (notifications.tasks.send_order_email).
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=60)
    recipient = models.CharField(max_length=254)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["order", "key"], name="sentemail_unique_order_key")]

    def __str__(self):
        return f"{self.key} for order {self.order_id} to {self.recipient}"
