"""The admins' live operations dashboard: reads, the page, and the fragments pushed live.

Reads stay inside what SQLite and MongoDB both support: plain filters, ``select_related``,
``values_list`` and a grouped ``Count``; medians and bucketing happen in Python. Every read is a
fixed number of queries, whatever the number of orders or partners shown.

One template, ``dispatch/dashboard.html``; its partials serve the page, htmx answers
(filter links, the one-minute refresh) and websocket pushes:

| partial | root element | pushed by |
|---|---|---|
| ``counts`` | ``#dash-counts`` | every order event (``admin_event_html``), snapshot |
| ``order-row`` | ``#dash-order-<ref>`` in ``#dash-orders`` | every order event, snapshot (all rows) |
| ``partners`` | ``#dash-partners`` | order events, ``admin_partner_html``, snapshot |
| ``timing`` | ``#dash-timing`` | every order event, snapshot |
| ``chart`` | ``#dash-chart`` | snapshot, the one-minute refresh |

The orders "table" is an ARIA table of ``<div>`` rows, not ``<tr>``: htmx's ws
extension parses a message inside a ``<template>`` and swaps its top-level elements,
and the HTML parser drops a ``<tr>``/``<tbody>`` that is not first in such a message
(and a first one breaks every ``<table>``/``<form>`` after it). Div rows can travel in
one message with the counts, partners and timing blocks.
"""

import statistics
from collections import Counter, defaultdict
from datetime import UTC, timedelta

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import PartnerProfile, User
from accounts.permissions import role_required
from orders.models import ACTIVE_STATUSES, FINAL_STATUSES, Order

TEMPLATE = "dispatch/dashboard.html"
S = Order.Status
OPEN_STATUSES = tuple(status for status in S if status not in FINAL_STATUSES)
ORDERS_SHOWN = 50
ALL = "all"
OPEN = "open"

CHART_BUCKET = timedelta(minutes=5)
CHART_BUCKETS = 36  # 3 hours
CHART_LEFT, CHART_TOP, CHART_SLOT, CHART_BAR, CHART_HEIGHT = 34, 10, 18, 13, 150


def filter_choices():
    return [(ALL, "All"), (OPEN, "Open"), *((status.value, status.label) for status in S)]


def clean_filter(value) -> str:
    """A status filter from the query string; anything unknown means "all" (never a 500)."""
    return value if value in {key for key, _ in filter_choices()} else ALL


def promise_minutes() -> int:
    return settings.DELIVERY_PROMISE_MINUTES


def start_of_day(now):
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def _minutes(delta) -> float:
    return delta.total_seconds() / 60


def _median(values):
    return round(statistics.median(values), 1) if values else None


# --- selectors ---------------------------------------------------------------------------


def decorate(order, now, promise=None):
    """Timing attributes the row shows: minutes so far (open) or taken (final), late."""
    promise = promise_minutes() if promise is None else promise
    end = order.delivered_at or order.cancelled_at
    if order.is_open or end is None:
        end = now
    order.dash_minutes = max(0, int(_minutes(end - order.created_at)))
    order.dash_due = order.created_at + timedelta(minutes=promise)
    order.dash_late = order.is_open and now > order.dash_due
    order.dash_over = order.status == S.DELIVERED and order.delivered_at > order.dash_due
    return order


def dashboard_orders(status_filter=ALL, *, now=None, limit=ORDERS_SHOWN):
    """Newest first, capped; one query."""
    now = now or timezone.now()
    orders = Order.objects.select_related("customer", "partner").order_by("-created_at")
    if status_filter == OPEN:
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif status_filter != ALL:
        orders = orders.filter(status=status_filter)
    promise = promise_minutes()
    return [decorate(order, now, promise) for order in orders[:limit]]


def live_numbers(*, now=None):
    """Counts per status and the timing block; four queries, none of which sorts,
    and only the medians read one row per order (of today's accepted/delivered)."""
    now = now or timezone.now()
    promise = timedelta(minutes=promise_minutes())
    day = Order.objects.filter(created_at__gte=start_of_day(now)).order_by()
    today = Counter(dict(day.values_list("status").annotate(n=Count("pk"))))
    open_rows = list(Order.objects.filter(status__in=OPEN_STATUSES).order_by().values_list("status", "created_at"))
    accepted_pairs = list(day.filter(accepted_at__isnull=False).values_list("created_at", "accepted_at"))
    delivered_pairs = list(
        day.filter(status=S.DELIVERED, delivered_at__isnull=False).values_list("created_at", "delivered_at")
    )

    open_now = Counter(status for status, _ in open_rows)
    late = sum(1 for _, created_at in open_rows if now - created_at > promise)
    statuses = [
        {
            "status": status.value,
            "label": status.label,
            "today": today[status],
            "now": open_now[status] if status in OPEN_STATUSES else None,
        }
        for status in S
    ]
    counts = {"statuses": statuses, "today_total": sum(today.values()), "open_total": len(open_rows), "late": late}

    to_accept = [_minutes(accepted - created) for created, accepted in accepted_pairs]
    to_deliver = [delivered - created for created, delivered in delivered_pairs]
    on_time = sum(1 for took in to_deliver if took <= promise)
    timing = {
        "promise": promise_minutes(),
        "late": late,
        "open": len(open_rows),
        "oldest_open": int(_minutes(max(now - created for _, created in open_rows))) if open_rows else None,
        "median_accept": _median(to_accept),
        "median_deliver": _median([_minutes(took) for took in to_deliver]),
        "accepted_today": len(to_accept),
        "delivered_today": len(to_deliver),
        "on_time": on_time,
        "on_time_percent": round(100 * on_time / len(to_deliver)) if to_deliver else None,
        "as_of": now,
    }
    return counts, timing


def _profile(user):
    try:
        return user.partner_profile
    except PartnerProfile.DoesNotExist:
        return None


def partner_rows(*, now=None):
    """Every active partner: online, active order(s), deliveries today; three queries.
    Online and busy first, then online, then offline; by name within each."""
    now = now or timezone.now()
    partners = list(User.objects.filter(role=User.Role.PARTNER, is_active=True).select_related("partner_profile"))
    active = defaultdict(list)
    for partner_id, ref, status in (
        Order.objects.filter(status__in=ACTIVE_STATUSES, partner__isnull=False)
        .order_by()
        .values_list("partner_id", "ref", "status")
    ):
        active[partner_id].append({"ref": ref, "status": status, "label": S(status).label})
    delivered = Counter(
        Order.objects.filter(status=S.DELIVERED, delivered_at__gte=start_of_day(now))
        .order_by()
        .values_list("partner_id", flat=True)
    )
    rows = []
    for partner in partners:
        profile = _profile(partner)
        rows.append(
            {
                "username": partner.username,
                "name": (profile.display_name if profile else "") or partner.display_name,
                "online": bool(profile and profile.online),
                "active": sorted(active.get(partner.pk, []), key=lambda a: a["ref"]),
                "delivered_today": delivered.get(partner.pk, 0),
            }
        )
    rows.sort(key=lambda row: (not row["online"], not row["active"], row["name"].lower(), row["username"]))
    return rows


def _nice_step(peak: int) -> int:
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= peak:
                return step * factor
        step *= 10


def orders_chart(*, now=None):
    """Orders created per 5 minutes over the last 3 hours, stacked by current status;
    bar geometry for an inline SVG and rows for its text alternative. One query."""
    now = now or timezone.now()
    # 5-minute boundaries in UTC are 5-minute boundaries in every real time zone, and
    # UTC arithmetic keeps the window 3 hours long across a DST change.
    utc = now.astimezone(UTC)
    end = utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0) + CHART_BUCKET
    start = end - CHART_BUCKET * CHART_BUCKETS
    counts = [Counter() for _ in range(CHART_BUCKETS)]
    for created_at, status in (
        Order.objects.filter(created_at__gte=start, created_at__lt=end).order_by().values_list("created_at", "status")
    ):
        index = int((created_at - start) / CHART_BUCKET)
        if 0 <= index < CHART_BUCKETS:
            counts[index][status] += 1

    peak = max((sum(bucket.values()) for bucket in counts), default=0)
    step = _nice_step(max(peak, 1))
    top = step * -(-max(peak, 1) // step)
    scale = CHART_HEIGHT / top
    base = CHART_TOP + CHART_HEIGHT

    buckets = []
    for index, bucket in enumerate(counts):
        begins = start + CHART_BUCKET * index
        buckets.append(
            {
                "start": begins,
                "label": timezone.localtime(begins).strftime("%H:%M"),
                "counts": [bucket[status] for status in S],
                "total": sum(bucket.values()),
            }
        )
    series = []
    stacked = [0] * CHART_BUCKETS
    for status in S:
        bars = []
        for index, bucket in enumerate(buckets):
            n = counts[index][status]
            if not n:
                continue
            height = n * scale
            y = base - (stacked[index] + n) * scale
            stacked[index] += n
            bars.append(
                {
                    "x": CHART_LEFT + index * CHART_SLOT + (CHART_SLOT - CHART_BAR) / 2,
                    "y": round(y, 2),
                    "width": CHART_BAR,
                    "height": round(height, 2),
                    "n": n,
                    "label": bucket["label"],
                }
            )
        series.append({"status": status.value, "label": status.label, "bars": bars})
    ticks = [{"value": value, "y": round(base - value * scale, 2)} for value in range(0, top + 1, step)]
    x_labels = [
        {"x": CHART_LEFT + index * CHART_SLOT, "label": bucket["label"]}
        for index, bucket in enumerate(buckets)
        if index % 6 == 0
    ]
    return {
        "buckets": buckets,
        "series": series,
        "ticks": ticks,
        "x_labels": x_labels,
        "statuses": [{"status": status.value, "label": status.label} for status in S],
        "total": sum(bucket["total"] for bucket in buckets),
        "peak": peak,
        "start": start,
        "end": end,
        "width": CHART_LEFT + CHART_SLOT * CHART_BUCKETS + 6,
        "height": base + 22,
        "plot_left": CHART_LEFT,
        "plot_right": CHART_LEFT + CHART_SLOT * CHART_BUCKETS,
        "base": base,
        "label_y": base + 15,
    }


def dashboard_context(*, status_filter=ALL, now=None):
    now = now or timezone.now()
    counts, timing = live_numbers(now=now)
    partners = partner_rows(now=now)
    return {
        "counts": counts,
        "timing": timing,
        "partners": partners,
        "partners_online": sum(1 for partner in partners if partner["online"]),
        "orders": dashboard_orders(status_filter, now=now),
        "orders_shown": ORDERS_SHOWN,
        "status_filter": status_filter,
        "filters": filter_choices(),
        "chart": orders_chart(now=now),
        "promise": promise_minutes(),
    }


# --- the page ------------------------------------------------------------------------------


@role_required(User.Role.ADMIN)
def dashboard(request):
    """The page; for htmx (filter links, the one-minute refresh) the orders panel plus
    fresh counts, timing, partners and chart as out-of-band swaps."""
    status_filter = clean_filter(request.GET.get("status", ALL))
    context = dashboard_context(status_filter=status_filter)
    if request.htmx and not request.htmx.history_restore_request:
        from dispatch.events import oob, render_partial

        html = render_partial(f"{TEMPLATE}#orders-panel", context)
        html += "".join(oob(render_partial(f"{TEMPLATE}#{name}", context)) for name in _LIVE_BLOCKS)
        html += oob(render_partial(f"{TEMPLATE}#chart", context))
        return HttpResponse(html)
    return render(request, TEMPLATE, context)


# --- live fragments (called by dispatch.events / dispatch.consumers) --------------------

_LIVE_BLOCKS = ("counts", "partners", "timing")


def _partners_context(now):
    partners = partner_rows(now=now)
    return {"partners": partners, "partners_online": sum(1 for partner in partners if partner["online"])}


def _live_blocks_html(now) -> str:
    from dispatch.events import oob, render_partial

    counts, timing = live_numbers(now=now)
    context = {"counts": counts, "timing": timing, **_partners_context(now)}
    return "".join(oob(render_partial(f"{TEMPLATE}#{name}", context)) for name in _LIVE_BLOCKS)


def admin_event_html(event, order) -> str:
    """What every admin's dashboard does about ``event`` on ``order``, as hx-swap-oob
    fragments: the order's row (replaced in place; for a new order, put at the top of
    ``#dash-orders``), then the counts, partners and timing blocks.

    ``order`` should come with ``customer`` and ``partner`` loaded (``publish`` does this).
    """
    from dispatch.events import NEW_ORDER, oob, render_partial

    now = timezone.now()
    decorate(order, now)
    row = render_partial(f"{TEMPLATE}#order-row", {"order": order})
    if event == NEW_ORDER:
        # Delete first, then prepend: a row already shown (a snapshot or refresh raced this
        # event) is not shown twice. The stub carries the version, so the page's
        # stale-event check (static/js/app.js) sees this message's order first.
        html = (
            f'<div id="dash-order-{order.ref}" hx-swap-oob="delete" '
            f'data-ref="{order.ref}" data-version="{order.version}"></div>'
            f'<div hx-swap-oob="afterbegin:#dash-orders">{row}</div>'
        )
    else:
        html = oob(row)
    return html + _live_blocks_html(now)


def admin_partner_html(partner) -> str:
    """The partners block, after ``partner``'s availability changed."""
    from dispatch.events import oob, render_partial

    return oob(render_partial(f"{TEMPLATE}#partners", _partners_context(timezone.now())))


def admin_snapshot_html() -> str:
    """Everything live on the dashboard, sent on every (re)connect: counts, partners,
    timing, chart, and the unfiltered orders table's rows. (A page filtered by status
    refetches its own rows when the socket opens: hx-trigger ``htmx:wsOpen``.)"""
    from dispatch.events import oob, render_partial

    now = timezone.now()
    context = {"orders": dashboard_orders(ALL, now=now)}
    rows = render_partial(f"{TEMPLATE}#order-rows", context)
    html = _live_blocks_html(now)
    html += f"<div hx-swap-oob=\"innerHTML:#dash-orders[data-filter='{ALL}']\">{rows}</div>"
    html += oob(render_partial(f"{TEMPLATE}#chart", {"chart": orders_chart(now=now)}))
    return html
