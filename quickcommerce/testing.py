"""Test support: real processes on free loopback ports.

``require_binary`` skips a test when a service binary is missing, except under
``CI=true``, where the missing install step must fail the run instead of hiding
behind a green one. Servers started here never touch a Redis on 6379 and are
always stopped by the fixture that started them.
"""

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_binary(name: str, *, path: str | None = None) -> str:
    found = path if path and Path(path).exists() else shutil.which(name)
    if found:
        return found
    reason = f"{name} is not installed (apt-get install {name})"
    if in_ci():
        pytest.fail(f"{reason}: CI must install it, not skip", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class RedisServer:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            _stop(self.proc)


def app_env(**overrides) -> dict:
    """Environment for a subprocess of the app: development defaults, nothing inherited
    that could point it at a developer's own stores."""
    env = {k: v for k, v in os.environ.items() if k not in {"MONGO_URI", "REDIS_URL", "SQLITE_PATH", "DEBUG"}}
    env.update({"PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "quickcommerce.settings"})
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return env


def manage(*args, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# Test servers get abuse limits far above anything a functional test does (bursts of
# 200 orders, 100 sockets for one partner); quickcommerce/tests/test_limits.py starts
# its servers with production-like values instead (start_app(**env) wins).
TEST_SERVER_LIMITS = {
    "LOGIN_RATE_PER_USERNAME": "10000/min",
    "LOGIN_RATE_PER_IP": "10000/min",
    "REGISTER_RATE_PER_IP": "10000/min",
    "ORDER_RATE_PER_CUSTOMER": "10000/min",
    "WS_MAX_CONNECTIONS_PER_USER": "10000",
}


class AppServer:
    """The real app on a free loopback port, started as everywhere else
    (``python -m quickcommerce.serve``: uvicorn), on a SQLite file (and Redis, if given).

    ``**env`` goes to the server's environment on top of ``TEST_SERVER_LIMITS``;
    ``proxy_headers=True`` serves as the image does behind nginx (client address
    from ``X-Forwarded-For``). ``log()`` is the server's stdout and stderr."""

    def __init__(
        self, *, db_path: Path, redis_url: str | None = None, log_path: Path, proxy_headers: bool = False, **env
    ):
        self.port = free_port()
        self.db_path = db_path
        self.redis_url = redis_url
        self.log_path = log_path
        self.proxy_headers = proxy_headers
        self.extra_env = env
        self.proc = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def env(self) -> dict:
        return app_env(SQLITE_PATH=self.db_path, REDIS_URL=self.redis_url, **(TEST_SERVER_LIMITS | self.extra_env))

    def command(self) -> list[str]:
        """The server's command line (a subclass may serve the same app another way)."""
        command = [sys.executable, "-m", "quickcommerce.serve", "--host", "127.0.0.1", "--port", str(self.port)]
        return [*command, "--proxy-headers"] if self.proxy_headers else command

    def start(self) -> "AppServer":
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command(), cwd=BASE_DIR, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, timeout=30, proc=self.proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in {200, 503}:
                    return self
            time.sleep(0.1)
        raise TimeoutError(f"the app on {self.port} never answered /healthz; see {self.log_path}")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc:
            _stop(self.proc, sig)
        if self._log:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 10) -> str:
        """The server's log once ``needle`` is in it (or the timeout): what happens after a
        response, such as a live event's publish (dispatch.publish.Publisher), logs later."""
        deadline = time.monotonic() + timeout
        while needle not in self.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.log()


# --- nginx with the deploy config (quickcommerce/tests/test_deploy.py, test_faults.py) ------------

NGINX_TEMPLATE = BASE_DIR / "deploy" / "nginx.conf"


def mime_types() -> Path:
    for candidate in ("/etc/nginx/mime.types", "/usr/local/nginx/conf/mime.types", "/usr/share/nginx/mime.types"):
        if Path(candidate).exists():
            return Path(candidate)
    reason = "nginx's mime.types not found (apt-get install nginx)"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


PLACEHOLDER = re.compile(r"\$\{(NGINX_[A-Z_]+)\}")


def placeholders_of_template() -> set[str]:
    return set(PLACEHOLDER.findall(NGINX_TEMPLATE.read_text()))


def render_template(values: dict) -> str:
    """Fill deploy/nginx.conf's ${NGINX_*} placeholders, as envsubst does in the image."""
    assert placeholders_of_template() == set(values), f"template placeholders {sorted(placeholders_of_template())}"
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), NGINX_TEMPLATE.read_text())


def render_nginx_conf(directory: Path, **values) -> Path:
    text = render_template(values)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(mime_types(), directory / "mime.types")
    conf = directory / "nginx.conf"
    conf.write_text(text)
    return conf


class Nginx:
    """The Debian nginx binary with the templated deploy config, as the current user."""

    def __init__(self, binary: str, workdir: Path, *, upstreams: list[int], static_root: Path, media_root=None):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.logs = workdir / "logs"
        run = workdir / "run"
        for directory in (self.logs, run):
            directory.mkdir(parents=True, exist_ok=True)
        servers = " ".join(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in upstreams)
        self.conf = render_nginx_conf(
            workdir / "conf",
            NGINX_USER=pwd.getpwuid(os.getuid()).pw_name,
            NGINX_PORT=f"127.0.0.1:{self.port}",
            NGINX_UPSTREAM_SERVERS=servers,
            NGINX_LOCAL_RESOLVERS="127.0.0.1",
            NGINX_STATIC_ROOT=static_root,
            NGINX_MEDIA_ROOT=media_root or workdir / "media",
            NGINX_RUN_DIR=run,
            NGINX_LOG_DIR=self.logs,
        )
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, *extra) -> list[str]:
        return [self.binary, "-p", str(self.workdir), "-c", str(self.conf), *extra]

    def check_config(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30, check=False)

    def start(self) -> "Nginx":
        with open(self.logs / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(self.command("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=stderr)
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            _stop(self.proc)

    def access_log(self) -> str:
        path = self.logs / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, needle: str, count: int = 1, timeout: float = 10) -> str:
        """The access log once `needle` occurs `count` times (nginx writes a line when
        a request ends; a websocket's when it closes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.access_log()
            if log.count(needle) >= count:
                return log
            time.sleep(0.05)
        return self.access_log()


# --- in-process helpers ----------------------------------------------------------------


class PublishedCalls(list):
    """(event, ref, version, status) per publish; ``.kwargs`` the extra keyword arguments."""

    def __init__(self):
        super().__init__()
        self.kwargs = []


def interleave(monkeypatch, module, name, meanwhile):
    """Make a race deterministic: the first call of ``module.name`` first runs
    ``meanwhile()`` (the competing request), then the real function."""
    real = getattr(module, name)
    state = {"ran": False}

    def wrapper(*args, **kwargs):
        if not state["ran"]:
            state["ran"] = True
            meanwhile()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping every message it
    accepts. ``stop()`` then ``start()`` again: the same port, down and back up."""

    def __init__(self):
        self.port = free_port()
        self.messages = []  # email.message.EmailMessage, in arrival order
        self.controller = None

    def start(self) -> "SmtpServer":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message.envelope_recipients = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"
