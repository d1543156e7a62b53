"""dispatch.hub: one layer channel per group per process, and eager sends.

The layer here is Channels' in-memory one (the settings' default without REDIS_URL);
the same hub over real Redis, both layer classes and real sockets is in test_live.py."""

import asyncio
import collections

import pytest
from channels.layers import InMemoryChannelLayer

from dispatch import audiences
from dispatch.consumers import OrdersConsumer
from dispatch.hub import Hub, start_eagerly


class Member:
    def __init__(self, fail=False):
        self.got = []
        self.fail = fail

    def deliver(self, message):
        if self.fail:
            raise RuntimeError("this socket is broken")
        self.got.append(message["n"])


async def settle():
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_one_layer_channel_per_group_however_many_members():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    a, b, c = Member(), Member(), Member()
    await hub.join("partners", a)
    await hub.join("partners", b)
    await hub.join("customer.7", c)
    assert set(layer.groups) == {"partners", "customer.7"}
    assert len(layer.groups["partners"]) == 1  # not one member per socket

    await layer.group_send("partners", {"type": "order.event", "n": 1})
    await layer.group_send("customer.7", {"type": "order.event", "n": 2})
    await layer.group_send("partners", {"type": "order.event", "n": 3})
    await settle()
    assert (a.got, b.got, c.got) == ([1, 3], [1, 3], [2])

    await hub.leave("partners", a)
    await layer.group_send("partners", {"type": "order.event", "n": 4})
    await settle()
    assert (a.got, b.got) == ([1, 3], [1, 3, 4])

    await hub.leave("partners", b)
    assert "partners" not in layer.groups  # the last local socket left: so does the hub
    await hub.leave("partners", b)  # twice is harmless
    await hub.join("partners", a)  # and it can come back
    await layer.group_send("partners", {"type": "order.event", "n": 5})
    await settle()
    assert a.got == [1, 3, 5]


async def test_a_failing_member_does_not_stop_the_others():
    layer = InMemoryChannelLayer()
    hub = Hub(layer)
    broken, fine = Member(fail=True), Member()
    await hub.join("admins", broken)
    await hub.join("admins", fine)
    for n in range(3):
        await layer.group_send("admins", {"type": "order.event", "n": n})
    await settle()
    assert fine.got == [0, 1, 2]


# --- start_eagerly ----------------------------------------------------------------------


async def test_a_coroutine_that_never_waits_runs_to_the_end_on_the_spot():
    ran = []

    async def quick():
        ran.append("done")
        return 42

    assert start_eagerly(quick()) is None
    assert ran == ["done"]


async def test_a_coroutine_that_waits_finishes_in_a_task_with_its_result():
    gate = asyncio.Event()
    steps = []

    async def slow():
        steps.append("before")
        await gate.wait()
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield to the loop, too
        return "finished"

    task = start_eagerly(slow())
    assert steps == ["before"]
    await asyncio.sleep(0.01)
    assert steps == ["before"] and not task.done()
    gate.set()
    assert await task == "finished"
    assert steps == ["before", "after"]


async def test_errors_surface_before_and_after_the_first_wait():
    async def fails_at_once():
        raise ValueError("now")

    with pytest.raises(ValueError, match="now"):
        start_eagerly(fails_at_once())

    async def fails_later():
        await asyncio.sleep(0.01)
        raise ValueError("later")

    with pytest.raises(ValueError, match="later"):
        await start_eagerly(fails_later())


async def test_cancelling_the_task_reaches_the_coroutine():
    cleaned = []

    async def waits_forever():
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = start_eagerly(waits_forever())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


# --- OrdersConsumer.deliver: a slow socket holds up nobody, and keeps its order -----------


def consumer_with(send):
    consumer = OrdersConsumer()
    consumer.base_send = send
    consumer.as_json = True
    consumer.closed = False
    consumer.outbox = None  # the snapshot is out
    return consumer


async def test_a_socket_whose_send_waits_gets_everything_later_in_order_without_holding_up_others():
    frames = collections.defaultdict(list)
    unblock = asyncio.Event()

    async def slow_send(message):
        if message["text"] == "event 0":
            await unblock.wait()  # what a full write buffer does (flow control)
        frames["slow"].append(message["text"])

    async def fast_send(message):
        frames["fast"].append(message["text"])

    slow, fast = consumer_with(slow_send), consumer_with(fast_send)
    for n in range(3):
        message = {"type": audiences.ORDER_MESSAGE, "json": f"event {n}", "html": ""}
        slow.deliver(message)
        fast.deliver(message)
    # Delivered at once to the fast socket, none yet to the slow one, and deliver() never waited.
    assert frames["fast"] == ["event 0", "event 1", "event 2"]
    assert frames["slow"] == []
    unblock.set()
    await settle()
    assert frames["slow"] == ["event 0", "event 1", "event 2"]
    assert slow.outbox is None  # caught up: the next event goes out on the spot again
    slow.deliver({"type": audiences.ORDER_MESSAGE, "json": "event 3", "html": ""})
    assert frames["slow"][-1] == "event 3"


async def test_events_before_the_snapshot_wait_for_it_and_a_closed_socket_gets_nothing():
    sent = []

    async def send(message):
        sent.append(message["text"])

    consumer = consumer_with(send)
    consumer.outbox = collections.deque()  # connecting: the snapshot is not out yet
    consumer.deliver({"type": audiences.ORDER_MESSAGE, "json": "early", "html": ""})
    assert sent == []
    await consumer.send(text_data="snapshot")
    await consumer._flush()
    assert sent == ["snapshot", "early"]

    consumer.closed = True
    consumer.deliver({"type": audiences.ORDER_MESSAGE, "json": "too late", "html": ""})
    await settle()
    assert sent == ["snapshot", "early"]


async def test_the_hub_renews_its_groups_before_the_layer_forgets_them(monkeypatch):
    from dispatch import hub as hub_module

    monkeypatch.setattr(hub_module, "RENEW_SECONDS", 0.3)
    layer = InMemoryChannelLayer(group_expiry=1)  # the core layer forgets members like this, after a day
    hub = Hub(layer)
    member = Member()
    await hub.join("partners", member)
    await asyncio.sleep(2.6)  # well past the expiry: without renewal the hub is no longer a member
    await layer.group_send("partners", {"type": "order.event", "n": 1})
    await settle()
    assert member.got == [1]
