"""Publishing live events: one message per audience group, after the change is committed.

``orders.services`` announces every change on ``orders.signals.order_changed`` (after
commit); ``on_order_changed`` (connected in ``DispatchConfig.ready``) publishes it. Each
message carries both forms of the event, made once per audience: ``html``
(``dispatch.fragments``) for browser pages and ``json`` (``dispatch.payloads``) for API
clients; the consumer forwards the one its socket wants.

Under the server (``quickcommerce.asgi`` hands its event loop to ``serve_on``), the
request does only what must happen at the commit: it reads the order as committed and
puts it on this process's ``Publisher`` queue; a worker thread of its own builds the
messages (the fragments and payloads, with their queries) and the event loop sends
them, in commit order, while the request answers. Building every audience's messages in
the request made every request wait for it, and waiting for the send there made the
request wait for the event loop, busy writing the previous event to every socket
(docs/benchmarks.md, "profile"). Elsewhere (a management command,
the in-process tests) ``publish`` builds and sends at once, as before.

A failed publish (Redis down) is logged and swallowed: the write already happened and
is the truth; clients catch up from the snapshot they get when they reconnect.
"""

import asyncio
import contextvars
import itertools
import json
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from accounts.models import User
from accounts.selectors import is_partner_online
from dispatch import audiences, fragments, payloads
from orders.geo import order_eta
from orders.models import Order
from orders.signals import NEW_ORDER, ORDER_ACCEPTED, ORDER_STATUS_UPDATE

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 2.0
# The admins' counts, partners, timing and chart describe the store, not one order, and
# cost more to build than all of an order's other messages together (8 queries and the
# dashboard's partials). Under the server they go out at most once per this many seconds:
# with a batch if the last went out longer ago, else on their own once the time is up, so
# they never lag the last change by more than this. Every order's own row goes out at once.
ADMIN_BLOCKS_SECONDS = 1.0
# The publisher builds a change's messages once the request that made it has answered
# (so the two never compete for the GIL and the loop), but waits no longer than this.
AFTER_RESPONSE_MAX_WAIT_SECONDS = 1.0

# Done when the current HTTP request has been answered (set by ``serve_http``; the sync
# view's thread sees it: asgiref copies the context).
_answered: contextvars.ContextVar["asyncio.Future | None"] = contextvars.ContextVar("live_answered", default=None)


async def send_now(messages) -> None:
    """Send ``[(group, message), ...]`` in order (on the event loop); log and swallow failures."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            for group, message in messages:
                await layer.group_send(group, message)
    except Exception:
        logger.exception("publish failed for groups %s", [group for group, _ in messages])


def send(messages) -> None:
    """Send ``[(group, message), ...]`` from sync code; log and swallow failures (never a 500)."""
    if get_channel_layer() is None:
        return
    async_to_sync(send_now)(messages)


def on_order_changed(sender, *, event, order, previous_partner_id=None, **kwargs) -> None:
    """The receiver of ``orders.signals.order_changed``."""
    publish(event, order, previous_partner_id=previous_partner_id)


def publish(event: str, order, *, previous_partner_id=None) -> None:
    """Tell every audience about ``event`` on ``order`` (as committed, with its details:
    ``orders.signals.order_changed`` sends it so). The messages are built and sent by this
    process's ``Publisher`` when the server runs one, else here and now."""
    publisher = Publisher.current()
    if publisher is not None:
        publisher.submit(event, order, previous_partner_id, after=_answered.get())
        return
    send(build_messages([(event, order, previous_partner_id)]))


def iter_messages(changes, *, admin_blocks=True):
    """Yield ``(group, message)`` for ``[(event, order, previous_partner_id), ...]`` (orders
    with details, as committed), in order, each as soon as it is built: for each change
    the partners' board first, the message most sockets wait for. The admins' counts,
    partners and timing blocks describe the store, not one order: rendered once, with the
    last admin message of the batch (``admin_blocks=False``: not at all; with no changes,
    ``admin_blocks=True`` yields them on their own)."""
    for i, (event, order, previous_partner_id) in enumerate(changes):
        try:
            yield from order_messages(
                event, order, previous_partner_id, admin_blocks=admin_blocks and i == len(changes) - 1
            )
        except Exception:
            # Never let a live update break the request that made the change, or the others.
            logger.exception("could not build the live event %s for order %s", event, getattr(order, "ref", order))
    if admin_blocks and not changes:
        try:
            yield admin_blocks_message()
        except Exception:
            logger.exception("could not build the admins' dashboard blocks")


def admin_blocks_message() -> tuple[str, dict]:
    """The admins' dashboard blocks on their own (HTML; JSON clients get nothing)."""
    message = {"type": audiences.DASHBOARD_MESSAGE, "event": audiences.DASHBOARD_UPDATE, "ref": None}
    return (audiences.ADMINS_GROUP, {**message, "version": None, "html": fragments.admin_blocks_html(), "json": None})


def build_messages(changes) -> list[tuple[str, dict]]:
    """``iter_messages`` as a list."""
    return list(iter_messages(changes))


def order_messages(event, order, previous_partner_id=None, *, admin_blocks=True):
    """Yield ``(group, message)`` for ``event`` on ``order`` (with details:
    ``orders.selectors.order_with_details``), each audience seeing what it may."""
    base = {"type": audiences.ORDER_MESSAGE, "event": event, "ref": order.ref, "version": order.version}
    # Partners: only when the board changes (an order appears or leaves it).
    if event in (NEW_ORDER, ORDER_ACCEPTED) or order.status in (Order.Status.PLACED, Order.Status.CANCELLED):
        json_text = payloads.order_json_text(event, order, None)
        yield ((audiences.PARTNERS_GROUP, {**base, "html": fragments.partners_board_html(order), "json": json_text}))
    # The assigned partner (and a partner who just lost the order) see their own board.
    for partner_id in {order.partner_id, previous_partner_id} - {None}:
        assigned = partner_id == order.partner_id
        partner = order.partner if assigned else User.objects.get(pk=partner_id)
        json_text = payloads.order_json_text(event, order, partner if assigned else None)
        yield (
            (audiences.partner_group(partner_id), {**base, "html": fragments.partner_html(partner), "json": json_text})
        )
    customer_event = ORDER_STATUS_UPDATE if event == ORDER_ACCEPTED else event
    # The customer's pages replace an order's status section and list row by id, and no
    # page holds a new order's yet (one loaded after the commit shows it from the store):
    # a new order is HTML for nobody of theirs, only their API clients' event.
    yield (
        (
            audiences.customer_group(order.customer_id),
            {
                **base,
                "event": customer_event,
                "html": [] if event == NEW_ORDER else fragments.customer_html(order),
                "json": payloads.order_json_text(customer_event, order, order.customer),
            },
        )
    )
    admin = payloads.audience_viewer(User.Role.ADMIN)
    yield (
        (
            audiences.ADMINS_GROUP,
            {
                **base,
                "html": fragments.admin_event_html(event, order, live_blocks=admin_blocks),
                "json": payloads.order_json_text(event, order, admin),
            },
        )
    )


class Publisher:
    """One per server process (per event loop): the live messages of committed changes,
    built on a worker thread of their own and sent from the loop, in commit order.

    ``submit`` (from the request's thread) only queues. The loop's task takes everything
    queued, waits until those requests have answered, and has the worker build the
    messages (``iter_messages``: under load the admins' blocks are rendered once for
    several changes, and at most once per ``ADMIN_BLOCKS_SECONDS``), sending each as soon
    as it is built, the partners' board first. When the server stops, the task is
    cancelled: it still sends what was queued before it ends (and the admins' blocks, if
    some are due), so a change committed before the stop is announced."""

    _current: "Publisher | None" = None
    _by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Publisher]" = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-publish")
        self._building = None  # the worker's build of the next message, while under way
        self._blocks_at = None  # loop time the admins' blocks were last built
        self._blocks_due = None  # loop time they are due on their own (a batch went without them)
        self.task = loop.create_task(self._run(), name="live-publish")

    @classmethod
    async def serve_http(cls, app, scope, receive, send):
        """Run the HTTP ``app`` with this loop publishing the changes its requests commit,
        each once its request has answered (``quickcommerce.asgi``)."""
        loop = asyncio.get_running_loop()
        cls.serve_on(loop)
        answered = loop.create_future()

        async def send_noting_the_answer(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and not answered.done():
                answered.set_result(None)

        token = _answered.set(answered)
        try:
            return await app(scope, receive, send_noting_the_answer)
        finally:
            if not answered.done():
                answered.set_result(None)
            _answered.reset(token)

    @classmethod
    def serve_on(cls, loop: asyncio.AbstractEventLoop) -> "Publisher":
        """Publish from ``loop`` from now on (call on that loop: ``quickcommerce.asgi``)."""
        publisher = cls._by_loop.get(loop)
        if publisher is None:
            publisher = cls._by_loop[loop] = cls(loop)
        cls._current = publisher
        return publisher

    @classmethod
    def current(cls) -> "Publisher | None":
        """The server's publisher, if its loop runs and this is not the loop's own thread."""
        publisher = cls._current
        if publisher is None or publisher.loop.is_closed() or not publisher.loop.is_running():
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        return None if publisher.task.done() or running is publisher.loop else publisher

    def submit(self, event, order, previous_partner_id=None, *, after=None) -> None:
        """Queue a committed change (from any thread); ``after``: a future done when the
        request that made it has answered."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (event, order, previous_partner_id, after))

    def _take_queued(self) -> list:
        changes = []
        while not self.queue.empty():
            changes.append(self.queue.get_nowait())
        return changes

    async def _run(self) -> None:
        messages = None  # the batch being built and sent: a generator run on the worker
        try:
            while True:
                changes = await self._next_changes()
                answered = {after for *_, after in changes if after is not None and not after.done()}
                if answered:
                    await asyncio.wait(answered, timeout=AFTER_RESPONSE_MAX_WAIT_SECONDS)
                messages = self._messages(changes, admin_blocks=self._admin_blocks_now(changes))
                await self._send(messages)
                messages = None
        except asyncio.CancelledError:
            # The server is stopping: what is committed and not yet sent still goes out.
            # (A message whose send was under way is not sent again: at most once.)
            if messages is not None:
                await self._send(messages)
            rest = self._take_queued()
            if rest or self._blocks_due is not None:
                await self._send(self._messages(rest, admin_blocks=True))
            raise
        finally:
            self.executor.shutdown(wait=False)

    async def _next_changes(self) -> list:
        """What is queued, once something is; ``[]`` if the admins' blocks fall due first."""
        if self._blocks_due is None:
            first = await self.queue.get()
        else:
            try:
                first = await asyncio.wait_for(self.queue.get(), max(0.0, self._blocks_due - self.loop.time()))
            except TimeoutError:
                return []
        return [first, *self._take_queued()]

    def _admin_blocks_now(self, changes) -> bool:
        """Whether this build carries the admins' blocks: yes if they are due on their own
        (no changes) or last went out ``ADMIN_BLOCKS_SECONDS`` ago or more; else they are
        due that long after the last time."""
        now = self.loop.time()
        if not changes or self._blocks_at is None or now - self._blocks_at >= ADMIN_BLOCKS_SECONDS:
            self._blocks_at, self._blocks_due = now, None
            return True
        if self._blocks_due is None:
            self._blocks_due = self._blocks_at + ADMIN_BLOCKS_SECONDS
        return False

    async def _send(self, messages) -> None:
        """Send the messages as the worker builds them: the first (the partners' board) on
        its own, going out (and fanning out) while the worker builds all the others in one
        go. Two hops to the worker and back per batch, not one per message."""
        for count in (1, None):  # the first message, then all the rest
            if self._building is None:
                self._building = asyncio.wrap_future(self.executor.submit(_take, messages, count))
            # Shielded: a stop cancels this wait, not the build, whose messages are still sent.
            items = await asyncio.shield(self._building)
            self._building = None
            if not items:
                return
            await send_now(items)

    @staticmethod
    def _messages(changes, *, admin_blocks=True):
        # Runs on the worker thread, whose database connection stays open for the life of
        # the process (dropped only when broken). On SQLite that is also what keeps a
        # request's close from being the last one: closing the last connection to a WAL
        # database checkpoints the log into the file, with an fsync, and deletes it; with
        # a connection per request (CONN_MAX_AGE 0, as Django advises under ASGI) that
        # was after every order (docs/stores.md).
        try:
            yield from iter_messages([change[:3] for change in changes], admin_blocks=admin_blocks)
        finally:
            if connection.connection is not None and not connection.is_usable():
                connection.close()


def _take(messages, count):
    """The next ``count`` messages of the generator ``messages`` (``None``: all the rest)."""
    return list(itertools.islice(messages, count))


def on_access_revoked(sender, *, user_id, session_key=None, **kwargs) -> None:
    """The receiver of ``accounts.signals.access_revoked``: close that user's sockets (or
    one session's) on every instance; a client that reconnects is authenticated afresh."""
    send([(audiences.user_group(user_id), {"type": audiences.REVOKE_MESSAGE, "session_key": session_key})])


def partner_after_commit(partner) -> None:
    """Publish ``partner``'s availability once the current transaction commits."""
    transaction.on_commit(lambda: publish_partner(partner))


def publish_partner(partner) -> None:
    """A partner's availability changed: their own sockets re-subscribe; admins see it."""
    online = is_partner_online(partner)
    message = {
        "type": audiences.PARTNER_MESSAGE,
        "event": audiences.PARTNER_UPDATE,
        "partner_id": audiences.user_id(partner),
        "online": online,
        "json": payloads.partner_text(audiences.PARTNER_UPDATE, partner, online),
        "html": "",
    }
    admins = {**message, "html": fragments.admin_partner_html()}
    send([(audiences.partner_group(partner), message), (audiences.ADMINS_GROUP, admins)])


def publish_location(position) -> None:
    """A partner's new position (``dispatch.location``): to the customer of each of their
    active orders, that order's ref and ETA; to admins, the partner with their orders
    (coalesced per admin socket: ``dispatch.consumers``). Nobody else: not the board,
    not other partners, not other customers."""
    try:
        messages = location_messages(position)
    except Exception:
        logger.exception("could not build the location event of partner %s", position.partner.pk)
        return
    send(messages)


def location_messages(position) -> list[tuple[str, dict]]:
    at = position.at.isoformat()
    rider = {"lat": position.latitude, "lng": position.longitude, "at": position.at}
    partner_id = audiences.user_id(position.partner)
    base = {"type": audiences.LOCATION_MESSAGE, "event": audiences.RIDER_LOCATION, "partner_id": partner_id}
    messages = []
    etas = {}
    for order in position.orders:
        eta = etas[order.ref] = order_eta(order, rider)
        frame = {"event": audiences.RIDER_LOCATION, "ref": order.ref, "lat": rider["lat"], "lng": rider["lng"]}
        frame.update(at=at, eta_minutes=eta)
        messages.append(
            (
                audiences.customer_group(order.customer_id),
                {
                    **base,
                    "ref": order.ref,
                    "version": order.version,
                    "html": fragments.rider_html(order, rider, eta),
                    "json": json.dumps(frame),
                },
            )
        )
    name = getattr(getattr(position.partner, "partner_profile", None), "display_name", "") or (
        position.partner.display_name
    )
    admin_frame = {
        "event": audiences.RIDER_LOCATION,
        "partner": {"id": partner_id, "name": name},
        "lat": rider["lat"],
        "lng": rider["lng"],
        "at": at,
        "orders": [{"ref": ref, "eta_minutes": eta} for ref, eta in etas.items()],
    }
    admin_html = fragments.admin_rider_html(partner_id, name, rider, list(etas))
    messages.append((audiences.ADMINS_GROUP, {**base, "html": admin_html, "json": json.dumps(admin_frame)}))
    return messages
