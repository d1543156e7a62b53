"""Order throughput: orders/s through ``POST /api/orders/`` on SQLite, at 1, 4 and 16 clients.

The baseline is the same number of requests, at the same concurrency, from the same
client with the same tokens, to ``GET /api/auth/me/`` on the same server: a trivial
DRF view (JWT check, one user row, a small JSON answer) that crosses uvicorn, Django's
middleware, DRF and the ASGI/sync bridge just like the order does, so the ratio says
what placing an order costs over the bare API request path. Orders
are placed by the demo customers (alice and bob, alternating) for a product with a
huge stock; the channel layer is Redis (pub/sub), so each order also publishes its
live event, as in production. Every answer is checked (201 / 200).
"""

import asyncio
import statistics
import time
from collections import Counter
from pathlib import Path

from bench.common import Api, BenchError, Services, describe_errors, say


async def burst(request, *, count: int, concurrency: int) -> dict:
    """``count`` requests from ``concurrency`` workers; returns rate and status counts."""
    remaining = count
    statuses = Counter()
    latencies = []

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            response = await request(remaining)
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[response.status_code] += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "per_second": count / seconds,
        "statuses": dict(statuses),
        "p50_ms": statistics.median(latencies),
    }


async def run(*, workdir: Path, template: Path, levels, count: int, repeats: int, warmup: int = 10) -> dict:
    section = {"levels": list(levels), "count": count, "repeats": repeats, "by_level": {}}
    with Services(workdir, template, "throughput", REDIS_CHANNEL_LAYER="pubsub") as services:
        async with Api(services.app.url, connections=max(levels)) as api:
            headers = [api.bearer(await api.token(name)) for name in ("alice", "bob")]
            body = api.order_body(await api.product_id())

            def place(i):
                return api.http.post("/api/orders/", json=body, headers=headers[i % len(headers)])

            def trivial(i):
                return api.http.get("/api/auth/me/", headers=headers[i % len(headers)])

            await burst(place, count=warmup, concurrency=1)
            await burst(trivial, count=warmup, concurrency=1)
            for level in levels:
                rows = []
                for _ in range(repeats):
                    orders = await burst(place, count=count, concurrency=level)
                    baseline = await burst(trivial, count=count, concurrency=level)
                    if orders["statuses"] != {201: count}:
                        raise BenchError(f"orders at {level} clients answered {orders['statuses']}, not all 201")
                    if baseline["statuses"] != {200: count}:
                        raise BenchError(f"/api/auth/me/ at {level} clients answered {baseline['statuses']}")
                    rows.append(
                        {
                            "orders_per_s": orders["per_second"],
                            "baseline_per_s": baseline["per_second"],
                            "orders_p50_ms": orders["p50_ms"],
                            "baseline_p50_ms": baseline["p50_ms"],
                        }
                    )
                section["by_level"][str(level)] = rows
                rates = sorted(r["orders_per_s"] for r in rows)
                base_rates = sorted(r["baseline_per_s"] for r in rows)
                say(
                    f"  {level:>2} clients: {rates[len(rates) // 2]:.1f} orders/s, "
                    f"/api/auth/me/ {base_rates[len(base_rates) // 2]:.1f} req/s (medians)"
                )
        errors = services.app_errors()
        if errors:
            section["app_errors"] = errors
            say(f"  WARNING: the app logged errors during the throughput run: {describe_errors(errors)}")
    return section
