"""Catalog and order fixtures for the customer page tests: named products made
with the ORM (the tests read their names, prices and stock), orders placed through
the real service."""

import itertools
from decimal import Decimal

import pytest

from orders.factories import make_order
from orders.models import Category, Product

_seq = itertools.count(1)


@pytest.fixture
def make_category(db):
    def make(name="Fruit", **extra):
        n = next(_seq)
        return Category.objects.create(name=name, slug=extra.pop("slug", f"{name.lower()}-{n}"), **extra)

    return make


@pytest.fixture
def fruit(make_category):
    return make_category("Fruit", slug="fruit")


@pytest.fixture
def dairy(make_category):
    return make_category("Dairy", slug="dairy")


@pytest.fixture
def make_product(fruit):
    def make(name=None, *, category=None, price="1.50", stock=20, **extra):
        n = next(_seq)
        name = name or f"Product {n}"
        return Product.objects.create(
            category=category or fruit,
            name=name,
            slug=extra.pop("slug", f"{name.lower().replace(' ', '-')}-{n}"),
            price=Decimal(price),
            stock=stock,
            unit=extra.pop("unit", "1 kg"),
            **extra,
        )

    return make


@pytest.fixture
def bananas(make_product):
    return make_product("Bananas", price="1.49", stock=3, unit="6 pcs")


@pytest.fixture
def milk(make_product, dairy):
    return make_product("Whole Milk", category=dairy, price="1.20", stock=50, unit="1 l")


@pytest.fixture
def popcorn(make_product):
    return make_product("Popcorn", price="1.19", stock=0)


@pytest.fixture
def milk_order(milk):
    """``milk_order(customer, **kwargs)``: a real order of 2 x Whole Milk (orders.factories.make_order)."""

    def make(customer, **kwargs):
        return make_order(customer, [(milk, 2)], **kwargs)

    return make


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client
