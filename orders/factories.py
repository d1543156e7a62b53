"""factory_boy factories for the catalog, and helpers that make orders through the
real services.

There is deliberately no OrderFactory: an order made by a factory would skip
``place_order`` (server-side totals, stock, the first OrderEvent) and its timeline
would be fiction. Make orders with ``make_order`` and move them on with
``order_in_status``, which only call the services.

    milk = ProductFactory(price=Decimal("1.19"), stock=10)
    order = make_order(CustomerFactory(), [(milk, 2)])
    on_the_way = order_in_status(Order.Status.OUT_FOR_DELIVERY)
"""

from decimal import Decimal

import factory
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from accounts.factories import CustomerFactory, PartnerFactory
from orders.models import Category, Order, Product

DEFAULT_ADDRESS = "12 Baker Street, Flat 3, Marylebone"


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda category: slugify(category.name))
    position = factory.Sequence(lambda n: n)


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.LazyAttribute(lambda product: slugify(product.name))
    description = ""
    unit = "1 pc"
    price = Decimal("2.50")
    stock = 100
    active = True


def make_order(customer=None, products_with_qty=None, *, address=DEFAULT_ADDRESS, note="", idempotency_key=None):
    """Place an order through ``orders.services.place_order`` and return it.

    ``products_with_qty``: ``[(product_or_pk, quantity), ...]``; by default one new
    product, quantity 1. ``customer`` defaults to a new customer.
    """
    from orders.services import place_order

    customer = customer or CustomerFactory()
    if products_with_qty is None:
        products_with_qty = [(ProductFactory(), 1)]
    lines = [(getattr(product, "pk", product), quantity) for product, quantity in products_with_qty]
    order, _ = place_order(customer=customer, lines=lines, address=address, note=note, idempotency_key=idempotency_key)
    return order


# The partner's path through the lifecycle, in order (delivered needs the code).
PARTNER_STEPS = [Order.Status.PICKED_UP, Order.Status.OUT_FOR_DELIVERY, Order.Status.DELIVERED]


def order_in_status(status, *, customer=None, partner=None, products_with_qty=None, address=DEFAULT_ADDRESS):
    """An order brought to ``status`` the way the app would: placed by the customer,
    accepted and advanced by ``partner`` (a new, online partner by default), or
    cancelled by its customer. Returns the order fresh from the database."""
    from dispatch.services import accept_order, advance_order, set_availability
    from orders.services import cancel_order

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
