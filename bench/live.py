"""Shared pieces of the rate, connections and scale-out sections.

Two helper processes, each driven over stdin/stdout with one JSON line per command:

- the **listener** (bench/node/listen.js): N websocket (or socket.io) clients in one
  Node process, counting every sequence-numbered event per socket (lost, duplicated)
  and timing it from the producer's clock;
- the **producer** (bench/producer.py): publishes sequence-numbered events at a set
  rate, through the app's channel layer (``group_send`` to ``partners``) or as a plain
  Redis PUBLISH for the baselines.

The clients are in Node (the ``ws`` package; socket.io-client for baseline (b)) for
every system, so the client side is the same, and faster than a Python client.
"""

import asyncio
import contextlib
import json
from pathlib import Path

from bench.common import NODE_DIR, BenchError, latency_stats, node_binary, python_executable, spread
from quickcommerce.testing import BASE_DIR

STREAM_LIMIT = 1 << 26

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


class LineProcess:
    """A child process that answers one JSON line per command line."""

    def __init__(self, cmd, *, cwd: Path, log_path: Path, env: dict | None = None, name: str = "helper"):
        self.cmd = [str(c) for c in cmd]
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.name = name
        self.proc = None

    async def __aenter__(self) -> "LineProcess":
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in __aexit__
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd,
            cwd=self.cwd,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self.log,
            limit=STREAM_LIMIT,
        )
        first = await self._line(60)
        if not first.get("ready"):
            raise BenchError(f"{self.name} did not start: {first}")
        return self

    async def _line(self, timeout: float) -> dict:
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except TimeoutError:
            raise BenchError(f"{self.name} did not answer within {timeout:.0f}s (log: {self.log_path})") from None
        if not raw:
            raise BenchError(f"{self.name} exited ({self.proc.returncode}); see {self.log_path}")
        return json.loads(raw)

    async def ask(self, command: str, timeout: float = 600) -> dict:
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        answer = await self._line(timeout)
        if answer.get("error"):
            if command.startswith("add"):
                return answer  # a partly failed connect is reported, not fatal here
            raise BenchError(f"{self.name}: {command!r} failed: {answer['error']}")
        return answer

    async def __aexit__(self, *exc) -> None:
        if self.proc and self.proc.returncode is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.terminate()
                try:
                    await asyncio.wait_for(self.proc.wait(), 5)
                except TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()
        self.log.close()


def listener(
    kind: str, url: str, *, log_path: Path, token: str = "", concurrency: int = 100, first_message: bool = False
) -> LineProcess:
    """bench/node/listen.js; ``first_message``: a socket counts as open once its snapshot came."""
    cmd = [node_binary(), "listen.js", "--kind", kind, "--url", url, "--concurrency", str(concurrency)]
    if token:
        cmd += ["--token", token]
    if first_message:
        cmd += ["--first-message"]
    return LineProcess(cmd, cwd=NODE_DIR, log_path=log_path, name=f"listener ({kind})")


def producer(*, payload_file: Path, log_path: Path, env: dict | None = None, redis_url: str = "", channel: str = ""):
    if env is not None:
        cmd = [python_executable(), "-m", "bench.producer", "--target", "layer", "--payload-file", payload_file]
    else:
        cmd = [python_executable(), "-m", "bench.producer", "--target", "redis", "--payload-file", payload_file]
        cmd += ["--redis", redis_url, "--channel", channel]
    return LineProcess(cmd, cwd=BASE_DIR, log_path=log_path, env=env, name="producer")


def write_payload(path: Path, sample: str | None) -> Path:
    """The event template: a real new_order message if the fan-out section captured one."""
    template = json.loads(sample) if sample else SYNTHETIC_EVENT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(template))
    return path


async def wait_delivered(listeners, first: int, last: int, *, timeout: float, settle: float = 0.0) -> None:
    """Poll until every open socket has every seq in first..last (or the timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    want = last - first + 1
    while loop.time() < deadline:
        counts = [await lst.ask(f"count {first} {last}") for lst in listeners]
        if all(c["distinct"] >= c["open"] * want for c in counts):
            break
        await asyncio.sleep(0.05)
    if settle:
        await asyncio.sleep(settle)  # let late duplicates show up


async def single_events(prod: LineProcess, listeners, *, first_seq: int, count: int, timeout: float = 30.0):
    """``count`` events, one at a time; per event p50/p95/max over every socket of every listener."""
    rows = []
    for seq in range(first_seq, first_seq + count):
        await prod.ask(f"one {seq}")
        await wait_delivered(listeners, seq, seq, timeout=timeout)
        reports = [await lst.ask(f"report {seq} {seq} raw") for lst in listeners]
        latencies = [x for r in reports for x in r["latencies"]]
        rows.append(
            {
                **latency_stats(latencies),
                "lost": sum(r["lost"] for r in reports),
                "duplicates": sum(r["duplicates"] for r in reports),
                "closed_by_server": sum(r["closed_by_server"] for r in reports),
                "sockets": sum(r["open"] for r in reports),
            }
        )
        await asyncio.sleep(0.2)
    return rows


def summarise(rows, key) -> dict:
    return spread([r[key] for r in rows])
