"""The HTML the live updates push: hx-swap-oob fragments rendered from the same
partials the pages use, once per audience (never once per socket).

| fragment | audience | partial(s) |
|---|---|---|
| ``partners_board_html`` | every online partner | ``dispatch/board.html#available-card`` (or a delete stub) |
| ``partner_html`` | one partner | ``#active-orders`` and that partner's own ``#capacity-note`` |
| ``customer_html`` | one customer | ``orders/detail.html#order-status``, ``orders/list.html#order-row`` |
| ``admin_event_html`` | admins | ``dashboard.html#order-row``, ``#counts``, ``#partners``, ``#timing``, ``#chart`` |

The dashboard's orders "table" is an ARIA table of ``<div>`` rows, not ``<tr>``: htmx's
ws extension parses a message inside a ``<template>`` and swaps its top-level elements,
and the HTML parser drops a ``<tr>``/``<tbody>`` that is not first in such a message
(and a first one breaks every ``<table>``/``<form>`` after it). Div rows can travel in
one message with the counts, partners and timing blocks. The customer's list row is a
``<tr>``, so it travels in a frame of its own (``customer_html`` returns two). It goes
with every change of an order but its first: no page holds a new order's status section
or row yet (``publish.order_messages``).
"""

import re

from django.template.loader import render_to_string
from django.utils import timezone

from dispatch import selectors
from dispatch.chart import orders_chart
from orders.geo import map_config
from orders.models import Order
from orders.signals import NEW_ORDER

BOARD = "dispatch/board.html"
DASHBOARD = "dispatch/dashboard.html"
_LIVE_BLOCKS = ("counts", "partners", "timing")
_FIRST_TAG = re.compile(r"^\s*<([a-zA-Z][a-zA-Z0-9-]*)")


def render_partial(name: str, context: dict) -> str:
    return render_to_string(name, context).strip()


def oob(html: str, swap: str = "true") -> str:
    """Mark a partial's root element for an out-of-band swap (by its id)."""
    match = _FIRST_TAG.match(html)
    if not match:
        return html
    end = match.end()
    return f'{html[:end]} hx-swap-oob="{swap}"{html[end:]}'


def _delete_stub(element_id: str, order) -> str:
    """Remove ``element_id``; carries the order's version for the page's stale-event check."""
    return f'<div id="{element_id}" hx-swap-oob="delete" data-ref="{order.ref}" data-version="{order.version}"></div>'


# --- partners ---------------------------------------------------------------------------


def partners_board_html(order) -> str:
    """What every partner's board does about this order: show the card or drop it. The
    card carries an Accept button; a partner at capacity has a visible #capacity-note,
    which hides it (static/css/dispatch.css) until their own state says otherwise."""
    if order.status == Order.Status.PLACED and order.partner_id is None:
        card = render_partial(f"{BOARD}#available-card", {"order": order, "can_accept": True})
        return f'<div hx-swap-oob="beforeend:#available-orders">{card}</div>'
    return _delete_stub(f"available-{order.ref}", order)


def partner_html(partner) -> str:
    """One partner's own board state: their active orders and, while online, whether
    they can accept more (their capacity note)."""
    board = selectors.board_context(partner, with_available=False)
    html = oob(render_partial(f"{BOARD}#active-orders", {**board, "user": partner}))
    if board["online"]:
        html += oob(render_partial(f"{BOARD}#capacity-note", board))
    return html


def board_html(partner) -> str:
    """The whole live part of a partner's board (the snapshot)."""
    board = selectors.board_context(partner)
    html = oob(render_partial(f"{BOARD}#active-orders", {**board, "user": partner}))
    if board["online"]:
        html += oob(render_partial(f"{BOARD}#available-list", {**board, "user": partner}))
    return html


# --- customers --------------------------------------------------------------------------


def customer_status_html(order) -> str:
    return oob(render_partial("orders/detail.html#order-status", {"order": order, "user": order.customer}))


def customer_row_html(order) -> str:
    return oob(render_partial("orders/list.html#order-row", {"order": order, "user": order.customer}))


def rider_html(order, rider, eta) -> str:
    """The rider's position and ETA on the customer's order page (its map follows it)."""
    return oob(render_partial("orders/detail.html#rider", {"order": order, "rider": rider, "eta": eta}))


def customer_html(order) -> list[str]:
    """Two websocket messages: the status section, and the list row (a <tr>) on its own."""
    return [customer_status_html(order), customer_row_html(order)]


def customer_snapshot_html(orders) -> list[str]:
    """Sections and table rows in separate frames (see ``customer_html``)."""
    return ["".join(customer_status_html(o) for o in orders), "".join(customer_row_html(o) for o in orders)]


# --- admins (the dashboard) -------------------------------------------------------------


def _partners_context(now):
    partners = selectors.partners_overview(now=now)
    return {"partners": partners, "partners_online": sum(1 for partner in partners if partner.online)}


def dashboard_context(*, status_filter=selectors.ALL, now=None) -> dict:
    """Everything dispatch/dashboard.html shows."""
    now = now or timezone.now()
    counts, timing = selectors.live_numbers(now=now)
    return {
        "counts": counts,
        "timing": timing,
        **_partners_context(now),
        "orders": selectors.dashboard_orders(status_filter, now=now),
        "orders_shown": selectors.ORDERS_SHOWN,
        "status_filter": status_filter,
        "filters": selectors.filter_choices(),
        "chart": orders_chart(now=now),
        "promise": selectors.promise_minutes(),
        "map": map_config(),
    }


def dashboard_refresh_html(context) -> str:
    """The htmx answer of the dashboard (filter links, the one-minute refresh): the
    orders panel, then the live blocks and the chart out of band."""
    html = render_partial(f"{DASHBOARD}#orders-panel", context)
    html += "".join(oob(render_partial(f"{DASHBOARD}#{name}", context)) for name in _LIVE_BLOCKS)
    return html + oob(render_partial(f"{DASHBOARD}#chart", context))


def _live_blocks_html(now) -> str:
    counts, timing = selectors.live_numbers(now=now)
    context = {"counts": counts, "timing": timing, **_partners_context(now)}
    return "".join(oob(render_partial(f"{DASHBOARD}#{name}", context)) for name in _LIVE_BLOCKS)


def admin_event_html(event, order, *, live_blocks=True) -> str:
    """What every admin's dashboard does about ``event`` on ``order``: the order's row
    (replaced in place; for a new order, put at the top of ``#dash-orders``), then the
    counts, partners and timing blocks (``live_blocks=False``: a later message of the
    same batch carries them). ``order`` comes with ``customer`` and ``partner``."""
    now = timezone.now()
    selectors.decorate(order, now)
    row = render_partial(f"{DASHBOARD}#order-row", {"order": order})
    if event == NEW_ORDER:
        # Delete first, then prepend: a row already shown (a snapshot or refresh raced this
        # event) is not shown twice. The stub carries the version, so the page's
        # stale-event check (static/js/app.js) sees this message's order first.
        html = (
            _delete_stub(f"dash-order-{order.ref}", order) + f'<div hx-swap-oob="afterbegin:#dash-orders">{row}</div>'
        )
    else:
        html = oob(row)
    return html + admin_blocks_html(now) if live_blocks else html


def admin_blocks_html(now=None) -> str:
    """The dashboard's counts, partners, timing and chart blocks (with an order's row, or
    on their own: the publisher's coalesced update, ``dispatch.publish.ADMIN_BLOCKS_SECONDS``)."""
    now = now or timezone.now()
    return _live_blocks_html(now) + _chart_html(now)


def _chart_html(now) -> str:
    return oob(render_partial(f"{DASHBOARD}#chart", {"chart": orders_chart(now=now)}))


def admin_rider_html(partner_id, name, rider, refs) -> str:
    """One partner's marker on the dashboard map: replaced if shown, else added."""
    context = {"partner_id": partner_id, "name": name, "rider": rider, "refs": refs}
    marker = render_partial(f"{DASHBOARD}#map-partner", context)
    return (
        f'<div id="map-partner-{partner_id}" hx-swap-oob="delete"></div>'
        f'<div hx-swap-oob="beforeend:#map-partners">{marker}</div>'
    )


def admin_partner_html() -> str:
    """The partners block, after a partner's availability changed."""
    return oob(render_partial(f"{DASHBOARD}#partners", _partners_context(timezone.now())))


def admin_snapshot_html() -> str:
    """Everything live on the dashboard, sent on every (re)connect: counts, partners,
    timing, chart, and the unfiltered orders table's rows. (A page filtered by status
    refetches its own rows when the socket opens: hx-trigger ``htmx:wsOpen``.)"""
    now = timezone.now()
    rows = render_partial(f"{DASHBOARD}#order-rows", {"orders": selectors.dashboard_orders(selectors.ALL, now=now)})
    html = _live_blocks_html(now)
    html += f"<div hx-swap-oob=\"innerHTML:#dash-orders[data-filter='{selectors.ALL}']\">{rows}</div>"
    return html + _chart_html(now)
