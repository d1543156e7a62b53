"""`python manage.py runserver` serves HTTP and websockets: daphne is in INSTALLED_APPS (as
Channels documents), so its runserver replaces Django's HTTP-only one. A real
`runserver` process, a real websocket client, the development defaults (SQLite and the
in-memory channel layer): the first command a Django developer types."""

import asyncio
import json
import sys

import httpx
import pytest
from websockets.asyncio.client import connect

from quickcommerce.testing import AppServer

pytestmark = pytest.mark.live


class RunServer(AppServer):
    """The app under `manage.py runserver` instead of `python -m quickcommerce.serve`."""

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"]


@pytest.fixture
def runserver(live_db, tmp_path):
    server = RunServer(db_path=live_db, log_path=tmp_path / "runserver.log").start()
    yield server
    server.stop()


async def test_runserver_websocket_gets_a_snapshot_then_a_live_order_event(runserver):
    async with httpx.AsyncClient(base_url=runserver.url, timeout=20) as http:
        login = await http.post("/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access']}"}
        products = (await http.get("/api/products/")).json()["results"]
        product = next(p for p in products if p["stock"] > 0)["id"]

        async with connect(f"{runserver.ws_url}/ws/orders/", additional_headers=headers) as ws:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert snapshot["event"] == "snapshot"

            body = {"items": [{"product": product, "quantity": 1}], "address": "1 Main St, Springfield"}
            placed = await http.post("/api/orders/", json=body, headers=headers)
            assert placed.status_code == 201, placed.text
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert (event["event"], event["ref"]) == ("new_order", placed.json()["ref"])
    assert event["order"]["status"] == "placed"
    assert "Daphne" in runserver.log(), runserver.log()
