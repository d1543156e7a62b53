"""Accept race: P partners race for one order; exactly one may win.

Partners are registered through ``POST /api/auth/register/``, log in through
``POST /api/auth/token/`` and go online through ``POST /api/partners/me/availability/``
(the server runs with ``PARTNER_MAX_ACTIVE_ORDERS=100000`` so winners stay eligible).
For each repeat a customer places a fresh order, then P partners, each with its own
HTTP client and an already open keep-alive connection, ``POST
/api/orders/{ref}/accept/`` at once. Timed from the first request sent to the last
answer in; every repeat must produce exactly one 200 and P-1 409s.

The baseline is the same P clients sending one ``GET /healthz`` each, at once.
"""

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import BENCH_PASSWORD, Api, BenchError, Services, describe_errors, say


async def _limited(coros, limit: int = 4):
    semaphore = asyncio.Semaphore(limit)

    async def one(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def run(*, workdir: Path, template: Path, levels, repeats: int) -> dict:
    section = {"levels": list(levels), "repeats": repeats, "by_level": {}}
    total = max(levels)
    with Services(
        workdir, template, "race", REDIS_CHANNEL_LAYER="pubsub", PARTNER_MAX_ACTIVE_ORDERS=100000
    ) as services:
        url = services.app.url
        started = time.monotonic()
        names = [f"racer{i:03d}" for i in range(total)]
        # Setup is mostly password hashing, which runs on each process's one sync thread:
        # a second instance on the same database and Redis lets it use both cores.
        with services.second_instance() as helper:
            async with Api(url, connections=4) as one, Api(helper.url, connections=4) as two:
                apis = [one, two]

                def split(make):
                    return _limited((make(apis[i % 2], name, i) for i, name in enumerate(names)), limit=4)

                await split(lambda api, name, _i: api.register(name, "partner"))
                tokens = await split(lambda api, name, _i: api.token(name, BENCH_PASSWORD))
                await split(lambda api, _name, i: api.go_online(tokens[i]))
        section["setup_s"] = time.monotonic() - started
        say(f"  registered {total} partners through the API and set them online in {section['setup_s']:.1f}s")
        async with Api(url, connections=8) as api:
            customer = await api.token("alice")
            product = await api.product_id()

            clients = [httpx.AsyncClient(base_url=url, timeout=120) for _ in range(total)]
            try:
                # One open keep-alive connection per racer before the clock starts.
                await asyncio.gather(*(c.get("/healthz") for c in clients))
                for level in levels:
                    racers = list(zip(clients[:level], tokens[:level], strict=True))
                    rows = []
                    for _ in range(repeats):
                        ref = (await api.place(customer, product))["ref"]
                        start = time.perf_counter()
                        responses = await asyncio.gather(
                            *(c.post(f"/api/orders/{ref}/accept/", headers=api.bearer(t)) for c, t in racers)
                        )
                        race_s = time.perf_counter() - start
                        start = time.perf_counter()
                        health = await asyncio.gather(*(c.get("/healthz") for c, _ in racers))
                        health_s = time.perf_counter() - start
                        codes = Counter(r.status_code for r in responses)
                        if set(Counter(r.status_code for r in health)) != {200}:
                            raise BenchError(f"/healthz burst answered {Counter(r.status_code for r in health)}")
                        rows.append(
                            {
                                "race_ms": race_s * 1000,
                                "healthz_ms": health_s * 1000,
                                "winners": codes.get(200, 0),
                                "conflicts": codes.get(409, 0),
                                "other": {k: v for k, v in codes.items() if k not in (200, 409)},
                                "correct": codes.get(200, 0) == 1 and codes.get(409, 0) == level - 1,
                            }
                        )
                    section["by_level"][str(level)] = rows
                    winners = "/".join(str(r["winners"]) for r in rows)
                    times = sorted(r["race_ms"] for r in rows)
                    say(
                        f"  {level:>3} partners: winners: {winners}; median {times[len(times) // 2]:.0f} ms; "
                        + ("every race had exactly one 200 and the rest 409" if all(r["correct"] for r in rows) else
                           f"WRONG: {[(r['winners'], r['conflicts'], r['other']) for r in rows]}")
                    )  # fmt: skip
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
        errors = services.app_errors()
        if errors:
            section["app_errors"] = errors
            say(f"  WARNING: the app logged errors during the race: {describe_errors(errors)}")
    return section
