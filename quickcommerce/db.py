"""Store selection: SQLite by default, MongoDB when ``MONGO_URI`` is set.

The code is the same on both stores; what differs lives here: the database
settings, the primary-key field, the contrib app configs and the migration
modules (``mongo_migrations/``). See "Two stores" in ARCHITECTURE.md.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

OBJECT_ID_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
BIG_AUTO_FIELD = "django.db.models.BigAutoField"

# Apps whose migrations differ by store (their primary keys differ).
PROJECT_APPS = ["accounts", "orders", "dispatch"]
CONTRIB_APPS = ["admin", "auth", "contenttypes"]

_CONTRIB_CONFIGS = {
    "django.contrib.admin": "quickcommerce.apps.MongoAdminConfig",
    "django.contrib.auth": "quickcommerce.apps.MongoAuthConfig",
    "django.contrib.contenttypes": "quickcommerce.apps.MongoContentTypesConfig",
}


def sqlite_database(path):
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # Concurrent writers wait (busy timeout, seconds) instead of failing
            # with "database is locked"; IMMEDIATE takes the write lock at BEGIN
            # so a read-then-write transaction cannot deadlock on the upgrade.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def mongo_database(uri, *, engine="django_mongodb_backend"):
    parts = urlsplit(uri)
    name = parts.path.lstrip("/").split("?")[0] or "quickcommerce"
    if not parts.hostname:
        raise ImproperlyConfigured(f"MONGO_URI has no host: {uri!r}")
    return {"ENGINE": engine, "HOST": uri, "NAME": name}


def installed_apps(apps, *, mongo):
    """Swap the contrib apps for the MongoDB backend's app configs when on MongoDB."""
    if not mongo:
        return list(apps)
    return [_CONTRIB_CONFIGS.get(app, app) for app in apps]


def migration_modules(*, mongo):
    if not mongo:
        return {}
    return {label: f"mongo_migrations.{label}" for label in CONTRIB_APPS + PROJECT_APPS}
