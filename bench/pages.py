"""Page speed: server time of the busiest pages with a big store.

A copy of the seeded SQLite file is filled (bench/pagedata.py, bulk_create, before
the app starts) up to ``orders`` orders and ``products`` products. Users log in through
the real login form (session cookie); each page is fetched ``requests`` times in a row
per repeat (after two warm-ups) and the median time from request to the whole body is
taken. Baseline: ``GET /healthz`` on the same server, the same way.
"""

import re
import statistics
import time
from pathlib import Path

import httpx

from bench.common import DEMO_PASSWORD, BenchError, Services, app_env, manage, say
from quickcommerce.testing import BASE_DIR

PAGES = (
    ("catalog", "/", "alice"),
    ("customer order list", "/orders/", "alice"),
    ("partner board", "/partner/", "ravi"),
    ("partner history", "/partner/history/", "ravi"),
    ("dashboard", "/dashboard/", "admin"),
)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def make_db(template: Path, workdir: Path, *, orders: int, products: int) -> tuple[Path, dict]:
    import shutil
    import subprocess
    import sys

    path = workdir / "pages-template.sqlite3"
    shutil.copy(template, path)
    result = subprocess.run(
        [sys.executable, "-m", "bench.pagedata", "--orders", str(orders), "--products", str(products)],
        env=app_env(SQLITE_PATH=path),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"bench.pagedata failed:\n{result.stdout}{result.stderr[-2000:]}")
    return path, eval(result.stdout.strip().splitlines()[-1], {})  # noqa: S307 - our own dict literal


def login(base_url: str, username: str) -> httpx.Client:
    """Log in through the real form. The cookies are Secure (production settings), which
    httpx would not send over plain HTTP on loopback, so they travel in a Cookie header."""
    client = httpx.Client(base_url=base_url, timeout=60)
    page = client.get("/accounts/login/")
    match = CSRF.search(page.text)
    if page.status_code != 200 or not match:
        raise BenchError(f"login page: {page.status_code}")
    csrf = page.cookies.get("csrftoken", "")
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": match.group(1)},
        headers={"Referer": f"{base_url}/accounts/login/", "Cookie": f"csrftoken={csrf}"},
    )
    session = response.cookies.get("sessionid")
    if response.status_code != 302 or not session:
        raise BenchError(f"login as {username}: {response.status_code}")
    client.cookies.clear()
    client.headers["Cookie"] = f"sessionid={session}; csrftoken={csrf}"
    return client


def timed_gets(client: httpx.Client, path: str, count: int) -> tuple[float, int]:
    times = []
    size = 0
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise BenchError(f"GET {path}: {response.status_code}")
        size = len(response.content)
    return statistics.median(times), size


def run(*, workdir: Path, template: Path, orders: int, products: int, requests: int, repeats: int) -> dict:
    started = time.monotonic()
    db, counts = make_db(template, workdir, orders=orders, products=products)
    section = {"requests": requests, "repeats": repeats, "store": counts, "fill_s": time.monotonic() - started}
    say(f"  filled the store ({counts}) in {section['fill_s']:.1f}s")
    with Services(workdir, db, "pages", REDIS_CHANNEL_LAYER="pubsub") as services:
        url = services.app.url
        clients = {name: login(url, name) for name in {u for _, _, u in PAGES}}
        anonymous = httpx.Client(base_url=url, timeout=60)
        try:
            for client, path in [(anonymous, "/healthz")] + [(clients[u], p) for _, p, u in PAGES]:
                timed_gets(client, path, 2)  # warm-up
            rows = {"healthz": []} | {name: [] for name, _, _ in PAGES}
            sizes = {}
            for _ in range(repeats):
                rows["healthz"].append(timed_gets(anonymous, "/healthz", requests)[0])
                for name, path, user in PAGES:
                    ms, sizes[name] = timed_gets(clients[user], path, requests)
                    rows[name].append(ms)
        finally:
            for client in [anonymous, *clients.values()]:
                client.close()
        section["pages"] = [{"name": n, "path": p, "user": u} for n, p, u in PAGES]
        section["ms"] = rows
        section["bytes"] = sizes
        errors = services.app_errors()
        if errors:
            section["app_errors"] = errors
    for name, values in section["ms"].items():
        say(f"  {name}: median {statistics.median(values):.1f} ms")
    return section


__all__ = ["manage", "run"]
