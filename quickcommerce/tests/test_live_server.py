"""The real app under uvicorn (``quickcommerce.serve``) on a free port, fetched over HTTP."""

import asyncio
import json
import time

import httpx
import pytest

from quickcommerce.testing import AppServer

pytestmark = pytest.mark.live


def test_the_server_serves_pages_health_static_and_the_api(start_app):
    app = start_app()
    home = httpx.get(f"{app.url}/", timeout=10)
    assert home.status_code == 200
    assert "quickcommerce" in home.text
    health = httpx.get(f"{app.url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    static = httpx.get(f"{app.url}/static/vendor/htmx-2.0.11.min.js", timeout=10)
    assert static.status_code == 200
    assert "htmx" in static.text[:2000]
    token = httpx.post(f"{app.url}/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"})
    assert token.status_code == 200
    assert token.json()["access"]


async def test_the_server_logs_paths_never_query_strings(start_app):
    """API clients may send their JWT as ?token= (accounts/ws_auth.py): the server's
    request and websocket lines name the path only."""
    from websockets.asyncio.client import connect

    app = await asyncio.to_thread(start_app)
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        token = await http.post("/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"})
        access = token.json()["access"]
        assert (await http.get("/api/products/?search=query-probe")).status_code == 200
    async with connect(f"{app.ws_url}/ws/orders/?token={access}") as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["event"] == "snapshot"

    deadline = time.monotonic() + 5
    while '"WebSocket /ws/orders/" [accepted]' not in app.log() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    log = app.log()
    assert '"WebSocket /ws/orders/" [accepted]' in log, log[-2000:]
    assert '"GET /api/products/ HTTP/1.1" 200' in log
    assert access not in log
    assert "query-probe" not in log


def test_healthz_is_503_when_the_store_is_unreachable(tmp_path):
    app = AppServer(db_path=tmp_path / "no-such-dir" / "db.sqlite3", log_path=tmp_path / "app.log").start()
    try:
        response = httpx.get(f"{app.url}/healthz", timeout=10)
    finally:
        app.stop()
    assert response.status_code == 503
    assert response.json()["failing"] == ["store"]


def test_healthz_is_503_when_redis_is_down(start_app, redis_server):
    app = start_app(redis_url=redis_server.url)
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
    redis_server.stop()
    response = httpx.get(f"{app.url}/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer"]
