"""Fill a bench SQLite file with a big store, fast (bulk_create, not the HTTP API).

    SQLITE_PATH=bench.sqlite3 DJANGO_SETTINGS_MODULE=quickcommerce.settings \
        python -m bench.pagedata --orders 10000 --products 500

Runs on a migrated, seeded file: tops the store up to ``--products`` products (new ones in one
category) and ``--orders`` orders of the demo customers (alice, bob) with two lines and their
timeline events each: mostly delivered by the demo partners (partner history),
some cancelled, and a few still placed (the partners' board). Sets ravi online.
"""

import argparse
import random
import uuid
from datetime import timedelta
from decimal import Decimal


def fill(n_orders: int, n_products: int) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import PartnerProfile, User
    from orders.models import Category, Order, OrderEvent, OrderItem, Product

    rng = random.Random(7)
    S = Order.Status
    with transaction.atomic():
        # The totals are what the store holds afterwards (the seed already has a few of each).
        n_products = max(0, n_products - Product.objects.count())
        n_orders = max(0, n_orders - Order.objects.count())
        category, _ = Category.objects.get_or_create(slug="bench-pantry", defaults={"name": "Bench pantry"})
        Product.objects.bulk_create(
            Product(
                category=category,
                name=f"Bench item {i:04d}",
                slug=f"bench-item-{i:04d}",
                unit="1 pc",
                price=Decimal(rng.randint(50, 2000)) / 100,
                stock=1_000_000,
            )
            for i in range(n_products)
        )
        products = list(Product.objects.filter(category=category))
        customers = list(User.objects.filter(username__in=["alice", "bob"]))
        partners = list(User.objects.filter(username__in=["ravi", "priya", "sam"]))
        now = timezone.now()
        orders = []
        lines = []
        for i in range(n_orders):
            picked = rng.sample(products, 2)
            subtotal = sum((p.price for p in picked), Decimal("0"))
            fee = Decimal("2.50")
            roll = i % 50
            if roll == 0:
                status, partner = S.PLACED, None
            elif roll < 6:
                status, partner = S.CANCELLED, None
            else:
                status, partner = S.DELIVERED, partners[i % len(partners)]
            # Spread over 30 days (1 in 30 in the last 3 hours, so the dashboard chart has bars).
            if i % 30 == 0:
                ago = timedelta(minutes=rng.randint(1, 180))
            else:
                ago = timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            created = now - ago
            order = Order(
                customer=customers[i % len(customers)],
                partner=partner,
                status=status,
                version=1 if status == S.PLACED else (2 if status == S.CANCELLED else 5),
                subtotal=subtotal,
                delivery_fee=fee,
                total=subtotal + fee,
                item_count=2,
                address="221B Baker Street, Flat 2, Marylebone",
                area="Marylebone",
                idempotency_key=uuid.uuid4().hex,
                delivery_code=f"{rng.randint(0, 9999):04d}",
                accepted_at=min(now, created + timedelta(minutes=2)) if partner else None,
                picked_up_at=min(now, created + timedelta(minutes=5)) if partner else None,
                out_for_delivery_at=min(now, created + timedelta(minutes=8)) if partner else None,
                delivered_at=min(now, created + timedelta(minutes=25)) if partner else None,
                cancelled_at=min(now, created + timedelta(minutes=3)) if status == S.CANCELLED else None,
            )
            order.bench_created = created
            orders.append(order)
            lines.append(picked)
        Order.objects.bulk_create(orders, batch_size=500)
        # SQLite returns the primary keys from bulk_create; fetch them back anyway (any backend).
        saved = {
            o.idempotency_key: o for o in Order.objects.filter(idempotency_key__in=[o.idempotency_key for o in orders])
        }
        # created_at is auto_now_add (bulk_create stamps "now"); set the spread-out times.
        for order in orders:
            saved[order.idempotency_key].created_at = order.bench_created
        Order.objects.bulk_update(saved.values(), ["created_at"], batch_size=500)
        items, events = [], []
        for order, picked in zip(orders, lines, strict=True):
            order = saved[order.idempotency_key]
            for product in picked:
                items.append(
                    OrderItem(order=order, product=product, name=product.name, unit_price=product.price,
                              quantity=1, line_total=product.price)
                )  # fmt: skip
            events.append(OrderEvent(order=order, status=S.PLACED, version=1, actor=order.customer))
            if order.status != S.PLACED:
                events.append(OrderEvent(order=order, status=order.status, version=order.version, actor=order.partner))
        OrderItem.objects.bulk_create(items, batch_size=1000)
        OrderEvent.objects.bulk_create(events, batch_size=1000)
        PartnerProfile.objects.filter(user__username="ravi").update(online=True)
    return {"orders": Order.objects.count(), "products": Product.objects.count()}


if __name__ == "__main__":
    import django

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=500)
    args = parser.parse_args()
    django.setup()
    print(fill(args.orders, args.products))
