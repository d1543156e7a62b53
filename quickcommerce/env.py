"""django-environ's typed readers (``env.bool``, ``env.int``, ``env.str``, ``env.list``), made strict.

A malformed value must stop start-up with one line naming the variable (``manage.py``
and ``asgi.py`` print an ``ImproperlyConfigured`` without a traceback). What environ
cannot do, and this subclass adds:

- ``DEBUG=maybe`` is an error (environ reads it as False);
- a value that does not cast (``PORT=eighty``) names its variable (environ lets a
  bare ValueError through);
- bounds: ``env.int(..., minimum=, maximum=)``, ``env.float(...)`` likewise (finite only);
- blank is unset (``SECRET_KEY=`` as ``.env.example`` leaves it; environ returns "");
- ``$NAME`` refers to another variable (environ's proxy values): an unset one is an
  error, not a silent fall back to the default; ``\\$`` is a literal ``$``.
"""

import math

import environ
from django.core.exceptions import ImproperlyConfigured

_BOOLEANS = {"1", "true", "yes", "on", "0", "false", "no", "off"}
_EXPECTED = {bool: "true or false", int: "a whole number", float: "a number"}


def _expected(cast) -> str:
    if isinstance(cast, list):  # env.list(var, int): environ's cast is [int]
        return "a comma-separated list of " + {int: "whole numbers"}.get(cast[0] if cast else None, "values")
    return _EXPECTED.get(cast, "valid") if isinstance(cast, type) else "valid"


class Env(environ.Env):
    def __init__(self, **scheme):
        super().__init__(**scheme)
        self.escape_proxy = True  # "\$": a literal "$"

    @classmethod
    def parse_value(cls, value, cast):
        if isinstance(value, str):
            value = value.strip()
            if cast is bool and value.lower() not in _BOOLEANS:
                raise ValueError(value)
        return super().parse_value(value, cast)

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(var, "")
        if not raw.strip() and default is not self.NOTSET:
            return default  # unset, or set to blank
        if raw.startswith("$") and raw[1:] not in self.ENVIRON:
            raise ImproperlyConfigured(f"{var} refers to ${raw[1:]}, which is not set (write \\$ for a literal $)")
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(f"{var} must be {_expected(cast)}, got {raw!r}") from None

    def int(self, var, default=environ.Env.NOTSET, *, minimum=None, maximum=None):
        number = super().int(var, default=default)
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{var} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{var} must be at most {maximum}, got {number}")
        return number

    def email_url(self, var, default=environ.Env.NOTSET, backend=None):
        """``EMAIL_URL``'s settings (environ's schemes: smtp://, smtp+tls://, smtp+ssl://,
        consolemail://, filemail://, memorymail://, dummymail://), or an error naming it."""
        try:
            return super().email_url(var, default=default, backend=backend)
        except (ValueError, KeyError, ImproperlyConfigured) as error:
            if "refers to" in str(error):
                raise
            raw = self.ENVIRON.get(var, "")
            raise ImproperlyConfigured(
                f"{var} must look like smtp://user:password@host:587, smtp+tls://..., or consolemail://, got {raw!r}"
            ) from None

    def float(self, var, default=environ.Env.NOTSET, *, minimum=None, maximum=None):
        number = super().float(var, default=default)
        if not math.isfinite(number):
            raise ImproperlyConfigured(f"{var} must be a finite number, got {number}")
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{var} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ImproperlyConfigured(f"{var} must be at most {maximum}, got {number}")
        return number
