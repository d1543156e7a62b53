"""Demo data for `manage.py seed`: a grocery catalog, demo users and a few past
orders in several states. Idempotent: a second run changes nothing."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import PartnerProfile, User
from accounts.services import register_user
from dispatch import services as dispatch
from orders.models import STATUS_TIMESTAMP, Category, Order, OrderEvent, OrderItem, Product
from orders.services import cancel_order, place_order
from quickcommerce.db import atomic

DEMO_PASSWORD = "demo-pass-123"

DEMO_USERS = [
    # username, role, name, phone
    ("admin", "admin", "Ada Admin", "+1 555 0001"),
    ("alice", "customer", "Alice Moreau", "+1 555 0101"),
    ("bob", "customer", "Bob Okafor", "+1 555 0102"),
    ("ravi", "partner", "Ravi Kumar", "+1 555 0201"),
    ("priya", "partner", "Priya Shah", "+1 555 0202"),
    ("sam", "partner", "Sam Lee", "+1 555 0203"),
    ("noor", "partner", "Noor Haddad", "+1 555 0204"),
]


# The demo customers' homes: an address and its drop-off point, a short ride from the
# default store (settings.STORE_LATITUDE/LONGITUDE); moved with the store if it is set.
def _near_store(d_lat, d_lng):
    return (round(settings.STORE_LATITUDE + d_lat, 6), round(settings.STORE_LONGITUDE + d_lng, 6))


DEMO_HOMES = [
    ("12 Rue des Lilas, Flat 3, Montmartre", _near_store(0.0110, 0.0055)),  # ~1.4 km north
    ("88 Harbour Road, Unit 5, Docklands", _near_store(-0.0057, 0.0274)),  # ~2.1 km east
]

# category: [(name, unit, price, stock, description)]
CATALOG = {
    "Fruits & Vegetables": [
        ("Bananas", "6 pcs", "1.49", 120, "Ripe Cavendish bananas."),
        ("Gala Apples", "1 kg", "2.99", 80, "Crisp and sweet."),
        ("Hass Avocados", "2 pcs", "2.79", 40, "Ready to eat in a day or two."),
        ("Tomatoes on the Vine", "500 g", "1.99", 60, "Juicy vine-ripened tomatoes."),
        ("Baby Spinach", "200 g", "1.79", 35, "Washed and ready to eat."),
        ("Red Onions", "1 kg", "1.29", 90, "Mild and sweet."),
        ("Lemons", "4 pcs", "1.59", 70, "Unwaxed."),
        ("Carrots", "1 kg", "0.99", 100, "Sweet and crunchy."),
    ],
    "Dairy & Eggs": [
        ("Whole Milk", "1 l", "1.19", 150, "Fresh pasteurised whole milk."),
        ("Free-Range Eggs", "12 pcs", "3.49", 60, "Large free-range eggs."),
        ("Greek Yogurt", "500 g", "2.49", 45, "Thick and creamy, 10% fat."),
        ("Salted Butter", "250 g", "2.29", 50, "Churned from fresh cream."),
        ("Mature Cheddar", "400 g", "3.99", 30, "Aged 12 months."),
        ("Oat Milk", "1 l", "1.89", 55, "Barista edition."),
        ("Mozzarella", "125 g", "1.09", 40, "Fior di latte."),
    ],
    "Bakery": [
        ("Sourdough Loaf", "800 g", "3.29", 25, "Baked this morning."),
        ("Butter Croissants", "4 pcs", "2.99", 30, "Flaky, all-butter."),
        ("Wholemeal Bread", "800 g", "1.49", 40, "Sliced."),
        ("Bagels", "5 pcs", "1.99", 35, "Plain New York style."),
        ("Tortilla Wraps", "8 pcs", "1.69", 45, "Soft flour tortillas."),
    ],
    "Snacks": [
        ("Sea Salt Crisps", "150 g", "1.49", 80, "Kettle cooked."),
        ("Dark Chocolate 70%", "100 g", "1.99", 60, "Single-origin cocoa."),
        ("Salted Peanuts", "200 g", "1.29", 70, "Roasted."),
        ("Granola Bars", "5 pcs", "2.49", 50, "Oats and honey."),
        ("Tortilla Chips", "200 g", "1.79", 55, "Lightly salted."),
        ("Popcorn", "100 g", "1.19", 0, "Sweet and salty. (Out of stock in the demo.)"),
    ],
    "Beverages": [
        ("Sparkling Water", "6 x 500 ml", "2.99", 90, "Naturally carbonated."),
        ("Orange Juice", "1 l", "2.49", 50, "Not from concentrate."),
        ("Cold Brew Coffee", "250 ml", "2.79", 40, "Smooth and strong."),
        ("Green Tea", "20 bags", "2.19", 35, "Japanese sencha."),
        ("Cola", "1.5 l", "1.89", 60, "Classic."),
        ("Kombucha", "330 ml", "2.59", 25, "Ginger and lemon."),
    ],
    "Pantry": [
        ("Basmati Rice", "1 kg", "2.89", 60, "Aged long-grain rice."),
        ("Spaghetti", "500 g", "0.99", 90, "Bronze-cut durum wheat."),
        ("Extra Virgin Olive Oil", "500 ml", "5.49", 30, "Cold pressed."),
        ("Chopped Tomatoes", "400 g", "0.79", 100, "Italian."),
        ("Red Lentils", "500 g", "1.49", 45, "Split."),
        ("Peanut Butter", "340 g", "2.69", 40, "Crunchy, no palm oil."),
    ],
    "Household": [
        ("Dish Soap", "500 ml", "1.99", 40, "Lemon scented."),
        ("Paper Towels", "2 rolls", "2.49", 35, "Extra absorbent."),
        ("Laundry Liquid", "1.5 l", "6.99", 20, "40 washes."),
        ("Bin Bags", "20 pcs", "2.29", 30, "50 l, drawstring."),
    ],
}


# Each seeded product's picture: Fluent Emoji (MIT) rendered to WebP by
# demo_pictures/render.sh; pictures.json maps a product's name to its file.
PICTURES_DIR = Path(__file__).resolve().parent / "demo_pictures"


def seed_demo(*, reset: bool = False, out=None) -> dict:
    say = out or (lambda _msg: None)
    # One transaction on either store: a reset that fails wipes nothing.
    with atomic():
        if reset:
            wipe_demo()
        users = _seed_users()
        created_products = _seed_catalog()
    # Files are not part of a transaction: written once the catalog is stored.
    pictures = _seed_pictures()
    if reset:
        say("Wiped orders, catalog and demo users.")
    orders = _seed_orders(users)
    summary = {"products_created": created_products, "pictures_added": pictures, "orders_created": orders}
    say(
        f"Catalog: {Category.objects.count()} categories, {Product.objects.count()} products "
        f"({created_products} new, {pictures} pictures added). Demo orders created: {orders}."
    )
    return summary


def wipe_demo() -> None:
    OrderEvent.objects.all().delete()
    OrderItem.objects.all().delete()
    Order.objects.all().delete()
    # Their pictures' files go once the wipe is stored (django-cleanup, orders/images.py).
    Product.objects.all().delete()
    Category.objects.all().delete()
    # By primary key, one collection per delete: MongoDB refuses a delete that joins.
    demo_users = list(
        User.objects.filter(username__in=[username for username, *_ in DEMO_USERS]).values_list("pk", flat=True)
    )
    PartnerProfile.objects.filter(user_id__in=demo_users).delete()
    User.objects.filter(pk__in=demo_users).delete()


def _seed_users() -> dict:
    users = {}
    for username, role, name, phone in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            first, _, last = name.partition(" ")
            if role == "admin":
                user = User.objects.create_superuser(
                    username=username, email=f"{username}@example.com", password=DEMO_PASSWORD
                )
                User.objects.filter(pk=user.pk).update(first_name=first, last_name=last, phone=phone)
            else:
                user = register_user(
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    email=f"{username}@example.com",
                    phone=phone,
                    first_name=first,
                    last_name=last,
                    validate=False,
                )
        users[username] = user
    return users


def _seed_catalog() -> int:
    created = 0
    for position, (category_name, products) in enumerate(CATALOG.items()):
        category, _ = Category.objects.get_or_create(
            slug=slugify(category_name), defaults={"name": category_name, "position": position}
        )
        for name, unit, price, stock, description in products:
            _, was_created = Product.objects.get_or_create(
                slug=slugify(name),
                defaults={
                    "category": category,
                    "name": name,
                    "unit": unit,
                    "price": Decimal(price),
                    "stock": stock,
                    "description": description,
                },
            )
            created += was_created
    return created


def _seed_pictures() -> int:
    """Give each seeded product without a picture its demo picture, saved through the
    same ImageField as an upload in the admin (storage, name and renditions)."""
    pictures = json.loads((PICTURES_DIR / "pictures.json").read_text())
    added = 0
    for product in Product.objects.filter(image="", name__in=list(pictures)):
        with (PICTURES_DIR / f"{pictures[product.name]}.webp").open("rb") as picture:
            product.image.save(f"{product.slug}.webp", File(picture), save=False)
        product.save(update_fields=["image"])
        added += 1
    return added


# Past orders, made through the real services so their timelines are real, then dated
# back so the dashboard has something true to show: medians, lateness, the chart.
# key, customer, [(slug, qty)], home, placed (minutes ago), rider, outcome,
# minutes to accept, minutes to deliver (from placing)
HOME_A, HOME_B = DEMO_HOMES  # (address, (latitude, longitude))
SEED_ORDERS = [
    ("1", "alice", [("bananas", 2), ("whole-milk", 1), ("sourdough-loaf", 1)], HOME_A, 165, "ravi", "delivered", 2, 11),
    ("2", "bob", [("cola", 2)], HOME_B, 150, None, "cancelled", 0, 0),
    ("3", "bob", [("basmati-rice", 1), ("red-lentils", 2)], HOME_B, 140, "priya", "delivered", 1, 9),
    ("6", "alice", [("gala-apples", 1), ("oat-milk", 2)], HOME_A, 118, "noor", "delivered", 3, 14),
    ("7", "bob", [("sparkling-water", 1), ("sea-salt-crisps", 2)], HOME_B, 95, "ravi", "delivered", 1, 8),
    ("8", "alice", [("butter-croissants", 1), ("orange-juice", 1)], HOME_A, 74, "priya", "delivered", 2, 10),
    ("9", "bob", [("spaghetti", 2), ("chopped-tomatoes", 2)], HOME_B, 52, "noor", "delivered", 4, 13),
    ("10", "alice", [("hass-avocados", 1), ("lemons", 1)], HOME_A, 31, "ravi", "delivered", 1, 9),
    ("5", "bob", [("free-range-eggs", 1), ("salted-butter", 1)], HOME_B, 4, "noor", "picked_up", 1, 0),
    ("4", "alice", [("greek-yogurt", 1), ("granola-bars", 1)], HOME_A, 2, None, "placed", 0, 0),
]


def _seed_orders(users) -> int:
    """``SEED_ORDERS``, only when the demo customers have no orders yet. Afterwards ravi
    is online and free, priya and sam offline and free (one tap on "Go online"), and noor
    online in the middle of a delivery: two partners can race for the next order at once."""
    if Order.objects.filter(customer__in=[users["alice"], users["bob"]]).exists():
        return 0
    by_slug = {p.slug: p for p in Product.objects.all()}
    now = timezone.now()
    for key, customer, items, (
        address,
        (latitude, longitude),
    ), ago, rider, outcome, to_accept, to_deliver in SEED_ORDERS:
        lines = [(by_slug[slug].pk, qty) for slug, qty in items]
        order, _ = place_order(
            customer=users[customer],
            lines=lines,
            address=address,
            idempotency_key=f"seed-{key}",
            latitude=latitude,
            longitude=longitude,
        )
        if outcome == "cancelled":
            cancel_order(actor=users[customer], order_ref=order.ref, reason="Ordered by mistake.")
        elif rider:
            partner = users[rider]
            dispatch.set_availability(partner=partner, online=True)
            dispatch.accept_order(partner=partner, order_ref=order.ref)
            steps = ["picked_up"] if outcome == "picked_up" else ["picked_up", "out_for_delivery", "delivered"]
            for step in steps:
                code = Order.objects.get(pk=order.pk).delivery_code if step == "delivered" else ""
                dispatch.advance_order(partner=partner, order_ref=order.ref, to_status=step, code=code)
            dispatch.set_availability(partner=partner, online=False)
        _date_back(order, placed=now - timedelta(minutes=ago), to_accept=to_accept, to_deliver=to_deliver)
    for partner in ("ravi", "noor"):
        dispatch.set_availability(partner=users[partner], online=True)
    return len(SEED_ORDERS)


def _date_back(order, *, placed, to_accept, to_deliver):
    """Moves a seeded order's timestamps and its timeline back in time, keeping their order."""
    accepted = placed + timedelta(minutes=to_accept, seconds=20)
    delivered = placed + timedelta(minutes=to_deliver, seconds=40)
    when = {
        Order.Status.PLACED: placed,
        Order.Status.ACCEPTED: accepted,
        Order.Status.PICKED_UP: accepted + timedelta(minutes=2),
        Order.Status.OUT_FOR_DELIVERY: accepted + timedelta(minutes=3),
        Order.Status.DELIVERED: delivered,
        Order.Status.CANCELLED: placed + timedelta(minutes=1),
    }
    stored = Order.objects.get(pk=order.pk)
    changes = {"created_at": placed}
    for status, field in STATUS_TIMESTAMP.items():
        if getattr(stored, field) is not None:
            changes[field] = when[status]
    with atomic():
        Order.objects.filter(pk=order.pk).update(**changes)
        for event in OrderEvent.objects.filter(order_id=order.pk).only("pk", "status"):
            OrderEvent.objects.filter(pk=event.pk).update(at=when[event.status])
