"""What a socket gets first, on every (re)connect: the current state of the user's screen,
so a client that was away is never stale."""

from accounts.models import User
from accounts.selectors import is_partner_online
from dispatch import fragments, payloads
from orders.selectors import active_orders_of, available_orders, open_orders, order_list_for, with_details

SNAPSHOT_LIMIT = 50


def snapshot_for(user, *, as_json: bool) -> str | list[str]:
    """One message (or, for HTML that cannot share a frame, a few)."""
    if user.role == User.Role.PARTNER:
        if not as_json:
            return fragments.board_html(user)
        available = list(with_details(available_orders())[:SNAPSHOT_LIMIT]) if is_partner_online(user) else []
        mine = with_details(active_orders_of(user))
        return payloads.snapshot_text([(o, None) for o in available] + [(o, user) for o in mine])
    if user.role == User.Role.CUSTOMER:
        mine = list(with_details(order_list_for(user))[:SNAPSHOT_LIMIT])
        if as_json:
            return payloads.snapshot_text([(o, user) for o in mine])
        return fragments.customer_snapshot_html(mine)
    if user.role == User.Role.ADMIN:
        if not as_json:
            return fragments.admin_snapshot_html()
        return payloads.snapshot_text([(o, user) for o in with_details(open_orders())[: SNAPSHOT_LIMIT * 4]])
    return ""
