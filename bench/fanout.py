"""Fan-out latency: one event, N websocket clients, how long until every client has it.

Three clocks (wall clocks: this process's and the Node client's): from the trigger's
start (the order's POST, or the baseline's PUBLISH), from its answer (the 201, or
PUBLISH's reply: "ack"), and from the moment our own Redis subscriber sees the event
pass through Redis ("hand-off": a subscriber in a Node process of its own, bench/node/watch.js,
on the PUBLISH to the
pub/sub layer's group channel or the baselines' channel, or the core layer's ZADD seen
through keyspace notifications) — the one clock that means the same thing for all four
systems, so the ratios use it.

Systems, each on its own fresh redis-server:

- ``pubsub`` / ``core``: the real app (``python -m quickcommerce.serve``) with
  ``REDIS_CHANNEL_LAYER=pubsub`` (channels_redis.pubsub.RedisPubSubChannelLayer) or
  ``=core`` (channels_redis.core.RedisChannelLayer), restarted per layer. N sockets of
  one partner (JWT in the ``Authorization`` header, online), each counted once its
  snapshot has arrived; one order placed through ``POST /api/orders/``; the clock runs
  from the request's start and from its 201 response to the order's ``new_order`` at
  each socket.
- ``websockets``: baseline (a), bench/baseline_ws.py — a bare websockets server
  relaying a Redis pub/sub channel; triggered by a PUBLISH from here.
- ``socketio``: baseline (b), bench/node/server.js — Socket.io with the Redis adapter
  doing the same relay, triggered the same way.

Every system is read by the same client: N sockets in one Node process
(bench/node/listen.js: ``ws``, or socket.io-client for (b)). On a 2-core machine it
competes with the servers for CPU, so the tail (p95, max) includes the client's own
time to drain N sockets — the same client for all four. The baselines relay the very
JSON text a partner socket received for a real order, so message sizes match.
"""

import asyncio
import json
import time
from pathlib import Path

import redis.asyncio as aioredis

from bench import systems
from bench.common import (
    NODE_DIR,
    Api,
    BenchError,
    Services,
    describe_errors,
    expect,
    latency_stats,
    node_binary,
    say,
    spread,
)
from bench.live import SYNTHETIC_EVENT, LineProcess, listener

SYSTEMS = ("pubsub", "core", "websockets", "socketio")  # the default set (`make bench`)
ALL_SYSTEMS = SYSTEMS  # table order
# The app's systems: system -> REDIS_CHANNEL_LAYER.
APP_SYSTEMS = {"pubsub": "pubsub", "core": "core"}
LABELS = {
    "pubsub": "Channels + RedisPubSubChannelLayer",
    "core": "Channels + RedisChannelLayer (core)",
    "websockets": "baseline (a): bare websockets relay",
    "socketio": "baseline (b): Node Socket.io + redis-adapter",
}
CONNECT_CONCURRENCY = 50
ARRIVAL_TIMEOUT = 30.0
PAUSE_BETWEEN_EVENTS = 0.1

# --- the clients ---------------------------------------------------------------------------------


class Clients:
    """N sockets in one Node process (bench/node/listen.js), the same client for every
    system; it notes each socket's arrival time (wall clock) of each ``new_order`` ref."""

    def __init__(self, kind: str, url: str, n: int, *, log_path: Path, token: str = "", first_message=False):
        self.n = n
        self.process = listener(
            kind, url, token=token, log_path=log_path, concurrency=CONNECT_CONCURRENCY, first_message=first_message
        )
        self.connect_seconds = None
        self.sample: str | None = None

    async def __aenter__(self) -> "Clients":
        await self.process.__aenter__()
        try:
            added = await self.process.ask(f"add {self.n}")
            if added["open"] < self.n:
                raise BenchError(f"only {added['open']} of {self.n} sockets opened: {added.get('error')}")
        except BaseException:
            await self.process.__aexit__(None, None, None)
            raise
        self.connect_seconds = added["connect_s"]
        return self

    async def arrivals(self, ref: str, timeout: float) -> dict:
        """Wait until every open socket has ``ref`` (or the timeout): arrival times in seconds."""
        got = await self.process.ask(f"arrivals {ref} {int(timeout * 1000)}", timeout=timeout + 30)
        if self.sample is None and got.get("sample"):
            self.sample = got["sample"]
        return {**got, "times": [t / 1000 for t in got["times"]]}

    async def __aexit__(self, *exc) -> None:
        await self.process.__aexit__(*exc)


class Watcher:
    """The hand-off clock: bench/node/watch.js, a Redis subscriber in a process of its own,
    noting when each event passes through Redis (a PUBLISH on ``channel``, or with
    ``channel=None`` the core layer's ZADD). Wall-clock seconds in ``times``."""

    def __init__(self, redis_url: str, channel: str | None, *, log_path: Path):
        cmd = [node_binary(), "watch.js", "--redis", redis_url]
        cmd += ["--channel", channel] if channel else ["--core"]
        self.process = LineProcess(cmd, cwd=NODE_DIR, log_path=log_path, name="hand-off watcher")
        self.times: list[float] = []

    async def __aenter__(self) -> "Watcher":
        await self.process.__aenter__()
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while line := await self.process.proc.stdout.readline():
            self.times.append(json.loads(line)["t"] / 1000)

    async def first_after(self, start: float, timeout: float = 1.0) -> float | None:
        deadline = time.time() + timeout
        while True:
            found = next((t for t in self.times if t >= start), None)
            if found is not None or time.time() > deadline:
                return found
            await asyncio.sleep(0.005)

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.process.__aexit__(*exc)


async def measure(clients: Clients, watcher: Watcher, trigger, *, repeats: int, warmup: int):
    """Fire ``warmup + repeats`` events one at a time; each waits for every socket (or the timeout).
    All clocks are wall clocks (``time.time()`` here, the same clock in the Node client)."""
    results = []
    for i in range(warmup + repeats):
        ref, start, ack = await trigger(i)
        got = await clients.arrivals(ref, ARRIVAL_TIMEOUT)
        handoff = await watcher.first_after(start)
        if i >= warmup:
            arrivals = got["times"]
            results.append(
                repeat_result(
                    [(t - start) * 1000 for t in arrivals],
                    [(t - ack) * 1000 for t in arrivals],
                    [(t - handoff) * 1000 for t in arrivals] if handoff is not None else [],
                    trigger_ms=(ack - start) * 1000,
                    handoff_ms=(handoff - start) * 1000 if handoff is not None else None,
                    missing=clients.n - len(arrivals),
                    dropped=got["closed_by_server"],
                    duplicates=got["duplicates"],
                )
            )
        watcher.times.clear()
        await asyncio.sleep(PAUSE_BETWEEN_EVENTS)
    return results


def repeat_result(
    from_start_ms,
    from_ack_ms,
    from_handoff_ms,
    *,
    trigger_ms,
    handoff_ms,
    missing: int,
    dropped: int = 0,
    duplicates: int = 0,
) -> dict:
    if missing:
        say(
            f"    WARNING: {missing} socket(s) never got the event"
            + (f" ({dropped} closed by the server so far)" if dropped else f" within {ARRIVAL_TIMEOUT:.0f}s")
        )
    if not from_handoff_ms:
        say("    WARNING: the Redis hand-off of this event was not seen")
    if duplicates:
        say(f"    WARNING: {duplicates} socket(s) got the event twice")
    return {
        "from_start": latency_stats(from_start_ms),
        "from_ack": latency_stats(from_ack_ms),
        "from_handoff": latency_stats(from_handoff_ms),
        "trigger_ms": trigger_ms,
        "handoff_ms": handoff_ms,
        "missing": missing,
        "dropped": dropped,
        "duplicates": duplicates,
    }


def _describe(n: int, repeats: list[dict]) -> str:
    def med(clock, stat):
        return spread([r[clock][stat] for r in repeats])["median"]

    return (
        f"N={n}: from hand-off p50 {med('from_handoff', 'p50'):.1f} / p95 {med('from_handoff', 'p95'):.1f} ms; "
        f"from 201/ack p50 {med('from_ack', 'p50'):.1f}; from start p50 {med('from_start', 'p50'):.1f} ms (medians)"
    )


# --- the app, per channel layer -----------------------------------------------------------------------


async def run_channels(system: str, *, workdir: Path, template: Path, ns, repeats: int, warmup: int) -> dict:
    layer = APP_SYSTEMS[system]
    out = {"label": LABELS[system], "by_n": {}}
    with Services(
        workdir,
        template,
        f"fanout-{system}",
        REDIS_CHANNEL_LAYER=layer,
        PARTNER_MAX_ACTIVE_ORDERS=100000,
    ) as services:
        app = services.app
        async with Api(app.url) as api:
            partner = await api.token("ravi")
            await api.go_online(partner)
            customer = await api.token("alice")
            product = await api.product_id()
            body = api.order_body(product)
            headers = api.bearer(customer)

            for n in ns:
                placed = []

                async def place(_i):
                    start = time.time()
                    response = await api.http.post("/api/orders/", json=body, headers=headers)
                    ack = time.time()
                    expect(response, 201, "place order")
                    ref = response.json()["ref"]
                    placed.append(ref)  # noqa: B023
                    return ref, start, ack

                # The pub/sub layer PUBLISHes on the group's channel; the core layer ZADDs.
                channel = "asgi__group__partners" if layer == "pubsub" else None
                async with (
                    Clients(
                        "ws",
                        f"{app.ws_url}/ws/orders/",
                        n,
                        token=partner,
                        first_message=True,
                        log_path=services.workdir / f"clients-{n}.log",
                    ) as clients,
                    Watcher(services.redis.url, channel, log_path=services.workdir / f"watch-{n}.log") as watcher,
                ):
                    runs = await measure(clients, watcher, place, repeats=repeats, warmup=warmup)
                    sample = clients.sample
                out["by_n"][str(n)] = {"connect_s": clients.connect_seconds, "repeats": runs}
                if sample and "sample_event" not in out:
                    out["sample_event"] = sample
                say(f"  {system} {_describe(n, runs)}; connect {clients.connect_seconds:.1f}s")
                # Keep the next snapshot small: the board would otherwise carry these orders.
                for ref in placed:
                    await api.cancel(customer, ref)
        errors = services.app_errors()
        if errors:
            out["app_errors"] = errors
            say(f"  WARNING: the app logged errors during fan-out ({system}): {describe_errors(errors)}")
    return out


# --- the baselines ------------------------------------------------------------------------------------


def event_payload(ref: str, template: dict) -> str:
    event = {**template, "ref": ref}
    if isinstance(event.get("order"), dict):
        event["order"] = {**event["order"], "ref": ref}
    return json.dumps(event)


async def run_relay(system: str, *, workdir: Path, ns, repeats: int, warmup: int, template: dict) -> dict:
    """Baseline (a) or (b): the relay (bench.systems), a PUBLISH from here per event."""
    out = {"label": LABELS[system], "by_n": {}}
    async with systems.start(system, workdir, None, f"fanout-{system}") as running:
        publisher = aioredis.Redis.from_url(running.redis_url)
        try:
            for n in ns:

                async def publish(i):
                    ref = f"bench-{n}-{i}"  # noqa: B023
                    payload = event_payload(ref, template)
                    start = time.time()
                    await publisher.publish(running.channel, payload)
                    return ref, start, time.time()

                async with (
                    Clients(running.kind, running.url, n, log_path=workdir / f"fanout-{system}-{n}.log") as clients,
                    Watcher(
                        running.redis_url, running.channel, log_path=workdir / f"watch-{system}-{n}.log"
                    ) as watcher,
                ):
                    runs = await measure(clients, watcher, publish, repeats=repeats, warmup=warmup)
                out["by_n"][str(n)] = {"connect_s": clients.connect_seconds, "repeats": runs}
                say(f"  {system} {_describe(n, runs)}; connect {clients.connect_seconds:.1f}s")
        finally:
            await publisher.aclose()
    return out


# --- the whole section ----------------------------------------------------------------------------------


async def run(*, workdir: Path, template: Path | None, ns, repeats: int, warmup: int, systems=SYSTEMS) -> dict:
    section = {"ns": list(ns), "repeats": repeats, "warmup": warmup, "systems": {}}
    event_template = None
    for system in [s for s in APP_SYSTEMS if s in systems]:
        layer = APP_SYSTEMS[system]
        say(f"fan-out: Channels, REDIS_CHANNEL_LAYER={layer}")
        result = await run_channels(system, workdir=workdir, template=template, ns=ns, repeats=repeats, warmup=warmup)
        section["systems"][system] = result
        if event_template is None and result.get("sample_event"):
            event_template = json.loads(result["sample_event"])
    section["payload"] = "a real new_order message" if event_template else "a synthetic order of the same shape"
    event_template = event_template or SYNTHETIC_EVENT
    section["payload_bytes"] = len(event_payload("X" * 8, event_template).encode())
    for system in ("websockets", "socketio"):
        if system in systems:
            say(f"fan-out: {LABELS[system]}")
            section["systems"][system] = await run_relay(
                system, workdir=workdir, ns=ns, repeats=repeats, warmup=warmup, template=event_template
            )
    return section
