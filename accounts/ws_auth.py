"""Websocket authentication: a session cookie (browsers) or a JWT (API clients).

- A JWT comes in the handshake's ``Authorization: Bearer <access>`` header, or as
  ``?token=`` for clients that cannot set headers (quickcommerce/serve.py logs the
  path only, and deploy/nginx.conf logs websocket paths without the query string).
- Session sockets must come from an allowed Origin (cross-site websocket
  hijacking): Channels' ``AllowedHostsOriginValidator``, which also refuses a
  handshake with no Origin at all.
- JWT sockets may come without an Origin (non-browser clients); with one, it must
  be allowed too.

The user lands in ``scope["user"]`` (AnonymousUser when nothing valid was sent)
and ``scope["auth"]`` is ``"jwt"`` or ``"session"``; the consumer refuses
anonymous users and picks HTML or JSON by ``scope["auth"]``.
"""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser


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
        self.jwt_with_origin = AllowedHostsOriginValidator(jwt)
        self.session = AllowedHostsOriginValidator(AuthMiddlewareStack(_SessionAuth(inner)))

    async def __call__(self, scope, receive, send):
        if token_from_scope(scope):
            if _header(scope, b"origin") is None:
                return await self.jwt_without_origin(scope, receive, send)
            return await self.jwt_with_origin(scope, receive, send)
        return await self.session(scope, receive, send)
