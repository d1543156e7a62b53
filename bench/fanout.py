"""Fan-out latency: one event, N websocket clients, how long until every client has it.

Three clocks, all in the client process: from the trigger's start (the order's POST,
or the baseline's PUBLISH), from its answer (the 201, or PUBLISH's reply: "ack"),
and from the moment our own Redis subscriber sees the event pass through Redis
("hand-off", see HandoffWatcher) — the one clock that means the same thing for all
four systems, so the ratios use it.

Systems, each on its own fresh redis-server:

- ``pubsub`` / ``core``: the real app under daphne with ``REDIS_CHANNEL_LAYER=pubsub``
  (channels_redis.pubsub.RedisPubSubChannelLayer) or ``=core``
  (channels_redis.core.RedisChannelLayer), daphne restarted per layer. N sockets of one
  partner (JWT in the ``Authorization`` header, online), one order placed through
  ``POST /api/orders/``; the clock runs from the request's start and from its 201
  response to the order's ``new_order`` at each socket.
- ``uvicorn-pubsub`` (optional, not in the default set): the same app, env and pub/sub
  layer as ``pubsub``, served by uvicorn (``--ws websockets``, asyncio's own loop and
  transports) instead of daphne/Twisted — does the server's per-socket write path matter?
- ``websockets``: baseline (a), bench/baseline_ws.py — a bare websockets server
  relaying a Redis pub/sub channel; triggered by a PUBLISH from the client side,
  timed from before the PUBLISH and from its reply.
- ``socketio``: baseline (b), bench/node/server.js — Socket.io with the Redis adapter
  doing the same relay, measured by bench/node/client.js (N socket.io-client
  connections in one Node process) the same way.

The Python clients (N up to 1000) all live in this one asyncio process, as do the
HTTP client and the PUBLISH; on a 2-core machine they compete with the servers for
CPU, so the tail (p95, max) includes the client's own time to drain N sockets.
The baselines relay the very JSON text a partner socket received for a real order,
so message sizes match.
"""

import asyncio
import contextlib
import json
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import redis.asyncio as aioredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.common import (
    NODE_DIR,
    Api,
    BenchError,
    Services,
    describe_errors,
    expect,
    latency_stats,
    node_binary,
    python_executable,
    redis_binary,
    say,
    spread,
)
from quickcommerce.testing import BASE_DIR, RedisServer, free_port, wait_for_port

SYSTEMS = ("pubsub", "core", "websockets", "socketio")  # the default set (`make bench`)
ALL_SYSTEMS = ("pubsub", "uvicorn-pubsub", "core", "websockets", "socketio")  # table order
# The app's systems: system -> (REDIS_CHANNEL_LAYER, server from bench.common.SERVERS).
APP_SYSTEMS = {"pubsub": ("pubsub", "daphne"), "uvicorn-pubsub": ("pubsub", "uvicorn"), "core": ("core", "daphne")}
LABELS = {
    "pubsub": "Channels + RedisPubSubChannelLayer",
    "uvicorn-pubsub": "Channels + RedisPubSubChannelLayer under uvicorn",
    "core": "Channels + RedisChannelLayer (core)",
    "websockets": "baseline (a): bare websockets relay",
    "socketio": "baseline (b): Node Socket.io + redis-adapter",
}
CHANNEL = "bench:fanout"
CONNECT_CONCURRENCY = 50
ARRIVAL_TIMEOUT = 30.0
PAUSE_BETWEEN_EVENTS = 0.1

# Used only when no real new_order message was captured (e.g. --fanout-systems without a
# Channels layer); the shape and size of a one-line order as a partner sees it.
SYNTHETIC_EVENT = {
    "event": "new_order",
    "ref": "",
    "version": 1,
    "order": {
        "ref": "",
        "status": "placed",
        "status_display": "Placed",
        "version": 1,
        "items": [
            {"product": "1", "name": "Bananas", "unit_price": "1.49", "quantity": 1, "line_total": "1.49"},
        ],
        "item_count": 1,
        "subtotal": "1.49",
        "delivery_fee": "2.50",
        "total": "3.99",
        "area": "Marylebone",
        "note": "",
        "created_at": "2025-01-01T12:00:00.000000Z",
        "accepted_at": None,
        "picked_up_at": None,
        "out_for_delivery_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "partner": None,
        "events": [{"status": "placed", "at": "2025-01-01T12:00:00.000000Z", "actor": "customer", "note": ""}],
    },
}


# --- the Python clients ------------------------------------------------------------------------------


class Receivers:
    """Arrival times (time.perf_counter) of each ``new_order`` ref at each of N sockets.

    A socket the server closed can never deliver, so an event is complete once every
    socket still open has it (the closed ones are reported as dropped).
    """

    def __init__(self, n: int):
        self.n = n
        self.arrivals: dict[str, dict[int, float]] = defaultdict(dict)
        self.complete: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.closed: set[int] = set()
        self.sample: str | None = None

    def _check(self, ref: str) -> None:
        if len(self.arrivals[ref]) >= self.n - len(self.closed):
            self.complete[ref].set()

    def record(self, ref: str, index: int, at: float, text: str) -> None:
        self.arrivals[ref].setdefault(index, at)
        if self.sample is None:
            self.sample = text
        self._check(ref)

    def socket_closed(self, index: int) -> None:
        self.closed.add(index)
        for ref in list(self.arrivals):
            self._check(ref)

    async def wait(self, ref: str, timeout: float) -> dict[int, float]:
        self._check(ref)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.complete[ref].wait(), timeout)
        self.complete.pop(ref, None)
        return self.arrivals.pop(ref, {})


async def _read(ws, index: int, receivers: Receivers) -> None:
    try:
        async for text in ws:
            at = time.perf_counter()
            message = json.loads(text)
            if message.get("event") == "new_order":
                receivers.record(message["ref"], index, at, text)
    except ConnectionClosed:
        pass
    finally:
        receivers.socket_closed(index)


class PythonClients:
    """N websockets clients in this process, each with a reader task."""

    def __init__(self, url: str, n: int, *, headers: dict | None = None, snapshot_first: bool = False):
        self.url = url
        self.n = n
        self.headers = headers
        self.snapshot_first = snapshot_first
        self.sockets = []
        self.tasks = []
        self.receivers = Receivers(n)
        self.connect_seconds = None

    async def __aenter__(self) -> "PythonClients":
        started = time.monotonic()
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def open_one(index):
            async with limit:
                ws = await connect(
                    self.url,
                    additional_headers=self.headers,
                    compression=None,
                    ping_interval=None,
                    open_timeout=120,
                    close_timeout=5,
                    max_queue=None,
                )
                self.sockets.append(ws)
                if self.snapshot_first:
                    first = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if first.get("event") != "snapshot":
                        raise BenchError(f"first message was not the snapshot: {str(first)[:200]}")
                self.tasks.append(asyncio.create_task(_read(ws, index, self.receivers)))

        try:
            await asyncio.gather(*(open_one(i) for i in range(self.n)))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        self.connect_seconds = time.monotonic() - started
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class HandoffWatcher:
    """When did the event pass through Redis? A subscriber of our own on the same Redis.

    - a plain channel (the baselines' relay channel; the pub/sub layer's group channel
      ``asgi__group__partners``): the moment the PUBLISH is delivered to subscribers;
    - the core layer has no pub/sub: it ZADDs the message to the daphne process's
      channel key (``asgispecific.<id>!``), so we turn on keyspace notifications for
      sorted sets and watch for that ``zadd``.

    This clock is the same for all four systems: from the message leaving the
    publisher (the app's ``group_send`` or the client's PUBLISH) to each socket.
    """

    def __init__(self, redis_url: str, *, channel: str | None = None, core_layer: bool = False):
        self.redis_url = redis_url
        self.channel = channel
        self.core_layer = core_layer
        self.times: list[float] = []

    async def __aenter__(self) -> "HandoffWatcher":
        self.connection = aioredis.Redis.from_url(self.redis_url)
        self.pubsub = self.connection.pubsub(ignore_subscribe_messages=True)
        if self.core_layer:
            await self.connection.config_set("notify-keyspace-events", "Kz")
            await self.pubsub.psubscribe("__keyspace@0__:asgispecific.*")
        else:
            await self.pubsub.subscribe(self.channel)
        self.task = asyncio.create_task(self._listen())
        return self

    async def _listen(self) -> None:
        async for message in self.pubsub.listen():
            at = time.perf_counter()
            if message["type"] == "message" or (
                message["type"] == "pmessage" and message["data"] == b"zadd" and message["channel"].endswith(b"!")
            ):
                self.times.append(at)

    async def wait_first_after(self, start: float, timeout: float = 1.0) -> float | None:
        deadline = time.perf_counter() + timeout
        while True:
            found = next((t for t in self.times if t >= start), None)
            if found is not None or time.perf_counter() > deadline:
                return found
            await asyncio.sleep(0.005)

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.pubsub.aclose()
        await self.connection.aclose()


async def measure(clients: PythonClients, watcher: HandoffWatcher, trigger, *, repeats: int, warmup: int):
    """Fire ``warmup + repeats`` events one at a time; each waits for every socket (or the timeout)."""
    results = []
    for i in range(warmup + repeats):
        ref, start, ack = await trigger(i)
        got = await clients.receivers.wait(ref, ARRIVAL_TIMEOUT)
        handoff = await watcher.wait_first_after(start)
        if i >= warmup:
            arrivals = list(got.values())
            results.append(
                repeat_result(
                    [(t - start) * 1000 for t in arrivals],
                    [(t - ack) * 1000 for t in arrivals],
                    [(t - handoff) * 1000 for t in arrivals] if handoff is not None else [],
                    trigger_ms=(ack - start) * 1000,
                    handoff_ms=(handoff - start) * 1000 if handoff is not None else None,
                    missing=clients.n - len(got),
                    dropped=len(clients.receivers.closed),
                )
            )
        watcher.times.clear()
        await asyncio.sleep(PAUSE_BETWEEN_EVENTS)
    return results


def repeat_result(
    from_start_ms, from_ack_ms, from_handoff_ms, *, trigger_ms, handoff_ms, missing: int, dropped: int = 0
) -> dict:
    if missing:
        say(
            f"    WARNING: {missing} socket(s) never got the event"
            + (f" ({dropped} closed by the server so far)" if dropped else f" within {ARRIVAL_TIMEOUT:.0f}s")
        )
    if not from_handoff_ms:
        say("    WARNING: the Redis hand-off of this event was not seen")
    return {
        "from_start": latency_stats(from_start_ms),
        "from_ack": latency_stats(from_ack_ms),
        "from_handoff": latency_stats(from_handoff_ms),
        "trigger_ms": trigger_ms,
        "handoff_ms": handoff_ms,
        "missing": missing,
        "dropped": dropped,
    }


def _describe(n: int, repeats: list[dict]) -> str:
    def med(clock, stat):
        return spread([r[clock][stat] for r in repeats])["median"]

    return (
        f"N={n}: from hand-off p50 {med('from_handoff', 'p50'):.1f} / p95 {med('from_handoff', 'p95'):.1f} ms; "
        f"from 201/ack p50 {med('from_ack', 'p50'):.1f}; from start p50 {med('from_start', 'p50'):.1f} ms (medians)"
    )


# --- the app under daphne, per channel layer -----------------------------------------------------------


async def run_channels(system: str, *, workdir: Path, template: Path, ns, repeats: int, warmup: int) -> dict:
    layer, server = APP_SYSTEMS[system]
    out = {"label": LABELS[system], "server": server, "by_n": {}}
    with Services(
        workdir,
        template,
        f"fanout-{system}",
        server=server,
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
                    start = time.perf_counter()
                    response = await api.http.post("/api/orders/", json=body, headers=headers)
                    ack = time.perf_counter()
                    expect(response, 201, "place order")
                    ref = response.json()["ref"]
                    placed.append(ref)  # noqa: B023
                    return ref, start, ack

                watcher = HandoffWatcher(
                    services.redis.url, channel="asgi__group__partners", core_layer=layer == "core"
                )
                async with (
                    PythonClients(
                        f"{app.ws_url}/ws/orders/", n, headers=api.bearer(partner), snapshot_first=True
                    ) as clients,
                    watcher,
                ):
                    runs = await measure(clients, watcher, place, repeats=repeats, warmup=warmup)
                    sample = clients.receivers.sample
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


@contextlib.contextmanager
def _process(cmd, *, cwd: Path, log_path: Path, port: int):
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


def event_payload(ref: str, template: dict) -> str:
    event = {**template, "ref": ref}
    if isinstance(event.get("order"), dict):
        event["order"] = {**event["order"], "ref": ref}
    return json.dumps(event)


async def run_websockets(*, workdir: Path, ns, repeats: int, warmup: int, template: dict) -> dict:
    out = {"label": LABELS["websockets"], "by_n": {}}
    base = workdir / "fanout-websockets"
    base.mkdir(parents=True, exist_ok=True)
    redis_server = RedisServer(redis_binary(), base / "redis").start()
    port = free_port()
    cmd = [python_executable(), "-m", "bench.baseline_ws", "--port", str(port), "--redis", redis_server.url]
    try:
        with _process([*cmd, "--channel", CHANNEL], cwd=BASE_DIR, log_path=base / "server.log", port=port):
            publisher = aioredis.Redis.from_url(redis_server.url)
            try:
                for n in ns:

                    async def publish(i):
                        ref = f"bench-{n}-{i}"  # noqa: B023
                        payload = event_payload(ref, template)
                        start = time.perf_counter()
                        await publisher.publish(CHANNEL, payload)
                        return ref, start, time.perf_counter()

                    async with (
                        PythonClients(f"ws://127.0.0.1:{port}/", n) as clients,
                        HandoffWatcher(redis_server.url, channel=CHANNEL) as watcher,
                    ):
                        runs = await measure(clients, watcher, publish, repeats=repeats, warmup=warmup)
                    out["by_n"][str(n)] = {"connect_s": clients.connect_seconds, "repeats": runs}
                    say(f"  websockets {_describe(n, runs)}; connect {clients.connect_seconds:.1f}s")
            finally:
                await publisher.aclose()
    finally:
        redis_server.stop()
    return out


async def run_socketio(*, workdir: Path, ns, repeats: int, warmup: int, template: dict) -> dict:
    node = node_binary()
    out = {"label": LABELS["socketio"], "by_n": {}}
    base = workdir / "fanout-socketio"
    base.mkdir(parents=True, exist_ok=True)
    payload_file = base / "payload.json"
    payload_file.write_text(event_payload("", template))
    redis_server = RedisServer(redis_binary(), base / "redis").start()
    port = free_port()
    server_cmd = [node, "server.js", "--port", str(port), "--redis", redis_server.url, "--channel", CHANNEL]
    try:
        with _process(server_cmd, cwd=NODE_DIR, log_path=base / "server.log", port=port):
            for n in ns:
                client_cmd = [node, "client.js", "--url", f"http://127.0.0.1:{port}", "--redis", redis_server.url]
                client_cmd += ["--channel", CHANNEL, "--clients", str(n), "--repeats", str(repeats)]
                client_cmd += ["--warmup", str(warmup), "--payload-file", str(payload_file)]
                client_cmd += ["--timeout-ms", str(int(ARRIVAL_TIMEOUT * 1000))]
                proc = await asyncio.create_subprocess_exec(
                    *client_cmd, cwd=NODE_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
                )
                try:
                    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=300)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                    raise BenchError(f"node client.js (N={n}) did not finish in 300s") from None
                if proc.returncode != 0:
                    raise BenchError(f"node client.js (N={n}) failed: {stderr.decode()[-800:]}")
                raw = json.loads(stdout.decode().strip().splitlines()[-1])
                runs = [
                    repeat_result(
                        r["from_start_ms"],
                        r["from_ack_ms"],
                        r["from_handoff_ms"],
                        trigger_ms=r["trigger_ms"],
                        handoff_ms=r["handoff_ms"],
                        missing=r["missing"],
                    )
                    for r in raw["repeats"]
                ]
                out["by_n"][str(n)] = {"connect_s": raw["connect_s"], "repeats": runs}
                say(f"  socketio {_describe(n, runs)}; connect {raw['connect_s']:.1f}s")
    finally:
        redis_server.stop()
    return out


# --- the whole section ----------------------------------------------------------------------------------


async def run(*, workdir: Path, template: Path | None, ns, repeats: int, warmup: int, systems=SYSTEMS) -> dict:
    section = {"ns": list(ns), "repeats": repeats, "warmup": warmup, "systems": {}}
    event_template = None
    for system in [s for s in APP_SYSTEMS if s in systems]:
        layer, server = APP_SYSTEMS[system]
        say(f"fan-out: Channels, REDIS_CHANNEL_LAYER={layer}, {server}")
        result = await run_channels(system, workdir=workdir, template=template, ns=ns, repeats=repeats, warmup=warmup)
        section["systems"][system] = result
        if event_template is None and result.get("sample_event"):
            event_template = json.loads(result["sample_event"])
    section["payload"] = "a real new_order message" if event_template else "a synthetic order of the same shape"
    event_template = event_template or SYNTHETIC_EVENT
    section["payload_bytes"] = len(event_payload("X" * 8, event_template).encode())
    if "websockets" in systems:
        say("fan-out: baseline (a), bare websockets relay")
        section["systems"]["websockets"] = await run_websockets(
            workdir=workdir, ns=ns, repeats=repeats, warmup=warmup, template=event_template
        )
    if "socketio" in systems:
        say("fan-out: baseline (b), Node Socket.io + redis-adapter")
        section["systems"]["socketio"] = await run_socketio(
            workdir=workdir, ns=ns, repeats=repeats, warmup=warmup, template=event_template
        )
    return section
