import re

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.urls import auth_urlpatterns
from accounts.views import admin_login
from dispatch import pwa
from quickcommerce.views import favicon, healthz, media


@csrf_exempt  # a 404 whatever the method: not a CSRF failure page
def api_not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


api_urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("dispatch.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ (e.g. /api/orders//): a JSON 404 like the API's own, not the HTML page.
    re_path(r"^[\s\S]*$", api_not_found, name="api-not-found"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    # The installable board (dispatch/pwa.py): the service worker at the root, for scope "/".
    path("sw.js", pwa.service_worker, name="service-worker"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("offline/", pwa.offline, name="offline"),
    # The admin's own login ("admin:login" names the same path), answering 429 past the
    # login limits it shares with the login page and the API (accounts.views.admin_login).
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("accounts/", include(auth_urlpatterns)),
    path("accounts/", include("accounts.urls")),
    path("api/", include(api_urlpatterns)),
    path("", include("dispatch.urls")),
    path("", include("orders.urls")),
]
# Product pictures in development (`make run`, DEBUG); deployed, nginx serves /media/
# (deploy/nginx.conf) or they live in a bucket, and this answers 404.
if settings.MEDIA_URL.startswith("/"):
    media_prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.+)$", media, name="media"))
