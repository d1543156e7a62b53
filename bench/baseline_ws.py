"""Baseline (a) for the fan-out benchmark: the least a Python relay can do.

A bare ``websockets`` server that subscribes to one Redis pub/sub channel and
relays every message, unchanged, to all of its connected clients with
``websockets.broadcast`` (one encoded frame, written to each socket). No auth, no
groups, no per-socket work: the floor that Channels' fan-out is compared with.

    python -m bench.baseline_ws --port 8765 --redis redis://127.0.0.1:6390/0 --channel bench

Prints ``ready`` on stdout once it listens and is subscribed.
"""

import argparse
import asyncio
import contextlib
import signal

import redis.asyncio as redis
from websockets.asyncio.server import broadcast, serve


async def main(port: int, redis_url: str, channel: str) -> None:
    clients = set()

    async def handler(websocket):
        clients.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            clients.discard(websocket)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)

    async def relay():
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(clients, message["data"])

    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None):
        relay_task = asyncio.create_task(relay())
        print("ready", flush=True)
        await stop
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
    await pubsub.aclose()
    await connection.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--channel", default="bench:fanout")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.redis, args.channel))
