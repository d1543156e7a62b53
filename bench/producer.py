"""A bench-only event producer, run as its own process and driven over stdin/stdout.

    python -m bench.producer --target layer --payload-file f.json          # the app's channel layer
    python -m bench.producer --target redis --redis URL --channel C --payload-file f.json

``--target layer`` runs with the app's settings (``DJANGO_SETTINGS_MODULE``,
``REDIS_URL``, ``REDIS_CHANNEL_LAYER`` in the environment, as the app server has them) and
sends, through ``channels.layers.get_channel_layer().group_send`` to the
``partners`` group, exactly the message shape ``dispatch.publish`` publishes::

    {"type": "order.event", "event": "new_order", "ref": ..., "version": ...,
     "html": ..., "json": <the JSON text API sockets receive>}

so what is measured is the layer + the hub + the consumer + the server, not placing an order.
``--target redis`` PUBLISHes the same JSON text to a plain Redis channel, which the
baselines relay. Each JSON text carries ``seq`` (sequence number) and ``t`` (wall
clock in ms just before the send), so the listener can count lost and duplicated
messages and time each one.

Commands, one per line; each answers one JSON line:

    run RATE SECONDS FIRST_SEQ   send RATE events/s for SECONDS, seqs from FIRST_SEQ
    one SEQ                      send one event
"""

import argparse
import asyncio
import json
import sys
import time

PARTNERS_GROUP = "partners"  # dispatch.audiences.PARTNERS_GROUP (not imported: no app import at module level)


class Sender:
    def __init__(self, args):
        self.args = args
        template = json.loads(open(args.payload_file).read())  # noqa: SIM115
        self.template = template
        self.html = '<div hx-swap-oob="beforeend:#available-orders">' + "x" * 480 + "</div>"

    async def start(self):
        if self.args.target == "layer":
            import django

            django.setup()
            from channels.layers import get_channel_layer

            from dispatch import audiences

            assert audiences.PARTNERS_GROUP == PARTNERS_GROUP and audiences.ORDER_MESSAGE == "order.event"
            self.layer = get_channel_layer()
        else:
            import redis.asyncio as aioredis

            self.redis = aioredis.Redis.from_url(self.args.redis)

    def text(self, seq: int) -> tuple[str, str]:
        ref = f"S{seq:07d}"
        order = self.template.get("order")
        body = {**self.template, "ref": ref, "version": seq, "seq": seq, "t": time.time() * 1000}
        if isinstance(order, dict):
            body["order"] = {**order, "ref": ref}
        return ref, json.dumps(body)

    async def send(self, seq: int) -> None:
        ref, text = self.text(seq)
        if self.args.target == "layer":
            message = {
                "type": "order.event",
                "event": "new_order",
                "ref": ref,
                "version": seq,
                "html": self.html,
                "json": text,
            }
            await self.layer.group_send(PARTNERS_GROUP, message)
        else:
            await self.redis.publish(self.args.channel, text)

    async def run(self, rate: float, seconds: float, first: int) -> dict:
        count = max(1, round(rate * seconds))
        start = time.perf_counter()
        worst_lag = 0.0
        for i in range(count):
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                worst_lag = max(worst_lag, now - due)
            await self.send(first + i)
        elapsed = time.perf_counter() - start
        return {"sent": count, "last": first + count - 1, "seconds": elapsed, "worst_lag_ms": worst_lag * 1000}


async def main(args) -> None:
    sender = Sender(args)
    await sender.start()
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": True}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "run":
                out = await sender.run(float(parts[1]), float(parts[2]), int(parts[3]))
            elif parts[0] == "one":
                await sender.send(int(parts[1]))
                out = {"sent": 1, "last": int(parts[1])}
            else:
                out = {"error": f"unknown command {parts[0]}"}
        except Exception as exc:  # report, keep serving
            out = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("layer", "redis"), required=True)
    parser.add_argument("--redis")
    parser.add_argument("--channel", default="bench:fanout")
    parser.add_argument("--payload-file", required=True)
    asyncio.run(main(parser.parse_args()))
