"""Store selection: SQLite by default, MongoDB when ``MONGO_URI`` is set.

The code is the same on both stores; what differs lives here: the database
settings, the primary-key field, the contrib app configs and the migration
modules (``mongo_migrations/``), and ``atomic()``, a transaction on either store.
See docs/stores.md.
"""

import functools
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

OBJECT_ID_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
BIG_AUTO_FIELD = "django.db.models.BigAutoField"

# Apps whose migrations differ by store (their primary keys differ).
PROJECT_APPS = ["accounts", "orders", "dispatch", "notifications"]
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


def as_stored(value, using=None):
    """A datetime as the store gives it back: MongoDB keeps milliseconds (BSON dates),
    SQLite microseconds. For an object kept after writing it, in place of reading it back."""
    from django.db import DEFAULT_DB_ALIAS, connections

    if value is None or connections[using or DEFAULT_DB_ALIAS].vendor != "mongodb":
        return value
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


# --- Transactions -------------------------------------------------------------


def atomic(using=None):
    """A transaction on the store behind ``using`` (default: the default database).

    SQLite: Django's ``transaction.atomic``. MongoDB: the backend's
    ``django_mongodb_backend.transaction.atomic``, a real multi-document transaction
    (it needs a replica set); Django's own ``atomic`` does nothing there. On both,
    ``django.db.transaction.on_commit`` inside the block waits for the commit and is
    dropped on rollback (the backend's connection checks its own atomic flag), so there
    is no second ``on_commit``. The store is the connection's vendor, read when
    ``atomic()`` is called (for a bare ``@atomic``: at each call), never settings.

    ``with atomic():``, ``@atomic`` or ``@atomic(using=...)``. MongoDB has no savepoints:
    a nested block that fails keeps its writes, so if its error is caught and the outer
    block goes on, the outer block rolls back and raises ``TransactionManagementError``
    instead of committing half the work. A failed write also ends the server's
    transaction, so catching an ``IntegrityError`` and carrying on (``get_or_create``'s
    retry) cannot work inside a MongoDB transaction.
    """
    if callable(using):  # bare @atomic: choose at each call
        func = using

        @functools.wraps(func)
        def in_transaction(*args, **kwargs):
            with atomic():
                return func(*args, **kwargs)

        return in_transaction
    from django.db import DEFAULT_DB_ALIAS, connections, transaction

    if connections[using or DEFAULT_DB_ALIAS].vendor == "mongodb":
        return _mongo_atomic_class()(using or DEFAULT_DB_ALIAS)
    return transaction.atomic(using)


@functools.cache
def _mongo_atomic_class():
    # Imported on first use: settings import this module before Django is set up.
    from django.db.transaction import TransactionManagementError, get_connection
    from django_mongodb_backend.transaction import Atomic

    class MongoAtomic(Atomic):
        """The backend's ``Atomic`` (all its state lives on the connection, so one
        instance serves every call of a decorated function), refusing to commit after
        a nested block failed."""

        def __exit__(self, exc_type, exc_value, traceback):
            connection = get_connection(self.using)
            outermost = not connection.nested_atomics
            if not outermost:
                if exc_type is not None:
                    connection.nested_atomic_failed = True
                return super().__exit__(exc_type, exc_value, traceback)
            nested_failed = getattr(connection, "nested_atomic_failed", False)
            connection.nested_atomic_failed = False
            if nested_failed and exc_type is None:
                error = TransactionManagementError(
                    "A nested atomic() block failed and its error was caught; MongoDB has no savepoints, "
                    "so the whole transaction was rolled back."
                )
                super().__exit__(TransactionManagementError, error, None)
                raise error
            return super().__exit__(exc_type, exc_value, traceback)

    return MongoAtomic


# MongoDB's WriteConflict: another transaction wrote the same document first.
MONGO_WRITE_CONFLICT = 112


def is_write_conflict(error: BaseException) -> bool:
    """True when ``error`` (a ``DatabaseError`` from a write inside ``atomic()``) is
    MongoDB refusing the write because another open transaction wrote the same document:
    a contested compare-and-set inside a transaction loses this way instead of matching
    nothing, so treat it as the lost race it is. Never true on SQLite, where writers
    queue for the lock (``BEGIN IMMEDIATE``) and the compare-and-set decides."""
    cause = error.__cause__ if error.__cause__ is not None else error
    return getattr(cause, "code", None) == MONGO_WRITE_CONFLICT
