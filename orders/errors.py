"""Named errors of the order domain (HTTP status and message travel with them)."""

from quickcommerce.errors import Conflict, DomainError, Forbidden, NotFound


class InvalidOrder(DomainError):
    code = "invalid_order"
    default_message = "That order is not valid."


class OutOfStock(Conflict):
    code = "out_of_stock"

    def __init__(self, product, available):
        self.product = product
        self.available = available
        if available <= 0:
            message = f"Sorry, {product.name} is out of stock."
        else:
            message = f"Not enough {product.name} in stock: only {available} left."
        super().__init__(message)


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "No such order."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "The order cannot move to that status now."


class OrderChanged(Conflict):
    code = "order_changed"
    default_message = "The order changed meanwhile; reload and try again."


class NotAllowed(Forbidden):
    code = "not_allowed"


class StockChanged(Conflict):
    code = "stock_changed"

    def __init__(self, product, current, shown):
        self.product = product
        self.current = current
        super().__init__(f"Orders changed the stock meanwhile: it is {current} now, not {shown}. Check and save again.")


class BadPosition(DomainError):
    code = "bad_position"
    default_message = "A position needs a latitude from -90 to 90 and a longitude from -180 to 180."


class OutsideServiceArea(DomainError):
    code = "outside_service_area"

    def __init__(self, distance_km, radius_km):
        self.distance_km = distance_km
        super().__init__(
            f"Sorry, we don't deliver there yet: that point is {distance_km:.1f} km from our store; "
            f"we deliver within {radius_km:g} km."
        )
