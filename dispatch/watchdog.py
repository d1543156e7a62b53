"""Redis watchdog: close live sockets cleanly when the channel layer's Redis is lost.

channels-redis' pub/sub layer re-subscribes by itself after Redis comes back, but
whatever was published meanwhile is gone, and its ``on_reconnect`` hook is never
called in 4.3.0. A socket that silently missed events would show a stale board.
So each app server process pings Redis once a second while it has live sockets; on the
first failed ping it closes every local socket with 4503 (like HTTP 503).
Clients reconnect by themselves (the htmx ws extension backs off and retries), and
every (re)connect starts with a fresh snapshot — so nothing missed stays missing.
"""

import asyncio
import contextlib
import logging
import weakref

from django.conf import settings

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0
# Our own close code, read as HTTP 503; static/js/app.js reconnects on it with back-off.
UNAVAILABLE = 4503

_consumers: "weakref.WeakSet" = weakref.WeakSet()
_task: asyncio.Task | None = None


def watch(consumer) -> None:
    """Register a connected consumer; start the watchdog in this process if needed."""
    global _task
    if not settings.REDIS_URL:
        return  # in-memory layer: nothing to lose
    _consumers.add(consumer)
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_run(settings.REDIS_URL))


def unwatch(consumer) -> None:
    _consumers.discard(consumer)


async def _run(url: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        while _consumers:
            try:
                await client.ping()
            except Exception as exc:
                logger.warning("channel layer Redis unreachable (%s): closing %d sockets", exc, len(_consumers))
                await _close_all()
            await asyncio.sleep(INTERVAL_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


async def _close_all() -> None:
    for consumer in list(_consumers):
        _consumers.discard(consumer)
        with contextlib.suppress(Exception):
            await consumer.close(code=UNAVAILABLE)
