"""The MongoDB compile tier: every ORM query the suite runs on SQLite is compiled a
second time by the MongoDB backend (django-mongodb-backend), without a server.

What it proves: the backend accepts every query shape on every path the suite walks.
A ``NotSupportedError`` (a delete or update across collections, ``extra()``,
``prefetch_related()`` ...), any other error while compiling, or a value the BSON
encoder refuses fails the test that ran the query. What it does not prove: results.
They still come from SQLite, and nothing here talks to MongoDB. That runs only where
a server exists: the GitHub workflow (``.github/workflows/ci.yml``), or by hand with
``MONGO_URI=... make test`` (docs/stores.md).

How: ``SQLCompiler.execute_sql`` (and the insert and update compilers') is wrapped
so that, before SQLite runs a query, a clone of the same ``Query`` goes through the
backend's own ``execute_sql`` on the ``mongo_compile`` alias. That alias's
collections record the aggregate/insert/update/delete they are handed instead of
sending it, and its client is never opened (``get_new_connection`` refuses). Its
auto-field types are the integer types of the foreign keys pointing at them, so a
join compiles to the same ``$lookup`` form as on the production store, where
primary keys and foreign keys are both ObjectIds (here they are integers).

Not compiled, by design: raw SQL (``cursor.execute``), migrations (the test database
setup), and queries run in other processes (the app under uvicorn in the live tests,
``manage.py`` subprocesses): only queries made in the pytest process are seen.

``--mongo-compile=fail`` (default) fails a test whose queries don't compile;
``=report`` only lists them at the end; ``=off`` disables the tier. A test whose
queries are expected not to compile says why with
``@pytest.mark.mongo_compile_exempt(reason="...")``. The end of the run prints how
many queries were compiled and how many distinct query shapes (the operation, the
collection and the MQL with every value replaced by ``?``) they had; under
pytest-xdist (``make test``) each worker compiles its own tests' queries and the
controller adds the counts up.
"""

import contextvars
import functools
import json
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

ALIAS = "mongo_compile"
MARKER = "mongo_compile_exempt"
DATABASE = {
    "ENGINE": "django_mongodb_backend",
    # Never reached (get_new_connection refuses); should anything get past that, a
    # reserved name and a 1 ms server selection fail at once.
    "HOST": "mongodb://compile-only.invalid:27017/?serverSelectionTimeoutMS=1&connectTimeoutMS=1",
    "NAME": "quickcommerce_compile_only",
}
# Production pks are ObjectIdAutoField ("objectId", as are the foreign keys to them).
# Here pks are integer auto fields, which the backend types as "" (unsupported); give
# them their foreign keys' type so joins compile to the production form, not a cast.
_AUTO_FIELD_TYPES = {"AutoField": "long", "BigAutoField": "long", "SmallAutoField": "int"}
_BASE_DIR = Path(__file__).resolve().parent.parent
_THIS = Path(__file__).resolve()
_NOT_OURS = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}


class NeverConnects(RuntimeError):
    """Something on the compile-only alias tried to reach a MongoDB server."""


@dataclass
class Failure:
    nodeid: str
    phase: str
    error: str
    query: str
    origin: str
    exempt: str | None = None


class _State:
    def __init__(self):
        self.mode = "off"
        self.active = False
        self.paused = 0
        self.item = None
        self.phase = "setup"
        self.queries = 0
        self.shapes = set()
        self.failures = []
        self.lock = threading.Lock()
        self.inactive_reason = ""


_state = _State()
# Set while a query is being compiled and run: the queries Django runs inside it
# (an update's pre-select, related updates, super().execute_sql) are part of it.
_inside = contextvars.ContextVar("mongo_compile_inside", default=False)


# --- the compile-only alias ------------------------------------------------------------


class _EmptyCursor:
    def __iter__(self):
        return iter(())

    def next(self):
        raise StopIteration


class _RecordingCollection:
    """Stands where pymongo's Collection would: encodes what it is handed as the driver
    would (BSON) and records it; sends nothing and returns nothing."""

    def __init__(self, sink, name):
        self._sink = sink
        self._name = name

    def _record(self, operation, mql):
        import bson

        bson.encode({"mql": mql})  # bson.errors.InvalidDocument: the driver would refuse it too
        self._sink.append((operation, self._name, mql))

    def aggregate(self, pipeline, session=None, **kwargs):
        self._record("aggregate", pipeline)
        return _EmptyCursor()

    def insert_many(self, documents, session=None, **kwargs):
        from bson import ObjectId

        for document in documents:
            self._record("insert", document)
        return SimpleNamespace(inserted_ids=[ObjectId() for _ in documents])

    def update_many(self, filter, update, session=None, **kwargs):
        self._record("update", {"filter": filter, "update": update})
        return SimpleNamespace(matched_count=0, modified_count=0)

    def delete_many(self, filter, session=None, **kwargs):
        self._record("delete", filter)
        return SimpleNamespace(deleted_count=0)

    def __getattr__(self, name):
        raise NeverConnects(f"the compile-only alias records aggregate/insert/update/delete, not {name}()")


def _never_connect(conn_params):
    raise NeverConnects(f"the {ALIAS!r} alias only compiles queries; it never connects to a server")


def add_alias():
    """Add the compile-only alias to the configured databases (idempotent)."""
    from django.conf import settings
    from django.db import connections

    if ALIAS not in connections.settings:
        configured = connections.configure_settings({**connections.settings, ALIAS: dict(DATABASE)})
        connections.settings[ALIAS] = configured[ALIAS]
        settings.DATABASES[ALIAS] = configured[ALIAS]


def compile_connection():
    """This thread's connection for the alias, made compile-only (Django's connections
    are per thread, so each thread's is prepared on first use)."""
    from django.db import connections

    connection = connections[ALIAS]
    if not getattr(connection, "compile_only", False):
        connection.compile_sink = []
        connection.get_collection = lambda name, **kwargs: _RecordingCollection(connection.compile_sink, name)
        connection.get_new_connection = _never_connect
        connection.data_types = {**connection.data_types, **_AUTO_FIELD_TYPES}
        connection.compile_only = True
    return connection


def compile_query(query, *args, elide_empty=True, **kwargs):
    """Run a clone of ``query`` through the MongoDB backend's ``execute_sql`` (with the
    arguments Django's compiler got) and return what it would have sent: a list of
    ``(operation, collection, mql)``. Raises what the backend raises."""
    connection = compile_connection()
    connection.compile_sink = sent = []
    compiler = query.clone().get_compiler(using=ALIAS, elide_empty=elide_empty)
    compiler.execute_sql(*args, **kwargs)
    return sent


# --- shapes ---------------------------------------------------------------------------


def _is_scalar(value):
    return not isinstance(value, dict | list | tuple)


def shape(mql):
    """The MQL with every value replaced by "?": field paths ("$x") and keys stay; a
    list of plain values (an $in) is one "?", whatever its length."""
    if isinstance(mql, dict):
        return {str(key): shape(value) for key, value in mql.items()}
    if isinstance(mql, list | tuple):
        if all(_is_scalar(v) and not (isinstance(v, str) and v.startswith("$")) for v in mql):
            return "?"
        return [shape(value) for value in mql]
    if isinstance(mql, str) and mql.startswith("$"):
        return mql
    return "?"


def shape_key(operation, collection, mql):
    if operation == "insert":
        return json.dumps([operation, collection, sorted(mql)])
    return json.dumps([operation, collection, shape(mql)])


# --- the hook -------------------------------------------------------------------------


def _describe(query):
    try:
        return str(query)
    except Exception:  # Insert queries have no single SQL text
        return f"{type(query).__name__} on {query.model._meta.db_table if query.model else '?'}"


def _origin():
    """The innermost frame outside Django, the libraries and Python itself: the line of
    the project (or of a test) that made the query."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        path = Path(frame.filename).resolve()
        if path == _THIS or frame.filename.startswith("<") or any(path.is_relative_to(p) for p in _NOT_OURS):
            continue
        shown = path.relative_to(_BASE_DIR) if path.is_relative_to(_BASE_DIR) else path.name
        return f"{shown}:{frame.lineno} ({frame.name})"
    return "?"


def _check(compiler, args, kwargs):
    from django.db import IntegrityError

    query = compiler.query
    try:
        sent = compile_query(query, *args, elide_empty=compiler.elide_empty, **kwargs)
    except IntegrityError:
        # The backend's insert refuses None for a NOT NULL field: a value, not a shape
        # (SQLite refuses it too, and the test is about that).
        return
    except Exception as exc:
        item = _state.item
        failure = Failure(
            nodeid=item.nodeid if item else "(outside a test)",
            phase=_state.phase,
            error=f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}",
            query=_describe(query.clone()),
            origin=_origin(),
        )
        with _state.lock:
            _state.queries += 1
            _state.failures.append(failure)
        return
    with _state.lock:
        _state.queries += 1
        _state.shapes.update(shape_key(*op) for op in sent)


def _hook(execute_sql):
    @functools.wraps(execute_sql)
    def execute_sql_compiled_for_mongo(compiler, *args, **kwargs):
        if (
            not _state.active
            or _state.paused
            or _state.item is None
            or _inside.get()
            or compiler.connection.vendor == "mongodb"
        ):
            return execute_sql(compiler, *args, **kwargs)
        token = _inside.set(True)
        try:
            _check(compiler, args, kwargs)
            return execute_sql(compiler, *args, **kwargs)
        finally:
            _inside.reset(token)

    execute_sql_compiled_for_mongo.original = execute_sql
    return execute_sql_compiled_for_mongo


def _paused(func):
    @functools.wraps(func)
    def paused(*args, **kwargs):
        _state.paused += 1
        try:
            return func(*args, **kwargs)
        finally:
            _state.paused -= 1

    return paused


def _install():
    import django.test.utils
    from django.db.models.sql import compiler

    for cls in (compiler.SQLCompiler, compiler.SQLInsertCompiler, compiler.SQLUpdateCompiler):
        if not hasattr(cls.__dict__["execute_sql"], "original"):
            cls.execute_sql = _hook(cls.__dict__["execute_sql"])
    # Migrations are not the queries this tier is about (pytest-django imports these
    # from the module when it sets the test database up).
    django.test.utils.setup_databases = _paused(django.test.utils.setup_databases)
    django.test.utils.teardown_databases = _paused(django.test.utils.teardown_databases)


# --- pytest plugin ----------------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        "--mongo-compile",
        choices=("fail", "report", "off"),
        default="fail",
        help="compile every ORM query a second time with the MongoDB backend (no server): "
        "fail a test whose queries don't compile (default), only report them, or off",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason): this test's queries may fail to compile for MongoDB; the reason says why, in one line",
    )
    import django
    from django.apps import apps
    from django.db import connections

    if not apps.ready:
        django.setup()
    add_alias()
    _state.mode = config.getoption("--mongo-compile")
    if _state.mode == "off":
        _state.inactive_reason = "off (--mongo-compile=off)"
        return
    if connections["default"].vendor == "mongodb":
        _state.inactive_reason = "off: the suite runs on MongoDB itself (MONGO_URI is set)"
        return
    _install()
    _state.active = True


def _exempt_reason(item):
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
    if not str(reason).strip():
        pytest.fail(f"@pytest.mark.{MARKER} needs a one-line reason", pytrace=False)
    return str(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _state.item = item
    try:
        return (yield)
    finally:
        _state.item = None


def _failures_for(item, phases):
    return [f for f in _state.failures if f.nodeid == item.nodeid and f.phase in phases and not f.exempt]


def _format(failures):
    lines = ["Queries the MongoDB backend does not compile (this test's results came from SQLite):"]
    for f in failures:
        lines += [f"- {f.error}", f"  from {f.origin}", f"  query: {f.query}"]
    lines.append(f"Fix the query, or mark the test @pytest.mark.{MARKER}(reason=...) if it is SQLite-only.")
    return "\n".join(lines)


def _settle(item, phases, *, failed=False):
    """Mark the item's failures exempt when it says so; otherwise show them, and fail
    the item in ``fail`` mode (unless it has failed already)."""
    if not _state.active:
        return
    reason = _exempt_reason(item)
    failures = _failures_for(item, phases)
    if reason is not None:
        for f in failures:
            f.exempt = reason
        return
    if failures:
        if _state.mode == "fail" and not failed:
            pytest.fail(_format(failures), pytrace=False)
        item.add_report_section(phases[-1], "mongo-compile", _format(failures))


def _phase(item, phase, covers):
    _state.phase = phase
    try:
        result = yield
    except BaseException:
        _settle(item, covers, failed=True)
        raise
    _settle(item, covers)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    _state.phase = "setup"
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _phase(item, "call", ("setup", "call")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _phase(item, "teardown", ("teardown",)))


def pytest_sessionfinish(session):
    """An xdist worker hands what it compiled to the controller, which prints the summary."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None and _state.active:
        output["mongo_compile"] = {
            "queries": _state.queries,
            "shapes": sorted(_state.shapes),
            "failures": [vars(f) for f in _state.failures],
        }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """(xdist's controller) add a finished worker's counts to this run's summary."""
    counted = getattr(node, "workeroutput", {}).get("mongo_compile")
    if counted:
        _state.queries += counted["queries"]
        _state.shapes.update(counted["shapes"])
        _state.failures += [Failure(**f) for f in counted["failures"]]


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    terminalreporter.section("MongoDB compile tier (queries compiled by the MongoDB backend, not run on MongoDB)")
    if not _state.active:
        write(f"MongoDB compile tier: {_state.inactive_reason}")
        return
    import django_mongodb_backend

    failing = [f for f in _state.failures if not f.exempt]
    exempt = [f for f in _state.failures if f.exempt]
    write(
        f"{_state.queries} ORM queries compiled by django-mongodb-backend {django_mongodb_backend.__version__} "
        f"({len(_state.shapes)} distinct query shapes); {len(failing)} did not compile"
        + (f", {len(exempt)} more in exempt tests" if exempt else "")
        + f"; mode: {_state.mode}"
    )
    by_cause = {}
    for f in _state.failures:
        by_cause.setdefault((f.error, f.origin, f.exempt), []).append(f)
    for (error, origin, exempt_reason), failures in by_cause.items():
        tests = sorted({f.nodeid for f in failures})
        write(f"- {error}")
        write(f"  from {origin}" + (f"  [exempt: {exempt_reason}]" if exempt_reason else ""))
        write(f"  query: {failures[0].query}")
        write(f"  tests ({len(tests)}): {', '.join(tests[:5])}{' ...' if len(tests) > 5 else ''}")
