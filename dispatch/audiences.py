"""Who receives which live events: the Channels groups, and which of them a user joins.

| group | who | sees |
|---|---|---|
| ``partners`` | online partners | orders appear on and leave the board; public fields only (the area) |
| ``partner.<id>`` | one partner | their own assigned orders, with contact details; their availability and capacity |
| ``customer.<id>`` | one customer | their own orders, with the delivery code; their rider's position (active orders) |
| ``admins`` | admins | everything, partners' positions included (coalesced per socket) |
| ``user.<id>`` | every socket of one user | only ``user.revoke``: close, the right to it is gone (accounts.signals) |

Group names are built only here, from ids the server holds (never from client input).
"""

from accounts.models import User
from accounts.selectors import is_partner_online

PARTNERS_GROUP = "partners"
ADMINS_GROUP = "admins"

# Event names of the messages that are not about one order (orders.signals names those).
PARTNER_UPDATE = "partner_update"
RIDER_LOCATION = "rider_location"
DASHBOARD_UPDATE = "dashboard_update"  # the admins' counts, partners, timing and chart (HTML only)
SNAPSHOT = "snapshot"

# The consumer method each layer message is handled by (Channels: "order.event" -> order_event).
ORDER_MESSAGE = "order.event"
PARTNER_MESSAGE = "partner.event"
REVOKE_MESSAGE = "user.revoke"
LOCATION_MESSAGE = "rider.location"
DASHBOARD_MESSAGE = "dashboard.event"


def _id(user_or_id) -> str:
    # ObjectIds and ints both become safe group-name characters.
    return str(getattr(user_or_id, "pk", user_or_id))


def customer_group(user_or_id) -> str:
    return f"customer.{_id(user_or_id)}"


def partner_group(user_or_id) -> str:
    return f"partner.{_id(user_or_id)}"


def user_group(user_or_id) -> str:
    return f"user.{_id(user_or_id)}"


def user_id(user_or_id) -> str:
    """A user's id as it travels in messages (``partner_id``)."""
    return _id(user_or_id)


def groups_for(user) -> list[str]:
    """The groups ``user``'s sockets join: their role's, plus the board while a partner is
    online, plus their own ``user.<id>`` (through which their sockets are closed)."""
    if user.role == User.Role.CUSTOMER:
        groups = [customer_group(user)]
    elif user.role == User.Role.PARTNER:
        groups = [partner_group(user)] + ([PARTNERS_GROUP] if is_partner_online(user) else [])
    elif user.role == User.Role.ADMIN:
        groups = [ADMINS_GROUP]
    else:
        return []
    return [*groups, user_group(user)]
