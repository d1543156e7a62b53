"""docs/benchmarks.md and its plots, from the results of ``python -m bench.run``."""

import datetime
import json
import math
import os
import platform
import subprocess
import timeit
from importlib import metadata
from pathlib import Path

from bench import report_capacity
from bench.common import NODE_DIR, describe_errors, load_average, ratio, spread
from bench.fanout import ALL_SYSTEMS, LABELS

PYTHON_PACKAGES = ("Django", "channels", "channels-redis", "uvicorn", "redis", "websockets", "httpx")
NODE_PACKAGES = ("socket.io", "@socket.io/redis-adapter", "socket.io-client", "redis")


# --- the machine -----------------------------------------------------------------------------------


def _command_version(*cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        return "not installed"


def python_speed_us() -> float:
    """µs per ``sum(range(1000))`` here, best of 5: how fast one core runs Python, so that
    runs on different hosts (or on a host whose speed drifts) can be told apart."""
    return min(timeit.repeat("sum(range(1000))", repeat=5, number=2000)) / 2000 * 1e6


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    ram_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    versions = {}
    for name in PYTHON_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    redis_version = _command_version("redis-server", "--version")
    versions["redis-server"] = next((p[2:] for p in redis_version.split() if p.startswith("v=")), redis_version)
    versions["node"] = _command_version("node", "--version")
    for name in NODE_PACKAGES:
        package = NODE_DIR / "node_modules" / name / "package.json"
        try:
            versions[f"npm {name}"] = json.loads(package.read_text())["version"]
        except (OSError, ValueError, KeyError):
            versions[f"npm {name}"] = "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
        "python_speed_us": round(python_speed_us(), 2),
    }


# --- formatting ------------------------------------------------------------------------------------


def _num(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def _mmm(values, digits: int = 1) -> str:
    s = spread(values)
    return f"{_num(s['min'], digits)} / **{_num(s['median'], digits)}** / {_num(s['max'], digits)}"


def _median(values) -> float:
    return spread(values)["median"]


def _x(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


# --- fan-out -----------------------------------------------------------------------------------------


def fanout_median(section: dict, system: str, n, clock: str, stat: str) -> float:
    data = section["systems"].get(system, {}).get("by_n", {}).get(str(n))
    if not data:
        return math.nan
    return _median([r[clock][stat] for r in data["repeats"]])


def fanout_tables(section: dict) -> list[str]:
    lines = []
    systems = [s for s in ALL_SYSTEMS if s in section["systems"]]
    for n in section["ns"]:
        lines += [
            f"**N = {n} sockets** (ms)",
            "",
            "| system | p50 from hand-off | p95 from hand-off | max from hand-off | p50 from 201/ack "
            "| p50 from request start | p95 from request start | request "
            "| p50 ÷ (a) | p50 ÷ (b) | p95 ÷ (a) | p95 ÷ (b) | connecting N (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for system in systems:
            data = section["systems"][system].get("by_n", {}).get(str(n))
            if not data:
                continue
            runs = data["repeats"]
            cells = [
                _mmm([r["from_handoff"]["p50"] for r in runs]),
                _mmm([r["from_handoff"]["p95"] for r in runs]),
                _mmm([r["from_handoff"]["max"] for r in runs]),
                _mmm([r["from_ack"]["p50"] for r in runs]),
                _mmm([r["from_start"]["p50"] for r in runs]),
                _mmm([r["from_start"]["p95"] for r in runs]),
                _num(_median([r["trigger_ms"] for r in runs])),
            ]
            for stat in ("p50", "p95"):
                mine = fanout_median(section, system, n, "from_handoff", stat)
                for base in ("websockets", "socketio"):
                    cells.append(_x(ratio(mine, fanout_median(section, base, n, "from_handoff", stat))))
            cells.append(_num(data.get("connect_s")))
            missing = sum(r["missing"] for r in runs)
            dropped = max(r.get("dropped", 0) for r in runs)
            label = LABELS[system]
            if missing:
                label += f" (**{missing} arrivals missing**" + (
                    f", {dropped} sockets closed by the server)" if dropped else ")"
                )
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


CLOCKS = {
    "from_handoff": "ms from the Redis hand-off",
    "from_start": "ms from the trigger's start (POST / PUBLISH)",
}


def fanout_plot(section: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    ns = section["ns"]
    for row, (clock, ylabel) in zip(axes, CLOCKS.items(), strict=True):
        for ax, stat in zip(row, ("p50", "p95"), strict=True):
            for system in [s for s in ALL_SYSTEMS if s in section["systems"]]:
                meds, lows, highs = [], [], []
                for n in ns:
                    data = section["systems"][system]["by_n"].get(str(n))
                    s = spread([r[clock][stat] for r in data["repeats"]]) if data else spread([])
                    meds.append(s["median"])
                    lows.append(s["median"] - s["min"])
                    highs.append(s["max"] - s["median"])
                ax.errorbar(ns, meds, yerr=[lows, highs], marker="o", capsize=3, label=LABELS[system])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ns, [str(n) for n in ns])
            ax.set_xlabel("sockets (N)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{stat} over the N sockets (median of repeats, bars: min-max)", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=9)
    fig.suptitle("fan-out latency vs N", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fanout_findings(section: dict) -> list[str]:
    notes = []
    n_max = max(section["ns"])
    pubsub = fanout_median(section, "pubsub", n_max, "from_handoff", "p50")
    core = fanout_median(section, "core", n_max, "from_handoff", "p50")
    if not (math.isnan(pubsub) or math.isnan(core)):
        faster = "pubsub" if pubsub <= core else "core"
        a, b = sorted([pubsub, core])
        notes.append(
            f"- At N = {n_max}, the median p50 was {_num(pubsub)} ms with the pub/sub layer and {_num(core)} ms "
            f"with the core layer: **{faster}** was faster in this run ({_x(b / a if a else math.nan)})."
        )
    for system in ("pubsub", "core"):
        ws = fanout_median(section, "websockets", n_max, "from_handoff", "p50")
        mine = fanout_median(section, system, n_max, "from_handoff", "p50")
        if not (math.isnan(ws) or math.isnan(mine)):
            notes.append(f"- {LABELS[system]} at N = {n_max}: {_x(ratio(mine, ws))} the bare websockets relay's p50.")
    return notes


def fanout_mechanisms(section: dict, versions: dict) -> list[str]:
    """Why the systems differ: what the layers do, read from their source (not measured here)."""
    lines = [
        f"Why (read from the source of channels {versions.get('channels')} and channels-redis "
        f"{versions.get('channels-redis')}, not measured separately):",
        "",
        "- **pub/sub layer**: `group_send` is one `PUBLISH` to the group's channel; every app "
        "process whose hub (`dispatch/hub.py`) has a local socket in the group is subscribed once.",
        "- **core layer**: `group_send` reads the group's members (`ZRANGE`), then one Lua `EVAL` "
        "`ZADD`s one copy per process key, which the process's receive loop takes back with "
        "`BZPOPMIN` plus backup-queue bookkeeping: more Redis round trips for the same single "
        "delivery per process. With the hub, each process is one member per group on both layers, "
        "so the two now differ by those round trips only.",
        "- **both**, last step, once per socket inside the process: the hub hands the message to each "
        "local consumer, which writes the frame pre-serialised for its audience (HTML or JSON) at once "
        "when the server can take it (`OrdersConsumer.deliver`). The bare relays write one frame per "
        "socket and nothing else; what the app adds per socket is the ASGI `send` path (Channels' "
        "consumer `send`, uvicorn's protocol), and per event, placing the order is not in this clock.",
        "",
    ]
    core_errors = section["systems"].get("core", {}).get("app_errors", {})
    if any("Timeout reading" in kind for kind in core_errors):
        lines += [
            "The core layer's missing arrivals are consumers that died with `redis.exceptions.TimeoutError: "
            "Timeout reading from ...`: redis-py 8's default `socket_timeout` is 5 s, the same as "
            "channels-redis core's `BZPOPMIN` timeout, so an idle process's receive can time out on the "
            "client side and take the consumer (and its socket) down with it. Giving the layer a longer "
            'socket timeout (`hosts: [{"address": REDIS_URL, "socket_timeout": 15}]`) avoids it.',
            "",
        ]
    return lines


# --- throughput and race ---------------------------------------------------------------------------------


def throughput_table(section: dict) -> list[str]:
    lines = [
        "| clients | orders/s (POST /api/orders/) | GET /api/auth/me/ req/s (baseline) | orders ÷ baseline "
        "| order p50 (ms) | baseline p50 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for level in section["levels"]:
        rows = section["by_level"].get(str(level), [])
        orders = [r["orders_per_s"] for r in rows]
        base = [r["baseline_per_s"] for r in rows]
        p50 = [r.get("orders_p50_ms", math.nan) for r in rows]
        base_p50 = [r.get("baseline_p50_ms", math.nan) for r in rows]
        lines.append(
            f"| {level} | {_mmm(orders)} | {_mmm(base)} | {_x(ratio(_median(orders), _median(base)))} "
            f"| {_mmm(p50)} | {_mmm(base_p50)} |"
        )
    return lines


def emails_lines(section: dict | None) -> list[str]:
    """Section 4's second table: the order path with customers' emails on and off."""
    if not section or not section.get("rows"):
        return []
    rows = section["rows"]
    lines = [
        "### Placing and accepting orders with customers' emails on and off",
        "",
        *report_capacity.header(section),
        f"**With customers' emails on and off** (docs/notifications.md): two servers side by side, "
        f"`ORDER_EMAILS=true` and `false`, bursts alternating; {section['count']} orders placed, then each "
        f"accepted by a partner registered for that burst (each accept queues one email job on Redis after "
        f"its commit), {section['concurrency']} concurrent clients, {section['repeats']} repeats, which mode "
        f"goes first alternating. No worker runs: this is what the request pays. The emails-on server "
        f"queued {section.get('queued_jobs', '?')} jobs.",
        "",
        "| request | emails on | emails off | on ÷ off |",
        "|---|---|---|---|",
    ]
    for what, label in (("place", "place an order (orders/s)"), ("accept", "accept an order (req/s)")):
        on = [r[f"{what}_on"] for r in rows]
        off = [r[f"{what}_off"] for r in rows]
        lines.append(f"| {label} | {_mmm(on)} | {_mmm(off)} | {_x(ratio(_median(on), _median(off)))} |")
    if section.get("app_errors"):
        lines += ["", f"**The app logged errors:** `{describe_errors(section['app_errors'])}`"]
    return [*lines, ""]


def throughput_plot(section: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = section["levels"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    width = 0.38
    bars = ((-width / 2, "orders_per_s", "POST /api/orders/"), (width / 2, "baseline_per_s", "GET /api/auth/me/"))
    for offset, key, label in bars:
        stats = [spread([r[key] for r in section["by_level"].get(str(lv), [])]) for lv in levels]
        xs = [i + offset for i in range(len(levels))]
        meds = [s["median"] for s in stats]
        err = [[s["median"] - s["min"] for s in stats], [s["max"] - s["median"] for s in stats]]
        ax.bar(xs, meds, width, yerr=err, capsize=3, label=label)
    ax.set_xticks(range(len(levels)), [str(lv) for lv in levels])
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("requests per second (median, bars: min-max)")
    ax.set_title("order throughput on SQLite vs a trivial DRF view")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def race_table(section: dict) -> list[str]:
    lines = [
        "| partners | race: first request → last answer (ms) | same clients, one /healthz each (ms) "
        "| race ÷ baseline | winners per repeat | every repeat: one 200, rest 409 |",
        "|---|---|---|---|---|---|",
    ]
    for level in section["levels"]:
        rows = section["by_level"].get(str(level), [])
        race = [r["race_ms"] for r in rows]
        health = [r["healthz_ms"] for r in rows]
        winners = "/".join(str(r["winners"]) for r in rows)
        correct = "yes" if rows and all(r["correct"] for r in rows) else "**NO**"
        lines.append(
            f"| {level} | {_mmm(race, 0)} | {_mmm(health, 0)} | {_x(ratio(_median(race), _median(health)))} "
            f"| winners: {winners} | {correct} |"
        )
    return lines


def race_plot(section: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = section["levels"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, label in (("race_ms", "accept race (POST accept)"), ("healthz_ms", "GET /healthz burst (baseline)")):
        stats = [spread([r[key] for r in section["by_level"].get(str(lv), [])]) for lv in levels]
        meds = [s["median"] for s in stats]
        err = [[s["median"] - s["min"] for s in stats], [s["max"] - s["median"] for s in stats]]
        ax.errorbar(levels, meds, yerr=err, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xticks(levels, [str(lv) for lv in levels])
    ax.set_xlabel("partners racing")
    ax.set_ylabel("ms until every answer is in")
    ax.set_title("accept race: one order, P partners")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the document -------------------------------------------------------------------------------------


def render(results: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = results.get("machine") or machine_info()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.run`); do not edit by hand. Every figure is "
        "measured against a baseline in the same run, on real processes on loopback "
        "(redis-server on a free port, the app under uvicorn on a copy of a migrated and seeded SQLite file), "
        "and shown as **min / median / max** over the repeats; ratios compare medians.",
        "",
    ]
    for note in results.get("notes", []):
        lines += [f"> **Note:** {note}", ""]
    v = machine.get("versions", {})
    lines += [
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {machine.get('cpu')} |",
        f"| cores | {machine.get('cores')} |",
        f"| RAM | {machine.get('ram_gib')} GiB |",
        f"| OS | {machine.get('os')} |",
        f"| Python | {machine.get('python')} |",
        "| Django / channels / channels-redis / uvicorn | "
        f"{v.get('Django')} / {v.get('channels')} / {v.get('channels-redis')} / {v.get('uvicorn')} |",
        f"| redis-py / websockets / httpx | {v.get('redis')} / {v.get('websockets')} / {v.get('httpx')} |",
        f"| redis-server | {v.get('redis-server')} |",
        f"| node | {v.get('node')} |",
        "| socket.io / @socket.io/redis-adapter / socket.io-client / node-redis | "
        f"{v.get('npm socket.io')} / {v.get('npm @socket.io/redis-adapter')} / {v.get('npm socket.io-client')} "
        f"/ {v.get('npm redis')} |",
        f"| date | {machine.get('date')} |",
        f"| load average (1/5/15 min) at start | {machine.get('load_average')} |",
        "| one core's Python speed at start: µs per `sum(range(1000))`, best of 5 (lower is faster) | "
        f"{machine.get('python_speed_us', '-')} |",
        "",
        "The clients run on the same machine as the servers (2 cores here), so every "
        "figure includes the client's own CPU time, and the servers and clients compete "
        "for the same cores. Compare ratios, not absolute numbers, across machines.",
        "",
    ]

    fanout = results.get("fanout")
    lines += ["## 1. Fan-out latency", ""]
    if fanout and "error" not in fanout:
        fanout_plot(fanout, out_dir / "fanout_latency.png")
        lines += report_capacity.header(fanout)
        lines += [
            "One event reaches N websocket clients. For the app: N sockets of one online "
            "partner (JWT in the `Authorization` header), each counted once its snapshot has "
            "arrived, one order placed through `POST /api/orders/`, timed to that order's "
            "`new_order` message at each socket; the app restarted for each channel layer "
            "(`REDIS_CHANNEL_LAYER=pubsub` / `core`). Baselines: (a) a bare Python `websockets` "
            "server relaying a Redis pub/sub channel (bench/baseline_ws.py); (b) a Node.js "
            "Socket.io server with `@socket.io/redis-adapter` doing the same (bench/node/server.js); "
            "both triggered by a `PUBLISH` from the benchmark. **Every system is read by the same "
            "client**: N sockets in one Node process (bench/node/listen.js: `ws`, or "
            "socket.io-client for (b)), which notes each socket's arrival time. The baselines "
            f"relay {fanout.get('payload', 'a message')} ({fanout.get('payload_bytes', '?')} bytes).",
            "",
            "Three clocks, all wall clocks on this machine:",
            "",
            "- **from hand-off**: from the moment a Redis subscriber in a process of its own "
            "(bench/node/watch.js) sees the event pass through Redis — the PUBLISH on the pub/sub "
            "layer's group channel (`asgi__group__partners`) or on the baselines' channel; for the "
            "core layer, which does not use pub/sub, the `zadd` of the message to the receiving "
            "process's channel key, seen through keyspace notifications. It means the same for all "
            "four systems, so the **ratios use it**. Its resolution is about half a millisecond (the "
            "watcher is a process like the others on 2 shared cores): at N = 10 every system is "
            "within it, so those ratios say little;",
            "- **from 201/ack**: from the 201 response being read (the baselines: PUBLISH's reply). "
            "The app builds and sends the live event once the request has answered "
            "(`dispatch.publish.Publisher`), so this is the publish's own delay plus the fan-out; "
            "a negative figure means the message beat the client's reading of the HTTP response;",
            "- **from request start**: from just before the POST (the baselines: the PUBLISH); for "
            "the app this includes placing the order (validation, stock update, order and event "
            "rows, reading the order back; the live messages are built after the answer); "
            "\"request\" is the POST's (PUBLISH's) "
            'own duration; "connecting N" is how long opening the N sockets took (for the app: '
            "handshake, JWT check, group joins and the snapshot, 50 at a time).",
            "",
            f"{fanout['warmup']} unmeasured warm-up event(s), then {fanout['repeats']} measured events per N; "
            "per event, p50/p95/max are taken over the N sockets, and each cell shows min / "
            "**median** / max of that figure over the events. With N clients in one client "
            "process the tail also measures how fast that process drains N sockets.",
            "",
        ]
        lines += fanout_tables(fanout)
        lines += ["![fan-out latency vs N](fanout_latency.png)", ""]
        findings = fanout_findings(fanout)
        if findings:
            lines += ["In this run:", "", *findings, ""]
        lines += fanout_mechanisms(fanout, machine.get("versions", {}))
        for system, data in fanout["systems"].items():
            if data.get("app_errors"):
                lines += [
                    f"**The app logged errors during the {system} run:** `{describe_errors(data['app_errors'])}`",
                    "",
                ]
    else:
        lines += [_not_run(fanout), ""]

    lines += report_capacity.rate_lines(results.get("rate"), out_dir)
    lines += report_capacity.connections_lines(results.get("connections"), out_dir)

    throughput = results.get("throughput")
    lines += ["## 4. Order throughput (SQLite)", ""]
    if throughput and "error" not in throughput:
        throughput_plot(throughput, out_dir / "throughput.png")
        lines += report_capacity.header(throughput)
        lines += [
            f"{throughput['count']} orders per level through `POST /api/orders/` (one line, "
            "quantity 1, a product with a huge stock; customers alice and bob alternating; "
            "every answer must be 201), from one `httpx.AsyncClient` with 1, 4 and 16 "
            "concurrent workers; the channel layer is Redis pub/sub, so each order also "
            "publishes its live events. Baseline: the same number of `GET /api/auth/me/` at the "
            "same concurrency on the same server with the same tokens — a trivial DRF view (JWT "
            "check, one user row, a small JSON answer) that crosses uvicorn, the middleware, DRF "
            "and the async-to-sync bridge as the order does. The p50 columns are each request's "
            "own time (send to answer read) over that level's requests. "
            f"{throughput['repeats']} repeats per level.",
            "",
        ]
        lines += throughput_table(throughput)
        lines += ["", "![order throughput](throughput.png)", ""]
        if throughput.get("app_errors"):
            lines += [f"**The app logged errors:** `{describe_errors(throughput['app_errors'])}`", ""]
        levels = throughput["levels"]
        first = _median([r["orders_per_s"] for r in throughput["by_level"].get(str(levels[0]), [])])
        last = _median([r["orders_per_s"] for r in throughput["by_level"].get(str(levels[-1]), [])])
        lines += [
            f"From {levels[0]} to {levels[-1]} clients the order rate changed {_x(ratio(last, first))}. "
            "Under ASGI, Django runs each request's sync code on a thread of its own (a "
            "`ThreadSensitiveContext` per request), but one process runs Python on one core at a "
            "time (the GIL), so concurrency only overlaps the waits (HTTP, the client, Redis round "
            "trips, SQLite's I/O) and the live messages' build (on the publisher's own thread); more "
            "throughput means more processes behind the load balancer, which the compare-and-set "
            "writes already make safe.",
            "",
        ]
        lines += emails_lines(results.get("emails"))
    else:
        lines += [_not_run(throughput), ""]

    race = results.get("race")
    lines += ["## 5. Accept race", ""]
    if race and "error" not in race:
        race_plot(race, out_dir / "accept_race.png")
        lines += report_capacity.header(race)
        lines += [
            f"P partners, registered through the API (setup took {race.get('setup_s', 0):.0f}s, mostly "
            "password hashing, spread over a second app instance on the same database and Redis), "
            "online, `PARTNER_MAX_ACTIVE_ORDERS=100000`; per repeat a fresh order, "
            "then P concurrent `POST /api/orders/{ref}/accept/`, each partner with its own HTTP "
            "client and an open keep-alive connection. Timed from the first request sent to "
            "the last answer in. Baseline: the same clients, one `GET /healthz` each, at once. "
            f"{race['repeats']} repeats per level; each must yield exactly one 200 and P-1 409s.",
            "",
        ]
        lines += race_table(race)
        lines += ["", "![accept race](accept_race.png)", ""]
        if race.get("app_errors"):
            lines += [f"**The app logged errors:** `{describe_errors(race['app_errors'])}`", ""]
    else:
        lines += [_not_run(race), ""]

    lines += report_capacity.scaleout_lines(results.get("scaleout"))
    lines += report_capacity.pages_lines(results.get("pages"), out_dir)
    lines += report_capacity.order_path_lines(results, fanout_median)
    lines += report_capacity.profile_lines(results.get("profile"))
    lines += report_capacity.location_lines(results.get("location"))
    lines += report_capacity.before_after_lines(results.get("fanout"), fanout_median)
    lines += report_capacity.goals_lines(results, fanout_median)
    lines += report_capacity.findings_lines(results)

    path = out_dir / "benchmarks.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def _not_run(section) -> str:
    if section and "error" in section:
        return f"Not measured: {section['error']}"
    return "Not measured in this run."


def print_summary(results: dict) -> None:
    """The figures on stdout (the same tables as the document)."""
    if results.get("fanout") and "error" not in results["fanout"]:
        print("\nFan-out latency (ms; min / median / max over repeats)")
        print("\n".join(fanout_tables(results["fanout"])).replace("**", ""))
    if results.get("throughput") and "error" not in results["throughput"]:
        print("\nOrder throughput")
        print("\n".join(throughput_table(results["throughput"])).replace("**", ""))
    if results.get("race") and "error" not in results["race"]:
        print("\nAccept race")
        print("\n".join(race_table(results["race"])).replace("**", ""))
