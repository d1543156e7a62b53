def cart(request):
    """The cart badge's count, on every page."""
    from orders.cart import Cart

    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_customer):
        return {"cart_count": 0}
    return {"cart_count": Cart(request.session).count}
