"""Named errors of dispatch (accepting and delivering orders)."""

from quickcommerce.errors import Conflict, DomainError


class OrderAlreadyTaken(Conflict):
    code = "already_taken"
    default_message = "Already taken by another partner."


class PartnerOffline(Conflict):
    code = "partner_offline"
    default_message = "You are offline. Go online to accept orders."


class PartnerAtCapacity(Conflict):
    code = "partner_at_capacity"


class WrongDeliveryCode(DomainError):
    code = "wrong_delivery_code"


class DeliveryCodeLocked(Conflict):
    code = "delivery_code_locked"
    default_message = "Too many wrong codes: the delivery code is locked. Ask support to reset it."


class NotOnDelivery(Conflict):
    """A position from a partner who is offline or has no active order: never stored."""

    code = "not_on_delivery"
    default_message = "Your location is only shared while you are online with an active order."
