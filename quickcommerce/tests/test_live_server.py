"""The real app under daphne on a free port, fetched over HTTP."""

import httpx
import pytest

from quickcommerce.testing import DaphneServer

pytestmark = pytest.mark.live


def test_daphne_serves_pages_health_static_and_the_api(start_app):
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


def test_healthz_is_503_when_the_store_is_unreachable(tmp_path):
    app = DaphneServer(db_path=tmp_path / "no-such-dir" / "db.sqlite3", log_path=tmp_path / "daphne.log").start()
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
