"""Connections held: idle authenticated sockets on one app process.

Sockets of one online partner (JWT in the ``Authorization`` header) are opened in
steps (concurrently, ``CONCURRENCY`` at a time) and left idle; at each step the
app process's resident memory (``VmRSS`` in /proc/<pid>/status) is read, and a
few events are sent one at a time to all of them (the producer's ``group_send`` to
``partners``), timing each to every socket. Stops after the step whose fan-out p95
passes ``P95_LIMIT_MS`` or at the last step. Baseline: the bare websockets relay
(baseline (a)) holding the same sockets, measured the same way. The open-file limit
is raised in the benchmark process (the app and the Node client inherit it).
"""

import asyncio
from pathlib import Path

from bench import systems
from bench.common import say, spread
from bench.live import single_events

P95_LIMIT_MS = 1000.0
CONCURRENCY = 100
LABELS = {"app": "our app (one process)", "websockets": "baseline (a): bare websockets relay"}


async def run_system(system, *, workdir: Path, template: Path, steps, events: int, payload: Path) -> dict:
    out = {"label": LABELS[system], "steps": []}
    async with systems.start(system, workdir, template, f"conn-{system}") as running:
        pid = running.pids[0]
        async with (
            running.listener(concurrency=CONCURRENCY, log_path=workdir / f"conn-{system}-listen.log") as lst,
            running.producer(payload_file=payload, log_path=workdir / f"conn-{system}-producer.log") as prod,
        ):
            # Warm up: one socket and one event, so the idle RSS includes the loaded app.
            await lst.ask("add 1")
            await single_events(prod, [lst], first_seq=1, count=1)
            await asyncio.sleep(0.5)
            out["rss_idle_kib"] = systems.rss_kib(pid)
            seq = 100
            held = 1
            for target in steps:
                added = await lst.ask(f"add {target - held}")
                held = added["open"]
                await asyncio.sleep(1.0)
                rss = systems.rss_kib(pid)
                rows = await single_events(prod, [lst], first_seq=seq, count=events)
                seq += events
                p95 = spread([r["p95"] for r in rows])
                step = {
                    "target": target,
                    "open": held,
                    "failed": added.get("failed", 0),
                    "error": added.get("error"),
                    "connect_s": added["connect_s"],
                    "rss_kib": rss,
                    "kib_per_socket": (rss - out["rss_idle_kib"]) / held if held else None,
                    "events": rows,
                }
                out["steps"].append(step)
                say(
                    f"  {system}: {held} sockets (+{added['connect_s']:.1f}s), RSS {rss / 1024:.0f} MiB "
                    f"({step['kib_per_socket'] or 0:.1f} KiB/socket), fan-out p95 median {p95['median']:.0f} ms, "
                    f"lost {sum(r['lost'] for r in rows)}"
                )
                # A few refused handshakes under load are reported, not a reason to stop.
                if held < 0.99 * target or p95["median"] > P95_LIMIT_MS:
                    break
            await lst.ask("quit")
        if running.services:
            errors = running.services.app_errors()
            if errors:
                out["app_errors"] = errors
    return out


async def run(*, workdir: Path, template: Path, steps, events: int, payload: Path) -> dict:
    section = {"steps": list(steps), "events": events, "p95_limit_ms": P95_LIMIT_MS, "systems": {}}
    for system in ("app", "websockets"):
        say(f"connections: {LABELS[system]}")
        section["systems"][system] = await run_system(
            system, workdir=workdir, template=template, steps=steps, events=events, payload=payload
        )
    return section
