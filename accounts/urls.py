from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("home/", views.home, name="home"),
    path("settings/", views.email_settings, name="settings"),
]

# Django's own auth views keep their standard names ("login", "logout") outside
# the namespace, so settings.LOGIN_URL and third-party code find them.
auth_urlpatterns = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
