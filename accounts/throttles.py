"""Abuse limits: DRF throttles keyed on the client address, the username tried, or
the customer. The same classes guard the pages (``check_page_throttles``) and the
API (``throttle_classes``), so both share one counter per key.

Rates come from settings (env: LOGIN_RATE_PER_USERNAME, LOGIN_RATE_PER_IP,
REGISTER_RATE_PER_IP, ORDER_RATE_PER_CUSTOMER); counters live in Django's cache
(Redis when REDIS_URL is set, so a limit holds across app instances). If the cache
is unreachable the limits let requests through: an outage must not stop logins
or orders (docs/security.md).

DRF's algorithm is a sliding log: the times of the requests within the period, kept
under the key. DRF reads the log, decides, and writes it back: two round trips to
Redis, and two requests at the same moment could both read the log before either
wrote it and both pass. On Redis the same decision is one script (``SLIDING_LOG``):
one round trip, atomic, the log a sorted set. Elsewhere (the in-memory cache of
``make run``) DRF's own code runs.
"""

import logging
import math
import uuid

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from accounts.usernames import counter_ident, login_key

logger = logging.getLogger(__name__)

# KEYS[1]: the log (a sorted set of request times). ARGV: now, the period (s), the
# limit, a unique member. DRF's rule: drop the times at or before now - period; at the
# limit, refuse; else add now and keep the log for one period. Returns whether it was
# allowed, the log's length, and its oldest time (for Retry-After).
SLIDING_LOG = """
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
return {allowed, count, oldest}
"""
_script = []  # redis-py's Script for SLIDING_LOG (it keeps the SHA; EVALSHA, loaded on first use per server)


class _Throttle(SimpleRateThrottle):
    message = "Too many requests."

    def allow_request(self, request, view):
        """DRF's decision (in one atomic round trip on Redis), failing open when the cache
        (Redis) is down: DRF lets its errors through as 500s."""
        try:
            if self.rate is not None and _on_redis():
                return self._allow_on_redis(request, view)
            return super().allow_request(request, view)
        except RedisError as exc:  # only the cache's errors: a bug in get_cache_key still raises
            logger.warning("throttle %s: cache unavailable (%s); not limiting", self.scope, exc)
            return True

    def _allow_on_redis(self, request, view):
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        cache = _default_cache()
        client = cache._cache.get_client(self.key, write=True)
        if not _script:
            _script.append(client.register_script(SLIDING_LOG))
        # A key of its own: a log DRF's code wrote under the plain key (a pickled list, from
        # before this script) would be the wrong type for it.
        key = cache.make_and_validate_key(f"{self.key}:log")
        member = f"{self.now!r}:{uuid.uuid4().hex[:12]}"
        args = [repr(self.now), self.duration, self.num_requests, member]
        allowed, count, oldest = _script[0](keys=[key], args=args, client=client)
        # What DRF's wait() reads: the log's length, and its oldest time last.
        self.history = [self.now] * (int(count) - 1) + [float(oldest)]
        return bool(allowed) or self.throttle_failure()


def _default_cache():
    return caches["default"]


def _on_redis() -> bool:
    return isinstance(_default_cache(), RedisCache)


def _submitted_username(request) -> str | None:
    """The identity a login attempt names: ``login_key`` of the submitted username, the
    very key log-in resolves it by (``QuickUserManager.get_by_natural_key``), so no
    spelling (case, full-width, spaces) gets a counter of its own. None when there is
    nothing to key on: no username, or not a string (the API answers 400 to those before
    any password check)."""
    data = getattr(request, "data", None)
    if data is None:
        data = request.POST
    try:
        value = data.get("username")
    except AttributeError:  # a JSON list or scalar body
        return None
    return login_key(value)


class LoginIPThrottle(_Throttle):
    scope = "login_ip"
    message = "Too many login attempts from your network."

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(_Throttle):
    scope = "login_username"
    message = "Too many login attempts for this account."

    def get_cache_key(self, request, view):
        key = _submitted_username(request)
        if key is None:
            return None  # nothing to key on: the per-IP limit still applies
        return self.cache_format % {"scope": self.scope, "ident": counter_ident(key)}


class RegisterIPThrottle(_Throttle):
    scope = "register_ip"
    message = "Too many sign-ups from your network."

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class OrderThrottle(_Throttle):
    scope = "orders"
    message = "You are placing orders too quickly."

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


LOGIN_THROTTLES = (LoginIPThrottle, LoginUsernameThrottle)


def retry_message(message: str, wait) -> str:
    seconds = max(1, math.ceil(wait or 1))
    return f"{message} Try again in {seconds} second{'s' if seconds != 1 else ''}."


def check_page_throttles(request, throttle_classes):
    """For plain Django views: ``None`` if allowed, else ``(message, retry_after_seconds)``
    of the first limit that is hit."""
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            wait = throttle.wait()
            return retry_message(throttle.message, wait), max(1, math.ceil(wait or 1))
    return None


class ThrottleMessageMixin:
    """API views: a 429 that says which limit was hit (plus DRF's Retry-After)."""

    def check_throttles(self, request):
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                wait = throttle.wait()
                error = Throttled(detail=retry_message(getattr(throttle, "message", "Too many requests."), wait))
                error.wait = wait  # the exception handler turns it into Retry-After
                raise error
