"""The rider's position and ETA for the order pages: ``{% rider_of order as rider %}``."""

from django import template

from orders.geo import order_eta, rider_of

register = template.Library()


@register.simple_tag
def rider_position(order):
    """``{"lat", "lng", "at", "eta"}`` while the order is active and its rider has shared
    a position; None otherwise (orders.geo)."""
    rider = rider_of(order)
    if rider is None:
        return None
    return {**rider, "eta": order_eta(order, rider)}
