from django.urls import path

from accounts.api import LogoutApi, MeApi, RegisterApi, TokenApi, TokenRefreshApi

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="api-register"),
    path("auth/token/", TokenApi.as_view(), name="api-token"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("auth/logout/", LogoutApi.as_view(), name="api-logout"),
    path("auth/me/", MeApi.as_view(), name="api-me"),
]
