import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.static import serve

logger = logging.getLogger(__name__)


def _check_store():
    from accounts.models import User

    User.objects.only("pk").first()  # a real round trip on either store


def _check_channel_layer():
    if not settings.REDIS_URL:
        return  # the in-memory layer lives in this process
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    """200 when the store and the channel layer answer; 503 naming what does not."""
    checks = {"store": _check_store, "channel_layer": _check_channel_layer}
    failing = []
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:  # any failure means "not healthy", never a 500
            logger.warning("healthz: %s unreachable: %s", name, exc)
            failing.append(name)
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse(
        {"status": "ok", "store": connection.vendor, "channel_layer": "redis" if settings.REDIS_URL else "memory"}
    )


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the Django admin's)."""
    return redirect(static("favicon.svg"), permanent=True)


@require_GET
def media(request, path):
    """Uploaded product pictures, in development only (DEBUG, as `make run` is). Deployed,
    nginx serves /media/ from the shared volume (deploy/nginx.conf), or they live in a
    bucket; here that is a 404."""
    if not settings.DEBUG:
        raise Http404("Media files are not served by the app.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)
