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

from bench.common import BENCH_PASSWORD, Api, BenchError, Services, describe_errors, say


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


async def run_emails(*, workdir: Path, template: Path, count: int, repeats: int, concurrency: int = 4) -> dict:
    """The order path with customers' emails on (``ORDER_EMAILS=true``: each accept queues
    a job on Redis) and off, two servers side by side, bursts alternating (which mode
    goes first alternates too): ``count`` orders placed, then each accepted by a partner
    registered for that burst (a partner's board renders all their active orders, so one
    partner taking every order would slow the accepts down run after run). No worker
    runs: this measures what the request pays (the enqueue after commit), not the sending."""
    section = {"count": count, "repeats": repeats, "concurrency": concurrency, "rows": []}
    common = {"REDIS_CHANNEL_LAYER": "pubsub", "PARTNER_MAX_ACTIVE_ORDERS": "1000000"}
    with (
        Services(workdir, template, "emails-on", ORDER_EMAILS="true", **common) as on,
        Services(workdir, template, "emails-off", ORDER_EMAILS="false", **common) as off,
    ):
        async with (
            Api(on.app.url, connections=concurrency) as api_on,
            Api(off.app.url, connections=concurrency) as api_off,
        ):
            clients = {}
            for mode, api in (("on", api_on), ("off", api_off)):
                customers = [api.bearer(await api.token(name)) for name in ("alice", "bob")]
                clients[mode] = (api, customers, api.order_body(await api.product_id()))
            partners = {"on": 0, "off": 0}

            async def fresh_partner(mode):
                api = clients[mode][0]
                partners[mode] += 1
                name = f"emailbench{mode}{partners[mode]}"
                await api.register(name, "partner")
                access = await api.token(name, BENCH_PASSWORD)
                await api.go_online(access)
                return api.bearer(access)

            async def life(mode, n):
                api, customers, body = clients[mode]
                partner = await fresh_partner(mode)
                refs = []

                async def place(i):
                    response = await api.http.post("/api/orders/", json=body, headers=customers[i % 2])
                    if response.status_code == 201:
                        refs.append(response.json()["ref"])
                    return response

                placed = await burst(place, count=n, concurrency=concurrency)
                pending = list(refs)

                def accept(i):
                    return api.http.post(f"/api/orders/{pending[i]}/accept/", headers=partner)

                accepted = await burst(accept, count=len(pending), concurrency=concurrency)
                if placed["statuses"] != {201: n} or accepted["statuses"] != {200: n}:
                    raise BenchError(f"emails {mode}: placed {placed['statuses']}, accepted {accepted['statuses']}")
                return placed["per_second"], accepted["per_second"]

            await life("on", 5)
            await life("off", 5)
            for repeat in range(repeats):
                row = {}
                for mode in ("on", "off") if repeat % 2 == 0 else ("off", "on"):
                    row[f"place_{mode}"], row[f"accept_{mode}"] = await life(mode, count)
                section["rows"].append(row)
                say(
                    f"  emails on/off: place {row['place_on']:.1f}/{row['place_off']:.1f} orders/s, "
                    f"accept {row['accept_on']:.1f}/{row['accept_off']:.1f} req/s"
                )
            section["queued_jobs"] = await _queued(on)
        errors = {**on.app_errors(), **off.app_errors()}
        if errors:
            section["app_errors"] = errors
    return section


async def _queued(services) -> int:
    """How many email jobs the emails-on server queued (each accept: one)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(services.redis.url)
    try:
        return await client.llen("rq:queue:emails")
    finally:
        await client.aclose()
