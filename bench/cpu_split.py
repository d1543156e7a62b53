"""Where one request's CPU goes, by thread: orders against the trivial view.

    python -m bench.cpu_split [--clients 1] [--blocks 6] [--per-block 100]

Not a section of ``bench.run``: a by-hand tool for issue 21's ratios (docs/benchmarks.md,
"Where the time goes"). One app server (pub/sub layer, no sockets open); blocks of
``POST /api/orders/`` and of ``GET /api/auth/me/`` alternate, from ``--clients``
concurrent clients, and after each block the server's CPU time is read from
``/proc/<pid>/task`` (Linux only), split three ways:

- the event loop: the process's main thread (uvicorn's HTTP parsing, the ASGI
  handler's coroutines, the hops to and from the request's thread, sending the live
  messages to Redis);
- long-lived worker threads: here the live publisher's thread
  (``dispatch.publish.Publisher``: building the messages), the only thread besides the
  loop that outlives a request;
- the request threads: the rest. Django's ASGI handler runs each request's sync code on
  a thread of its own, gone when the request ends, so its CPU is the process's total
  minus the two above.

Figures are ms of CPU per request (user + system), summed over the blocks; p50s are the
client's. No py-spy: nothing is slowed down, and waiting threads count for nothing.
"""

import argparse
import asyncio
import os
import statistics
import time

from bench.common import RESULTS_DIR, Api, BenchError, Services, make_template_db, say

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """Seconds of CPU so far per live thread of ``pid`` (``tid -> seconds``), and the
    process's total (key ``"total"``: its threads alive or gone)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    out = {"total": (int(fields[11]) + int(fields[12])) / TICK}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile: a request thread
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def split(pid: int, before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two ``thread_cpu`` readings: loop, long-lived workers, requests."""
    loop = after[str(pid)] - before[str(pid)]
    workers = sum(after[tid] - before[tid] for tid in after if tid in before and tid not in ("total", str(pid)))
    total = after["total"] - before["total"]
    return {"loop": loop, "workers": workers, "requests": total - loop - workers, "total": total}


async def measure(services, *, clients: int, blocks: int, per_block: int) -> dict:
    pid = services.app.proc.pid
    async with Api(services.app.url, connections=max(2, clients)) as api:
        tokens = [api.bearer(await api.token(name)) for name in ("alice", "bob")]
        body = api.order_body(await api.product_id())
        requests = {
            "order": lambda i: api.http.post("/api/orders/", json=body, headers=tokens[i % 2]),
            "trivial": lambda i: api.http.get("/api/auth/me/", headers=tokens[i % 2]),
        }
        latencies = {kind: [] for kind in requests}
        cpu = {kind: {"loop": 0.0, "workers": 0.0, "requests": 0.0, "total": 0.0} for kind in requests}
        for request in requests.values():  # warm up: imports, templates, the publisher's thread
            for i in range(20):
                await request(i)

        async def block(kind):
            left = per_block

            async def client():
                nonlocal left
                while left > 0:
                    left -= 1
                    start = time.perf_counter()
                    response = await requests[kind](left)
                    latencies[kind].append((time.perf_counter() - start) * 1000)
                    if response.status_code not in (200, 201):
                        raise BenchError(f"{kind}: {response.status_code} {response.text[:200]}")

            await asyncio.sleep(0.1)  # the previous block's live messages are built and sent
            before = thread_cpu(pid)
            await asyncio.gather(*(client() for _ in range(clients)))
            await asyncio.sleep(0.1)  # ... and this block's
            for part, seconds in split(pid, before, thread_cpu(pid)).items():
                cpu[kind][part] += seconds

        for i in range(blocks):
            for kind in ("order", "trivial") if i % 2 == 0 else ("trivial", "order"):
                await block(kind)
    count = blocks * per_block
    return {
        "p50": {kind: statistics.median(values) for kind, values in latencies.items()},
        "cpu_ms": {kind: {part: s * 1000 / count for part, s in parts.items()} for kind, parts in cpu.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_split")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=6, help="blocks of each kind, alternating")
    parser.add_argument("--per-block", type=int, default=100)
    args = parser.parse_args()
    workdir = RESULTS_DIR / f"cpu-split-{time.strftime('%Y%m%d-%H%M%S')}"
    workdir.mkdir(parents=True)
    template = make_template_db(workdir)
    with Services(workdir, template, "app", REDIS_CHANNEL_LAYER="pubsub") as services:
        result = asyncio.run(measure(services, clients=args.clients, blocks=args.blocks, per_block=args.per_block))
    p50, cpu = result["p50"], result["cpu_ms"]
    say(
        f"{args.clients} client(s), {args.blocks} x {args.per_block} of each: p50 order {p50['order']:.2f} ms, "
        f"trivial {p50['trivial']:.2f} ms ({p50['order'] / p50['trivial']:.2f}x)"
    )
    print("\n| CPU per request (ms) | order | trivial view | order - trivial |")
    print("|---|---|---|---|")
    names = {
        "requests": "the request's own thread",
        "loop": "the event loop",
        "workers": "long-lived workers (the live publisher)",
        "total": "all",
    }
    for part, name in names.items():
        order, trivial = cpu["order"][part], cpu["trivial"][part]
        print(f"| {name} | {order:.2f} | {trivial:.2f} | {order - trivial:.2f} |")
    print(f"\norder ÷ trivial, all CPU: {cpu['order']['total'] / cpu['trivial']['total']:.2f}x")


if __name__ == "__main__":
    main()
