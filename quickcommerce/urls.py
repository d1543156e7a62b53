from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.urls import auth_urlpatterns
from quickcommerce.views import healthz

api_urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("orders.api_urls")),
    path("", include("dispatch.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include(auth_urlpatterns)),
    path("accounts/", include("accounts.urls")),
    path("api/", include(api_urlpatterns)),
    path("", include("dispatch.urls")),
    path("", include("orders.urls")),
]
