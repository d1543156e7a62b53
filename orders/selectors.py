"""Reads of the order domain that pages, the API, the admin and the live updates share.

Selectors only read: they never import a service. Every list that pages or snapshots
has a unique tie-break after its time (``pk``), so equal timestamps never reorder it.
"""

from django.db.models import Prefetch, Q

from accounts.models import User
from accounts.selectors import is_partner_online
from orders.errors import OrderNotFound
from orders.models import ACTIVE_STATUSES, FINAL_STATUSES, Category, Order, OrderEvent, Product
from quickcommerce.db import as_stored

NEWEST_FIRST = ("-created_at", "-pk")
OLDEST_FIRST = ("created_at", "pk")
# An order's people, in the same query: the partner's profile holds their last position (the ETA).
WITH_PARTIES = ("customer", "partner", "partner__partner_profile")


def orders_visible_to(user):
    """Customers: their own orders. Partners: the ones assigned to them, and, while
    online, the unassigned placed orders (only online partners see the board). Admins:
    all. Anyone else: none."""
    orders = Order.objects.select_related(*WITH_PARTIES)
    if not user or not user.is_authenticated:
        return orders.none()
    if user.role == User.Role.ADMIN:
        return orders
    if user.role == User.Role.CUSTOMER:
        return orders.filter(customer=user)
    if user.role == User.Role.PARTNER:
        if is_partner_online(user):
            return orders.filter(Q(partner=user) | Q(status=Order.Status.PLACED, partner__isnull=True))
        return orders.filter(partner=user)
    return orders.none()


def order_for(user, ref: str) -> Order:
    """The order ``ref`` if ``user`` may see it, else OrderNotFound, so nobody learns
    that someone else's order exists."""
    order = orders_visible_to(user).filter(ref=ref).first()
    if order is None:
        raise OrderNotFound()
    return order


def order_list_for(user):
    """The order lists: customers their own, partners those assigned to them, admins all; newest first."""
    orders = orders_visible_to(user)
    if user.role == User.Role.PARTNER:
        orders = orders.filter(partner=user)
    return orders.order_by(*NEWEST_FIRST)


def with_details(orders):
    """Items and the timeline in two queries, whatever the number of orders."""
    return orders.prefetch_related(
        "items", Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("at", "version"))
    )


def order_with_details(pk) -> Order | None:
    """One order as every screen shows it: customer, partner, items and timeline."""
    return with_details(Order.objects.select_related(*WITH_PARTIES)).filter(pk=pk).first()


def order_as_written(order: Order, *, items, events) -> Order:
    """``order`` with its details as ``order_with_details`` would read them right after
    the commit of the transaction that wrote them all (a new order: ``place_order``),
    without reading: ``items`` and ``events`` in their read order, the parties as
    assigned. Timestamps are cut to what the store keeps (``quickcommerce.db.as_stored``)."""
    for obj, names in ((order, ("created_at", "updated_at")), *((event, ("at",)) for event in events)):
        for name in names:
            setattr(obj, name, as_stored(getattr(obj, name)))
    order._prefetched_objects_cache = {
        "items": _known(order.items, sorted(items, key=lambda item: item.pk)),
        "events": _known(order.events, sorted(events, key=lambda event: (event.at, event.version))),
    }
    return order


def _known(manager, objects):
    """A queryset of ``manager`` already holding ``objects``, as a prefetch leaves it."""
    queryset = manager.get_queryset()
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    return queryset


def available_orders():
    """Placed orders nobody has taken yet, oldest first (first come, first served)."""
    return (
        Order.objects.filter(status=Order.Status.PLACED, partner__isnull=True)
        .select_related("customer")
        .order_by(*OLDEST_FIRST)
    )


def active_orders_of(partner):
    """The partner's orders between accepting and delivering."""
    return Order.objects.filter(partner=partner, status__in=ACTIVE_STATUSES).select_related("customer")


def open_orders():
    """Orders not yet delivered or cancelled, newest first."""
    return Order.objects.exclude(status__in=FINAL_STATUSES).select_related(*WITH_PARTIES).order_by(*NEWEST_FIRST)


def catalog_products(*, search="", category_slug=""):
    products = Product.objects.filter(active=True, category__isnull=False).select_related("category")
    if category_slug:
        products = products.filter(category__slug=category_slug)
    if search:
        products = products.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return products.order_by("name", "pk")


def product_for_page(slug):
    """An active product by slug, with its category (one query), or None."""
    return Product.objects.filter(slug=slug, active=True, category__isnull=False).select_related("category").first()


RELATED_COUNT = 4


def related_products(product, count=RELATED_COUNT):
    """Other products of ``product``'s category, those in stock first (one query)."""
    others = catalog_products(category_slug=product.category.slug).exclude(pk=product.pk)
    return sorted(others[: count * 3], key=lambda other: not other.in_stock)[:count]


def categories():
    return Category.objects.all()
