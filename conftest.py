"""Shared fixtures. Real services only: redis-server, the app under uvicorn (and later
nginx, chromium) run as real processes on free loopback ports."""

import os
import shutil

import httpx
import pytest

from quickcommerce.testing import AppServer, RedisServer, app_env, manage, require_binary

# Every ORM query the suite runs is also compiled by the MongoDB backend (docs/stores.md).
pytest_plugins = ["quickcommerce.mongo_compile"]


# Tests that start real processes (the app, redis-server, nginx, chromium) or race them,
# and the timing they assert, assume the machine is theirs: under pytest-xdist
# (``make test`` runs a worker per core) they all run on one worker, one at a time
# (``--dist loadgroup``), while the in-process tests share out the rest. The browser
# tests go last, once the in-process tests are done and their core is free again.
PROCESS_FIXTURES = {"redis_binary", "seeded_db_template", "start_app", "live_db"}
PROCESS_MARKS = {"live", "browser"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        if PROCESS_FIXTURES.intersection(item.fixturenames) or PROCESS_MARKS.intersection(
            mark.name for mark in item.iter_markers()
        ):
            item.add_marker(pytest.mark.xdist_group("processes"))
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _media_root(tmp_path_factory):
    """Uploaded pictures go to a temporary directory: this process's, and (through the
    environment) that of every app process and `manage.py` the tests start."""
    root = tmp_path_factory.mktemp("media")
    os.environ["MEDIA_ROOT"] = str(root)
    return root


@pytest.fixture(autouse=True)
def _media_settings(settings, _media_root):
    settings.MEDIA_ROOT = _media_root


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Abuse-limit counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()


# --- users -----------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    from accounts.services import register_user

    counter = {"n": 0}

    def make(role="customer", username=None, password="a-long-passphrase", **extra):
        from accounts.models import User

        counter["n"] += 1
        username = username or f"{role}{counter['n']}"
        if role == "admin":
            return User.objects.create_superuser(username=username, password=password, email=f"{username}@example.com")
        return register_user(username=username, password=password, role=role, validate=False, **extra)

    return make


@pytest.fixture
def customer(make_user):
    return make_user("customer", username="alice", first_name="Alice", phone="+1 555 0100")


@pytest.fixture
def other_customer(make_user):
    return make_user("customer", username="bob", first_name="Bob")


@pytest.fixture
def partner(make_user):
    return make_user("partner", username="rider1", first_name="Ravi", phone="+1 555 0200")


@pytest.fixture
def other_partner(make_user):
    return make_user("partner", username="rider2", first_name="Priya")


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", username="boss")


# --- real processes ----------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_binary():
    return require_binary("redis-server")


@pytest.fixture
def redis_server(redis_binary, tmp_path):
    server = RedisServer(redis_binary, tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seeded_db_template(tmp_path_factory):
    """A SQLite file migrated and seeded once per run; each live test gets a copy."""
    path = tmp_path_factory.mktemp("dbtemplate") / "template.sqlite3"
    env = app_env(SQLITE_PATH=path)
    for args in (["migrate", "--noinput"], ["seed"]):
        result = manage(*args, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture
def live_db(seeded_db_template, tmp_path):
    path = tmp_path / "live.sqlite3"
    shutil.copy(seeded_db_template, path)
    return path


@pytest.fixture
def start_app(live_db, tmp_path):
    """``start_app(redis_url=None, **env)`` starts the real app (``quickcommerce.serve``) on a
    free port (``proxy_headers=True``: as the image runs it behind nginx); every instance
    shares this test's SQLite file; all are stopped afterwards."""
    servers = []

    def start(redis_url=None, **env):
        server = AppServer(db_path=live_db, redis_url=redis_url, log_path=tmp_path / f"app{len(servers)}.log", **env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api_login():
    """``api_login(base_url, username, password)`` -> headers with a fresh JWT."""

    def login(base_url, username, password="demo-pass-123"):
        response = httpx.post(f"{base_url}/api/auth/token/", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access']}"}

    return login


# --- in-process spies and clients ------------------------------------------------------------


@pytest.fixture
def published(monkeypatch):
    """Records every ``dispatch.publish.publish`` call as (event, ref, version, status), as the
    order was at the moment of publishing (nothing is really sent)."""
    from dispatch import publish as publishing
    from quickcommerce.testing import PublishedCalls

    calls = PublishedCalls()

    def spy(event, order, **kwargs):
        calls.append((event, order.ref, order.version, order.status))
        calls.kwargs.append(kwargs)

    monkeypatch.setattr(publishing, "publish", spy)
    return calls


@pytest.fixture
def api():
    """``api(user)`` -> a DRF APIClient signed in with a real JWT; ``api()`` is anonymous."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    def client_for(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return client_for
