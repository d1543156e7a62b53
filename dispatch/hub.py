"""Process-local fan-out: one channel-layer channel per process, however many sockets.

``dispatch.publish`` publishes each event to a Channels group (``partners``,
``customer.<id>``, ...). If every socket's consumer were itself a member of the group,
the layer would copy each message into one queue per socket and wake one task per
socket to write one frame — at 1,000 sockets that bookkeeping cost more than the
writes themselves (docs/benchmarks.md, "fan-out"). Instead each process (each event
loop) has one ``Hub``: for each group that at least one local socket wants, one layer
channel in that group, which receives each group message once and hands it to every
local socket of the group in turn, in the order messages arrive.

``Hub.join`` returns once the layer has the hub's channel in the group, so a consumer
that joins before sending its snapshot misses nothing after it. Group membership is
refreshed every ``RENEW_SECONDS``, well inside the core layer's ``group_expiry``.

A delivery must never let one slow socket hold up the others: the hub starts each
socket's send with ``start_eagerly``, which runs it to completion on the spot when the
server can take the frame at once (the usual case) and only otherwise leaves the rest
to a task of its own (``dispatch.consumers.OrdersConsumer.deliver`` queues that socket's
later messages behind it, so each socket still gets them in order).
"""

import asyncio
import contextlib
import logging
import types
import weakref

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

RENEW_SECONDS = 3600.0  # the core layer forgets group members after group_expiry (1 day)
RETRY_SECONDS = 1.0

_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub() -> "Hub | None":
    """This event loop's hub (None without a channel layer)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        layer = get_channel_layer()
        if layer is None:
            return None
        found = _hubs[loop] = Hub(layer)
    return found


class Hub:
    """This process's sockets, by group; one layer channel (and one receiving task) per
    group that has local sockets."""

    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, set] = {}
        self.channels: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._renewal: asyncio.Task | None = None
        self._lock = asyncio.Lock()  # membership changes reach the layer in order

    async def join(self, group: str, member) -> None:
        """Deliver ``group``'s messages to ``member`` (anything with ``deliver(message)``)."""
        async with self._lock:
            if group not in self.members:
                channel = await self.layer.new_channel()
                await self.layer.group_add(group, channel)
                self.channels[group] = channel
                self.members[group] = set()
                self._tasks[group] = asyncio.ensure_future(self._receive(group, channel))
                if self._renewal is None:
                    self._renewal = asyncio.ensure_future(self._renew())
            self.members[group].add(member)

    async def leave(self, group: str, member) -> None:
        async with self._lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if members:
                return
            del self.members[group]
            channel = self.channels.pop(group)
            self._tasks.pop(group).cancel()
            await self.layer.group_discard(group, channel)

    async def _receive(self, group: str, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis is gone (dispatch.watchdog closes the sockets); try again shortly.
                logger.warning("hub: receiving for %s failed; retrying", group, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for member in list(self.members.get(group, ())):
                try:
                    member.deliver(message)
                except Exception:
                    logger.exception("hub: delivering %s to %s failed", message.get("type"), group)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for group, channel in list(self.channels.items()):
                with contextlib.suppress(Exception):  # an outage: the next round renews
                    await self.layer.group_add(group, channel)


def start_eagerly(coro) -> "asyncio.Future | None":
    """Run ``coro`` now, up to its first suspension. Return None if it finished (its
    result is dropped, an exception it raised propagates); otherwise a Task that runs
    the rest. Python 3.12's eager tasks do this; this works on 3.11 too."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, yielded))


@types.coroutine
def _resume(coro, yielded):
    """Go on with a coroutine that was stepped by hand and suspended on ``yielded``:
    hand each thing it waits on to the running Task, and pass back what the Task sends
    or throws (what ``yield from`` does, starting mid-way)."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # forwarded into the coroutine
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value
