"""Test data that needs dispatch: orders brought to any status the way the app would."""

from accounts.factories import PartnerFactory
from dispatch.services import accept_order, advance_order, set_availability
from orders.factories import DEFAULT_ADDRESS, make_order
from orders.models import Order
from orders.services import cancel_order

# The partner's path through the lifecycle, in order (delivered needs the code).
PARTNER_STEPS = [Order.Status.PICKED_UP, Order.Status.OUT_FOR_DELIVERY, Order.Status.DELIVERED]


def order_in_status(status, *, customer=None, partner=None, products_with_qty=None, address=DEFAULT_ADDRESS):
    """An order brought to ``status`` the way the app would: placed by the customer,
    accepted and advanced by ``partner`` (a new, online partner by default), or
    cancelled by its customer. Returns the order fresh from the database."""
    status = Order.Status(status)
    order = make_order(customer, products_with_qty, address=address)
    if status == Order.Status.CANCELLED:
        cancel_order(actor=order.customer, order_ref=order.ref, reason="Changed my mind.")
    elif status != Order.Status.PLACED:
        partner = partner or PartnerFactory()
        set_availability(partner=partner, online=True)
        accept_order(partner=partner, order_ref=order.ref)
        for step in PARTNER_STEPS:
            if Order.objects.get(pk=order.pk).status == status:
                break
            code = Order.objects.get(pk=order.pk).delivery_code if step == Order.Status.DELIVERED else None
            advance_order(partner=partner, order_ref=order.ref, to_status=step, code=code)
    order = Order.objects.get(pk=order.pk)
    assert order.status == status, f"could not bring an order to {status}"
    return order
