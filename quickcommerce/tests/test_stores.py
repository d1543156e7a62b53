"""Both stores: migrations up to date under each, the MongoDB backend's model checks,
the store-aware ``atomic()``, and the MongoDB compile tier itself.

No MongoDB server exists on the development machines; nothing here needs one
(docs/stores.md says what is proven where). The whole suite runs against a real
MongoDB in the GitHub workflow, or by hand: MONGO_URI=... make test.
"""

import datetime
import re
import subprocess
import sys
import textwrap

import bson
import pytest
from django.db import DatabaseError, NotSupportedError, connections, transaction
from django.db.models.sql import DeleteQuery
from django.db.transaction import TransactionManagementError
from django_mongodb_backend.base import DatabaseWrapper as MongoWrapper
from django_mongodb_backend.transaction import Atomic as MongoAtomic
from pymongo.errors import OperationFailure

from accounts.models import PartnerProfile, User
from orders.models import Category
from quickcommerce import mongo_compile
from quickcommerce.db import as_stored, atomic, is_write_conflict
from quickcommerce.testing import BASE_DIR, app_env, manage

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


# --- atomic(): a transaction on either store -------------------------------------------
# These run on the suite's store: Django's transaction on SQLite, the backend's on a
# real MongoDB (the GitHub workflow).


@pytest.mark.django_db(transaction=True)
def test_a_failure_inside_atomic_rolls_back_every_write():
    with pytest.raises(RuntimeError, match="halfway"), atomic():
        Category.objects.create(name="Fruit", slug="fruit")
        Category.objects.create(name="Dairy", slug="dairy")
        raise RuntimeError("halfway")
    assert not Category.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_on_commit_waits_for_the_commit_and_never_runs_after_a_rollback():
    seen = []

    def publish():
        seen.append(list(Category.objects.values_list("slug", flat=True)))

    with atomic():
        Category.objects.create(name="Fruit", slug="fruit")
        transaction.on_commit(publish)
        assert seen == [], "the callback ran inside the transaction"
    assert seen == [["fruit"]], "the callback ran once, after the commit, and saw the write"

    with pytest.raises(RuntimeError), atomic():
        Category.objects.create(name="Dairy", slug="dairy")
        transaction.on_commit(publish)
        raise RuntimeError
    assert seen == [["fruit"]]


@pytest.mark.django_db(transaction=True)
def test_bare_decorator_and_nested_blocks_make_one_transaction():
    @atomic
    def two_categories():
        Category.objects.create(name="Fruit", slug="fruit")
        with atomic():
            Category.objects.create(name="Dairy", slug="dairy")
        raise RuntimeError("after the nested block")

    with pytest.raises(RuntimeError):
        two_categories()
    assert not Category.objects.exists()


@pytest.mark.skipif(connections["default"].vendor != "sqlite", reason="the default store is SQLite here")
def test_on_sqlite_atomic_is_djangos():
    assert isinstance(atomic(), transaction.Atomic)


def test_on_mongodb_atomic_is_the_backends_transaction_and_opens_nothing_yet():
    block = atomic(using=mongo_compile.ALIAS)
    assert isinstance(block, MongoAtomic)
    assert connections[mongo_compile.ALIAS].connection is None


def test_a_datetime_as_stored_is_what_each_store_gives_back():
    # An object kept after writing it (a new order: orders.selectors.order_as_written)
    # carries its timestamps as a read would return them.
    written = datetime.datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    assert as_stored(written) == written  # SQLite keeps microseconds
    in_bson = bson.decode(bson.encode({"at": written}))["at"]  # MongoDB's dates: milliseconds
    assert as_stored(written, using=mongo_compile.ALIAS) == in_bson.replace(tzinfo=datetime.UTC)
    assert as_stored(None, using=mongo_compile.ALIAS) is None


@pytest.fixture
def mongo_without_server(monkeypatch):
    """The compile-only MongoDB connection with the one server round trip of the backend's
    atomic (starting the session and its transaction) replaced: the backend's own
    bookkeeping (nesting, on_commit, commit and rollback with no session) runs as is."""
    connection = mongo_compile.compile_connection()
    monkeypatch.setattr(connection, "start_transaction_mongo", lambda: None)
    yield connection
    connection.run_on_commit = []


def test_the_backends_atomic_defers_djangos_on_commit_until_the_outer_block_commits(mongo_without_server):
    # Why there is no second on_commit: Django's transaction.on_commit asks the connection,
    # and the backend's connection defers while its own atomic is open.
    ran = []
    with atomic(using=mongo_compile.ALIAS):
        with atomic(using=mongo_compile.ALIAS):
            transaction.on_commit(lambda: ran.append("published"), using=mongo_compile.ALIAS)
        assert ran == []
    assert ran == ["published"]

    with pytest.raises(RuntimeError), atomic(using=mongo_compile.ALIAS):
        transaction.on_commit(lambda: ran.append("rolled back"), using=mongo_compile.ALIAS)
        raise RuntimeError
    assert ran == ["published"]


def test_on_mongodb_a_caught_failure_in_a_nested_block_rolls_the_whole_transaction_back(mongo_without_server):
    ran = []
    with pytest.raises(TransactionManagementError, match="no savepoints"), atomic(using=mongo_compile.ALIAS):
        transaction.on_commit(lambda: ran.append("published"), using=mongo_compile.ALIAS)
        try:
            with atomic(using=mongo_compile.ALIAS):
                raise RuntimeError("nested")
        except RuntimeError:
            pass
    assert ran == []
    assert not mongo_without_server.in_atomic_block_mongo


def test_a_write_conflict_is_recognised_through_djangos_database_error():
    def raised(cause):
        try:
            raise DatabaseError("wrapped by the backend") from cause
        except DatabaseError as error:
            return error

    conflict = OperationFailure("Write conflict during plan execution", code=112)
    assert is_write_conflict(raised(conflict))
    assert not is_write_conflict(raised(OperationFailure("E11000 duplicate key", code=11000)))
    assert not is_write_conflict(DatabaseError("database is locked"))


# --- the MongoDB compile tier (quickcommerce/mongo_compile.py) -----------------------------


@pytest.mark.django_db
def test_compiling_for_mongodb_never_connects(customer):
    sent = mongo_compile.compile_query(User.objects.filter(username="alice").query)
    sent += mongo_compile.compile_query(PartnerProfile.objects.select_related("user").filter(online=True).query)
    assert [(op, coll) for op, coll, _ in sent] == [
        ("aggregate", "accounts_user"),
        ("aggregate", "accounts_partnerprofile"),
    ]
    assert connections[mongo_compile.ALIAS].connection is None
    assert mongo_compile.ALIAS not in MongoWrapper._connection_pools


@pytest.mark.django_db
def test_joins_compile_to_the_production_lookup_form():
    # Production keys are ObjectIds on both sides of a join; the alias types the integer
    # keys alike, so the $lookup joins on fields, not on a string cast of both.
    (_, _, pipeline), *_ = mongo_compile.compile_query(PartnerProfile.objects.filter(user__username="x").query)
    lookup = pipeline[0]["$lookup"]
    assert (lookup["localField"], lookup["foreignField"]) == ("user_id", "id")  # "_id" in production
    assert "$convert" not in str(pipeline)


@pytest.mark.django_db
def test_the_backend_refuses_a_delete_across_collections_and_extra():
    deleting = PartnerProfile.objects.filter(user__username="x")
    query = deleting.query.chain(klass=DeleteQuery)
    with pytest.raises(NotSupportedError, match="across multiple collections"):
        mongo_compile.compile_query(query)
    with pytest.raises(NotSupportedError, match="extra"):
        mongo_compile.compile_query(User.objects.extra(select={"one": "1"}).query)


def test_query_shapes_keep_fields_and_operators_and_drop_values():
    one = {"$match": {"username": {"$in": ("a", "b")}, "age": {"$gt": 3}}, "$expr": {"$eq": ["$x", 1]}}
    two = {"$match": {"username": {"$in": ("c",)}, "age": {"$gt": 9}}, "$expr": {"$eq": ["$x", 7]}}
    assert mongo_compile.shape(one) == mongo_compile.shape(two)
    assert mongo_compile.shape(one) == {
        "$match": {"username": {"$in": "?"}, "age": {"$gt": "?"}},
        "$expr": {"$eq": ["$x", "?"]},
    }
    assert mongo_compile.shape_key("aggregate", "c", [one]) != mongo_compile.shape_key("aggregate", "d", [one])


SAMPLE_TESTS = textwrap.dedent(
    """
    import pytest
    from accounts.models import PartnerProfile, User

    pytestmark = pytest.mark.django_db

    def test_deletes_across_collections():
        PartnerProfile.objects.filter(user__username="nobody").delete()

    @pytest.mark.mongo_compile_exempt(reason="shows the exemption")
    def test_exempt():
        PartnerProfile.objects.filter(user__username="nobody").delete()

    def test_compiles():
        assert not User.objects.filter(username="nobody").exists()
    """
)


def run_sample(tmp_path, *options):
    (tmp_path / "test_sample.py").write_text(SAMPLE_TESTS)
    args = [sys.executable, "-m", "pytest", str(tmp_path / "test_sample.py"), "-c", str(BASE_DIR / "pyproject.toml")]
    args += ["-p", "quickcommerce.mongo_compile", "-p", "no:cacheprovider", "-q", *options]
    args += ["--rootdir", str(tmp_path)]
    env = app_env(PYTHONPATH=BASE_DIR)
    return subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)


def test_a_query_the_backend_refuses_fails_its_test_unless_the_test_says_why(tmp_path):
    result = run_sample(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 2 passed" in out
    assert "FAILED test_sample.py::test_deletes_across_collections" in out
    assert "Cannot use QuerySet.delete() when querying across multiple collections on MongoDB." in out
    line = SAMPLE_TESTS.splitlines().index('    PartnerProfile.objects.filter(user__username="nobody").delete()') + 1
    assert f"test_sample.py:{line} (test_deletes_across_collections)" in out, "names the line that made the query"
    assert "1 did not compile, 1 more in exempt tests" in out
    assert "[exempt: shows the exemption]" in out


def test_report_mode_lists_the_queries_and_fails_nothing(tmp_path):
    result = run_sample(tmp_path, "--mongo-compile=report")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert "1 did not compile" in result.stdout


def test_with_xdist_workers_the_summary_adds_up_what_every_worker_compiled(tmp_path):
    # `make test` runs on a worker per core: each compiles its own tests' queries, and the
    # controller, which runs none, prints the summary.
    counted = re.compile(r"(\d+) ORM queries compiled by django-mongodb-backend \S+ \((\d+) distinct query shapes\)")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = run_sample(tmp_path / "one")
    two = run_sample(tmp_path / "two", "-n", "2")
    assert two.returncode == 1, two.stdout + two.stderr
    assert "1 failed, 2 passed" in two.stdout
    assert counted.search(two.stdout).groups() == counted.search(one.stdout).groups() != ("0", "0")
    assert "1 did not compile, 1 more in exempt tests" in two.stdout
    assert "[exempt: shows the exemption]" in two.stdout
