"""The one websocket endpoint, /ws/orders/, for every role.

Authenticates (session or JWT: accounts.ws_auth), joins only the groups the
user's role allows, sends a snapshot first (``dispatch.snapshots``, on every connect), then forwards
the events ``dispatch.publish`` sends — HTML fragments to browser pages, JSON to
API clients. Consumers change no order: the one write a socket causes is a partner's
``{"type": "location"}`` frame, handed to ``dispatch.location.record_location``.
Admins' sockets get at most one position per partner per ``ADMIN_LOCATION_SECONDS``
(the latest wins), so a busy city does not flood a dashboard.
"""

import asyncio
import collections
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dispatch import audiences, hub, watchdog
from dispatch.hub import start_eagerly
from dispatch.location import record_location
from dispatch.snapshots import snapshot_for
from quickcommerce.errors import DomainError

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
UNAVAILABLE = watchdog.UNAVAILABLE  # the channel layer is down; retry later
TOO_MANY = 4429  # like HTTP 429: this user already has WS_MAX_CONNECTIONS_PER_USER sockets here
TOO_MANY_REASON = "Too many open connections for this account."
RENEW = 1000  # WS_MAX_AGE_SECONDS passed: a normal close; clients reconnect and re-authenticate
MAX_FRAME = 512  # a client frame longer than this is ignored (a ping or a location is far shorter)
ADMIN_LOCATION_SECONDS = 1.0  # per admin socket, at most one position per partner this often

# Open sockets per user in this process (the cap is per process: docs/security.md).
_open_sockets: collections.Counter = collections.Counter()


class OrdersConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        """Channels' ``AsyncConsumer.__call__``, minus the consumer's own layer channel:
        events reach this socket through the process's hub (``dispatch.hub``), which
        calls ``deliver``; only the client's own messages go through ``dispatch``."""
        self.scope = scope
        self.base_send = send
        self.hub = hub.hub()
        self.joined = set()
        self.closed = False
        self.outbox = collections.deque()  # events wait here until the snapshot is out
        self.location_sent = {}  # admins: partner id -> when their last position went out
        self.location_held = {}  # admins: partner id -> the latest position waiting for its turn
        with contextlib.suppress(StopConsumer):
            while True:
                await self.dispatch(await receive())

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the client sees a meaningful close code, not just a 403.
            await self.accept()
            await self.close(code=UNAUTHENTICATED)
            return
        self.user = user
        if _open_sockets[user.pk] >= settings.WS_MAX_CONNECTIONS_PER_USER:
            logger.warning("user %s already has %d sockets: refusing another", user.pk, _open_sockets[user.pk])
            await self.accept()
            if self.scope.get("auth") == "jwt":
                # Also as a last message: not every client library shows a close reason.
                await self.send(text_data=json.dumps({"event": "error", "code": TOO_MANY, "detail": TOO_MANY_REASON}))
            await self.close(code=TOO_MANY, reason=TOO_MANY_REASON)
            return
        _open_sockets[user.pk] += 1
        self.counted = True
        self.as_json = self.scope.get("auth") == "jwt"
        try:
            for group in await self._groups():
                await self._join(group)
        except Exception:
            # The channel layer is down: refuse now; the client retries and gets a snapshot.
            logger.warning("channel layer unavailable: refusing a websocket for now", exc_info=True)
            await self.accept()
            await self.close(code=UNAVAILABLE)
            return
        await self.accept()
        watchdog.watch(self)
        # No socket outlives WS_MAX_AGE_SECONDS: reconnecting re-checks the session or token.
        self.expiry = asyncio.get_running_loop().call_later(settings.WS_MAX_AGE_SECONDS, self._expire)
        await self.send_snapshot()
        await self._flush()  # what arrived while the snapshot was made; stale frames are dropped client-side

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            self.counted = False
            _open_sockets[self.user.pk] -= 1
            if _open_sockets[self.user.pk] <= 0:
                del _open_sockets[self.user.pk]
        watchdog.unwatch(self)
        if getattr(self, "expiry", None):
            self.expiry.cancel()
        self.closed = True
        for group in list(self.joined):
            with contextlib.suppress(Exception):  # Redis may be the reason we are closing
                await self.hub.leave(group, self)
        self.joined = set()

    async def receive(self, text_data=None, bytes_data=None):
        """Clients may ping; partners send their position. Anything else is ignored."""
        if not text_data or len(text_data) > MAX_FRAME:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "ping":
            await self.send(text_data=json.dumps({"event": "pong"}))
        elif message.get("type") == "location" and getattr(getattr(self, "user", None), "is_partner", False):
            await self.location(message)

    async def location(self, message):
        """A partner's position: stored and published by ``dispatch.location`` (or dropped
        inside the interval). A refused one (bad values, offline, no active order) is not
        stored; JSON clients are told why, pages ignore it."""
        fields = {name: message.get(name) for name in ("accuracy", "heading", "speed")}
        try:
            await database_sync_to_async(record_location)(
                partner=self.user, latitude=message.get("lat"), longitude=message.get("lng"), **fields
            )
        except DomainError as exc:
            if self.as_json:
                await self.send(
                    text_data=json.dumps({"event": "location_refused", "code": exc.code, "detail": str(exc)})
                )

    # --- messages from dispatch.publish, handed over by dispatch.hub ------------------

    def deliver(self, message) -> None:
        """Called by the hub for each message of a group this socket is in; never waits.
        Sends at once when the server takes the frame at once; otherwise (the snapshot is
        not out yet, or this socket's previous send is still waiting on a slow client)
        the message queues behind, so every socket gets its messages in order and no
        socket holds up another."""
        if self.closed:
            return
        if message["type"] == audiences.LOCATION_MESSAGE and self.user.is_admin and self._hold(message):
            return
        self._deliver(message)

    def _deliver(self, message) -> None:
        if self.closed:
            return
        if self.outbox is not None:
            self.outbox.append(message)
            return
        try:
            pending = start_eagerly(self.handle_event(message))
        except Exception:
            logger.debug("socket closed during a delivery", exc_info=True)
            return
        if pending is not None:
            self.outbox = collections.deque()
            self.catching_up = asyncio.ensure_future(self._flush(pending))

    async def _flush(self, pending=None):
        """Wait for ``pending`` (a send in flight), then send what queued behind it."""
        try:
            if pending is not None:
                await pending
            while self.outbox:
                await self.handle_event(self.outbox.popleft())
        except Exception:
            logger.debug("socket closed while catching up", exc_info=True)
        self.outbox = None

    def handle_event(self, message):
        """The coroutine that handles one layer event (not a coroutine itself: one frame
        fewer per socket). Layer events never touch the database, so they skip
        ``dispatch`` and its per-message ``close_old_connections()``."""
        if message["type"] == audiences.PARTNER_MESSAGE:
            return self.partner_event(message)
        if message["type"] == audiences.REVOKE_MESSAGE:
            return self.revoked(message)
        return self._forward(message)

    async def revoked(self, message):
        """The user logged out, was deactivated, changed role or lost their tokens: close
        (4401, "sign in again"); a session logout closes only that session's sockets."""
        session_key = message.get("session_key")
        if session_key is not None:
            session = self.scope.get("session")
            if self.as_json or session is None or session.session_key != session_key:
                return
        await self.close(code=UNAUTHENTICATED)

    async def partner_event(self, message):
        if self.user.is_partner and message.get("partner_id") == str(self.user.pk):
            # Our own availability changed: follow the board, then resync it.
            if message["online"]:
                await self._join(audiences.PARTNERS_GROUP)
            else:
                await self._leave(audiences.PARTNERS_GROUP)
            await self.send_snapshot()
            return
        await self._forward(message)

    def _forward(self, message):
        """The coroutine that sends this event to this socket: in the usual case (one
        frame) the server's own ``send``, with nothing of ours around it — at 1,000
        sockets per event every coroutine layer per socket shows (docs/benchmarks.md)."""
        frames = asgi_frames(message, as_json=self.as_json)
        if len(frames) == 1:
            return self.base_send(frames[0])
        return self._send_all(frames)

    async def _send_html(self, html):
        await self._send_all([{"type": "websocket.send", "text": text} for text in _texts(html)])

    async def _send_all(self, frames):
        for frame in frames:
            await self.base_send(frame)

    def _hold(self, message) -> bool:
        """Admins: whether to hold this position back (the partner's last one went out
        less than ADMIN_LOCATION_SECONDS ago). A held position goes out when the second
        is over, unless a newer one replaced it meanwhile."""
        partner = message["partner_id"]
        loop = asyncio.get_running_loop()
        now = loop.time()
        last = self.location_sent.get(partner)
        if last is None or now - last >= ADMIN_LOCATION_SECONDS:
            self.location_sent[partner] = now
            return False
        if partner not in self.location_held:
            loop.call_later(ADMIN_LOCATION_SECONDS - (now - last), self._release, partner)
        self.location_held[partner] = message
        return True

    def _release(self, partner) -> None:
        message = self.location_held.pop(partner, None)
        if message is not None and not self.closed:
            self.location_sent[partner] = asyncio.get_running_loop().time()
            self._deliver(message)

    # --- helpers ----------------------------------------------------------------------

    def _expire(self):
        self.closing = asyncio.ensure_future(self.close(code=RENEW))

    async def _join(self, group):
        if group not in self.joined and self.hub is not None:
            await self.hub.join(group, self)
            self.joined.add(group)

    async def _leave(self, group):
        if group in self.joined:
            self.joined.discard(group)
            await self.hub.leave(group, self)

    @database_sync_to_async
    def _groups(self):
        return audiences.groups_for(self.user)

    async def send_snapshot(self):
        payload = await database_sync_to_async(snapshot_for)(self.user, as_json=self.as_json)
        await self._send_html(payload)


def _texts(html) -> list[str]:
    """An event's or snapshot's HTML: one frame, or a few that cannot share one."""
    return [text for text in ([html] if isinstance(html, str) else html or []) if text]


def asgi_frames(message, *, as_json: bool) -> tuple:
    """The ASGI messages that carry a layer event to one audience (JSON or HTML), built
    once per event: the hub hands the same message to every local socket."""
    key = "asgi_json" if as_json else "asgi_html"
    frames = message.get(key)
    if frames is None:
        # (an HTML-only message, the admins' dashboard blocks, has no JSON frame)
        texts = ([message["json"]] if message.get("json") else []) if as_json else _texts(message.get("html"))
        frames = message[key] = tuple({"type": "websocket.send", "text": text} for text in texts)
    return frames
