"""ASGI entry point: one application serves HTTP and websockets (uvicorn runs it: quickcommerce/serve.py)."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quickcommerce.settings")

from django.core.exceptions import ImproperlyConfigured

try:
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()  # sets Django up before the imports below
except ImproperlyConfigured as exc:
    # A bad setting: one line naming it, not a traceback.
    sys.exit(f"quickcommerce: configuration error: {exc}")

from channels.routing import ProtocolTypeRouter, URLRouter

from accounts.ws_auth import WebsocketAuthStack
from dispatch.publish import Publisher
from dispatch.routing import websocket_urlpatterns


async def http_app(scope, receive, send):
    """Django, with this server's event loop publishing the live events of the changes
    its requests commit (``dispatch.publish.Publisher``: built and sent off the request)."""
    return await Publisher.serve_http(django_asgi_app, scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": WebsocketAuthStack(URLRouter(websocket_urlpatterns)),
    }
)
