"""dispatch.publish.Publisher: under the server, a change's live messages are built on
the publisher's own thread and sent from the event loop, in commit order, after the
request has queued them; a stopping server still sends what was committed.

The layer is Channels' in-memory one (the settings' default without REDIS_URL); the
same path through uvicorn, Redis and real sockets is in test_live.py."""

import asyncio
import re
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from dispatch import audiences
from dispatch import publish as publishing
from dispatch.publish import Publisher
from orders.factories import ProductFactory
from orders.services import cancel_order, place_order

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "12 Baker Street, Marylebone"


@pytest.fixture
def milk(db):
    return ProductFactory(stock=50)


@pytest.fixture
def built_on(monkeypatch):
    """The thread each order's messages were built on (the real builder runs)."""
    threads = []
    real = publishing.order_messages

    def order_messages(event, order, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(event, order, *args, **kwargs)

    monkeypatch.setattr(publishing, "order_messages", order_messages)
    monkeypatch.setattr(Publisher, "_current", None)
    return threads


async def admin_messages():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(audiences.ADMINS_GROUP, channel)
    return layer, channel


async def receive(layer, channel, count, timeout=5):
    got = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            message = await layer.receive(channel)
            got.append((message["event"], message["ref"], message["version"]))
    return got


async def test_messages_are_built_off_the_request_thread_and_sent_in_commit_order(customer, milk, built_on):
    layer, channel = await admin_messages()
    Publisher.serve_on(asyncio.get_running_loop())

    # when a "request" (the sync thread all views share) places an order and cancels it
    def request():
        order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
        queued_in_request = list(built_on)
        cancelled = cancel_order(actor=customer, order_ref=order.ref)
        return order, cancelled, queued_in_request

    # (as under the server, the publisher builds once the request has answered: here the
    # "response" goes after both changes, so the build never overlaps the request's writes)
    answered = asyncio.get_running_loop().create_future()
    token = publishing._answered.set(answered)
    try:
        order, cancelled, built_during_request = await sync_to_async(request)()
    finally:
        publishing._answered.reset(token)
    answered.set_result(None)

    # then the request built nothing itself, and the admins got both events, in order,
    # each as committed (version 1, then 2)
    assert all(name.startswith("live-publish") for name in built_during_request)
    got = await receive(layer, channel, 2)
    assert got == [("new_order", order.ref, 1), ("order_status_update", order.ref, cancelled.version)]
    assert built_on and all(name.startswith("live-publish") for name in built_on)


async def test_a_stopping_server_still_sends_what_was_committed(customer, milk, built_on):
    layer, channel = await admin_messages()
    publisher = Publisher.serve_on(asyncio.get_running_loop())

    # given an order placed and queued, but the publisher's task not yet run
    order, _ = await sync_to_async(place_order)(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)

    # when the server stops (asyncio.run cancels every task)
    publisher.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publisher.task

    # then the event went out anyway, once
    assert await receive(layer, channel, 1) == [("new_order", order.ref, 1)]
    with pytest.raises(TimeoutError):
        await receive(layer, channel, 1, timeout=0.3)
    # and with the server's loop gone, a change is published at once, in the caller
    assert Publisher.current() is None


def test_without_a_server_loop_publish_builds_and_sends_in_the_caller(customer, milk, built_on):
    order, _ = place_order(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
    assert built_on == [threading.current_thread().name]
    assert order.version == 1


async def test_messages_are_built_once_the_request_has_answered(customer, milk, built_on):
    layer, channel = await admin_messages()
    placed = []

    async def app(scope, receive, send):
        # a request that places an order, then takes a while to answer
        order, _ = await sync_to_async(place_order)(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
        placed.append(order)
        await asyncio.sleep(0.2)
        placed.append(list(built_on))

    await Publisher.serve_http(app, {"type": "http"}, None, None)

    # nothing was built while the request was still answering; then the event went out
    order, built_before_answer = placed
    assert built_before_answer == []
    assert await receive(layer, channel, 1) == [("new_order", order.ref, 1)]


async def test_admins_blocks_go_out_at_most_once_per_interval_and_never_lag_the_last_change(
    customer, milk, built_on, monkeypatch
):
    monkeypatch.setattr(publishing, "ADMIN_BLOCKS_SECONDS", 0.5)
    layer, channel = await admin_messages()
    Publisher.serve_on(asyncio.get_running_loop())

    async def next_admin_message(timeout=5):
        async with asyncio.timeout(timeout):
            return await layer.receive(channel)

    # given an order whose admin message carried the dashboard's blocks
    first, _ = await sync_to_async(place_order)(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
    message = await next_admin_message()
    assert (message["event"], message["ref"]) == ("new_order", first.ref)
    assert 'id="dash-counts"' in message["html"]

    # when a second order follows within the interval
    loop = asyncio.get_running_loop()
    second, _ = await sync_to_async(place_order)(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
    placed_at = loop.time()

    # then its row goes out at once, without the blocks
    message = await next_admin_message()
    assert (message["event"], message["ref"]) == ("new_order", second.ref)
    assert f'id="dash-order-{second.ref}"' in message["html"] and 'id="dash-counts"' not in message["html"]

    # and the blocks follow on their own once the interval is up, counting both orders
    message = await next_admin_message()
    assert loop.time() - placed_at <= 0.5 + 0.4
    assert message["type"] == audiences.DASHBOARD_MESSAGE and message["event"] == audiences.DASHBOARD_UPDATE
    assert message["json"] is None  # nothing for JSON clients
    placed_tile = re.search(r'<div class="tile tile-status[^"]*" data-status="placed"[^>]*>', message["html"])
    assert 'data-now="2"' in placed_tile.group(0)
    # and nothing more: no change since
    with pytest.raises(TimeoutError):
        await next_admin_message(timeout=0.8)


def test_html_only_messages_send_json_sockets_nothing():
    from dispatch.consumers import asgi_frames

    message = {"type": audiences.DASHBOARD_MESSAGE, "html": "<div id='dash-counts'></div>", "json": None}
    assert asgi_frames(dict(message), as_json=True) == ()
    assert [frame["text"] for frame in asgi_frames(dict(message), as_json=False)] == [message["html"]]


async def test_a_batch_is_built_in_two_hops_the_partners_board_first(customer, milk, built_on, monkeypatch):
    hops = []
    real = publishing._take

    def take(messages, count):
        items = real(messages, count)
        hops.append((count, [group for group, _ in items]))
        return items

    monkeypatch.setattr(publishing, "_take", take)
    layer, channel = await admin_messages()
    Publisher.serve_on(asyncio.get_running_loop())

    # when an order is placed under the server
    order, _ = await sync_to_async(place_order)(customer=customer, lines=[(milk.pk, 1)], address=ADDRESS)
    assert await receive(layer, channel, 1) == [("new_order", order.ref, 1)]

    # then the worker built the partners' board alone, then the other audiences in one go
    assert hops == [(1, [audiences.PARTNERS_GROUP]), (None, [f"customer.{customer.pk}", audiences.ADMINS_GROUP])]
