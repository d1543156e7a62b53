"""Abuse limits: DRF throttles keyed on the client address, the username tried, or
the customer. The same classes guard the pages (``check_page_throttles``) and the
API (``throttle_classes``), so both share one counter per key.

Rates come from settings (env: LOGIN_RATE_PER_USERNAME, LOGIN_RATE_PER_IP,
REGISTER_RATE_PER_IP, ORDER_RATE_PER_CUSTOMER); counters live in Django's cache
(Redis when REDIS_URL is set, so a limit holds across app instances). If the cache
is unreachable the limits let requests through: an outage must not stop logins
or orders (docs/security.md).
"""

import logging
import math

from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from accounts.usernames import counter_ident, login_key

logger = logging.getLogger(__name__)


class _Throttle(SimpleRateThrottle):
    message = "Too many requests."

    def allow_request(self, request, view):
        """DRF's, failing open when the cache (Redis) is down: DRF lets its errors through as 500s."""
        try:
            return super().allow_request(request, view)
        except RedisError as exc:  # only the cache's errors: a bug in get_cache_key still raises
            logger.warning("throttle %s: cache unavailable (%s); not limiting", self.scope, exc)
            return True


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
