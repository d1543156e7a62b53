"""Where one order request's time goes, without sockets: py-spy on the app server while
orders are placed one at a time, then as many ``GET /api/auth/me/`` (the trivial view).

    python -m bench.profile_request [--orders 300] [--idle]

Not a section of ``bench.run`` (the profile section there holds 1,000 sockets, whose
fan-out fills most of its samples): this is the request alone, for finding what the
order costs over the trivial view. Prints both p50s, then the samples under the request
view (``APIView.dispatch``) and the live messages' build (``Publisher._messages``) as a
tree, in ms per order (samples x sampling interval / orders). ``--idle`` samples
waiting threads too (wall time, including the waits on Redis and SQLite). Used for
docs/benchmarks.md, "Where the time goes".
"""

import argparse
import asyncio
import statistics
import time

from bench.common import RESULTS_DIR, Api, Services, make_template_db, say
from bench.profile import RATE, ProfiledAppServer, _frame_name

ROOTS = ("APIView.dispatch", "Publisher._messages")


class _Server(ProfiledAppServer):
    idle = False

    def command(self) -> list[str]:
        command = super().command()
        if self.idle:
            command.insert(command.index("record") + 1, "--idle")
        return command


def tree(raw_text: str, root: str, *, depth: int) -> dict:
    """``{frame: [samples, children]}`` of the stacks through ``root``, from ``root`` down."""
    nodes: dict = {}
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";") if f]
        starts = [i for i, frame in enumerate(frames) if frame.startswith(root + " ")]
        if not starts:
            continue
        node = nodes
        for frame in frames[starts[0] : starts[0] + depth]:
            entry = node.setdefault(frame, [0, {}])
            entry[0] += int(count)
            node = entry[1]
    return nodes


def print_tree(nodes: dict, *, per_order: float, least_ms: float, indent: int = 0) -> None:
    for frame, (samples, children) in sorted(nodes.items(), key=lambda kv: -kv[1][0]):
        if samples * per_order < least_ms:
            continue
        print(f"{'  ' * indent}{samples * per_order:6.2f} ms  {frame}")
        print_tree(children, per_order=per_order, least_ms=least_ms, indent=indent + 1)


async def measure(url: str, orders: int) -> dict:
    async with Api(url, connections=4) as api:
        tokens = [api.bearer(await api.token(name)) for name in ("alice", "bob")]
        body = api.order_body(await api.product_id())
        times = {"order": [], "trivial": []}
        for kind, request in (
            ("order", lambda i: api.http.post("/api/orders/", json=body, headers=tokens[i % 2])),
            ("trivial", lambda i: api.http.get("/api/auth/me/", headers=tokens[i % 2])),
        ):
            for i in range(orders):
                start = time.perf_counter()
                response = await request(i)
                times[kind].append((time.perf_counter() - start) * 1000)
                assert response.status_code in (200, 201), response.text
        return {kind: statistics.median(values) for kind, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_request")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--idle", action="store_true", help="sample waiting threads too (wall time)")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--least-ms", type=float, default=0.1, help="hide frames under this many ms per order")
    args = parser.parse_args()
    workdir = RESULTS_DIR / f"profile-request-{time.strftime('%Y%m%d-%H%M%S')}"
    workdir.mkdir(parents=True)
    template = make_template_db(workdir)
    services = Services(workdir, template, "app", REDIS_CHANNEL_LAYER="pubsub")
    path = services.workdir / "profile.raw"
    _Server.idle = args.idle
    services.app_factory = lambda **kwargs: _Server(profile_path=path, **kwargs)
    with services:
        p50 = asyncio.run(measure(services.app.url, args.orders))
    say(f"p50 (under py-spy): order {p50['order']:.2f} ms, trivial view {p50['trivial']:.2f} ms; raw stacks: {path}")
    raw = path.read_text()
    per_order = 1000 / RATE / args.orders  # ms per order of one sample
    for root in ROOTS:
        print(f"\n-- {root} (ms per order; the trivial view's requests are under APIView.dispatch too)")
        print_tree(tree(raw, root, depth=args.depth), per_order=per_order, least_ms=args.least_ms)


if __name__ == "__main__":
    main()
