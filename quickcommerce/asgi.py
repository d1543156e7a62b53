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
from dispatch.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebsocketAuthStack(URLRouter(websocket_urlpatterns)),
    }
)
