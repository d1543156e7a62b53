"""The dashboard's chart as geometry for an inline SVG (templates/dispatch/dashboard.html#chart):
stacked bars per 5-minute bucket, y-axis ticks at round numbers, x labels every 30 minutes."""

from django.utils import timezone

from dispatch.selectors import CHART_BUCKET, CHART_BUCKETS, orders_per_bucket
from orders.models import Order

CHART_LEFT, CHART_TOP, CHART_SLOT, CHART_BAR, CHART_HEIGHT = 34, 10, 18, 13, 150


def _nice_step(peak: int) -> int:
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * 4 >= peak:
                return step * factor
        step *= 10


def orders_chart(*, now=None):
    """The dashboard's chart: orders per 5 minutes over the last 3 hours, stacked by
    current status; bar geometry for an inline SVG and rows for its text alternative."""
    start, counts = orders_per_bucket(now=now)
    end = start + CHART_BUCKET * CHART_BUCKETS

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
                "counts": [bucket[status] for status in Order.Status],
                "total": sum(bucket.values()),
            }
        )
    series = []
    stacked = [0] * CHART_BUCKETS
    for status in Order.Status:
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
        "statuses": [{"status": status.value, "label": status.label} for status in Order.Status],
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
