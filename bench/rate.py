"""Fan-out throughput: 1,000 sockets in one group, events at a rising rate.

The producer (bench/producer.py, its own process) sends sequence-numbered events at
R events/s for a few seconds; the listener (bench/node/listen.js, 1,000 sockets in one
Node process) counts each event at each socket and times it from the producer's
clock. R rises step by step until p99 passes the bar (100 ms); the last rate under the bar is
then run again ``repeats`` times. For the app the producer ``group_send``s through
the app's own channel layer (channels_redis pub/sub, same REDIS_URL) with the
message shape dispatch.publish uses, so the figure is layer + hub + consumer + server, not
placing orders; the baselines get the same JSON text by Redis PUBLISH.
"""

import asyncio
from pathlib import Path

from bench import systems
from bench.common import BenchError, say, spread
from bench.live import wait_delivered

SYSTEMS = ("app", "websockets", "socketio")
LABELS = {
    "app": "our app (Channels pub/sub layer, uvicorn)",
    "websockets": "baseline (a): bare websockets relay",
    "socketio": "baseline (b): Socket.io + redis-adapter",
}
BAR_MS = 100.0
DRAIN_TIMEOUT = 15.0


async def _step(prod, lst, rate: float, seconds: float, seq: int) -> tuple[dict, int]:
    sent = await prod.ask(f"run {rate} {seconds} {seq}", timeout=seconds * 10 + 60)
    first, last = seq, sent["last"]
    await wait_delivered([lst], first, last, timeout=DRAIN_TIMEOUT, settle=0.2)
    rep = await lst.ask(f"report {first} {last}")
    row = {
        "rate": rate,
        "events": sent["sent"],
        "distinct": rep["distinct"],
        "send_seconds": sent["seconds"],
        "achieved_rate": sent["sent"] / sent["seconds"] if sent["seconds"] else rate,
        # Deliveries per second of the step's nominal length (events / rate): the send window
        # of E events is only (E - 1) / rate long.
        "delivered_per_s": rep["distinct"] / (sent["sent"] / rate),
        "sockets": rep["open"],
        "p50": rep["p50"],
        "p95": rep["p95"],
        "p99": rep["p99"],
        "max": rep["max"],
        "lost": rep["lost"],
        "duplicates": rep["duplicates"],
        "closed_by_server": rep["closed_by_server"],
    }
    return row, last + 1


def _under_bar(row) -> bool:
    return row["p99"] is not None and row["p99"] <= BAR_MS and row["lost"] == 0


async def run_system(system, *, workdir: Path, template: Path, n: int, rates, seconds: float, repeats: int, payload):
    out = {"label": LABELS[system], "ramp": [], "repeats": []}
    async with systems.start(system, workdir, template, f"rate-{system}") as running:
        async with (
            running.listener(log_path=workdir / f"rate-{system}-listen.log") as lst,
            running.producer(payload_file=payload, log_path=workdir / f"rate-{system}-producer.log") as prod,
        ):
            added = await lst.ask(f"add {n}")
            if added["open"] < n:
                raise BenchError(f"{system}: only {added['open']} of {n} sockets opened: {added.get('error')}")
            out["connect_s"] = added["connect_s"]
            await asyncio.sleep(1.0)
            seq = 1
            best = None
            for rate in rates:
                row, seq = await _step(prod, lst, rate, seconds, seq)
                out["ramp"].append(row)
                say(
                    f"  {system} {rate:>5} ev/s: p50 {row['p50'] or 0:.1f} p99 {row['p99'] or 0:.1f} ms, "
                    f"{row['delivered_per_s']:.0f} msg/s, lost {row['lost']}, dup {row['duplicates']}"
                )
                if not _under_bar(row):
                    break
                best = rate
            out["best_rate"] = best
            if best is not None:
                for _ in range(repeats):
                    row, seq = await _step(prod, lst, best, seconds, seq)
                    out["repeats"].append(row)
                    await asyncio.sleep(0.3)
                d = spread([r["delivered_per_s"] for r in out["repeats"]])
                say(f"  {system}: last rate under the bar {best} ev/s; delivered median {d['median']:.0f} msg/s")
            await lst.ask("quit")
        if running.services:
            errors = running.services.app_errors()
            if errors:
                out["app_errors"] = errors
    steps = out["ramp"] + out["repeats"]
    out["lost"] = sum(r["lost"] for r in steps)
    out["duplicates"] = sum(r["duplicates"] for r in steps)
    out["events"] = sum(r["events"] for r in steps)
    return out


async def run(*, workdir: Path, template: Path, n: int, rates, seconds: float, repeats: int, payload: Path) -> dict:
    section = {"n": n, "rates": list(rates), "seconds": seconds, "repeats": repeats, "bar_ms": BAR_MS, "systems": {}}
    for system in SYSTEMS:
        say(f"rate: {LABELS[system]}")
        try:
            section["systems"][system] = await run_system(
                system, workdir=workdir, template=template, n=n, rates=rates, seconds=seconds, repeats=repeats,
                payload=payload,
            )  # fmt: skip
        except BenchError as exc:
            say(f"  {system} failed: {exc}")
            section["systems"][system] = {"label": LABELS[system], "error": str(exc)}
    return section
