"""The middleware chain runs sync on the request's thread: one hop there and back, not a
hop per middleware method (quickcommerce.middleware.SyncChain)."""

import asyncio

import asgiref.sync
from django.core.handlers.asgi import ASGIHandler


async def hops_for_one_request(monkeypatch, path="/favicon.ico") -> tuple[list, int]:
    """(what hopped to a thread, status) for one GET through Django's own ASGI handler, as served."""
    calls = []
    original = asgiref.sync.SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        calls.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    handler = ASGIHandler()  # loads MIDDLEWARE as the server does
    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", counting)
    sent = []
    bodies = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    await handler(scope, receive, send)
    monkeypatch.undo()
    return calls, sent[0]["status"]


async def test_the_middleware_chain_hops_to_the_request_thread_once(settings, monkeypatch):
    settings.ALLOWED_HOSTS = ["localhost"]
    hops, status = await hops_for_one_request(monkeypatch)
    assert status < 400

    # Without SyncChain, Django runs the middleware inside WhiteNoise (sync only) in async
    # mode, each MiddlewareMixin hopping to a thread for process_request and process_response
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "quickcommerce.middleware.SyncChain"]
    hops_without, status_without = await hops_for_one_request(monkeypatch)
    assert status_without == status

    # With it: the request_started signal, the chain, CSRF's process_view, the view and
    # the response's close: no middleware's process_request or process_response hops
    assert not [hop for hop in hops if hop.endswith(("process_request", "process_response"))], hops
    assert len(hops) == 5, hops
    assert len(hops_without) >= 2 * len(hops), hops_without
