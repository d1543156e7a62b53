"""Where an order's time goes: py-spy on the running server while orders are placed.

The app runs under ``py-spy record`` (sampling the server process from outside: no
change to the code under test), with N sockets of one online partner open (the Node
client, as in the fan-out section) and the Redis pub/sub layer; ``orders`` orders are
placed one at a time through ``POST /api/orders/``, then a burst from 4 clients. py-spy
writes its raw stacks when the server stops (SIGINT); this module sums them into the
functions that hold most samples: inclusive ("under this call") for the project's
own code and the libraries it calls, and exclusive ("on top of the stack").
"""

import asyncio
import collections
import shutil
import signal
import sys
from pathlib import Path

from bench.common import Api, BenchError, Services, describe_errors, expect, say
from bench.fanout import Clients
from quickcommerce.testing import BASE_DIR, AppServer

RATE = 250  # samples per second
PROJECT = ("accounts/", "orders/", "dispatch/", "quickcommerce/")


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise BenchError("py-spy is not installed (pip install -r requirements-bench.txt)")
    return found


class ProfiledAppServer(AppServer):
    """The app as everywhere else, started under ``py-spy record`` (raw stacks to ``out``)."""

    def __init__(self, *, profile_path: Path, **kwargs):
        super().__init__(**kwargs)
        self.profile_path = profile_path

    def command(self) -> list[str]:
        spy = [py_spy(), "record", "--rate", str(RATE), "--format", "raw", "--output", str(self.profile_path)]
        return [*spy, "--", *super().command()]

    def stop(self, sig=signal.SIGINT) -> None:
        # SIGINT: py-spy stops sampling, writes the profile and ends the server.
        super().stop(sig)


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file path relative to the project or site-packages)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    base = str(BASE_DIR) + "/"
    if where.startswith(base):
        where = where[len(base) :]
    elif "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif "/lib/python" in where:
        where = "stdlib/" + where.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{name} ({where})"


def summarise(raw_text: str, *, top: int = 25) -> dict:
    """Sum py-spy's raw stacks (``frame;frame;... count`` per line, root first)."""
    total = 0
    inclusive = collections.Counter()
    exclusive = collections.Counter()
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        # Skip the thread/process label py-spy may put first.
        frames = [f for f in frames if "(" in f and not f.startswith("process ")]
        if not frames:
            continue
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        exclusive[frames[-1]] += samples
    return {
        "samples": total,
        "inclusive": inclusive.most_common(400),
        "exclusive": exclusive.most_common(top),
    }


async def run(*, workdir: Path, template: Path, sockets: int, orders: int) -> dict:
    section = {"sockets": sockets, "orders": orders, "rate": RATE}
    services = Services(workdir, template, "profile", REDIS_CHANNEL_LAYER="pubsub", PARTNER_MAX_ACTIVE_ORDERS=100000)
    profile_path = services.workdir / "profile.raw"
    services.app_factory = lambda **kwargs: ProfiledAppServer(profile_path=profile_path, **kwargs)
    with services:
        async with Api(services.app.url, connections=8) as api:
            partner = await api.token("ravi")
            await api.go_online(partner)
            customers = [await api.token(name) for name in ("alice", "bob")]
            body = api.order_body(await api.product_id())

            async def place(i):
                response = await api.http.post("/api/orders/", json=body, headers=api.bearer(customers[i % 2]))
                expect(response, 201, "place order")

            async with Clients(
                "ws",
                f"{services.app.ws_url}/ws/orders/",
                sockets,
                token=partner,
                first_message=True,
                log_path=services.workdir / "clients.log",
            ):
                for i in range(orders):
                    await place(i)
                remaining = list(range(orders))

                async def worker():
                    while remaining:
                        await place(remaining.pop())

                await asyncio.gather(*(worker() for _ in range(4)))
        errors = services.app_errors()
        if errors:
            section["app_errors"] = errors
            say(f"  WARNING: the app logged errors while profiled: {describe_errors(errors)}")
    if not profile_path.exists():
        raise BenchError(f"py-spy wrote no profile; see {services.workdir / 'app.log'}")
    section.update(summarise(profile_path.read_text()))
    say(f"  profile: {section['samples']} samples; top: {section['inclusive'][:1]}")
    return section
