"""The consumer's logic, in-process with Channels' WebsocketCommunicator (the
over-a-real-socket cases are in test_live.py)."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from dispatch import audiences
from quickcommerce.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True)]


def communicator(token=None, origin=None, path="/ws/orders/"):
    headers = []
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@database_sync_to_async
def token_for(user):
    return str(AccessToken.for_user(user))


def test_groups_follow_the_role_and_availability(customer, partner, admin_user):
    from dispatch.services import set_availability

    own = audiences.user_group  # every socket is in its user's group (to be closed when rights end)
    assert audiences.groups_for(customer) == [audiences.customer_group(customer), own(customer)]
    assert audiences.groups_for(partner) == [audiences.partner_group(partner), own(partner)]  # offline: no board
    set_availability(partner=partner, online=True)
    assert audiences.groups_for(partner) == [audiences.partner_group(partner), audiences.PARTNERS_GROUP, own(partner)]
    assert audiences.groups_for(admin_user) == [audiences.ADMINS_GROUP, own(admin_user)]


async def test_jwt_client_gets_a_json_snapshot_first_and_can_ping(customer):
    ws = communicator(await token_for(customer))
    connected, _ = await ws.connect()
    assert connected
    assert json.loads(await ws.receive_from()) == {"event": "snapshot", "orders": []}
    await ws.send_to(text_data=json.dumps({"type": "ping"}))
    assert json.loads(await ws.receive_from()) == {"event": "pong"}
    await ws.disconnect()


async def test_malformed_and_unexpected_frames_are_ignored(customer):
    ws = communicator(await token_for(customer))
    await ws.connect()
    await ws.receive_from()
    for frame in ["{not json", "[]", '"x"', json.dumps({"type": "accept", "ref": "ABCDEFGH"}), "x" * 100_000]:
        await ws.send_to(text_data=frame)
    await ws.send_to(bytes_data=b"\x00\x01")
    assert await ws.receive_nothing(timeout=0.3)
    await ws.send_to(text_data=json.dumps({"type": "ping"}))  # still alive
    assert json.loads(await ws.receive_from()) == {"event": "pong"}
    await ws.disconnect()


async def test_invalid_token_is_closed_with_4401():
    ws = communicator("not-a-token")
    connected, _ = await ws.connect()
    assert connected
    closed = await ws.receive_output()
    assert closed["type"] == "websocket.close"
    assert closed["code"] == 4401


async def test_session_socket_without_origin_is_refused():
    ws = communicator()
    connected, _ = await ws.connect()
    assert not connected


async def test_customer_only_receives_its_own_group(customer, other_customer):
    ws = communicator(await token_for(customer))
    await ws.connect()
    await ws.receive_from()
    layer = get_channel_layer()
    message = {"type": audiences.ORDER_MESSAGE, "event": "x", "json": '{"event": "theirs"}', "html": "<p>theirs</p>"}
    await layer.group_send(audiences.customer_group(other_customer), message)
    assert await ws.receive_nothing(timeout=0.2)
    await layer.group_send(audiences.customer_group(customer), {**message, "json": '{"event": "mine"}'})
    assert json.loads(await ws.receive_from()) == {"event": "mine"}
    await ws.disconnect()


async def test_sockets_are_closed_normally_at_their_maximum_age(customer, settings):
    settings.WS_MAX_AGE_SECONDS = 1
    ws = communicator(await token_for(customer))
    await ws.connect()
    await ws.receive_from()  # the snapshot
    assert await ws.receive_nothing(timeout=0.5)  # still open before its time
    closed = await ws.receive_output(timeout=3)
    assert (closed["type"], closed["code"]) == ("websocket.close", 1000)
