"""The installable board: its web app manifest, its service worker and its offline page.

The service worker is served at the root (``/sw.js``) so its scope can be ``/``; it is a
template, so it names the static files by their real (hashed, in production) URLs and
its cache name changes whenever one of them does. docs/notifications.md, "Installable board".
"""

import hashlib

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from dispatch.icons import BRAND, icon_files

NAME = "quickcommerce board"
# What the service worker keeps for when the network is gone: the board's look and code.
CACHED_STATIC = [
    "css/app.css",
    "css/orders.css",
    "css/dispatch.css",
    "css/dashboard.css",
    "vendor/htmx-2.0.11.min.js",
    "vendor/htmx-ext-ws-2.0.4.min.js",
    "js/app.js",
    "js/board-alerts.js",
    "js/board-app.js",
    "icons/board-192.png",
]


@require_GET
@cache_control(max_age=3600)
def manifest(request):
    data = {
        "id": reverse("dispatch:board"),
        "name": NAME,
        "short_name": "Board",
        "description": "Accept and deliver quickcommerce orders.",
        "start_url": reverse("dispatch:board"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": BRAND,
        "background_color": "#f6f7f4",
        "icons": [
            {"src": static(f"icons/{name}"), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
            for name, size, purpose in icon_files()
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")


@require_GET
@cache_control(no_cache=True)
def service_worker(request):
    assets = [static(path) for path in CACHED_STATIC]
    offline = reverse("offline")
    version = hashlib.sha256("\n".join([*assets, offline]).encode()).hexdigest()[:12]
    body = render_to_string("dispatch/sw.js", {"assets": assets, "offline_url": offline, "version": version})
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def offline(request):
    """What the service worker shows when the network is gone (cached at install)."""
    return render(request, "dispatch/offline.html")
