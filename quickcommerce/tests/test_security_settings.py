"""Production settings beyond `check --deploy` (quickcommerce/tests/test_settings.py):
the Content-Security-Policy and templates that live under it, secrets, error pages
without stack traces, JWT lifetimes, refresh-token rotation and logout."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from quickcommerce.testing import BASE_DIR, app_env, manage

PROD_SECRET = "x" * 20 + "-production-secret-with-enough-entropy-0123456789"
TEMPLATES = BASE_DIR / "templates"


# --- Content-Security-Policy ---------------------------------------------------------------------


def directives(response) -> dict:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


@pytest.mark.django_db
def test_pages_get_a_strict_policy(client, customer):
    client.force_login(customer)
    for url in (reverse("orders:catalog"), reverse("orders:list"), reverse("login"), "/api/products/"):
        policy = directives(client.get(url))
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
        assert "ws://testserver" in policy["connect-src"] and "wss://testserver" in policy["connect-src"]


@pytest.mark.django_db
def test_connect_src_names_the_requested_host_and_port_and_a_bad_host_still_gets_a_policy(client, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    policy = directives(client.get(reverse("login"), HTTP_HOST="shop.example.com:8443"))
    assert policy["connect-src"] == ["'self'", "ws://shop.example.com:8443", "wss://shop.example.com:8443"]
    refused = client.get(reverse("login"), HTTP_HOST="evil.example.com")
    assert refused.status_code == 400
    assert directives(refused)["connect-src"] == ["'self'"]
    assert directives(refused)["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_admin_and_api_docs_get_only_what_their_templates_need(client, admin_user):
    client.force_login(admin_user)
    for url in (reverse("admin:index"), reverse("api-docs")):
        response = client.get(url)
        assert response.status_code == 200
        policy = directives(response)
        assert "'unsafe-inline'" in policy["style-src"] and "'unsafe-inline'" in policy["script-src"]
        assert "'unsafe-eval'" not in policy["script-src"]
        assert policy["frame-ancestors"] == ["'none'"]


def our_templates():
    return sorted(path for path in TEMPLATES.rglob("*.html") if "admin" not in path.relative_to(TEMPLATES).parts)


@pytest.mark.parametrize("path", our_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_our_templates_need_no_inline_script_or_style(path: Path):
    text = path.read_text()
    if path.name == "500.html":
        return  # self-contained on purpose (no static files when things are broken); checked below
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"<style\b", text), "inline <style> block"
    assert not re.search(r"\sstyle\s*=", text), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert "javascript:" not in text
    assert not re.search(r"\shx-on[:-]", text), "hx-on (needs eval)"


def test_base_template_turns_off_htmx_injected_styles():
    base = (TEMPLATES / "base.html").read_text()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in base


def test_error_page_needs_nothing_inline_either():
    page = (TEMPLATES / "500.html").read_text()
    assert "<script" not in page
    assert not re.search(r"<style\b", page) and not re.search(r"\sstyle\s*=", page)
    # Nothing that needs a request or the database: static files and plain links only.
    assert "{% url" not in page and "{% extends" not in page and "user" not in page


# --- secrets and configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"JWT_SECRET": "short-jwt-secret"}, "JWT_SECRET must be at least 50 characters"),
        ({"ORDER_RATE_PER_CUSTOMER": "lots"}, "ORDER_RATE_PER_CUSTOMER must look like 30/min"),
        ({"LOGIN_RATE_PER_IP": "0/min"}, "LOGIN_RATE_PER_IP must look like 30/min"),
        ({"WS_MAX_CONNECTIONS_PER_USER": "0"}, "WS_MAX_CONNECTIONS_PER_USER must be at least 1"),
    ],
)
def test_bad_security_setting_stops_with_one_line(env, needle, tmp_path):
    base = {"DEBUG": "false", "SECRET_KEY": PROD_SECRET, "ALLOWED_HOSTS": "shop.example.com"}
    result = manage("check", env=app_env(SQLITE_PATH=tmp_path / "db.sqlite3", **base, **env))
    assert result.returncode != 0
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_jwt_lifetimes_are_short_and_refresh_tokens_rotate():
    jwt = settings.SIMPLE_JWT
    assert jwt["ACCESS_TOKEN_LIFETIME"] == timedelta(minutes=15)
    assert jwt["REFRESH_TOKEN_LIFETIME"] == timedelta(days=7)
    assert jwt["ROTATE_REFRESH_TOKENS"] and jwt["BLACKLIST_AFTER_ROTATION"]


# --- no stack traces for users ---------------------------------------------------------------------


@pytest.mark.django_db
def test_with_debug_off_errors_are_our_pages_without_details(client, settings):
    from django.views.defaults import server_error

    settings.DEBUG = False
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert "Traceback" not in body and "settings" not in body.lower()
    assert 'class="topbar"' in body and "/static/css/app.css" in body  # the site's look, not a bare page

    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "There is nothing here" in missing.content.decode()
    assert "URLconf" not in missing.content.decode()
    assert 'class="topbar"' in missing.content.decode() and 'name="q"' in missing.content.decode()
    gone = client.get("/products/no-such-product/")
    assert gone.status_code == 404 and "We can't find that page" in gone.content.decode()
    api = client.get("/api/no/such/thing/")
    assert api.status_code == 404 and api.json() == {"detail": "Not found.", "code": "not_found"}


# --- refresh rotation and logout -----------------------------------------------------------------


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.django_db
def test_refresh_rotates_and_a_used_refresh_token_is_dead(client, customer):
    pair = post(client, "/api/auth/token/", {"username": "alice", "password": "a-long-passphrase"}).json()
    rotated = post(client, "/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != pair["refresh"] and rotated.json()["access"]
    reused = post(client, "/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert reused.status_code == 401  # a stolen, already-used refresh token is worthless
    # ... and its reuse revokes the chain it started (accounts/tests/test_tokens.py).
    assert post(client, "/api/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}).status_code == 401


@pytest.mark.django_db
def test_logout_revokes_the_refresh_token(client, customer):
    pair = post(client, "/api/auth/token/", {"username": "alice", "password": "a-long-passphrase"}).json()
    out = post(client, "/api/auth/logout/", {"refresh": pair["refresh"]})
    assert out.status_code == 200 and out.json() == {"detail": "Logged out."}
    assert post(client, "/api/auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
    assert post(client, "/api/auth/logout/", {"refresh": pair["refresh"]}).status_code == 401
    assert post(client, "/api/auth/logout/", {"refresh": "garbage"}).status_code == 401
    assert post(client, "/api/auth/logout/", {"refresh": pair["access"]}).status_code == 401  # not a refresh token
    assert post(client, "/api/auth/logout/", {}).status_code == 400
