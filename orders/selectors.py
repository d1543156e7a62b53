"""Reads that pages, the API and the consumer share."""

from django.db.models import Prefetch, Q

from accounts.models import PartnerProfile, User
from orders.models import ACTIVE_STATUSES, Category, Order, OrderEvent, Product


def orders_visible_to(user):
    """Customers: their own orders. Partners: the ones assigned to them, and, while
    online, the unassigned placed orders (only online partners see the board). Admins:
    all. Anyone else: none."""
    orders = Order.objects.select_related("customer", "partner")
    if not user or not user.is_authenticated:
        return orders.none()
    if user.role == User.Role.ADMIN:
        return orders
    if user.role == User.Role.CUSTOMER:
        return orders.filter(customer=user)
    if user.role == User.Role.PARTNER:
        if PartnerProfile.objects.filter(user=user, online=True).exists():
            return orders.filter(Q(partner=user) | Q(status=Order.Status.PLACED, partner__isnull=True))
        return orders.filter(partner=user)
    return orders.none()


def order_list_for(user):
    """The order lists (API): customers their own, partners those assigned to them, admins all."""
    orders = orders_visible_to(user)
    if user.role == User.Role.PARTNER:
        orders = orders.filter(partner=user)
    return orders


def with_details(orders):
    """Items and the timeline in two queries, whatever the number of orders."""
    return orders.prefetch_related(
        "items", Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("at", "version"))
    )


def available_orders():
    """Placed orders nobody has taken yet, oldest first (first come, first served)."""
    return (
        Order.objects.filter(status=Order.Status.PLACED, partner__isnull=True)
        .select_related("customer")
        .order_by("created_at", "pk")
    )


def active_orders_of(partner):
    return Order.objects.filter(partner=partner, status__in=ACTIVE_STATUSES).select_related("customer")


def catalog_products(*, search="", category_slug=""):
    products = Product.objects.filter(active=True, category__isnull=False).select_related("category")
    if category_slug:
        products = products.filter(category__slug=category_slug)
    if search:
        products = products.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return products.order_by("name")


def categories():
    return Category.objects.all()
