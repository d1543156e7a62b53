"""Partners' location updates: how many one app process accepts and forwards.

N partners, each on an accepted order of their own customer (bulk-created, as
bench/pagedata.py does, in the running app's database; access tokens minted there with
the app's key), each on a JWT websocket; each customer on a JWT websocket. The partners
send ``{"type": "location", "lat", "lng"}`` frames, round-robin, at a rising total rate R
for a few seconds per step (the path: dispatch.consumers -> dispatch.location, a stored
position + trail point -> dispatch.publish -> the customer's ``rider_location``). Each
frame carries its own latitude, so the customer's frame is matched to its send time: latency
is partner's send -> customer's socket receiving ``rider_location`` (one clock: one process).

The app runs with ``LOCATION_MIN_INTERVAL_SECONDS=0`` (the default 3 s would drop a
partner's second update inside 3 s; here each partner sends about every N/R s).

Baseline, same run, same sockets, same rates: a ``{"type": "ping"}`` frame answered by
``pong`` on the partner's own socket (the server and socket path without the database or
the channel layer). Ratios: location p95 / ping p95 at each rate.
"""

import asyncio
import collections
import json
import time
from pathlib import Path

from websockets.asyncio.client import connect

from bench.common import BenchError, Services, latency_stats, say
from quickcommerce.testing import app_env, manage

INTERVAL_ENV = "0"
DRAIN_TIMEOUT = 10.0

FILL = """
import json, uuid
from decimal import Decimal
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken
from accounts.models import PartnerProfile, User
from accounts.usernames import username_key
from orders.models import Order
n = {n}
password = make_password(None)
now = timezone.now()
def name(kind, i):
    return f"loc{{kind}}{{i:04d}}"
def users(kind, role):
    return [User(username=name(kind, i), username_key=username_key(name(kind, i)), role=role, password=password)
            for i in range(n)]
with transaction.atomic():
    User.objects.bulk_create(users("p", User.Role.PARTNER))
    User.objects.bulk_create(users("c", User.Role.CUSTOMER))
    partners = {{u.username: u for u in User.objects.filter(username__startswith="locp")}}
    customers = {{u.username: u for u in User.objects.filter(username__startswith="locc")}}
    PartnerProfile.objects.bulk_create(
        [PartnerProfile(user=u, display_name=u.username, online=True) for u in partners.values()])
    Order.objects.bulk_create([
        Order(customer=customers[name("c", i)], partner=partners[name("p", i)], status=Order.Status.ACCEPTED,
              version=2, subtotal=Decimal("1.49"), delivery_fee=Decimal("2.50"), total=Decimal("3.99"), item_count=1,
              address="221B Baker Street, Flat 2, Marylebone", area="Marylebone", idempotency_key=uuid.uuid4().hex,
              delivery_code="1234", accepted_at=now)
        for i in range(n)])
orders = Order.objects.filter(partner__username__startswith="locp").select_related("partner")
refs = {{o.partner.username: o.ref for o in orders}}
out = [{{"partner": str(AccessToken.for_user(partners[name("p", i)])),
         "customer": str(AccessToken.for_user(customers[name("c", i)])),
         "ref": refs[name("p", i)]}} for i in range(n)]
print("PAIRS" + json.dumps(out))
"""


def make_pairs(services: Services, n: int) -> list[dict]:
    env = app_env(SQLITE_PATH=services.db_path, **services.env)
    result = manage("shell", "-c", FILL.format(n=n), env=env, timeout=300)
    for line in result.stdout.splitlines():
        if line.startswith("PAIRS"):
            return json.loads(line[5:])
    raise BenchError(f"could not create the location bench's partners and orders:\n{result.stdout}{result.stderr}")


class Clients:
    """The partners' and customers' sockets and what they received."""

    def __init__(self, url: str, pairs: list[dict]):
        self.url = url
        self.pairs = pairs
        self.partners = []
        self.customers = []
        self.ref_index = {p["ref"]: i for i, p in enumerate(pairs)}
        self.sent = {}  # (partner index, seq) -> send time
        self.got = {}  # (partner index, seq) -> latency ms (first arrival)
        self.got_at = []  # arrival times
        self.duplicates = 0
        self.refused = collections.Counter()
        self.pings = collections.defaultdict(collections.deque)  # partner index -> send times
        self.pongs = []  # (arrival time, latency ms)
        self.tasks = []

    async def open(self, concurrency: int = 20) -> float:
        start = time.monotonic()
        gate = asyncio.Semaphore(concurrency)

        async def one(token):
            async with gate:
                ws = await connect(
                    f"{self.url}/ws/orders/", additional_headers={"Authorization": f"Bearer {token}"}, max_size=None
                )
                return ws

        self.partners = await asyncio.gather(*(one(p["partner"]) for p in self.pairs))
        self.customers = await asyncio.gather(*(one(p["customer"]) for p in self.pairs))
        for i, ws in enumerate(self.partners):
            self.tasks.append(asyncio.create_task(self._read_partner(i, ws)))
        for ws in self.customers:
            self.tasks.append(asyncio.create_task(self._read_customer(ws)))
        return time.monotonic() - start

    async def _read_partner(self, i, ws):
        async for raw in ws:
            now = time.monotonic()
            frame = json.loads(raw)
            if frame.get("event") == "pong" and self.pings[i]:
                self.pongs.append((now, (now - self.pings[i].popleft()) * 1000))
            elif frame.get("event") == "location_refused":
                self.refused[frame.get("code")] += 1

    async def _read_customer(self, ws):
        async for raw in ws:
            now = time.monotonic()
            frame = json.loads(raw)
            if frame.get("event") != "rider_location":
                continue
            i = self.ref_index.get(frame.get("ref"))
            key = (i, round((frame["lat"] - 10.0) * 1e4))
            if key in self.got:
                self.duplicates += 1
            elif key in self.sent:
                self.got[key] = (now - self.sent[key]) * 1000
                self.got_at.append(now)

    async def close(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.partners + self.customers), return_exceptions=True)


async def _paced(rate: float, seconds: float, send) -> tuple[int, float]:
    total = int(rate * seconds)
    start = time.monotonic()
    for k in range(total):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(k)
    return total, time.monotonic() - start


async def location_step(clients: Clients, rate: float, seconds: float, seq: list[int]) -> dict:
    n = len(clients.partners)
    keys = []
    refused_before = sum(clients.refused.values())
    window_start = time.monotonic()

    async def send(k):
        i = k % n
        seq[i] += 1
        key = (i, seq[i])
        keys.append(key)
        clients.sent[key] = time.monotonic()
        await clients.partners[i].send(json.dumps({"type": "location", "lat": 10.0 + seq[i] / 1e4, "lng": 20.0}))

    total, send_s = await _paced(rate, seconds, send)
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline and any(k not in clients.got for k in keys):
        await asyncio.sleep(0.05)
    latencies = [clients.got[k] for k in keys if k in clients.got]
    forwarded_in_window = sum(1 for t in clients.got_at if window_start <= t <= window_start + seconds)
    return {
        "rate": rate,
        "sent": total,
        "sent_per_s": total / send_s if send_s else rate,
        "forwarded": len(latencies),
        # forwarded per second of the step's nominal length (as bench/rate.py)
        "forwarded_per_s": len(latencies) / seconds,
        "forwarded_in_window_per_s": forwarded_in_window / seconds,
        "lost": total - len(latencies),
        "refused": sum(clients.refused.values()) - refused_before,
        **latency_stats(latencies),
    }


async def ping_step(clients: Clients, rate: float, seconds: float) -> dict:
    n = len(clients.partners)
    before = len(clients.pongs)

    async def send(k):
        i = k % n
        clients.pings[i].append(time.monotonic())
        await clients.partners[i].send('{"type": "ping"}')

    total, _ = await _paced(rate, seconds, send)
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline and len(clients.pongs) - before < total:
        await asyncio.sleep(0.05)
    latencies = [ms for _, ms in clients.pongs[before:]]
    return {
        "rate": rate,
        "sent": total,
        "answered": len(latencies),
        "answered_per_s": len(latencies) / seconds,
        "lost": total - len(latencies),
        **latency_stats(latencies),
    }


async def run(*, workdir: Path, template: Path, n: int, rates, seconds: float) -> dict:
    section = {"n": n, "rates": list(rates), "seconds": seconds, "min_interval_s": int(INTERVAL_ENV)}
    with Services(workdir, template, "location", LOCATION_MIN_INTERVAL_SECONDS=INTERVAL_ENV) as services:
        say(f"location: creating {n} partners with an accepted order each, and their customers")
        pairs = await asyncio.to_thread(make_pairs, services, n)
        clients = Clients(services.app.ws_url, pairs)
        try:
            section["connect_s"] = await clients.open()
            await asyncio.sleep(1.0)
            seq = [0] * n
            await location_step(clients, 20, 1, seq)  # warm-up
            await ping_step(clients, 20, 1)
            section["location"], section["ping"] = [], []
            for rate in rates:
                ping = await ping_step(clients, rate, seconds)
                loc = await location_step(clients, rate, seconds, seq)
                section["ping"].append(ping)
                section["location"].append(loc)
                say(
                    f"  {rate:>4}/s: location {loc['forwarded_per_s']:.0f}/s forwarded, p50 {loc['p50']:.0f} "
                    f"p95 {loc['p95']:.0f} ms, lost {loc['lost']}, refused {loc['refused']}; "
                    f"ping p95 {ping['p95']:.1f} ms"
                )
            section["duplicates"] = clients.duplicates
            section["refused_codes"] = dict(clients.refused)
        finally:
            await clients.close()
        errors = services.app_errors()
        if errors:
            section["app_errors"] = errors
    return section
