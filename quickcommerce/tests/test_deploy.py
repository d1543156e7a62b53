"""Deployment: docker-compose.yml validates, the Dockerfile lints clean,
the image's entrypoint and health check work, and the real deploy/nginx.conf
fronts two instances of the real app that share one Redis, each served as the
image serves it (``quickcommerce.serve --proxy-headers``: uvicorn).

No Docker engine here: compose is checked with its own `config`, the Dockerfile
with hadolint, and the pieces the image runs (deploy/entrypoint.sh,
deploy/healthcheck.py, deploy/nginx.conf) are run for real on loopback ports.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from quickcommerce.testing import (
    BASE_DIR,
    NGINX_TEMPLATE,
    PLACEHOLDER,
    Nginx,
    app_env,
    free_port,
    manage,
    placeholders_of_template,
    render_template,
    require_binary,
    wait_for_port,
)

pytestmark = pytest.mark.live

VENV_BIN = Path(sys.executable).parent
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
ENTRYPOINT = BASE_DIR / "deploy" / "entrypoint.sh"
HEALTHCHECK = BASE_DIR / "deploy" / "healthcheck.py"

# Production mode, as in the image: DEBUG off, a real-looking secret.
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "test-deploy-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}
HTTPS = {"X-Forwarded-Proto": "https"}
HASHED_CSS = re.compile(r"/static/css/app\.[0-9a-f]{12}\.css")


def dev_tool(name: str) -> str:
    """A binary shipped by a pinned PyPI package in requirements-dev.txt (.venv/bin)."""
    found = shutil.which(name, path=str(VENV_BIN))
    if not found:
        pytest.fail(f"{name} not found in {VENV_BIN}: pip install -r requirements-dev.txt", pytrace=False)
    return found


# --- docker-compose.yml ----------------------------------------------------------------


def compose(*args, env_file: Path) -> subprocess.CompletedProcess:
    # A clean environment: nothing from the caller's shell may satisfy ${VAR:?}.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [dev_tool("docker-compose"), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def compose_env(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"SECRET_KEY={PROD_ENV['SECRET_KEY']}\nALLOWED_HOSTS=shop.example.com\n")
    return env_file


def test_compose_file_validates(compose_env):
    quiet = compose("config", "--quiet", env_file=compose_env)
    assert quiet.returncode == 0, quiet.stderr

    result = compose("config", "--format", "json", env_file=compose_env)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert {"web", "mongo", "redis", "nginx", "migrate"} <= set(services)

    for name in ("web", "mongo", "redis", "nginx"):
        service = services[name]
        assert service["restart"] in {"unless-stopped", "always"}, name
        assert service["healthcheck"]["test"], name
        assert not service["healthcheck"].get("disable"), name
    # The one-shot runs once per `up` and is never restarted.
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["migrate"]
    # The email worker: its own service on the app image, next to the stores, no port.
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert worker["image"] == services["web"]["image"]
    assert worker["environment"]["REDIS_URL"] == services["web"]["environment"]["REDIS_URL"]
    assert "EMAIL_URL" in worker["environment"] and not worker.get("ports")
    assert "edge" not in worker["networks"]

    web = services["web"]
    assert "ports" not in web  # scalable: no fixed host port ...
    assert "container_name" not in web  # ... and no fixed name
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert web["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert web["environment"]["DEBUG"] == "false"
    assert web["environment"]["SECRET_KEY"] == PROD_ENV["SECRET_KEY"]
    assert web["environment"]["MONGO_URI"] == "mongodb://mongo:27017/quickcommerce?replicaSet=rs0"
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert web["build"]["target"] == "app"
    # The app believes X-Forwarded-For from nginx's network only.
    edge_subnet = config["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert web["environment"]["FORWARDED_ALLOW_IPS"] == edge_subnet
    assert "edge" in services["nginx"]["networks"] and "edge" in web["networks"]

    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])

    # Named volumes for the stores' data, and the static files nginx serves.
    def named_volumes(service):
        return {v["source"]: v["target"] for v in services[service].get("volumes", []) if v["type"] == "volume"}

    assert named_volumes("mongo")["mongo-data"] == "/data/db"
    assert named_volumes("redis")["redis-data"] == "/data"
    assert named_volumes("nginx")["static"] == "/srv/static"
    assert named_volumes("migrate")["static"] == services["migrate"]["environment"]["STATIC_PUBLISH_DIR"]
    assert {"mongo-data", "mongo-config", "redis-data", "static"} <= set(config["volumes"])

    nginx = services["nginx"]
    assert [p["target"] for p in nginx["ports"]] == [80]
    templates = [v for v in nginx["volumes"] if v["type"] == "bind"]
    assert Path(templates[0]["source"]) == NGINX_TEMPLATE
    assert templates[0]["target"] == "/etc/nginx/templates/nginx.conf.template"
    assert "web:8000" in nginx["environment"]["NGINX_UPSTREAM_SERVERS"]
    # Every placeholder in the template has a value in compose.
    assert placeholders_of_template() - {"NGINX_LOCAL_RESOLVERS"} <= set(nginx["environment"])  # filled by the image
    assert nginx["environment"]["NGINX_ENTRYPOINT_LOCAL_RESOLVERS"]


def test_compose_seed_is_behind_a_profile(compose_env):
    plain = compose("config", "--services", env_file=compose_env)
    assert plain.returncode == 0, plain.stderr
    assert "seed" not in plain.stdout.split()
    profiled = compose("--profile", "seed", "config", "--format", "json", env_file=compose_env)
    assert profiled.returncode == 0, profiled.stderr
    seed = json.loads(profiled.stdout)["services"]["seed"]
    assert seed["command"] == ["seed"]
    assert seed["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_overlay_for_managed_stores_drops_the_local_ones(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"SECRET_KEY={PROD_ENV['SECRET_KEY']}\nALLOWED_HOSTS=shop.example.com\n"
        "MONGO_URI=mongodb+srv://qc:pw@cluster0.example.net/quickcommerce\nREDIS_URL=rediss://cache.example.net:6379/0\n"
    )
    overlay = BASE_DIR / "deploy" / "compose.managed-stores.yml"
    result = compose("-f", str(overlay), "config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"web", "worker", "migrate", "nginx"}
    assert set(services["web"]["depends_on"]) == {"migrate"}
    assert set(services["worker"]["depends_on"]) == {"migrate"}
    assert not services["migrate"].get("depends_on")
    assert services["web"]["environment"]["MONGO_URI"].startswith("mongodb+srv://")
    assert services["web"]["environment"]["REDIS_URL"].startswith("rediss://")


def test_compose_refuses_to_run_without_a_secret_key(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("ALLOWED_HOSTS=shop.example.com\n")
    result = compose("config", "--quiet", env_file=env_file)
    assert result.returncode != 0
    assert "set SECRET_KEY in .env" in result.stderr


# --- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_lints_clean_with_hadolint():
    result = subprocess.run(
        [dev_tool("hadolint"), "--no-color", str(BASE_DIR / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_builds_static():
    text = (BASE_DIR / "Dockerfile").read_text()
    final_stage = text.split("AS app", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*deploy/healthcheck\.py", final_stage, flags=re.M)
    assert re.search(r"DEBUG=false[\s\\]+SECRET_KEY=\S+[\s\\]+python manage.py collectstatic --noinput", text)
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in final_stage
    assert re.search(r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim", text, flags=re.M)
    dockerignore = (BASE_DIR / ".dockerignore").read_text().split()
    assert ".env" in dockerignore
    assert ".venv" in dockerignore


# --- the image's entrypoint and health check, run here ------------------------------------


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """collectstatic as the image build runs it (DEBUG=false, throwaway secret), into a
    temporary STATIC_ROOT."""
    static_root = tmp_path_factory.mktemp("deploy") / "collected"
    env = {"STATIC_ROOT": str(static_root)}
    result = manage("collectstatic", "--noinput", env=app_env(**PROD_ENV, **env), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (static_root / "staticfiles.json").exists()
    return static_root, env


def entrypoint(*args, env: dict, **popen) -> subprocess.Popen:
    env = dict(env, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.Popen([str(ENTRYPOINT), *args], env=env, cwd="/", **popen)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def healthcheck(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_entrypoint_serves_on_port_and_healthcheck_follows_healthz(collected_static, live_db, redis_server, tmp_path):
    _, settings_env = collected_static
    port = free_port()
    # A production host list without 127.0.0.1: the health check must still get in.
    env = app_env(
        **{**PROD_ENV, "ALLOWED_HOSTS": "shop.example.com"}, **settings_env,
        PORT=port, BIND_ADDRESS="127.0.0.1", SQLITE_PATH=live_db, REDIS_URL=redis_server.url,
    )  # fmt: skip
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        proc = entrypoint("web", env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        ok = healthcheck(env)
        assert ok.returncode == 0, ok.stderr + log.read_text()
        # Any other Host is refused by the app (DEBUG off), which is why the check sets it.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 400

        redis_server.stop()
        down = healthcheck(env)
        assert down.returncode == 1
        assert "channel_layer" in down.stderr
    finally:
        stop(proc)


def test_entrypoint_migrate_publishes_static_files_without_deleting(collected_static, live_db, tmp_path):
    static_root, settings_env = collected_static
    publish = tmp_path / "published"
    publish.mkdir()
    (publish / "css").mkdir()
    old = publish / "css" / "app.0123456789ab.css"  # a previous release's hashed file
    old.write_text("old")
    env = app_env(
        **PROD_ENV, **settings_env, SQLITE_PATH=live_db, STATIC_PUBLISH_DIR=publish, STATIC_BUILD_DIR=static_root
    )
    proc = entrypoint("migrate", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    assert "No migrations to apply" in output
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed_css = manifest["css/app.css"]
    assert (publish / hashed_css).read_bytes() == (static_root / hashed_css).read_bytes()
    assert (publish / "staticfiles.json").exists()
    assert old.read_text() == "old"  # pages of replicas still on the old release keep working


# --- nginx in front of two instances --------------------------------------------------------


@pytest.fixture(scope="session")
def nginx_binary():
    return require_binary("nginx", path="/usr/sbin/nginx")


def test_the_image_envsubst_fills_the_placeholders_and_keeps_nginx_variables(compose_env):
    """What the nginx image's entrypoint does with compose's environment: envsubst
    over every variable whose name contains NGINX_ (NGINX_ENVSUBST_FILTER)."""
    envsubst = require_binary("envsubst")
    config = compose("config", "--format", "json", env_file=compose_env)
    assert config.returncode == 0, config.stderr
    environment = json.loads(config.stdout)["services"]["nginx"]["environment"]
    filter_ = environment["NGINX_ENVSUBST_FILTER"]
    # As the image: its own variables, then 15-local-resolvers.envsh's export.
    container_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": "a1b2c3", "NGINX_VERSION": "1.28.0"}
    container_env |= environment | {"NGINX_LOCAL_RESOLVERS": "127.0.0.11"}
    defined = " ".join(f"${{{name}}}" for name in container_env if re.search(filter_, name))
    rendered = subprocess.run(
        [envsubst, defined],
        input=NGINX_TEMPLATE.read_text(),
        env=container_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert not PLACEHOLDER.search(rendered)
    assert "server web:8000 resolve max_fails=1 fail_timeout=10s;" in rendered
    assert "resolver 127.0.0.11 valid=5s" in rendered
    assert "alias /srv/static/;" in rendered
    assert "listen 80 default_server;" in rendered
    for nginx_variable in ("$http_upgrade", "$connection_upgrade", "$request_uri", "$1;", "$http_host", "$uri"):
        assert nginx_variable in rendered, nginx_variable
    # The test's own renderer (used for the live tests below) gives the same text.
    values = {name: environment.get(name, "127.0.0.11") for name in placeholders_of_template()}
    assert rendered == render_template(values)


def test_nginx_accepts_the_deploy_config(nginx_binary, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    nginx = Nginx(nginx_binary, tmp_path / "nginx", upstreams=[free_port(), free_port()], static_root=static)
    result = nginx.check_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.fixture
def stack(nginx_binary, collected_static, live_db, redis_server, start_app, tmp_path):
    """Redis, two production-mode app instances on one SQLite file (client address from
    nginx's X-Forwarded-For, as in the image), the static files published by the
    entrypoint's `migrate`, and nginx in front of both."""
    static_root, settings_env = collected_static
    published = tmp_path / "published-static"
    published.mkdir()
    env = app_env(
        **PROD_ENV, **settings_env, SQLITE_PATH=live_db, STATIC_PUBLISH_DIR=published, STATIC_BUILD_DIR=static_root
    )
    proc = entrypoint("migrate", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output

    app_a = start_app(redis_url=redis_server.url, proxy_headers=True, **PROD_ENV, **settings_env)
    app_b = start_app(redis_url=redis_server.url, proxy_headers=True, **PROD_ENV, **settings_env)
    # The seed's pictures (conftest's MEDIA_ROOT), shared with nginx as compose shares the media volume.
    media = Path(os.environ["MEDIA_ROOT"])
    nginx = Nginx(
        nginx_binary, tmp_path / "nginx", upstreams=[app_a.port, app_b.port], static_root=published, media_root=media
    )
    nginx.start()
    yield {"nginx": nginx, "a": app_a, "b": app_b, "static": published, "media": media}
    nginx.stop()


def only_one(response: httpx.Response, name: str) -> str:
    values = response.headers.get_list(name)
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def test_through_nginx_product_pictures_come_from_the_media_volume(stack):
    """nginx serves the pictures the app stored (the seed's, through ImageField) from the
    shared directory: the right type, cached for a year, pictures only; and the product
    admin may receive a picture bigger than the 1 MiB every other path allows."""
    nginx = stack["nginx"]
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        page = client.get("/products/bananas/", headers=HTTPS)
        assert page.status_code == 200, page.text[:500]
        urls = re.findall(r'src="(/media/[^"]+\.webp)"', page.text)
        assert len(urls) >= 2, "the product's picture and its related products' thumbnails"
        for url in urls:
            picture = client.get(url)
            assert picture.status_code == 200
            assert picture.headers["content-type"] == "image/webp"
            assert only_one(picture, "cache-control") == "public, max-age=31536000, immutable"
            assert only_one(picture, "x-content-type-options") == "nosniff"
            assert picture.content == (stack["media"] / url.removeprefix("/media/")).read_bytes()

        # Only pictures, whatever else the directory holds.
        (stack["media"] / "products" / "planted.html").write_text("<script>alert(1)</script>")
        assert client.get("/media/products/planted.html").status_code == 404
        assert client.get("/media/products/no-such.webp").status_code == 404

        body = b"x" * (3 * 1024 * 1024)
        headers = {**HTTPS, "Content-Type": "application/octet-stream"}
        admin_upload = client.post("/admin/orders/product/add/", content=body, headers=headers)
        assert admin_upload.status_code != 413  # reaches the app (which wants a login and a CSRF token)
        assert client.post("/accounts/login/", content=body, headers=headers).status_code == 413


def test_through_nginx_pages_static_api_and_limits(stack):
    nginx = stack["nginx"]
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "store": "sqlite", "channel_layer": "redis"}

        # The scheme reaches Django: plain http is sent to https (SECURE_SSL_REDIRECT) ...
        plain = client.get("/")
        assert plain.status_code == 301
        assert plain.headers["location"] == f"https://127.0.0.1:{nginx.port}/"
        # ... and a request that a TLS-terminating proxy marked https is served.
        page = client.get("/", headers=HTTPS)
        assert page.status_code == 200, page.text[:500]
        assert "quickcommerce" in page.text
        assert only_one(page, "x-content-type-options") == "nosniff"
        assert only_one(page, "referrer-policy") == "same-origin"
        assert only_one(page, "x-frame-options") == "DENY"

        # Static files: the page links hashed names; nginx serves them from disk,
        # compressed, cached for a year as immutable, with the security headers.
        css_url = HASHED_CSS.search(page.text).group(0)
        css = client.get(css_url, headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in css.headers["vary"]
        assert only_one(css, "cache-control") == "public, max-age=31536000, immutable"
        assert only_one(css, "x-content-type-options") == "nosniff"
        assert only_one(css, "x-frame-options") == "DENY"
        assert css.headers["content-type"].startswith("text/css")
        assert css.content == (stack["static"] / css_url.removeprefix("/static/")).read_bytes()

        unhashed = client.get("/static/css/app.css")
        assert unhashed.status_code == 200
        assert only_one(unhashed, "cache-control") == "public, max-age=3600"

        # Served by nginx from the published directory, not by the app: a file that
        # exists only there is found.
        (stack["static"] / "only-in-nginx.txt").write_text("served from disk")
        sentinel = client.get("/static/only-in-nginx.txt")
        assert sentinel.status_code == 200
        assert sentinel.text == "served from disk"
        assert client.get("/static/no-such-file.css").status_code == 404

        # The API through nginx.
        token = client.post("/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"}, headers=HTTPS)
        assert token.status_code == 200, token.text
        assert token.json()["access"]

        # Both instances take requests.
        for _ in range(6):
            assert client.get("/accounts/login/", headers=HTTPS).status_code == 200

        # Request bodies over 1 MiB are refused by nginx, headers and all.
        too_big = client.post(
            "/api/auth/token/", content=b"x" * (2 * 1024 * 1024), headers={**HTTPS, "Content-Type": "application/json"}
        )
        assert too_big.status_code == 413
        assert only_one(too_big, "x-content-type-options") == "nosniff"

        # JWT websocket clients may put the token in the query string: never logged.
        client.get("/ws/orders/?token=secret-token-never-logged", headers=HTTPS)
        client.get("/?probe=query-strings-elsewhere-are-logged", headers=HTTPS)

    log = nginx.wait_for_log("probe=query-strings-elsewhere-are-logged")
    assert "probe=query-strings-elsewhere-are-logged" in log
    assert '"GET /ws/orders/ HTTP/1.1"' in log
    assert "secret-token-never-logged" not in log
    login_lines = [line for line in log.splitlines() if "/accounts/login/" in line]
    upstreams = {m.group(1) for line in login_lines if (m := re.search(r"upstream=127\.0\.0\.1:(\d+)", line))}
    assert upstreams == {str(stack["a"].port), str(stack["b"].port)}


def test_limits_count_the_client_nginx_forwards(nginx_binary, collected_static, redis_server, start_app, tmp_path):
    """The per-address limits key on the client: nginx believes the X-Forwarded-For of a
    proxy in front of it (loopback here, like the host nginx of deploy/EC2.md) and
    forwards the client's address; the app, started with --proxy-headers as in the
    image, takes it as the peer. Without --proxy-headers every client would be nginx."""
    _, settings_env = collected_static
    app = start_app(
        redis_url=redis_server.url, proxy_headers=True, LOGIN_RATE_PER_IP="2/min", **PROD_ENV, **settings_env
    )
    nginx = Nginx(nginx_binary, tmp_path / "nginx", upstreams=[app.port], static_root=tmp_path).start()

    def log_in(client=None) -> int:
        headers = HTTPS | ({"X-Forwarded-For": client} if client else {})
        wrong = {"username": "alice", "password": "wrong"}
        return httpx.post(f"{nginx.url}/api/auth/token/", json=wrong, headers=headers, timeout=10).status_code

    try:
        assert [log_in("203.0.113.7") for _ in range(3)] == [401, 401, 429]
        assert log_in("203.0.113.8") == 401  # another client: a budget of its own
        assert log_in() == 401  # nginx's own peer, 127.0.0.1
    finally:
        nginx.stop()


NGINX_LOGIN_BURST = 31  # deploy/nginx.conf: burst=30 past the first, then one per 2 s


def test_nginx_limits_login_posts_per_client_on_every_login_path(stack):
    """The second layer of the login limits: nginx's own per-address budget for log-in POSTs,
    shared by the page, the API token and the admin's login, holding even when the
    app's limits are off (here they are raised out of reach, as when Redis is down).
    POSTs without a password cost the app nothing; nginx counts them all the same."""
    nginx = stack["nginx"]
    attacker = {**HTTPS, "X-Forwarded-For": "203.0.113.50"}  # the client a trusted proxy names
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        statuses = [client.post("/api/auth/token/", json={}, headers=attacker).status_code for _ in range(60)]
        assert statuses[:NGINX_LOGIN_BURST] == [400] * NGINX_LOGIN_BURST  # the app's answers
        assert 429 in statuses[NGINX_LOGIN_BURST:]
        limited = client.post("/api/auth/token/", json={}, headers=attacker)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/json"
        assert limited.json()["code"] == "throttled"
        assert limited.headers["retry-after"] == "60"
        assert only_one(limited, "x-content-type-options") == "nosniff"

        # The same budget on the other two paths; forms still load (GETs are not counted).
        for path in ("/accounts/login/", "/admin/login/"):
            page = client.post(path, data={"username": "boss"}, headers=attacker)
            assert page.status_code == 429, path
            assert "Too many login attempts from your network" in page.text
            assert client.get(path, headers=attacker).status_code == 200
        # Another client has a budget of its own.
        other = {**HTTPS, "X-Forwarded-For": "203.0.113.51"}
        assert client.post("/api/auth/token/", json={}, headers=other).status_code == 400
    assert "limiting requests" in (nginx.logs / "error.log").read_text()


async def test_websocket_through_nginx_receives_an_order_placed_on_the_other_instance(stack):
    from websockets.asyncio.client import connect

    nginx, app_b = stack["nginx"], stack["b"]
    async with httpx.AsyncClient(timeout=10, headers=HTTPS) as client:
        token = await client.post(
            f"{nginx.url}/api/auth/token/", json={"username": "ravi", "password": "demo-pass-123"}
        )
        assert token.status_code == 200, token.text
        ravi = {"Authorization": f"Bearer {token.json()['access']}"}
        online = await client.post(f"{nginx.url}/api/partners/me/availability/", json={"online": True}, headers=ravi)
        assert online.status_code == 200, online.text

        ws_url = f"ws://127.0.0.1:{nginx.port}/ws/orders/"
        # Two sockets through nginx: with least_conn the second lands on the other
        # instance, so one of them surely is not on B, where the order is placed.
        async with (
            connect(ws_url, additional_headers=ravi) as first,
            connect(ws_url, additional_headers=ravi) as second,
        ):
            for socket in (first, second):
                snapshot = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
                assert snapshot["event"] == "snapshot"

            # The customer orders directly on instance B, not through nginx.
            token = await client.post(
                f"{app_b.url}/api/auth/token/", json={"username": "alice", "password": "demo-pass-123"}
            )
            assert token.status_code == 200, token.text
            alice = {"Authorization": f"Bearer {token.json()['access']}"}
            products = await client.get(f"{app_b.url}/api/products/", headers=alice)
            assert products.status_code == 200, products.text
            product = next(p for p in products.json()["results"] if p["stock"] > 0)
            placed = await client.post(
                f"{app_b.url}/api/orders/",
                json={"items": [{"product": product["id"], "quantity": 1}], "address": "1 Main St, Springfield"},
                headers=alice,
            )
            assert placed.status_code == 201, placed.text
            ref = placed.json()["ref"]

            for socket in (first, second):
                assert await asyncio.wait_for(next_new_order(socket, ref), timeout=10)

    # nginx logs a websocket when it closes: the two went to different instances.
    log = nginx.wait_for_log("GET /ws/orders/", count=2)
    ws_upstreams = re.findall(r'"GET /ws/orders/ HTTP/1.1" 101 .*upstream=(\S+)', log)
    assert sorted(ws_upstreams) == sorted(f"127.0.0.1:{app.port}" for app in (stack["a"], app_b))


async def next_new_order(socket, ref: str) -> dict:
    while True:
        message = json.loads(await socket.recv())
        if message.get("event") == "new_order" and message["order"]["ref"] == ref:
            return message
