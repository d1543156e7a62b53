"""Both stores: migrations up to date under each, and the MongoDB backend's model checks.

No MongoDB server exists on the development machines; these checks need none
(see "Two stores" in ARCHITECTURE.md). The full suite runs against a real
MongoDB wherever one exists: set MONGO_URI and run `make test`.
"""

from quickcommerce.testing import app_env, manage

MONGO = "mongodb://127.0.0.1:27017/quickcommerce"


def test_sqlite_migrations_are_up_to_date(tmp_path):
    result = manage("makemigrations", "--check", "--dry-run", env=app_env(SQLITE_PATH=tmp_path / "x.sqlite3"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_mongo_migrations_are_up_to_date():
    # The dummy engine skips the history check that would need a server.
    env = app_env(MONGO_URI=MONGO, QUICKCOMMERCE_DB_ENGINE="django.db.backends.dummy")
    result = manage("makemigrations", "--check", "--dry-run", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_mongo_configuration_passes_the_backends_system_checks():
    result = manage("check", "--database", "default", "--fail-level", "WARNING", env=app_env(MONGO_URI=MONGO))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_mongo_configuration_uses_object_ids_and_the_backends_app_configs():
    code = (
        "from django.conf import settings; from django.apps import apps;"
        "print(settings.DEFAULT_AUTO_FIELD);"
        "print(type(apps.get_app_config('auth')).__name__);"
        "print(type(apps.get_model('orders','Order')._meta.pk).__name__);"
        "print(settings.MIGRATION_MODULES['orders'])"
    )
    result = manage("shell", "-v", "0", "-c", code, env=app_env(MONGO_URI=MONGO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django_mongodb_backend.fields.ObjectIdAutoField",
        "MongoAuthConfig",
        "ObjectIdAutoField",
        "mongo_migrations.orders",
    ]


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path):
    code = (
        "from django.db import connection; c = connection.cursor();"
        "print(c.execute('PRAGMA journal_mode').fetchone()[0]);"
        "print(c.execute('PRAGMA busy_timeout').fetchone()[0])"
    )
    result = manage("shell", "-v", "0", "-c", code, env=app_env(SQLITE_PATH=tmp_path / "wal.sqlite3"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "20000"]
