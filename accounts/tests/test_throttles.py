"""The abuse limits' decision on Redis: DRF's sliding log, as one atomic script
(accounts.throttles.SLIDING_LOG) instead of DRF's read-then-write of the cache."""

import threading
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import caches

from accounts.throttles import OrderThrottle

RATE = "5/min"


@pytest.fixture
def on_redis(settings, redis_server):
    backend = "quickcommerce.cache.SharedPoolRedisCache"
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": redis_server.url, "KEY_PREFIX": "t"}}
    return redis.Redis.from_url(redis_server.url)


@pytest.fixture
def in_memory(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}


class Clock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def throttle_at(clock):
    throttle = OrderThrottle()
    throttle.rate = RATE
    throttle.num_requests, throttle.duration = throttle.parse_rate(RATE)
    throttle.timer = clock
    return throttle


def request_of(pk):
    return SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=pk))


def decisions(clock):
    """Requests of one customer over time: (allowed, Retry-After when refused)."""
    out = []
    for step in (0, 1, 1, 1, 1, 1, 1, 20, 37, 1, 1, 60):
        clock.now += step
        throttle = throttle_at(clock)
        allowed = throttle.allow_request(request_of(7), None)
        out.append((allowed, None if allowed else round(throttle.wait(), 6)))
    return out


def test_on_redis_the_decisions_and_waits_are_drfs(settings, redis_server):
    # given DRF's own algorithm on the in-memory cache
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}}
    expected = decisions(Clock())
    assert [allowed for allowed, _ in expected].count(False) >= 3  # the sequence does hit the limit

    # then the script on Redis decides the same, with the same Retry-After
    settings.CACHES = {"default": {"BACKEND": "quickcommerce.cache.SharedPoolRedisCache", "LOCATION": redis_server.url}}
    assert decisions(Clock()) == expected


def test_on_redis_one_round_trip_per_request(on_redis):
    clock = Clock()
    throttle_at(clock).allow_request(request_of(1), None)  # (loads the script once)
    on_redis.config_resetstat()

    for _ in range(4):
        clock.now += 1
        throttle_at(clock).allow_request(request_of(1), None)

    stats = on_redis.info("commandstats")
    # one EVALSHA per decision, nothing else from the throttle (the INFO is ours)
    assert stats["cmdstat_evalsha"]["calls"] == 4
    assert not {"cmdstat_get", "cmdstat_set"} & set(stats)


def test_on_redis_requests_at_the_same_moment_never_pass_the_limit_together(on_redis):
    # given 30 requests of one customer at once, from 30 threads (a limit of 5)
    clock = Clock()
    allowed = []
    start = threading.Barrier(30)

    def request():
        throttle = throttle_at(clock)
        start.wait()
        allowed.append(throttle.allow_request(request_of(3), None))

    threads = [threading.Thread(target=request) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly 5 pass (DRF's read-then-write lets through every request that reads first)
    assert allowed.count(True) == 5


def test_without_redis_drfs_own_code_runs(in_memory):
    clock = Clock()
    assert all(throttle_at(clock).allow_request(request_of(2), None) for _ in range(5))
    assert not throttle_at(clock).allow_request(request_of(2), None)
    assert len(caches["default"].get(throttle_at(clock).get_cache_key(request_of(2), None))) == 5


def test_on_redis_a_log_drf_wrote_under_the_plain_key_is_no_obstacle(on_redis):
    # given a counter as DRF's own code left it (a pickled list under the plain key)
    clock = Clock()
    throttle = throttle_at(clock)
    caches["default"].set(throttle.get_cache_key(request_of(4), None), [clock.now - 1], 60)

    # then the script keeps its log under a key of its own: no wrong-type error, no fail-open
    assert all(throttle_at(clock).allow_request(request_of(4), None) for _ in range(5))
    assert not throttle_at(clock).allow_request(request_of(4), None)
