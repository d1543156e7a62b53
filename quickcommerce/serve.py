"""Serve quickcommerce with uvicorn: the one way to start the app server.

    python -m quickcommerce.serve [--host H] [--port P] [--proxy-headers]
                                  [--forwarded-allow-ips IPS] [--no-access-log] [--log-level L]

`make run`, the image (deploy/entrypoint.sh) and the test servers
(``quickcommerce.testing.AppServer``) all start the app here, so they all run the
same server the same way:

- one process: asyncio's own event loop, h11 for HTTP, websockets' sans-I/O
  protocol for websockets (``WS_IMPLEMENTATION``); no lifespan (the app has no
  startup or shutdown hooks). More capacity means more processes (deploy/SCALING.md);
- websockets: a ping every 20 s, closed if the pong takes over 20 s (nginx's 1 h
  read timeout on /ws/ relies on it); messages up to 1 MiB; no permessage-deflate
  (it would compress every fanned-out frame once per socket);
  sockets older than ``WS_MAX_AGE_SECONDS`` are closed by the consumer, not here;
- ``--proxy-headers`` (the image): the client address and scheme come from the
  ``X-Forwarded-For``/``X-Forwarded-Proto`` that deploy/nginx.conf sets, so the
  per-address rate limits see the real client - but only on connections from the
  proxy: ``--forwarded-allow-ips`` (env ``FORWARDED_ALLOW_IPS``; default loopback,
  ``127.0.0.1,::1``; compose sets its nginx network), IP addresses or networks,
  comma-separated. From any other peer the headers are ignored and the peer itself is
  the client, so a request straight to the app cannot pick its own address. ``*``
  (believe everyone) is refused;
- logs: uvicorn's request lines (``--no-access-log`` turns them off) and websocket
  lines carry the path only, never the query string: API clients may send their
  JWT as ``?token=`` (accounts/ws_auth.py).

Defaults come from the environment (and ``.env`` in the checkout, as for the
settings): ``BIND_ADDRESS`` (127.0.0.1; the image's entrypoint passes 0.0.0.0),
``PORT`` (8000) and ``FORWARDED_ALLOW_IPS`` (127.0.0.1,::1).
"""

import argparse
import copy
import ipaddress
import logging
from pathlib import Path

import uvicorn
import uvicorn.config
from django.core.exceptions import ImproperlyConfigured

from quickcommerce.env import Env

APP = "quickcommerce.asgi:application"
# uvicorn's websocket protocol: "websockets-sansio" or "websockets" (its legacy asyncio one).
WS_IMPLEMENTATION = "websockets-sansio"
WS_PING_SECONDS = 20
# Larger messages close the socket (1009) instead of being buffered.
WS_MAX_MESSAGE_BYTES = 1024 * 1024
# A reconnect storm (an instance restarted, clients coming back at once) overflows a
# backlog of 50 and resets handshakes (docs/benchmarks.md); also raise
# net.core.somaxconn on the host, which caps it.
BACKLOG = 1024
# Peers whose X-Forwarded-For/-Proto are believed (with --proxy-headers), by default.
FORWARDED_ALLOW_IPS = "127.0.0.1,::1"

# Idle HTTP connections stay open longer than nginx keeps them in its upstream pool
# (keepalive_timeout 30s, deploy/nginx.conf), so nginx never reuses one we just closed.
HTTP_KEEP_ALIVE_SECONDS = 75
# On SIGTERM: stop listening, close websockets (1012, clients reconnect elsewhere),
# give requests in flight this long (compose's stop_grace_period is 30 s).
GRACEFUL_SHUTDOWN_SECONDS = 10


class PathOnly(logging.Filter):
    """Cut the query string off every path in uvicorn's request and websocket lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.partition("?")[0] if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        return True


def log_config() -> dict:
    """uvicorn's own logging configuration, with ``PathOnly`` on its handlers."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {"path_only": {"()": PathOnly}}
    for handler in config["handlers"].values():
        handler["filters"] = ["path_only"]
    return config


def trusted_proxies(value: str) -> str:
    """``FORWARDED_ALLOW_IPS``/``--forwarded-allow-ips``: IP addresses and networks,
    comma-separated, normalised. uvicorn would take a typo as a literal that matches
    nothing (or ``*`` as everyone), so both are refused here with one line."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if not entries:
        raise argparse.ArgumentTypeError("name at least one proxy address (e.g. 127.0.0.1 or 172.30.0.0/24)")
    if "*" in entries:
        raise argparse.ArgumentTypeError(
            "'*' would believe X-Forwarded-For from anyone who can reach the app; name the proxy's addresses"
        )
    normalised = []
    for entry in entries:
        try:
            address = ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{entry!r} is not an IP address or network") from None
        normalised.append(str(address))
    return ",".join(normalised)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m quickcommerce.serve", description=__doc__.split("\n")[0])
    env = Env()
    env.read_env(Path(__file__).resolve().parent.parent / ".env")
    try:
        host = env.str("BIND_ADDRESS", "127.0.0.1")
        port = env.int("PORT", 8000, minimum=1, maximum=65535)
        forwarded_allow_ips = trusted_proxies(env.str("FORWARDED_ALLOW_IPS", FORWARDED_ALLOW_IPS))
    except ImproperlyConfigured as exc:
        parser.error(str(exc))
    except argparse.ArgumentTypeError as exc:
        parser.error(f"FORWARDED_ALLOW_IPS: {exc}")
    parser.add_argument("--host", default=host, help="address to listen on (default: $BIND_ADDRESS, else 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help="port to listen on (default: $PORT, else 8000)")
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="take the client address and scheme from X-Forwarded-For/-Proto (behind nginx only)",
    )
    parser.add_argument(
        "--forwarded-allow-ips",
        type=trusted_proxies,
        default=forwarded_allow_ips,
        help="the proxy's addresses or networks, comma-separated: only their X-Forwarded-* headers are "
        "believed (default: $FORWARDED_ALLOW_IPS, else %(default)s)",
    )
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="no line per request")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error", "critical"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    uvicorn.run(
        APP,
        host=args.host,
        port=args.port,
        loop="asyncio",
        http="h11",
        ws=WS_IMPLEMENTATION,
        ws_max_size=WS_MAX_MESSAGE_BYTES,
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_per_message_deflate=False,
        lifespan="off",
        interface="asgi3",
        backlog=BACKLOG,
        timeout_keep_alive=HTTP_KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Only the proxy's X-Forwarded-* (trusted_proxies); from anyone else the peer is the client.
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        log_config=log_config(),
        log_level=args.log_level,
        access_log=args.access_log,
    )


if __name__ == "__main__":
    main()
