"""The websocket Origin check (accounts/ws_auth.py): scheme, host and port
compared exactly as Django's CSRF check compares a form POST's Origin.

The attack: a session cookie plus ``Origin: http://127.0.0.1:9999`` (another port, so
another site) or ``https://...`` on a plain-http site was accepted, because Channels'
``AllowedHostsOriginValidator`` looks at the host name only - while a POST with the
same Origin gets CSRF's 403.
"""

import asyncio
import json
import re

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from accounts.ws_auth import origin_allowed

HOST = "127.0.0.1:8000"
TRUSTED = ["https://shop.example.com", "https://*.example.org"]

# (scheme the socket arrived with, Host header, Origin header)
CASES = [
    ("ws", HOST, "http://127.0.0.1:8000"),
    ("ws", HOST, "http://127.0.0.1:9999"),  # another port: another origin
    ("ws", HOST, "https://127.0.0.1:8000"),  # another scheme
    ("wss", HOST, "https://127.0.0.1:8000"),
    ("wss", HOST, "http://127.0.0.1:8000"),
    ("ws", HOST, "http://127.0.0.1"),  # port 80 is not 8000
    ("ws", HOST, "http://localhost:8000"),  # another allowed host is another origin
    ("ws", HOST, "http://127.0.0.1:8000/"),
    ("ws", HOST, "HTTP://127.0.0.1:8000"),
    ("ws", HOST, "null"),
    ("ws", HOST, "http://127.0.0.1:8000.evil.example"),
    ("ws", "evil.example", "http://evil.example"),  # a Host not in ALLOWED_HOSTS
    ("wss", "localhost", "https://localhost"),
    ("ws", HOST, "https://shop.example.com"),  # CSRF_TRUSTED_ORIGINS
    ("ws", HOST, "http://shop.example.com"),
    ("ws", HOST, "https://shop.example.com:8443"),
    ("ws", HOST, "https://a.example.org"),
    ("ws", HOST, "https://example.org.evil.example"),
]


def ws_scope(scheme, host, origin):
    return {
        "type": "websocket",
        "scheme": scheme,
        "path": "/ws/orders/",
        "query_string": b"token=\xff",  # not even valid UTF-8: ignored here
        "headers": [(b"host", host.encode()), (b"origin", origin.encode())],
        "client": ("203.0.113.9", 50000),
        "server": ("127.0.0.1", 8000),
    }


def csrf_accepts(client, scheme, host, origin) -> bool:
    """Whether Django lets a logout POST with this Origin and Host through (302), or
    refuses it (CSRF's 403; a 400 for a Host outside ALLOWED_HOSTS)."""
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    response = client.post(
        "/accounts/logout/",
        {"csrfmiddlewaretoken": secret},
        HTTP_ORIGIN=origin,
        HTTP_HOST=host,
        secure=scheme == "wss",
    )
    assert response.status_code in (302, 400, 403)
    return response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(("scheme", "host", "origin"), CASES)
def test_a_websocket_origin_passes_exactly_when_csrf_would_pass_a_post(settings, scheme, host, origin):
    from django.test import Client

    settings.CSRF_TRUSTED_ORIGINS = TRUSTED
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    expected = csrf_accepts(Client(enforce_csrf_checks=True), scheme, host, origin)
    assert origin_allowed(ws_scope(scheme, host, origin)) is expected


def test_what_the_check_decides_for_the_reported_cases(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert origin_allowed(ws_scope("ws", HOST, "http://127.0.0.1:8000"))
    assert not origin_allowed(ws_scope("ws", HOST, "http://127.0.0.1:9999"))
    assert not origin_allowed(ws_scope("ws", HOST, "https://127.0.0.1:8000"))
    assert origin_allowed(ws_scope("wss", HOST, "https://127.0.0.1:8000"))
    no_origin = ws_scope("ws", HOST, "x")
    no_origin["headers"] = [(b"host", HOST.encode())]
    assert not origin_allowed(no_origin)


# --- over real sockets --------------------------------------------------------------------------


def session_cookie(base_url, username="alice", password="demo-pass-123"):
    with httpx.Client(base_url=base_url, timeout=20) as client:
        page = client.get("/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{base_url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


async def handshake(url, origin, **headers):
    """The socket's first message ("snapshot"), or the HTTP status that refused it."""
    try:
        async with connect(url, origin=origin, additional_headers=headers) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))["event"] if "Authorization" in headers else "open"
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.live
async def test_session_sockets_from_another_port_or_scheme_are_refused(start_app):
    # As the image runs it: --proxy-headers, believing X-Forwarded-Proto from loopback (nginx).
    app = await asyncio.to_thread(start_app, proxy_headers=True)
    cookie = await asyncio.to_thread(session_cookie, app.url)
    url = f"{app.ws_url}/ws/orders/"
    port = app.port
    assert await handshake(url, f"http://127.0.0.1:{port}", Cookie=cookie) == "open"
    for origin in (f"http://127.0.0.1:{port + 1}", "http://127.0.0.1:9999", f"https://127.0.0.1:{port}"):
        assert await handshake(url, origin, Cookie=cookie) == 403, origin
    # Behind a TLS proxy (X-Forwarded-Proto: https from a trusted peer): https is ours, http is not.
    tls = {"Cookie": cookie, "X-Forwarded-Proto": "https"}
    assert await handshake(url, f"https://127.0.0.1:{port}", **tls) == "open"
    assert await handshake(url, f"http://127.0.0.1:{port}", **tls) == 403

    # A JWT socket that sends an Origin is held to the same rule.
    async with httpx.AsyncClient(base_url=app.url) as http:
        token = await http.post("/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"})
    bearer = {"Authorization": f"Bearer {token.json()['access']}"}
    assert await handshake(url, f"http://127.0.0.1:{port}", **bearer) == "snapshot"
    assert await handshake(url, "http://127.0.0.1:9999", **bearer) == 403
