"""Start one system under test for the live sections: the app (uvicorn + Redis, pub/sub
layer), baseline (a) (bare websockets relay) or baseline (b) (Socket.io + redis-adapter).

``system(...)`` yields a ``Running``: where sockets connect (kind, url, token), how the
producer publishes (env for the app's layer, or a Redis URL + channel), and the server
process ids (for RSS)."""

import contextlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench import live
from bench.common import NODE_DIR, Api, Services, node_binary, python_executable, redis_binary
from quickcommerce.testing import BASE_DIR, RedisServer, free_port, wait_for_port

CHANNEL = "bench:fanout"  # the baselines' relay channel


@contextlib.contextmanager
def _process(cmd, *, cwd: Path, log_path: Path, port: int):
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


@dataclass
class Running:
    kind: str  # listener kind: ws | socketio
    url: str
    token: str = ""
    producer_env: dict | None = None
    redis_url: str = ""
    channel: str = ""
    pids: list = field(default_factory=list)
    services: Services | None = None
    extra_urls: list = field(default_factory=list)  # more app instances (scale-out)
    first_message: bool = False  # the app sends each socket a snapshot first

    def listener(self, *, log_path: Path, url: str = "", concurrency: int = 100):
        """The Node client (bench/node/listen.js) for this system's sockets (``url``: another instance)."""
        return live.listener(
            self.kind,
            url or self.url,
            token=self.token,
            first_message=self.first_message,
            concurrency=concurrency,
            log_path=log_path,
        )

    def producer(self, *, payload_file: Path, log_path: Path):
        """The event producer: through the app's channel layer, or a PUBLISH on the relay's channel."""
        if self.producer_env:
            return live.producer(payload_file=payload_file, log_path=log_path, env=self.producer_env)
        return live.producer(
            payload_file=payload_file, log_path=log_path, redis_url=self.redis_url, channel=self.channel
        )


@contextlib.asynccontextmanager
async def app(workdir: Path, template: Path, name: str, *, instances: int = 1):
    with Services(workdir, template, name, REDIS_CHANNEL_LAYER="pubsub", PARTNER_MAX_ACTIVE_ORDERS=100000) as services:
        async with Api(services.app.url) as api:
            token = await api.token("ravi")
            await api.go_online(token)
        running = Running(
            kind="ws",
            url=f"{services.app.ws_url}/ws/orders/",
            token=token,
            producer_env=services.app.env(),
            redis_url=services.redis.url,
            pids=[services.app.proc.pid],
            services=services,
            first_message=True,
        )
        if instances == 1:
            yield running
            return
        with services.second_instance() as second:
            running.extra_urls.append(f"{second.ws_url}/ws/orders/")
            running.pids.append(second.proc.pid)
            yield running


@contextlib.asynccontextmanager
async def websockets_relay(workdir: Path, name: str):
    base = workdir / name
    base.mkdir(parents=True, exist_ok=True)
    redis_server = RedisServer(redis_binary(), base / "redis").start()
    port = free_port()
    cmd = [python_executable(), "-m", "bench.baseline_ws", "--port", str(port), "--redis", redis_server.url]
    try:
        with _process([*cmd, "--channel", CHANNEL], cwd=BASE_DIR, log_path=base / "server.log", port=port) as proc:
            yield Running(
                kind="ws", url=f"ws://127.0.0.1:{port}/", redis_url=redis_server.url, channel=CHANNEL, pids=[proc.pid]
            )
    finally:
        redis_server.stop()


@contextlib.asynccontextmanager
async def socketio_relay(workdir: Path, name: str):
    node = node_binary()
    base = workdir / name
    base.mkdir(parents=True, exist_ok=True)
    redis_server = RedisServer(redis_binary(), base / "redis").start()
    port = free_port()
    cmd = [node, "server.js", "--port", str(port), "--redis", redis_server.url, "--channel", CHANNEL]
    try:
        with _process(cmd, cwd=NODE_DIR, log_path=base / "server.log", port=port) as proc:
            yield Running(
                kind="socketio",
                url=f"http://127.0.0.1:{port}",
                redis_url=redis_server.url,
                channel=CHANNEL,
                pids=[proc.pid],
            )
    finally:
        redis_server.stop()


def start(system: str, workdir: Path, template: Path, name: str, **kw):
    if system == "app":
        return app(workdir, template, name, **kw)
    if system == "websockets":
        return websockets_relay(workdir, name)
    return socketio_relay(workdir, name)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
