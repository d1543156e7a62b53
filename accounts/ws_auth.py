"""Websocket authentication: a session cookie (browsers) or a JWT (API clients).

- A JWT comes in the handshake's ``Authorization: Bearer <access>`` header, or as
  ``?token=`` for clients that cannot set headers (quickcommerce/serve.py logs the
  path only, and deploy/nginx.conf logs websocket paths without the query string).
- Session sockets must come from our own Origin (cross-site websocket hijacking),
  judged exactly as Django's CSRF check judges an HTTP request's Origin
  (``origin_allowed``): scheme, host and port of this very request (the Host it was
  sent to, ``wss`` counting as https), or an entry of ``CSRF_TRUSTED_ORIGINS``. A
  handshake with no Origin at all is refused. (Channels' ``AllowedHostsOriginValidator``,
  used before, compared the host alone: ``http://127.0.0.1:9999`` passed.)
- JWT sockets may come without an Origin (non-browser clients); with one, it must
  pass the same check.

The user lands in ``scope["user"]`` (AnonymousUser when nothing valid was sent)
and ``scope["auth"]`` is ``"jwt"`` or ``"session"``; the consumer refuses
anonymous users and picks HTML or JSON by ``scope["auth"]``.
"""

import io
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware


def _header(scope, name: bytes):
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def token_from_scope(scope):
    auth = _header(scope, b"authorization")
    if auth:
        kind, _, value = auth.partition(" ")
        if kind.lower() == "bearer" and value.strip():
            return value.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values and values[0] else None


@database_sync_to_async
def user_from_token(raw_token):
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw_token)
        user = auth.get_user(validated)
    except (InvalidToken, AuthenticationFailed):
        return AnonymousUser()
    return user if user.is_active else AnonymousUser()


def origin_allowed(scope) -> bool:
    """Whether the handshake's Origin passes Django's own CSRF Origin check
    (``CsrfViewMiddleware._origin_verified``) for the same request: the Host it was
    sent to (checked against ALLOWED_HOSTS), the scheme it arrived with (``wss``, or
    ``X-Forwarded-Proto: https`` from a trusted proxy, is https), or
    ``CSRF_TRUSTED_ORIGINS``. No Origin: refused."""
    if _header(scope, b"origin") is None:
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    http_scope = {**scope, "type": "http", "method": "GET", "scheme": scheme, "query_string": b""}
    request = ASGIRequest(http_scope, io.BytesIO())
    # Django's check itself, so a websocket and a form POST can never disagree.
    return CsrfViewMiddleware(lambda request: None)._origin_verified(request)


class SameOriginValidator:
    """Refuses (403 at the handshake) a websocket whose Origin ``origin_allowed`` refuses."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


class _JWTAuth:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user = await user_from_token(token_from_scope(scope))
        return await self.inner(dict(scope, user=user, auth="jwt"), receive, send)


class _SessionAuth:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        return await self.inner(dict(scope, auth="session"), receive, send)


class WebsocketAuthStack:
    def __init__(self, inner):
        jwt = _JWTAuth(inner)
        self.jwt_without_origin = jwt
        self.jwt_with_origin = SameOriginValidator(jwt)
        self.session = SameOriginValidator(AuthMiddlewareStack(_SessionAuth(inner)))

    async def __call__(self, scope, receive, send):
        if token_from_scope(scope):
            if _header(scope, b"origin") is None:
                return await self.jwt_without_origin(scope, receive, send)
            return await self.jwt_with_origin(scope, receive, send)
        return await self.session(scope, receive, send)
