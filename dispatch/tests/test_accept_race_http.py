"""Twenty partners accept the same order at the same moment, through the real app
under uvicorn: exactly one wins, everyone else is told it is taken."""

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.live

PASSWORD = "a-long-passphrase"
PARTNERS = 20


def register_partner(base_url, index):
    """A new partner through the API, set online through the API -> (name, headers)."""
    username, name = f"rider{index:02d}", f"Rider {index:02d}"
    with httpx.Client(base_url=base_url, timeout=60) as http:
        response = http.post(
            "/api/auth/register/", json={"username": username, "password": PASSWORD, "role": "partner", "name": name}
        )
        assert response.status_code == 201, response.text
        token = http.post("/api/auth/token/", json={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access']}"}
        online = http.post("/api/partners/me/availability/", json={"online": True}, headers=headers)
        assert online.status_code == 200, online.text
        assert online.json() == {"online": True, "active_orders": 0}
    return name, headers


def test_twenty_partners_accept_one_order_and_exactly_one_wins(start_app, api_login):
    app = start_app()
    with ThreadPoolExecutor(max_workers=10) as pool:
        partners = list(pool.map(lambda i: register_partner(app.url, i), range(PARTNERS)))
    customer = api_login(app.url, "alice")
    product = httpx.get(f"{app.url}/api/products/", params={"search": "Bananas"}).json()["results"][0]
    placed = httpx.post(
        f"{app.url}/api/orders/",
        json={"items": [{"product": product["id"], "quantity": 1}], "address": "4 Quay Street, Docklands"},
        headers=customer,
    )
    assert placed.status_code == 201, placed.text
    ref = placed.json()["ref"]

    barrier = threading.Barrier(PARTNERS)

    def accept(headers):
        with httpx.Client(base_url=app.url, timeout=60) as http:
            http.get("/healthz")  # connect first, so the barrier lines up the requests
            barrier.wait(timeout=60)
            return http.post(f"/api/orders/{ref}/accept/", headers=headers)

    with ThreadPoolExecutor(max_workers=PARTNERS) as pool:
        responses = list(pool.map(accept, [headers for _, headers in partners]))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (PARTNERS - 1), (
        [(r.status_code, r.text[:200]) for r in responses],
        app.log()[-4000:],
    )
    (winner_index,) = [i for i, r in enumerate(responses) if r.status_code == 200]
    winner_name = partners[winner_index][0]
    won = responses[winner_index].json()
    assert won["status"] == "accepted"
    assert won["partner"] == {"name": winner_name}
    assert won["address"] == "4 Quay Street, Docklands", "the winner sees where to go"
    for response in responses:
        if response.status_code == 409:
            assert response.json() == {"detail": "Already taken by another partner.", "code": "already_taken"}

    admin = api_login(app.url, "admin")
    order = httpx.get(f"{app.url}/api/orders/{ref}/", headers=admin).json()
    assert order["status"] == "accepted"
    assert order["partner"] == {"name": winner_name}
    assert [event["status"] for event in order["events"]] == ["placed", "accepted"], "one acceptance, once"
    board = {p["name"]: p["active_orders"] for p in httpx.get(f"{app.url}/api/partners/", headers=admin).json()}
    assert board[winner_name] == [ref]
    assert all(refs == [] for name, refs in board.items() if name.startswith("Rider") and name != winner_name)
