"""Django's Redis cache with one connection pool per process, not one per request.

Django keeps a cache instance per async context (``django.core.cache.caches`` is an
asgiref ``Local``), and under ASGI every request runs in a context of its own, so its
``RedisCache`` built a new client, a new connection pool and so a new connection
(TCP connect, ``HELLO``, ``CLIENT`` handshakes) for every request that touched the
cache: every order, through its throttle (accounts.throttles; docs/benchmarks.md,
"profile"). Here the pools live at module level, one per server URL and options, and
every cache instance of the process shares them (redis-py's pools are thread-safe and
start afresh in a forked child). What the cache does is unchanged, failures included:
a request that finds Redis down still gets redis-py's error (the throttles fail open).
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict = {}  # (server, pool class, options) -> (pool, client)
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    def _shared(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items(), key=lambda kv: kv[0])))
        shared = _pools.get(key)
        if shared is None:
            with _pools_lock:
                shared = _pools.get(key)
                if shared is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    # redis-py's client is thread-safe too: one per pool, not a new one built
                    # for every call as Django's client does (the throttle's: one per order).
                    shared = _pools[key] = (pool, self._client(connection_pool=pool))
        return shared

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]


class SharedPoolRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` whose connection pools (and a
    client on each) are shared by every instance in the process (``CACHES["default"]["BACKEND"]``)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
