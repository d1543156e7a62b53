"""Shared pieces of the benchmarks: statistics, real services, a small async API client.

The processes (redis-server, the app server) come from ``quickcommerce.testing`` — the same
classes the live tests use — so a benchmark runs exactly what the tests run: a
real app on a copy of a migrated and seeded SQLite file, on free loopback ports,
never touching a Redis on 6379.
"""

import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

from quickcommerce.testing import BASE_DIR, AppServer, RedisServer, app_env, manage

NODE_DIR = BASE_DIR / "bench" / "node"
RESULTS_DIR = BASE_DIR / "bench" / "results"

DEMO_PASSWORD = "demo-pass-123"
BENCH_PASSWORD = "bench-passphrase-7391"
ADDRESS = "221B Baker Street, Flat 2, Marylebone"
HUGE_STOCK = 1_000_000_000

_STARTED = time.monotonic()


class BenchError(RuntimeError):
    """The benchmark could not run as designed (a service failed, an answer was wrong)."""


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", flush=True)


# --- statistics ----------------------------------------------------------------------------------


def percentile(values, q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_stats(values_ms) -> dict:
    return {
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "max": max(values_ms) if values_ms else math.nan,
    }


def spread(values) -> dict:
    """min / median / max of one figure over the repeats."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"min": math.nan, "median": math.nan, "max": math.nan}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def ratio(value: float, baseline: float) -> float:
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return math.nan
    return value / baseline


# --- the machine ----------------------------------------------------------------------------------


def raise_fd_limit(wanted: int = 16384) -> int:
    """Raise this process's open-file limit (children inherit it) toward ``wanted``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise BenchError("redis-server is not installed (apt-get install redis-server)")
    return found


def node_binary() -> str:
    found = shutil.which("node")
    if not found:
        raise BenchError("node is not installed (apt-get install nodejs npm)")
    if not (NODE_DIR / "node_modules" / "socket.io").exists():
        raise BenchError(f"Node packages missing: run `npm ci` in {NODE_DIR}")
    return found


# --- the app's database and processes ------------------------------------------------------------


def make_template_db(workdir: Path) -> Path:
    """A migrated, seeded SQLite file (as conftest's ``seeded_db_template``) whose products
    have a huge stock, so no benchmark runs out of stock."""
    global _STATIC_ROOT
    path = workdir / "template.sqlite3"
    _STATIC_ROOT = workdir / "staticfiles"
    env = app_env(SQLITE_PATH=path, STATIC_ROOT=_STATIC_ROOT, DEBUG="false", SECRET_KEY=secrets.token_urlsafe(48))
    script = f"from orders.models import Product; print(Product.objects.update(stock={HUGE_STOCK}, active=True))"
    # With DEBUG off, pages need the collected static files (the manifest); collect them
    # into the run's own directory, not the tree's staticfiles/.
    for args in (["migrate", "--noinput"], ["seed"], ["shell", "-c", script], ["collectstatic", "--noinput"]):
        result = manage(*args, env=env, timeout=300)
        if result.returncode != 0:
            raise BenchError(f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
    return path


_STATIC_ROOT: Path | None = None


def bench_env(**extra) -> dict:
    """Production-like settings for the app under test (DEBUG off, plain HTTP on loopback)."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "JWT_ACCESS_MINUTES": "240",
        "LOG_LEVEL": "WARNING",
        # One bench partner holds up to 5,000 sockets; the abuse limits would refuse them
        # (and the race's registrations, the throughput's orders). The checks still run.
        "WS_MAX_CONNECTIONS_PER_USER": "1000000",
        "LOGIN_RATE_PER_USERNAME": "1000000/s",
        "LOGIN_RATE_PER_IP": "1000000/s",
        "REGISTER_RATE_PER_IP": "1000000/s",
        "ORDER_RATE_PER_CUSTOMER": "1000000/s",
    }
    if _STATIC_ROOT:
        env["STATIC_ROOT"] = str(_STATIC_ROOT)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Services:
    """redis-server + the app (``AppServer``: ``python -m quickcommerce.serve``, as ``make run``,
    the image and the tests start it) on a fresh copy of the template database; use as a
    context manager."""

    def __init__(self, workdir: Path, template: Path, name: str, **env):
        self.workdir = workdir / name
        self.template = template
        self.name = name
        self.env = bench_env(**env)
        self.redis = None
        self.app = None
        self.app_factory = AppServer  # bench/profile.py starts the app under py-spy

    def __enter__(self) -> "Services":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workdir / "bench.sqlite3"
        shutil.copy(self.template, self.db_path)
        try:
            self.redis = RedisServer(redis_binary(), self.workdir / "redis").start()
            # AppServer's env() drops DEBUG from the parent environment; pass ours explicitly.
            self.app = self.app_factory(
                db_path=self.db_path,
                redis_url=self.redis.url,
                log_path=self.workdir / "app.log",
                **self.env,
            ).start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.app:
            self.app.stop()
        if self.redis:
            self.redis.stop()

    @contextlib.contextmanager
    def second_instance(self):
        """Another app server on the same database and Redis (a two-instance deployment)."""
        server = AppServer(
            db_path=self.db_path,
            redis_url=self.redis.url,
            log_path=self.workdir / "app-2.log",
            **self.env,
        ).start()
        try:
            yield server
        finally:
            server.stop()

    def app_errors(self) -> dict:
        """Errors the app logged (a swallowed publish failure, a crashed consumer): count and kinds."""
        if not self.app:
            return {}
        kinds = {}
        for line in self.app.log().splitlines():
            if " ERROR " in line:
                kind = line.split(" ERROR ", 1)[1][:200]
                kinds[kind] = kinds.get(kind, 0) + 1
        return kinds


def describe_errors(kinds: dict) -> str:
    return "; ".join(f"{count}x {kind}" for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1])[:3])


# --- a small async client for the fixed API contract -----------------------------------------------


class Api:
    def __init__(self, base_url: str, *, connections: int = 20):
        self.base_url = base_url
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits)

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @staticmethod
    def bearer(access: str) -> dict:
        return {"Authorization": f"Bearer {access}"}

    async def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = await self.http.post("/api/auth/token/", json={"username": username, "password": password})
        expect(response, 200, f"token for {username}")
        return response.json()["access"]

    async def register(self, username: str, role: str, password: str = BENCH_PASSWORD) -> None:
        body = {"username": username, "password": password, "role": role}
        response = await self.http.post("/api/auth/register/", json=body)
        expect(response, 201, f"register {username}")

    async def go_online(self, access: str, online: bool = True) -> None:
        response = await self.http.post(
            "/api/partners/me/availability/", json={"online": online}, headers=self.bearer(access)
        )
        expect(response, 200, "availability")

    async def product_id(self):
        response = await self.http.get("/api/products/")
        expect(response, 200, "products")
        products = response.json()["results"]
        if not products:
            raise BenchError("GET /api/products/ returned no products")
        return max(products, key=lambda p: p["stock"])["id"]

    @staticmethod
    def order_body(product) -> dict:
        return {"items": [{"product": product, "quantity": 1}], "address": ADDRESS}

    async def place(self, access: str, product) -> dict:
        response = await self.http.post("/api/orders/", json=self.order_body(product), headers=self.bearer(access))
        expect(response, 201, "place order")
        return response.json()

    async def cancel(self, access: str, ref: str) -> bool:
        response = await self.http.post(f"/api/orders/{ref}/cancel/", headers=self.bearer(access))
        return response.status_code == 200


def expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise BenchError(
            f"{what}: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )


async def api_missing(base_url: str) -> list[str]:
    """The endpoints of the contract that do not answer yet (empty: ready to benchmark)."""
    missing = []
    async with Api(base_url) as api:
        try:
            alice = await api.token("alice")
            ravi = await api.token("ravi")
        except (BenchError, KeyError, ValueError) as exc:
            return [f"POST /api/auth/token/ ({exc})"]
        checks = [
            ("GET /api/products/", api.http.get("/api/products/"), {200}),
            ("POST /api/orders/", api.http.post("/api/orders/", json={}, headers=api.bearer(alice)), {400}),
            (
                "POST /api/partners/me/availability/",
                api.http.post("/api/partners/me/availability/", json={"online": False}, headers=api.bearer(ravi)),
                {200},
            ),
            (
                "POST /api/auth/register/",
                api.http.post("/api/auth/register/", json={}),
                {400},
            ),
        ]
        for name, call, ok in checks:
            response = await call
            if response.status_code not in ok:
                missing.append(f"{name} ({response.status_code})")
    return missing


# --- results ----------------------------------------------------------------------------------------


def dump_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def python_executable() -> str:
    return sys.executable


@contextlib.contextmanager
def timed(label: str):
    start = time.monotonic()
    yield
    say(f"{label}: {time.monotonic() - start:.1f}s")
