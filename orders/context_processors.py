from django.conf import settings

from accounts.models import User
from accounts.permissions import has_role
from orders.cart import Cart


def cart(request):
    """The nav's cart badge count, on every page (customers only; no query)."""
    if not has_role(getattr(request, "user", None), User.Role.CUSTOMER):
        return {"cart_count": 0}
    return {"cart_count": Cart(request.session).count}


def delivery_promise(request):
    """The header's promise: "Delivery in about N min" (settings.DELIVERY_PROMISE_MINUTES)."""
    return {"delivery_promise_minutes": settings.DELIVERY_PROMISE_MINUTES}
