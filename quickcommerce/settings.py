"""Settings for quickcommerce: one file, driven by the environment.

With nothing set you get development mode: DEBUG on, a development secret,
SQLite and the in-memory channel layer. ``.env`` in the checkout is read if
present (real environment variables win). ``.env.example`` lists every variable.
"""

import re
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from quickcommerce import db
from quickcommerce.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
env.read_env(BASE_DIR / ".env")

_RATE = re.compile(r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name, default):
    """A throttle rate, "N/period" (period: s, min, h or day), as DRF reads it."""
    value = env.str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must look like 30/min (a number, then /s, /min, /h or /day), got {value!r}")
    return value


def env_url(name, schemes):
    """A URL whose scheme is one of ``schemes``, or None when unset (environ's ``env.url``
    checks no scheme and re-assembles the URL, which mangles ``unix:///path``)."""
    value = env.str(name, None)
    if value is None:
        return None
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name} must start with {allowed}, got {value!r}")
    return value


def map_tile_sources(url):
    """The CSP img-src source for a tile URL template: its scheme and host (a ``{s}``
    subdomain becomes ``*.``); none for a same-origin path."""
    if "://" not in url:
        return []
    scheme, rest = url.split("://", 1)
    host = rest.split("/", 1)[0].replace("{s}.", "*.")
    if not host or "{" in host or scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"MAP_TILE_URL must be an http(s) URL with a fixed host, got {url!r}")
    return [f"{scheme}://{host}"]


DEV_SECRET_KEY = "django-insecure-quickcommerce-development-only-never-in-production"  # noqa: S105

DEBUG = env.bool("DEBUG", True)
SECRET_KEY = env.str("SECRET_KEY", DEV_SECRET_KEY if DEBUG else None)
if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set to a random value when DEBUG is false")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when DEBUG is false")
JWT_SECRET = env.str("JWT_SECRET", SECRET_KEY)
if not DEBUG:
    if JWT_SECRET == DEV_SECRET_KEY:
        raise ImproperlyConfigured("JWT_SECRET must not be the development secret when DEBUG is false")
    if len(JWT_SECRET) < 50:
        raise ImproperlyConfigured("JWT_SECRET must be at least 50 characters when DEBUG is false")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", str.strip, ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", str.strip, [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entries need a scheme (https://example.com), got {_origin!r}")

PORT = env.int("PORT", 8000, minimum=1, maximum=65535)
DELIVERY_PROMISE_MINUTES = env.int("DELIVERY_PROMISE_MINUTES", 10, minimum=1)
PARTNER_MAX_ACTIVE_ORDERS = env.int("PARTNER_MAX_ACTIVE_ORDERS", 1, minimum=1)

# --- Places, positions and the map (README "Maps and rider location") --------
# The (dark) store every order leaves from; the demo city by default (Paris, 9th).
STORE_NAME = env.str("STORE_NAME", "quickcommerce store")
STORE_LATITUDE = env.float("STORE_LATITUDE", 48.8757, minimum=-90, maximum=90)
STORE_LONGITUDE = env.float("STORE_LONGITUDE", 2.3376, minimum=-180, maximum=180)
# Drop-offs farther than this (straight line) are refused at checkout and in the API.
SERVICE_RADIUS_KM = env.float("SERVICE_RADIUS_KM", 5.0, minimum=0.1)
# ETA = distance / RIDER_SPEED_KMH + ETA_HANDOVER_MINUTES, rounded up (docs/live-updates.md).
RIDER_SPEED_KMH = env.float("RIDER_SPEED_KMH", 20.0, minimum=1)
ETA_HANDOVER_MINUTES = env.int("ETA_HANDOVER_MINUTES", 2, minimum=0)
# A partner's position is taken at most once per this many seconds; extra updates are dropped.
LOCATION_MIN_INTERVAL_SECONDS = env.int("LOCATION_MIN_INTERVAL_SECONDS", 3, minimum=0)
# Trails older than this are deleted by `manage.py purge_locations` (run it from cron).
LOCATION_RETENTION_HOURS = env.int("LOCATION_RETENTION_HOURS", 24, minimum=1)
# Map tiles; {s}, {z}, {x}, {y} as Leaflet reads them. Its origin is added to img-src below.
MAP_TILE_URL = env.str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env.str(
    "MAP_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

# --- Stores -----------------------------------------------------------------
MONGO_URI = env_url("MONGO_URI", ["mongodb", "mongodb+srv"])
USE_MONGO = MONGO_URI is not None
if USE_MONGO:
    # `QUICKCOMMERCE_DB_ENGINE=django.db.backends.dummy` is only for generating and
    # checking mongo_migrations/ on a machine without a MongoDB server (docs/stores.md).
    DATABASES = {
        "default": db.mongo_database(MONGO_URI, engine=env.str("QUICKCOMMERCE_DB_ENGINE", "django_mongodb_backend"))
    }
    DEFAULT_AUTO_FIELD = db.OBJECT_ID_FIELD
else:
    DATABASES = {"default": db.sqlite_database(env.str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")))}
    DEFAULT_AUTO_FIELD = db.BIG_AUTO_FIELD
MIGRATION_MODULES = db.migration_modules(mongo=USE_MONGO)

# --- Channel layer ----------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", ["redis", "rediss", "unix"])
REDIS_CHANNEL_LAYER = env.str("REDIS_CHANNEL_LAYER", "pubsub")
if REDIS_CHANNEL_LAYER not in {"pubsub", "core"}:
    raise ImproperlyConfigured(f"REDIS_CHANNEL_LAYER must be pubsub or core, got {REDIS_CHANNEL_LAYER!r}")
# The consumer closes a websocket this old; the client reconnects, which checks its
# session or token again, and gets a snapshot.
WS_MAX_AGE_SECONDS = env.int("WS_MAX_AGE_SECONDS", 43200, minimum=1)
if REDIS_URL:
    if REDIS_CHANNEL_LAYER == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL]},
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py's 5 s socket timeout equals the layer's 5 s BZPOPMIN: an idle
                    # receive() then dies with TimeoutError and takes its socket with it.
                    "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                    # The default of 100 silently drops group messages in a burst.
                    "capacity": 5000,
                    # Members are each process's hub channels (dispatch.hub), which re-join
                    # every hour, well inside this.
                    "group_expiry": 86400,
                },
            }
        }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Applications -----------------------------------------------------------
INSTALLED_APPS = db.installed_apps(
    [
        # First, so that its runserver (HTTP and websockets) replaces Django's
        # (HTTP only). `make run` and the image serve with uvicorn (quickcommerce/serve.py).
        "daphne",
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "channels",
        "csp",
        "django_htmx",
        "template_partials",
        "rest_framework",
        "rest_framework_simplejwt",
        "drf_spectacular",
        "drf_spectacular_sidecar",
        "imagekit",
        "accounts",
        "orders",
        "dispatch",
        "notifications",
        # Last, as it asks: deletes the files of replaced or deleted pictures after commit
        # (orders/images.py deletes their renditions with them).
        "django_cleanup.apps.CleanupConfig",
    ],
    mongo=USE_MONGO,
)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "quickcommerce.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: the whole chain runs sync, on the request's thread (see its docstring).
    "quickcommerce.middleware.SyncChain",
]

ROOT_URLCONF = "quickcommerce.urls"
ASGI_APPLICATION = "quickcommerce.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orders.context_processors.cart",
                "orders.context_processors.delivery_promise",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
# The site speaks English only and ships no translations: Django's documented switch
# for that skips the translation machinery, which every number and date in a template
# asked for its language (about 15% of rendering a live event's fragments).
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Uploaded files (product pictures). On one machine a directory that nginx serves at
# /media/ (deploy/nginx.conf); for instances on several machines, S3-compatible storage
# (docs/stores.md, "Product pictures").
MEDIA_URL = env.str("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", str(BASE_DIR / "media")))
PRODUCT_IMAGE_MAX_MB = env.int("PRODUCT_IMAGE_MAX_MB", 5, minimum=1, maximum=50)
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", None)
_media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if MEDIA_S3_BUCKET:
    # django-storages (pip install -r requirements-s3.txt); credentials as boto3 reads them
    # (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the machine's role).
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", None),
            "region_name": env.str("MEDIA_S3_REGION", None),
            "custom_domain": env.str("MEDIA_S3_CUSTOM_DOMAIN", None),
            "querystring_auth": False,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
# Where pictures come from, for the CSP's img-src: this site, or the bucket's host.
MEDIA_SOURCES = []
if MEDIA_S3_BUCKET:
    _options = _media_storage["OPTIONS"]
    if _options["custom_domain"]:
        MEDIA_SOURCES = [f"https://{_options['custom_domain']}"]
    elif _options["endpoint_url"]:
        MEDIA_SOURCES = ["/".join(_options["endpoint_url"].split("/")[:3])]
    else:
        MEDIA_SOURCES = ["https://*.amazonaws.com"]
# The renditions (orders/images.py) are made when a picture is saved; pages never check
# that they exist (which would be a request per picture on S3).
IMAGEKIT_DEFAULT_CACHEFILE_STRATEGY = "imagekit.cachefiles.strategies.Optimistic"
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Sessions live in the store, so any app instance can serve any request (no
# sticky sessions) and logging out really ends the session everywhere.
SESSION_COOKIE_HTTPONLY = True

# --- Content-Security-Policy (docs/security.md) ------------------------------
# Our pages load scripts and styles from our own origin only: no inline <script>, no
# style attributes (templates/base.html turns off htmx's injected indicator <style>).
# quickcommerce.middleware adds this host's ws:/wss: to connect-src, and inline
# scripts and styles for /admin/ and /api/docs/ only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *map_tile_sources(MAP_TILE_URL), *MEDIA_SOURCES],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Security (production) --------------------------------------------------
# No SECURE_PROXY_SSL_HEADER: Django would believe X-Forwarded-Proto from anyone. The
# scheme comes from the server, which takes X-Forwarded-Proto from the proxy's address
# only (quickcommerce/serve.py --proxy-headers, FORWARDED_ALLOW_IPS; docs/security.md).
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Request limits ---------------------------------------------------------
# nginx refuses bodies over 1 MiB (deploy/nginx.conf); the app refuses them too,
# for a lone container or `make run`: a clean 400 (RequestDataTooBig), never a 500.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- Cache (abuse limits live here) -----------------------------------------
# With REDIS_URL set the counters live in Redis, so a limit holds across every app
# instance; otherwise in this process's memory.
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, with one connection pool per process (quickcommerce/cache.py).
            "BACKEND": "quickcommerce.cache.SharedPoolRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "qc",
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "quickcommerce"}}

# --- Abuse limits (docs/security.md) ----------------------------------------
# "N/period", period one of s, min, h, day. 429 with Retry-After past the limit.
LOGIN_RATE_PER_USERNAME = env_rate("LOGIN_RATE_PER_USERNAME", "10/min")
LOGIN_RATE_PER_IP = env_rate("LOGIN_RATE_PER_IP", "30/min")
REGISTER_RATE_PER_IP = env_rate("REGISTER_RATE_PER_IP", "20/h")
ORDER_RATE_PER_CUSTOMER = env_rate("ORDER_RATE_PER_CUSTOMER", "30/min")
# Open websockets per user in one app process; more are closed with 4429.
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", 10, minimum=1)
# How many proxies in front of the app append to X-Forwarded-For. 0: the client is the
# socket's peer (quickcommerce.serve --proxy-headers already puts nginx's X-Forwarded-For there).
NUM_PROXIES = env.int("NUM_PROXIES", 0, minimum=0)

# --- Email (docs/notifications.md) ------------------------------------------
# Customers' order emails (accepted, out for delivery, delivered, cancelled); false: none at all.
ORDER_EMAILS = env.bool("ORDER_EMAILS", True)
# EMAIL_URL in django-environ's form: smtp://user:pass@host:25, smtp+tls://...:587,
# smtp+ssl://...:465, consolemail:// (the default: printed on the console).
vars().update({key: value for key, value in env.email_url("EMAIL_URL", "consolemail://").items() if value is not None})
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "quickcommerce <orders@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds before an unanswering mail server counts as down (the job is retried).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", 10, minimum=1)
# Where customers open the links in their emails (scheme and host, no path). Unset:
# https://<the first ALLOWED_HOSTS name> in production, http://localhost:PORT in development.
SITE_URL = env_url("SITE_URL", ["http", "https"])
if SITE_URL is None:
    _site_host = next((host for host in ALLOWED_HOSTS if host and not host.startswith((".", "*"))), "localhost")
    SITE_URL = f"https://{_site_host}" if not DEBUG else f"http://localhost:{PORT}"
SITE_URL = SITE_URL.rstrip("/")
# With REDIS_URL, emails are jobs on this RQ queue, sent by `python manage.py emailworker`;
# a failed send is retried after each of these delays (seconds), then given up.
# Without REDIS_URL (make run) they are sent in the app process right after the commit.
EMAIL_QUEUE = "emails"
EMAIL_RETRY_DELAYS = env.list("EMAIL_RETRY_DELAYS", int, [10, 30, 120, 600, 1800])

# --- API --------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "EXCEPTION_HANDLER": "quickcommerce.api.exception_handler",
    # A JSON API: JSON bodies only (anything else is a 415), parsed so that absurdly
    # nested documents are a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": ["quickcommerce.parsers.SafeJSONParser"],
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        "login_username": LOGIN_RATE_PER_USERNAME,
        "login_ip": LOGIN_RATE_PER_IP,
        "register_ip": REGISTER_RATE_PER_IP,
        "orders": ORDER_RATE_PER_CUSTOMER,
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "SIGNING_KEY": JWT_SECRET,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Every refresh hands out a new refresh token and revokes the old one;
    # POST /api/auth/logout/ revokes the one it is given (accounts.tokens).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.RotatingRefreshSerializer",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "quickcommerce API",
    "DESCRIPTION": "Orders, dispatch and accounts for quickcommerce. Authenticate with a JWT "
    "from /api/auth/token/ (Authorization: Bearer <access>).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-spectacular's enum hook, then ours: paged lists document page >= 1 and their 404.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "quickcommerce.api.document_paging"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
}
