"""Configuration: malformed values stop start-up with one clear line."""

import json
import subprocess
import sys

import pytest

from quickcommerce.testing import BASE_DIR, app_env, manage

PROD_SECRET = "x" * 20 + "-production-secret-with-enough-entropy-0123456789"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be true or false"),
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"DELIVERY_PROMISE_MINUTES": "0"}, "DELIVERY_PROMISE_MINUTES must be at least 1"),
        ({"PRODUCT_IMAGE_MAX_MB": "0"}, "PRODUCT_IMAGE_MAX_MB must be at least 1"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL must start with"),
        ({"MONGO_URI": "http://db"}, "MONGO_URI must start with"),
        ({"DEBUG": "false"}, "SECRET_KEY must be set"),
        ({"DEBUG": "false", "SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 characters"),
        ({"CSRF_TRUSTED_ORIGINS": "example.com"}, "CSRF_TRUSTED_ORIGINS entries need a scheme"),
        ({"REDIS_CHANNEL_LAYER": "fast"}, "REDIS_CHANNEL_LAYER must be pubsub or core"),
        ({"WS_MAX_AGE_SECONDS": "12h"}, "WS_MAX_AGE_SECONDS must be a whole number"),
        ({"WS_MAX_AGE_SECONDS": "0"}, "WS_MAX_AGE_SECONDS must be at least 1"),
        ({"EMAIL_URL": "mail.example.com:25"}, "EMAIL_URL must look like smtp://"),
        ({"EMAIL_URL": "pop3://mail.example.com"}, "EMAIL_URL must look like smtp://"),
        ({"SITE_URL": "shop.example.com"}, "SITE_URL must start with http://, https://"),
        ({"EMAIL_RETRY_DELAYS": "10,soon"}, "EMAIL_RETRY_DELAYS must be a comma-separated list of whole numbers"),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT must be at least 1"),
        ({"STORE_LATITUDE": "north"}, "STORE_LATITUDE must be a number"),
        ({"STORE_LATITUDE": "91"}, "STORE_LATITUDE must be at most 90"),
        ({"STORE_LONGITUDE": "nan"}, "STORE_LONGITUDE must be a number"),
        ({"SERVICE_RADIUS_KM": "0"}, "SERVICE_RADIUS_KM must be at least 0.1"),
        ({"MAP_TILE_URL": "https://{s}{z}/{x}/{y}.png"}, "MAP_TILE_URL must be an http(s) URL with a fixed host"),
        # django-environ reads "$NAME" as another variable's value; an unset one must not
        # silently become the default (a random secret may start with "$": write "\$").
        ({"SECRET_KEY": "$QC_NOT_SET_ANYWHERE"}, "SECRET_KEY refers to $QC_NOT_SET_ANYWHERE, which is not set"),
    ],
)
def test_malformed_setting_stops_with_one_line_naming_it(env, needle, tmp_path):
    result = manage("check", env=app_env(SQLITE_PATH=tmp_path / "db.sqlite3", **env))
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# The settings module alone, without starting Django (which would load the S3 backend:
# boto3 comes with requirements-s3.txt only).
SHOW_MEDIA = (
    "import json; import quickcommerce.settings as s; "
    "print(json.dumps([s.STORAGES['default'], s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']]))"
)


def media_settings(tmp_path, **env):
    result = subprocess.run(
        [sys.executable, "-c", SHOW_MEDIA],
        env=app_env(SQLITE_PATH=tmp_path / "db.sqlite3", **env),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "origin"),
    [
        ({"MEDIA_S3_BUCKET": "pics"}, "https://*.amazonaws.com"),
        (
            {"MEDIA_S3_BUCKET": "pics", "MEDIA_S3_ENDPOINT_URL": "https://minio.example.com:9000/x"},
            "https://minio.example.com:9000",
        ),
        ({"MEDIA_S3_BUCKET": "pics", "MEDIA_S3_CUSTOM_DOMAIN": "cdn.example.com"}, "https://cdn.example.com"),
    ],
)
def test_pictures_in_a_bucket_use_django_storages_and_the_csp_allows_its_host(env, origin, tmp_path):
    """Settings only: no S3 service here (docs/stores.md, "Product pictures")."""
    storage, img_src = media_settings(tmp_path, **env)
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "pics" and storage["OPTIONS"]["querystring_auth"] is False
    assert origin in img_src


def test_pictures_stay_on_this_site_without_a_bucket(tmp_path):
    storage, img_src = media_settings(tmp_path)
    assert storage["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert not any("amazonaws" in source for source in img_src)


def test_production_settings_pass_check_deploy(tmp_path):
    env = app_env(
        DEBUG="false",
        SECRET_KEY=PROD_SECRET,
        ALLOWED_HOSTS="shop.example.com",
        CSRF_TRUSTED_ORIGINS="https://shop.example.com",
        SQLITE_PATH=tmp_path / "db.sqlite3",
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_defaults_need_nothing_set(tmp_path):
    result = manage("check", env=app_env(SQLITE_PATH=tmp_path / "db.sqlite3"))
    assert result.returncode == 0, result.stderr


def test_email_settings_come_from_email_url(tmp_path):
    env = app_env(
        SQLITE_PATH=tmp_path / "db.sqlite3",
        EMAIL_URL="smtp+tls://mailer:s3cret@mail.example.com:587",
        DEFAULT_FROM_EMAIL="Shop <orders@shop.example.com>",
        SITE_URL="https://shop.example.com/",
    )
    code = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS, s.SITE_URL)"
    )
    result = manage("shell", "-v", "0", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
        "587",
        "mailer",
        "True",
        "https://shop.example.com",
    ]


def test_env_example_as_written_is_the_development_setup(tmp_path):
    """.env.example leaves SECRET_KEY, MONGO_URI, REDIS_URL, ... blank: blank means unset."""
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert values["SECRET_KEY"] == values["MONGO_URI"] == values["REDIS_URL"] == ""
    code = (
        "from django.conf import settings as s; "
        "print(s.SECRET_KEY == s.DEV_SECRET_KEY, s.JWT_SECRET == s.SECRET_KEY, s.USE_MONGO, s.REDIS_URL, "
        "s.CSRF_TRUSTED_ORIGINS, s.CHANNEL_LAYERS['default']['BACKEND'], s.EMAIL_BACKEND, s.SITE_URL)"
    )
    env = app_env(**(values | {"SQLITE_PATH": tmp_path / "db.sqlite3"}))
    result = manage("shell", "-v", "0", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "False",
        "None",
        "[]",
        "channels.layers.InMemoryChannelLayer",
        "django.core.mail.backends.console.EmailBackend",
        "http://localhost:8000",
    ]
