"""factory_boy factories for the catalog, and helpers that make orders through the
real services.

There is deliberately no OrderFactory: an order made by a factory would skip
``place_order`` (server-side totals, stock, the first OrderEvent) and its timeline
would be fiction. Make orders with ``make_order`` and move them on with
``dispatch.factories.order_in_status``, which only call the services.

    milk = ProductFactory(price=Decimal("1.19"), stock=10)
    order = make_order(CustomerFactory(), [(milk, 2)])
    on_the_way = order_in_status(Order.Status.OUT_FOR_DELIVERY)
"""

from decimal import Decimal

import factory
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from accounts.factories import CustomerFactory
from orders.models import Category, Product
from orders.services import place_order

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
    customer = customer or CustomerFactory()
    if products_with_qty is None:
        products_with_qty = [(ProductFactory(), 1)]
    lines = [(getattr(product, "pk", product), quantity) for product, quantity in products_with_qty]
    order, _ = place_order(customer=customer, lines=lines, address=address, note=note, idempotency_key=idempotency_key)
    return order
