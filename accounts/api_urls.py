from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.api import RegisterApi


@extend_schema_view(post=extend_schema(tags=["auth"], summary="Get an access and refresh token"))
class TokenApi(TokenObtainPairView):
    pass


@extend_schema_view(post=extend_schema(tags=["auth"], summary="Refresh the access token"))
class TokenRefreshApi(TokenRefreshView):
    pass


urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="api-register"),
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="api-token-refresh"),
]
