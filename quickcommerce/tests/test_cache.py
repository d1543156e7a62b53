"""The Redis cache (the abuse limits' counters) opens one connection per process, not
one per request (quickcommerce/cache.py)."""

import contextvars
import threading

import pytest
import redis
from django.core.cache import caches


def connections_received(url) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.info("stats")["total_connections_received"]
    finally:
        client.close()


def requests_touching_the_cache(count):
    """``count`` requests as under ASGI: each in a context of its own, on a thread of its
    own (Django's handler gives every request a fresh thread-sensitive executor)."""

    def request(i):
        cache = caches["default"]
        cache.set(f"counter-{i}", i, 60)
        assert cache.get(f"counter-{i}") == i

    for i in range(count):
        thread = threading.Thread(target=contextvars.copy_context().run, args=(request, i))
        thread.start()
        thread.join()


@pytest.mark.parametrize(
    ("backend", "new_connections"),
    [
        # Django's own: every request's cache instance has its own pool, so its own connection.
        ("django.core.cache.backends.redis.RedisCache", 10),
        # Ours: one pool for the process; the requests take turns on one connection.
        ("quickcommerce.cache.SharedPoolRedisCache", 1),
    ],
)
def test_requests_share_one_connection_pool(settings, redis_server, backend, new_connections):
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": redis_server.url, "KEY_PREFIX": "t"}}
    before = connections_received(redis_server.url)

    requests_touching_the_cache(10)

    # (the count includes the connection that asks for it)
    assert connections_received(redis_server.url) - before - 1 == new_connections


def test_a_shared_pool_still_fails_when_redis_is_down(settings, redis_server):
    # given the cache in use, then Redis gone
    settings.CACHES = {
        "default": {
            "BACKEND": "quickcommerce.cache.SharedPoolRedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1, "retry": None},
        }
    }
    caches["default"].set("k", 1, 60)
    redis_server.stop()

    # then the next request gets redis-py's error (the throttles turn it into "not limiting")
    with pytest.raises(redis.exceptions.ConnectionError):
        caches["default"].get("k")


def test_requests_share_one_client(settings, redis_server):
    # Django builds a redis-py client per cache call; ours keeps one per pool
    settings.CACHES = {"default": {"BACKEND": "quickcommerce.cache.SharedPoolRedisCache", "LOCATION": redis_server.url}}
    clients = []

    def request():
        clients.append(caches["default"]._cache.get_client("k", write=True))

    for _ in range(3):
        thread = threading.Thread(target=contextvars.copy_context().run, args=(request,))
        thread.start()
        thread.join()

    assert clients[0] is clients[1] is clients[2]
    assert clients[0].connection_pool is caches["default"]._cache._get_connection_pool(True)
