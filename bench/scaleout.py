"""Scale-out: the same fan-out (N sockets of online partners) on one app instance vs two
instances sharing one Redis (the pub/sub layer: each process subscribes to
the group once and fans out to its own sockets).

First all N sockets on instance 1, ``events`` events one at a time (producer
``group_send`` to ``partners``); then half of them are closed and the same number
opened on instance 2, and the same events again. Latency per event is taken over all
N sockets (p50 / p95 / max); the baseline is the one-instance figure.
"""

import asyncio
from pathlib import Path

from bench import systems
from bench.common import BenchError, say, spread
from bench.live import single_events


async def run(*, workdir: Path, template: Path, n: int, events: int, payload: Path) -> dict:
    section = {"n": n, "events": events}
    async with systems.start("app", workdir, template, "scaleout", instances=2) as running:
        second_url = running.extra_urls[0]
        async with (
            running.listener(log_path=workdir / "scaleout-listen-1.log") as one,
            running.listener(url=second_url, log_path=workdir / "scaleout-listen-2.log") as two,
            running.producer(payload_file=payload, log_path=workdir / "scaleout-prod.log") as prod,
        ):
            added = await one.ask(f"add {n}")
            if added["open"] < 0.99 * n:  # a few refused handshakes are reported, not fatal
                raise BenchError(f"only {added['open']} of {n} sockets opened on instance 1: {added.get('error')}")
            await asyncio.sleep(1.0)
            await single_events(prod, [one], first_seq=1, count=1)  # warm-up
            section["one"] = await single_events(prod, [one], first_seq=10, count=events)
            await one.ask(f"close {n // 2}")
            added = await two.ask(f"add {n // 2}")
            if added["open"] < 0.99 * (n // 2):
                raise BenchError(f"only {added['open']} of {n // 2} sockets opened on instance 2")
            await asyncio.sleep(1.0)
            await single_events(prod, [one, two], first_seq=100, count=1)  # warm-up
            section["two"] = await single_events(prod, [one, two], first_seq=110, count=events)
            await one.ask("quit")
            await two.ask("quit")
        errors = running.services.app_errors()
        if errors:
            section["app_errors"] = errors
    for key in ("one", "two"):
        p50 = spread([r["p50"] for r in section[key]])["median"]
        p95 = spread([r["p95"] for r in section[key]])["median"]
        say(f"  {key} instance(s): p50 {p50:.0f} ms, p95 {p95:.0f} ms (medians over {events} events)")
    return section
