"""The capacity sections of docs/benchmarks.md (fan-out throughput, connections held,
scale-out, page speed), the before/after table against the earliest published runs,
and the goals with their verdicts."""

import itertools
import math
from pathlib import Path

from bench.common import describe_errors, ratio, spread

# The "before" of the before/after table: fan-out to N = 1000 (ms, from the Redis hand-off,
# medians of the events) in two earlier published runs, both served by daphne and read by
# Python websockets clients: the first one (a busy machine) and the last one under daphne
# (a quiet machine). They are fixed figures: those servers are no longer in the tree.
FIRST_N1000 = {
    "p50": {"pubsub": 465.8, "core": 650.3, "websockets": 25.2, "socketio": 18.0},
    "p95": {"pubsub": 546.7, "core": 692.4, "websockets": 33.5, "socketio": 31.3},
}
DAPHNE_N1000 = {
    "p50": {"pubsub": 59.0, "core": 275.1, "websockets": 16.9, "socketio": 14.3},
    "p95": {"pubsub": 69.8, "core": 288.4, "websockets": 23.7, "socketio": 20.7},
}


def _num(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _mmm(values, digits: int = 1) -> str:
    s = spread(values)
    return f"{_num(s['min'], digits)} / **{_num(s['median'], digits)}** / {_num(s['max'], digits)}"


def _med(values) -> float:
    return spread(values)["median"]


def _x(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}x"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def header(section: dict) -> list[str]:
    """A section's first line: when, how long, and the machine's load and speed just before."""
    machine = section.get("machine", {})
    extra = f"; load average before: {machine['load_average']}" if machine.get("load_average") else ""
    if machine.get("python_speed_us") is not None:
        extra += f"; Python speed before: {machine['python_speed_us']} µs per `sum(range(1000))`"
    return [
        f"_Measured {machine.get('date', '?')}, {section.get('mode', 'full')} run, "
        f"{section.get('elapsed_s', 0):.0f}s{extra}._",
        "",
    ]


def not_run(section) -> list[str]:
    if section and "error" in section:
        return [f"Not measured: {section['error']}", ""]
    return ["Not measured in this run.", ""]


# --- fan-out throughput ------------------------------------------------------------------------------


def _fix_delivered(section: dict) -> None:
    """Runs before this fix divided by the send window ((E - 1) / R); use E / R."""
    for data in section.get("systems", {}).values():
        for r in data.get("ramp", []) + data.get("repeats", []):
            if "distinct" not in r and r.get("send_seconds"):
                r["distinct"] = round(r["delivered_per_s"] * r["send_seconds"])
                r["delivered_per_s"] = r["distinct"] / (r["events"] / r["rate"])


def rate_best(section: dict, system: str) -> dict:
    data = section["systems"].get(system, {})
    rows = data.get("repeats", [])
    return {
        "rate": data.get("best_rate"),
        "delivered": _med([r["delivered_per_s"] for r in rows]) if rows else math.nan,
        "rows": rows,
    }


def rate_lines(section: dict, out_dir: Path) -> list[str]:
    lines = ["## 2. Fan-out throughput", ""]
    if not section or "error" in section:
        return lines + not_run(section)
    _fix_delivered(section)
    lines += header(section)
    lines += [
        f"{section['n']:,} sockets in one group. A producer in its own process sends sequence-numbered "
        f"events at R events/s for {section['seconds']:g} s per step; R rises "
        f"({', '.join(str(r) for r in section['rates'])}) until p99 passes {section['bar_ms']:.0f} ms "
        "(or a message is lost); the last rate under the bar is run again "
        f"{section['repeats']} times (min / **median** / max below). Latency is from the producer's "
        "clock just before it sends to the moment a socket has the message. "
        "**For our app the producer is bench/producer.py publishing through the app's own channel "
        "layer** (channels_redis pub/sub, the same `REDIS_URL` and `REDIS_CHANNEL_LAYER`) to the "
        "`partners` group, with the message shape `dispatch.publish` uses (`type: order.event`, `event`, "
        "`ref`, `version`, `html`, `json`), so what is measured is the layer + the hub + the consumer + the server, "
        "not placing orders. The baselines get the same JSON text by Redis `PUBLISH` on their relay "
        "channel. All sockets live in one Node process (bench/node/listen.js: `ws` for our app and "
        "(a), socket.io-client for (b)), which counts every sequence number at every socket: "
        "**lost** = a socket never got it (within 15 s), **duplicated** = a socket got it twice.",
        "",
        "| system | last rate under the bar (events/s) | delivered messages/s at that rate | ÷ (a) | ÷ (b) "
        "| p50 / p99 at that rate (ms) | first rate over the bar: p99 (ms) | events sent | lost | duplicated |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    a = rate_best(section, "websockets")["delivered"]
    b = rate_best(section, "socketio")["delivered"]
    for system, data in section["systems"].items():
        if "error" in data:
            lines.append(f"| {data['label']} | failed: {data['error']} | | | | | | | | |")
            continue
        best = rate_best(section, system)
        rows = best["rows"]
        over = next((r for r in data["ramp"] if r["rate"] != best["rate"] and r is data["ramp"][-1]), None)
        over_cell = f"{over['rate']} ev/s: {_num(over['p99'], 0)}" if over and best["rate"] != over["rate"] else "-"
        if best["rate"] is None:
            first = data["ramp"][0] if data["ramp"] else {}
            over_cell = f"{first.get('rate')} ev/s: {_num(first.get('p99'), 0)}"
        lines.append(
            f"| {data['label']} | {best['rate'] if best['rate'] is not None else '< ' + str(section['rates'][0])} "
            f"| {_mmm([r['delivered_per_s'] for r in rows], 0) if rows else '-'} "
            f"| {_x(ratio(best['delivered'], a))} | {_x(ratio(best['delivered'], b))} "
            f"| {_num(_med([r['p50'] for r in rows]) if rows else None, 0)} / "
            f"{_num(_med([r['p99'] for r in rows]) if rows else None, 0)} "
            f"| {over_cell} | {data['events']:,} | {data['lost']:,} | {data['duplicates']:,} |"
        )
    lines += ["", "The whole ramp (one row per step):", "",
              "| system | R (events/s) | delivered msg/s | p50 | p95 | p99 | max (ms) | lost | dup |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for system, data in section["systems"].items():
        for r in data.get("ramp", []):
            lines.append(
                f"| {system} | {r['rate']} | {_num(r['delivered_per_s'], 0)} | {_num(r['p50'], 0)} "
                f"| {_num(r['p95'], 0)} | {_num(r['p99'], 0)} | {_num(r['max'], 0)} | {r['lost']} | {r['duplicates']} |"
            )
    lines.append("")
    try:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 4))
        for _system, data in section["systems"].items():
            ramp = data.get("ramp", [])
            if ramp:
                ax.plot([r["rate"] for r in ramp], [r["p99"] or math.nan for r in ramp], marker="o",
                        label=data["label"])  # fmt: skip
        ax.axhline(section["bar_ms"], color="red", linestyle="--", linewidth=1, label="bar (p99 100 ms)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"events/s to {section['n']} sockets")
        ax.set_ylabel("p99 latency (ms)")
        ax.set_title("fan-out throughput: p99 vs event rate")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "fanout_throughput.png", dpi=100)
        plt.close(fig)
        lines += ["![fan-out throughput](fanout_throughput.png)", ""]
    except Exception as exc:  # a plot must not lose the tables
        lines += [f"(plot failed: {exc})", ""]
    for data in section["systems"].values():
        if data.get("app_errors"):
            lines += [f"**The app logged errors:** `{describe_errors(data['app_errors'])}`", ""]
    return lines


# --- connections held ---------------------------------------------------------------------------------


def connections_lines(section: dict, out_dir: Path) -> list[str]:
    lines = ["## 3. Connections held", ""]
    if not section or "error" in section:
        return lines + not_run(section)
    lines += header(section)
    lines += [
        "Idle authenticated sockets (one online partner, JWT header) on **one app process**, opened "
        "100 at a time by one Node client and left idle; at each step the process's resident memory "
        "(`VmRSS` from /proc/<pid>/status; per socket = (RSS - RSS with one socket) ÷ sockets) and "
        f"{section['events']} events sent one at a time to all of them (the producer's `group_send` "
        f"to `partners`; p95 over the sockets, min / **median** / max over the events). Stops when "
        f"p95 passes {section['p95_limit_ms']:.0f} ms or at the last step. Baseline: the bare websockets "
        "relay (a) holding the same number of sockets. Open-file limit raised with `setrlimit` in the "
        "benchmark process; the app and the client inherit it.",
        "",
        "| sockets | app: RSS (MiB) | app: KiB/socket | (a): KiB/socket | KiB/socket ÷ (a) "
        "| app: fan-out p95 (ms) | (a): fan-out p95 (ms) | p95 ÷ (a) | app: connect time for the step (s) "
        "| app lost / dup |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    app = section["systems"].get("app", {})
    base = {s["target"]: s for s in section["systems"].get("websockets", {}).get("steps", [])}
    for step in app.get("steps", []):
        b = base.get(step["target"])
        p95 = _med([e["p95"] for e in step["events"]])
        bp95 = _med([e["p95"] for e in b["events"]]) if b else math.nan
        lost = sum(e["lost"] for e in step["events"])
        dup = sum(e["duplicates"] for e in step["events"])
        opened = f"{step['open']:,}" + (f" of {step['target']:,}" if step["open"] < step["target"] else "")
        lines.append(
            f"| {opened} | {_num(step['rss_kib'] / 1024, 0)} | {_num(step['kib_per_socket'])} "
            f"| {_num(b['kib_per_socket']) if b else '-'} "
            f"| {_x(ratio(step['kib_per_socket'], b['kib_per_socket']) if b else math.nan)} "
            f"| {_mmm([e['p95'] for e in step['events']], 0)} | {_num(bp95, 0)} | {_x(ratio(p95, bp95))} "
            f"| {_num(step['connect_s'])} | {lost} / {dup} |"
        )  # fmt: skip
    lines.append("")
    try:
        plt = _plt()
        fig, ax1 = plt.subplots(figsize=(7, 4))
        for _system, data in section["systems"].items():
            steps = data.get("steps", [])
            ax1.plot([s["open"] for s in steps], [_med([e["p95"] for e in s["events"]]) for s in steps], marker="o",
                     label=f"{data['label']}: fan-out p95")  # fmt: skip
        ax1.set_xlabel("idle sockets held")
        ax1.set_ylabel("fan-out p95 (ms)")
        ax1.set_yscale("log")
        ax1.grid(True, which="both", alpha=0.3)
        ax2 = ax1.twinx()
        for _system, data in section["systems"].items():
            steps = data.get("steps", [])
            ax2.plot([s["open"] for s in steps], [s["rss_kib"] / 1024 for s in steps], linestyle=":", marker="s",
                     label=f"{data['label']}: RSS")  # fmt: skip
        ax2.set_ylabel("server RSS (MiB), dotted")
        h1, l1 = ax1.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax1.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
        ax1.set_title("connections held by one process")
        fig.tight_layout()
        fig.savefig(out_dir / "connections.png", dpi=100)
        plt.close(fig)
        lines += ["![connections held](connections.png)", ""]
    except Exception as exc:
        lines += [f"(plot failed: {exc})", ""]
    if app.get("app_errors"):
        lines += [f"**The app logged errors:** `{describe_errors(app['app_errors'])}`", ""]
    return lines


def connections_max(section: dict) -> tuple[int, float]:
    """The most sockets held with fan-out p95 under the limit, and that p95."""
    best, p95 = 0, math.nan
    for step in section.get("systems", {}).get("app", {}).get("steps", []):
        value = _med([e["p95"] for e in step["events"]])
        if value <= section["p95_limit_ms"] and step["open"] >= 0.99 * step["target"]:
            best, p95 = step["open"], value
    return best, p95


# --- scale-out ------------------------------------------------------------------------------------------


def scaleout_lines(section: dict) -> list[str]:
    lines = ["## 6. Scale-out: two app instances", ""]
    if not section or "error" in section:
        return lines + not_run(section)
    lines += header(section)
    lines += [
        f"The same fan-out to N = {section['n']:,} sockets (one online partner, JWT), events sent one at a "
        "time by the producer (`group_send` to `partners` through the pub/sub layer), first with every "
        "socket on one app instance, then with half of them moved to a second instance on the same SQLite file "
        f"and the same Redis. {section['events']} measured events each (after one warm-up); p50 / p95 / max "
        "over all N sockets, min / **median** / max over the events. Baseline: one instance.",
        "",
        "| deployment | p50 (ms) | p95 (ms) | max (ms) | p95 ÷ one instance | lost / dup |",
        "|---|---|---|---|---|---|",
    ]
    one95 = _med([r["p95"] for r in section["one"]])
    for key, label in (("one", "one instance, N sockets"), ("two", "two instances, N/2 sockets each")):
        rows = section[key]
        lines.append(
            f"| {label} | {_mmm([r['p50'] for r in rows], 0)} | {_mmm([r['p95'] for r in rows], 0)} "
            f"| {_mmm([r['max'] for r in rows], 0)} | {_x(ratio(_med([r['p95'] for r in rows]), one95))} "
            f"| {sum(r['lost'] for r in rows)} / {sum(r['duplicates'] for r in rows)} |"
        )
    lines += [
        "",
        "On this 2-core machine the second process gets the second core only as far as the client, "
        "Redis and the producer leave it free; on separate machines (deploy/) the split is cleaner.",
        "",
    ]
    if section.get("app_errors"):
        lines += [f"**The app logged errors:** `{describe_errors(section['app_errors'])}`", ""]
    return lines


# --- page speed ----------------------------------------------------------------------------------------


def pages_lines(section: dict, out_dir: Path) -> list[str]:
    lines = ["## 7. Page speed with a big store", ""]
    if not section or "error" in section:
        return lines + not_run(section)
    lines += header(section)
    store = section["store"]
    lines += [
        f"The store holds {store['orders']:,} orders and {store['products']:,} products, generated with "
        f"`bulk_create` by bench/pagedata.py on a copy of the seeded SQLite file ({section['fill_s']:.0f}s; "
        "not through the API). Each user logs in through the real login form (session cookie); each "
        f"page is fetched {section['requests']} times in a row, one at a time, and the median time from "
        f"request to the whole body is taken; {section['repeats']} repeats (min / **median** / max of "
        "that median). Baseline: `GET /healthz` on the same server, the same way.",
        "",
        "| page | user | median ms | ÷ /healthz | body (KiB) |",
        "|---|---|---|---|---|",
    ]
    health = _med(section["ms"]["healthz"])
    lines.append(f"| `/healthz` (baseline) | anonymous | {_mmm(section['ms']['healthz'])} | 1.00x | - |")
    for page in section["pages"]:
        values = section["ms"][page["name"]]
        lines.append(
            f"| {page['name']} `{page['path']}` | {page['user']} | {_mmm(values)} | {_x(ratio(_med(values), health))} "
            f"| {_num(section['bytes'].get(page['name'], 0) / 1024)} |"
        )
    lines.append("")
    try:
        plt = _plt()
        names = ["/healthz"] + [p["path"] for p in section["pages"]]
        stats = [spread(section["ms"]["healthz"])] + [spread(section["ms"][p["name"]]) for p in section["pages"]]
        fig, ax = plt.subplots(figsize=(7, 4))
        meds = [s["median"] for s in stats]
        err = [[s["median"] - s["min"] for s in stats], [s["max"] - s["median"] for s in stats]]
        ax.bar(range(len(names)), meds, yerr=err, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_ylabel("median ms per request (bars: min-max of repeats)")
        ax.set_title(f"page speed, {store['orders']:,} orders / {store['products']:,} products")
        ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / "page_speed.png", dpi=100)
        plt.close(fig)
        lines += ["![page speed](page_speed.png)", ""]
    except Exception as exc:
        lines += [f"(plot failed: {exc})", ""]
    lines += [
        "The query count of each of these pages is held constant as rows grow by tests, not by this "
        "benchmark: orders/tests/test_pages.py (catalog, order detail), dispatch/tests/test_board.py, "
        "dispatch/tests/test_history.py, dispatch/tests/test_dashboard.py and "
        "dispatch/tests/test_page_queries.py (customer order list).",
        "",
    ]
    if section.get("app_errors"):
        lines += [f"**The app logged errors:** `{describe_errors(section['app_errors'])}`", ""]
    return lines


# --- before / after --------------------------------------------------------------------------------------


def before_after_lines(fanout: dict, fanout_median) -> list[str]:
    lines = ["## What we changed and what it bought", ""]
    if not fanout or "error" in fanout or "1000" not in {str(n) for n in fanout.get("ns", [])}:
        return [*lines, "Fan-out at N = 1000 was not measured in this run.", ""]
    lines += [
        "Changes since the first benchmark run (commit 7a58f95), in order:",
        "",
        "1. `OrdersConsumer` delivers layer events without Channels' per-message "
        "`close_old_connections()` (a `sync_to_async` hop onto the one sync thread, per socket, per event);",
        "2. `dispatch/payloads.py` serialises each audience's JSON frame once (`order_json_text`), "
        "not once per socket;",
        "3. settings: the core layer gets `socket_timeout: 15` (it lost consumers to redis-py's 5 s timeout);",
        "4. **uvicorn instead of daphne** (`quickcommerce/serve.py`): asyncio transports write a frame with "
        "one `send()`; Twisted registered and unregistered a writer (two `epoll_ctl`) per frame;",
        "5. **one layer channel per group per process** (`dispatch/hub.py`): the layer hands each group "
        "message to the process once, and the hub writes it to that group's local sockets in turn; "
        "before, every socket was its own layer channel, so each event was copied into one queue per "
        "socket and woke one task per socket, through Channels' `await_many_dispatch` (a new Task and "
        "an `asyncio.wait` per message per socket). A socket whose send has to wait (a slow client) "
        "queues its own later messages and holds up nobody (`OrdersConsumer.deliver`, tested in "
        "dispatch/tests/test_hub.py);",
        "6. the consumer hands each frame straight to the server's `send` (no Channels `send` layers, "
        "no ASGI wrapper around it), and builds each event's ASGI message once per audience, not once "
        "per socket (`dispatch.consumers.asgi_frames`).",
        "7. **the order's live messages are built and sent off the request** (`dispatch.publish.Publisher`): "
        "the request reads the order as committed and queues it; a worker thread builds the messages once "
        "the request has answered (the partners' board first, each sent as soon as it is built; the admins' "
        "blocks once per batch), the event loop sends them in commit order; the order is serialised once "
        "per event, not once per audience. Its before/after is section 8 (this table is the fan-out alone).",
        "",
        "The order's own cost, second pass (issue 21; before/after in section 8 and below, the profiles "
        "in 'Where the time goes'):",
        "",
        "8. **the Redis cache shares one connection pool per process** (`quickcommerce/cache.py`): Django "
        "keeps a cache instance per async context, so under ASGI every request built a client, a pool "
        "and a new connection (TCP, `HELLO`, `CLIENT` handshakes) for the order throttle;",
        "9. **the abuse limits decide in one atomic script on Redis** (`accounts.throttles.SLIDING_LOG`): "
        "DRF's sliding log, one round trip instead of a read and a write (and two requests at the same "
        "moment can no longer both pass);",
        "10. **a new order is not read back after its commit**: its one transaction wrote the order, its "
        "items and its first event, so the live event and the API's answer use those objects "
        "(`orders.selectors.order_as_written`): 9 → 6 queries per placement, pinned by "
        "orders/tests/test_place_order_cost.py;",
        "11. **one serialisation per change, one serializer per process** (`OrderSerializer.data_for`): "
        "the API's answer and the four audiences share it, and DRF no longer deep-copies every nested "
        "field for a new serializer each time;",
        "12. **the admins' dashboard blocks at most once a second** (`dispatch.publish.ADMIN_BLOCKS_SECONDS`): "
        "the counts, partners, timing and chart (8 queries and the partials, ~85% of an order's live "
        "build) went out with every order; now with a batch if they last went out a second ago, else on "
        "their own when the second is up (never later than that after the last change); each order's row "
        "still goes out at once. The publisher also builds a batch in two hops to its worker (the "
        "partners' board alone, then the rest), not one per message.",
        "13. third pass, small: `USE_I18N = False` (the site is English only and ships no "
        "translations; every number and date a template printed asked the translation machinery "
        "for its language: about 15% of rendering an event's fragments), each form's URL in the live "
        "partials reversed once, not twice (`{% url ... as %}`), and the Redis cache keeps one redis-py "
        "client per shared pool instead of building one per call (the order throttle built one per "
        "order). Tried and not kept, as nothing moved beyond this machine's noise: hiredis, "
        "`gc.freeze()` with a higher collection threshold, reusing request threads "
        "(asgiref's `ThreadSensitiveContext(executor=...)`), a shorter GIL switch interval, an "
        "in-process lock around SQLite's write transactions, and building the live messages in the "
        "request (slower: 2.4-2.6x against 2.1-2.2x).",
        "14. **the middleware chain runs sync** (`quickcommerce.middleware.SyncChain`, last in "
        "`MIDDLEWARE`): with WhiteNoise sync-only, Django ran the middleware inside it in async mode, "
        "and every `MiddlewareMixin` there hopped to the request's thread and back for "
        "`process_request` and `process_response` (15 hops per request; now 5). It is not the "
        "order's own cost: every request pays it, so it takes the same ~1 ms off the order and off "
        "the trivial view, and the order ÷ trivial ratios of section 4 grow (in a scratch A/B: the "
        "trivial view 4.5 → 3.3 ms, the order 9.4 → 8.4 ms at p50, server CPU per request 3.95 → "
        "3.05 and 8.95 → 8.10 ms).",
        "15. **a new order is HTML for none of its customer's pages** (`dispatch.publish.order_messages`): "
        "the customer's status section and list row replace their element by id, and no page holds a "
        "new order's (a page loaded after the commit shows it from the store), so they are rendered from "
        "the order's first change on; the customer's API clients still get `new_order`. That was 40% "
        "of a new order's build: the publisher's thread went from 3.0-3.3 to 2.5 ms of CPU per order "
        "(bench/cpu_split.py, 'Where the time goes'). And `place_order` looks its products up without "
        "the model's `ORDER BY name` (a dict by id).",
        "16. **the dashboard's counts read no row per open order** (`dispatch.selectors.live_numbers`, "
        "`partners_overview`): the late count and the oldest open order came from every open order's row,"
        " and each partner's deliveries today from every delivery's; both are now grouped aggregates "
        "(`Count`, with a filter, and `Min`), a row per status or partner. The admins' blocks are built "
        "once a second while orders flow (change 12), and every order this benchmark places stays open, "
        "so they grew through each run: in-process on one machine, `live_numbers()` took 2.9, 13.7, 25.0 "
        "and 64.6 ms with 22, 992, 2,992 and 5,992 open orders, and now 2.9, 5.3, 6.2 and 12.2 ms; the "
        "whole blocks 23.6/40.3/81.2/145.2 → 25.3/34.4/52.1/86.3 ms. The chart still reads a row per "
        "order of its three hours (the reason is in `dispatch.selectors.orders_per_bucket`), and the "
        "medians one per order accepted or delivered today. On section 4 it moved nothing beyond the "
        "noise of a slow host (the trivial view 13-17 ms at p50; two pairs of throughput sections, the "
        "trees before and after alternating; orders/s ÷ the trivial view's at 1, 4 and 16 clients: "
        "0.52/0.43/0.42 and 0.56/0.44/0.47 before, 0.54/0.44/0.52 and 0.52/0.43/0.44 after): there the "
        "blocks are built once for about 35 orders, so even at the section's last 1,800 open orders the "
        "saving is about 12 ms a build, 0.35 ms of an order's ~27 ms of CPU.",
        "",
        "| the order's cost (CPU: bench/profile_request.py, one run each) | before (e994e84) | after |",
        "|---|---|---|",
        *SECOND_PASS_ROWS,
        "",
        "Fan-out to N = 1000 sockets, from the Redis hand-off (ms, median of the events). The earlier "
        "runs read the app and baseline (a) with Python clients in the benchmark's own process, whose "
        "draining of 1,000 sockets was part of every figure; since change 5 every system is read by the "
        "same Node client (section 1), so compare each system with the baselines of its own run:",
        "",
        "| system | first run p50 / p95 | last daphne run p50 / p95 | this run p50 / p95 "
        "| this run p95 ÷ (a) | this run p95 ÷ (b) |",
        "|---|---|---|---|---|---|",
    ]
    a95 = fanout_median(fanout, "websockets", 1000, "from_handoff", "p95")
    b95 = fanout_median(fanout, "socketio", 1000, "from_handoff", "p95")
    for system in ("pubsub", "core", "websockets", "socketio"):
        p50 = fanout_median(fanout, system, 1000, "from_handoff", "p50")
        p95 = fanout_median(fanout, system, 1000, "from_handoff", "p95")
        lines.append(
            f"| {system} | {_num(FIRST_N1000['p50'][system])} / {_num(FIRST_N1000['p95'][system])} "
            f"| {_num(DAPHNE_N1000['p50'][system])} / {_num(DAPHNE_N1000['p95'][system])} "
            f"| {_num(p50)} / {_num(p95)} | {_x(ratio(p95, a95))} | {_x(ratio(p95, b95))} |"
        )
    lines += [
        "",
        "Measured by hand between the steps (same day, quiet machine, 1,000 sockets, the old Python "
        "clients, p95 from hand-off, medians of 5 events): daphne 80 ms; with a cheaper consumer loop "
        "65 ms; under uvicorn 32 ms; uvicorn with the hub 33 ms — at that point the Python client "
        "draining 1,000 sockets was the limit (the bare relay read by it: 22-24 ms), which is why the "
        "clients moved to Node. Under a steady event stream, where the client is not the limit, the hub's "
        "gain shows in section 2.",
        "",
        "How steady these comparisons are: p95 at N = 1000, ours ÷ Socket.io's, in the fan-out runs "
        "of the same day with the Node client — after change 6, five runs: 0.77x, 0.81x, 0.83x, 0.87x, "
        "0.94x; before it (the hub with Channels' `send`, then a direct `send` with a new message per "
        "socket), eight runs from 0.76x to 1.26x. Ours ÷ the bare relay's in the two full runs after "
        "change 6: 1.31x and 0.95x. Socket.io's own p95 moved between 18 and 38 ms from run to run, "
        "the relay's between 13 and 17 ms, ours between 16 and 29 ms: at this size the three are "
        "close, and ours has been below Socket.io's in every run since change 6.",
        "",
    ]
    return lines


# The second pass's before/after beyond section 8: bench/profile_request.py (py-spy, no
# sockets, 300 orders at 1 client then 300 trivial requests; CPU samples, ms per order)
# and the store's cost per placement (orders/tests/test_place_order_cost.py).
SECOND_PASS_ROWS: list[str] = [
    "| queries per placement in the request (SQLite) | 9 | 6 |",
    "| write transactions per placement | 2 | 2 |",
    "| Redis connections opened per order (the throttle) | 1 | 0 (one pool per process) |",
    "| Redis round trips per order for the throttle | 2 (+ the connect's handshakes) | 1 |",
    "| serialisations of the order per placement (answer + 4 audiences) | 2 | 1 |",
    "| CPU per order in the order throttle, py-spy (ms) | 4.47 | 1.17 |",
    "| ... in the view, `OrderListCreateApi.post` (ms) | 5.09 | 2.05 |",
    "| ... building the live messages after the answer, `Publisher._messages` (ms) | 12.39 | 1.08 |",
]


# The spread of the second pass's runs (throughput and scratch runs, each one server, in one afternoon).
SECOND_PASS_SPREAD = (
    "2.17x-2.35x in four runs with the final code (two throughput sections, two scratch runs of "
    "the same bursts), orders/s ÷ trivial 0.42x-0.48x at 1 client, 0.48x-0.49x at 4 and "
    "0.51x-0.64x at 16; two runs of an earlier step (before the throttle's script) gave 2.02x and "
    "1.92x, 0.50x and 0.57x at 1 client; the order's own p50 stayed at 9.4-9.7 ms in the three "
    "quietest runs while the trivial view's moved between 4.0 and 4.3 ms. End to end ÷ Socket.io: "
    "0.87x and 1.41x in the two fan-out runs with the final code, 1.12x in the earlier step's; "
    "1,000 ÷ 10 sockets 1.06x, 1.05x and 1.02x"
)


# --- the goals ----------------------------------------------------------------------------------------------


def goals_lines(results: dict, fanout_median) -> list[str]:
    if results.get("rate"):
        _fix_delivered(results["rate"])
    lines = ["## Goals", "", "| goal | measured | met? |", "|---|---|---|"]

    def row(goal, measured, ok):
        verdict = "not measured" if ok is None else ("**yes**" if ok else "**no**")
        lines.append(f"| {goal} | {measured} | {verdict} |")

    fanout = results.get("fanout")
    if fanout and "error" not in fanout and 1000 in fanout.get("ns", []):
        p95 = fanout_median(fanout, "pubsub", 1000, "from_handoff", "p95")
        a = fanout_median(fanout, "websockets", 1000, "from_handoff", "p95")
        b = fanout_median(fanout, "socketio", 1000, "from_handoff", "p95")
        row("fan-out to 1,000 sockets: p95 within 3x of the bare Python relay (a)",
            f"p95 {_num(p95)} ms vs {_num(a)} ms: {_x(ratio(p95, a))}", p95 <= 3 * a)  # fmt: skip
        row("... and no worse than the Socket.io design (b)",
            f"p95 {_num(p95)} ms vs {_num(b)} ms: {_x(ratio(p95, b))}", p95 <= b)  # fmt: skip
    else:
        row("fan-out p95 at N = 1000 within 3x of (a), no worse than (b)", "-", None)
    rate = results.get("rate")
    if rate and "error" not in rate and "app" in rate.get("systems", {}):
        mine = rate_best(rate, "app")["delivered"]
        b = rate_best(rate, "socketio")["delivered"]
        first = (rate["systems"]["app"].get("ramp") or [{}])[0]
        if rate_best(rate, "app")["rate"] is None and first:
            row("fan-out throughput at least half of Socket.io's",
                f"under the bar at no rate tried (p99 {_num(first.get('p99'), 0)} ms already at "
                f"{first.get('rate')} event/s) vs {_num(b, 0)} msg/s for (b)", False)  # fmt: skip
        else:
            row("fan-out throughput at least half of Socket.io's",
                f"{_num(mine, 0)} vs {_num(b, 0)} msg/s: {_x(ratio(mine, b))}",
                None if math.isnan(mine) or math.isnan(b) else mine >= b / 2)  # fmt: skip
        app = rate["systems"]["app"]
        row("zero lost, zero duplicated (our app, every step of the rate ramp)",
            f"{app.get('lost', '-')} lost, {app.get('duplicates', '-')} duplicated of "
            f"{app.get('events', 0) * rate['n']:,} deliveries",
            app.get("lost") == 0 and app.get("duplicates") == 0)  # fmt: skip
    else:
        row("fan-out throughput at least half of Socket.io's; zero lost / duplicated", "-", None)
    conns = results.get("connections")
    if conns and "error" not in conns:
        held, p95 = connections_max(conns)
        row(">= 5,000 idle sockets per app process (fan-out p95 under 1 s)",
            f"{held:,} sockets held with p95 {_num(p95, 0)} ms", held >= 5000)  # fmt: skip
    else:
        row(">= 5,000 idle sockets per app process", "-", None)
    order_path_goal_rows(results, fanout_median, row)
    location_goal_row(results, row)
    lines.append("")
    return lines


# --- profiling findings (written by hand from py-spy / cProfile runs; see the text) ----------------------

# bench/cpu_split.py (by hand, not part of `make bench`): where the order's CPU goes by thread,
# and what that says about issue 21's two open rows. Two runs at 1 client, 2026-11-30.
CPU_SPLIT: list[str] = [
    "**What is left, by thread (bench/cpu_split.py).** `python -m bench.cpu_split` (by hand: no "
    "profiler, each thread's CPU read from `/proc` after each block; 6 blocks of 100 orders and 6 of "
    "100 `GET /api/auth/me/`, alternating, one app server, no sockets), later the same day on a "
    "slower host (an Intel Xeon at 2.1 GHz, against the AMD EPYC of this document's run: the trivial "
    "view 7-10 ms of CPU per request, against about 3 ms). Django runs each "
    "request's sync code on a thread of its own, gone when the request ends; the loop is the main "
    "thread; the live publisher's is the only other thread that lives on. ms of CPU per request at "
    "1 client, two runs each, before change 15 (commit e1fc45e) and after (this tree):",
    "",
    "| CPU per request (ms) | order before | order after | trivial view | order - trivial, after |",
    "|---|---|---|---|---|",
    "| the request's own thread | 10.1 / 11.1 | 12.2 / 12.1 | 4.3-5.7 | 6.7 / 6.4 |",
    "| the event loop | 4.2 / 4.5 | 5.0 / 5.0 | 2.4-3.4 | 1.6 / 1.7 |",
    "| the live publisher's thread | 3.0 / 3.3 | 2.5 / 2.5 | 0.1 | 2.3 / 2.4 |",
    "| all: order ÷ trivial | 2.55x / 2.50x | 2.18x / 2.15x | - | - |",
    "",
    "At 16 clients: 2.35x before, 2.22x after. (The milliseconds moved with the machine between the "
    "runs; the ratios are within each run.) Side by side in one scratch A/B (two servers, blocks "
    "alternating, change 15 switched by a temporary flag): order ÷ trivial at p50 2.08x → 1.98x and "
    "2.26x → 1.90x at 1 client, in CPU 2.34x → 2.23x and 2.49x → 2.16x; at 16 clients orders/s ÷ the "
    "trivial view's 0.40x → 0.43x. **What this says about the goal rows** (p50 <= 2x at 1 client; "
    "orders/s >= 0.5x at 1, 4 and 16 clients): at 1 client a request waits for the CPU of the one "
    "before it (one GIL: the last order's live build runs while the next request arrives), so the p50 "
    "ratio follows the CPU ratio. With the live messages switched off altogether (a scratch A/B before "
    "change 15, same method), the order was 1.84x-2.07x the trivial view at p50 in four runs "
    "(1.87x-2.06x in CPU), and 0.53x and 0.52x of its requests/s at 4 and 16 clients. So the request "
    "without its publish sits at the 2x line: it is the ORM's work for 6 queries and 2 commits, DRF's "
    "validation and one serialisation (cProfile of `place_order` on the file database: the project's "
    "own code in it is under 5%), and the live path on top (the partners' card, the admins' row, "
    "three JSON frames, and the loop sending them) now costs about 0.25-0.35 of a trivial request. "
    "Two ways would take that to nothing and were not taken: building the messages in another process "
    "(the figure would no longer be one process's), and building only for groups with a socket "
    "listening (these sections have none, so they would stop measuring the work people see). Tried "
    "and not kept: one hop to the publisher's worker per batch instead of two (0.1x better at p50 in "
    "two pairs, not in CPU, and the partners' board would wait for the other messages), and an "
    "in-process lock around the order's writes (SQLite's busy handler sleeps instead of waiting on "
    "the lock): 46 orders/s at 16 clients with and without.",
    "",
    "A full `make bench` of this tree on that slower host (the trivial view 9.6 ms at p50 "
    "and 102 req/s at 1 client, against 3.3 ms and 297 req/s in this document's run), is not this "
    "document's: its baselines suffered as much (Socket.io's rate ramp stopped at 1 event/s, p50 58 "
    "ms, so the fan-out throughput row went unmeasured; one process forwarded 100 location updates/s "
    "of 200). Its issue-21 rows: order ÷ trivial 2.01x at 1 client (19.3 vs 9.6 ms), 1,000 ÷ 10 "
    "sockets 1.09x, end to end ÷ Socket.io 1.52x (57.2 vs 37.7 ms), orders/s ÷ the trivial view's "
    "0.48x / 0.46x / 0.41x at 1 / 4 / 16 clients, 48.7 → 53.7 → 49.9 orders/s.",
    "",
    "Sections 1 and 4 of the tree after change 16 (`python -m bench.run --only fanout --only "
    "throughput`), on a slower host still (25 µs per `sum(range(1000))` against this document's "
    "figure; the trivial view 14.3 ms at p50 and 68 req/s at 1 client): order ÷ trivial 1.66x at 1 "
    "client (23.8 vs 14.3 ms), 1,000 ÷ 10 sockets 0.87x, end to end ÷ Socket.io 1.35x (72.0 vs 53.3 "
    "ms), orders/s ÷ the trivial view's 0.60x / 0.41x / 0.51x at 1 / 4 / 16 clients, 41.1 → 33.6 → "
    "34.4 orders/s. Three of the four rows met; the fourth missed at 4 clients, where the process is "
    "CPU-bound (one GIL) and the ratio is the trivial view's CPU over the order's: 2.19x at 1 client "
    "by bench/cpu_split.py on this host (order 25.7 ms: its request thread 15.5, the loop 6.6, the "
    "publisher 3.6; the trivial view 11.7 ms). Getting to 2x needs about 2.5 ms of an order's CPU "
    "gone, and no change left is worth more than a fifth of that: the three PUBLISHes in one round "
    "trip (channels-redis has no call for it), a faster template engine for the partners' card and "
    "the admins' row (80% of an order's own messages), fewer ORM steps than 6 queries and 4 model "
    "instances for the same writes (raw SQL, not the same on both stores).",
    "",
]


FINDINGS: list[str] = [
    "**The order request (sections 8-9).** Before the change, py-spy (bench/profile.py, the "
    "profile section, on the tree of commit 3d213cb: 1,000 partner sockets open, 150 orders one "
    "at a time then 150 from 4 clients; 40,931 samples) put 20% of all samples in "
    "`threading.Condition.wait` on the thread that runs every sync view: `dispatch.publish.send`'s "
    "`async_to_sync(group_send)` waiting for the event loop, which was busy writing the previous "
    "event to 1,000 sockets (`Hub._receive` 11.8%, socket writes 9.5%). Building the messages in "
    "the request was another 11.6% (`order_messages`: the admins' live blocks 4.9%, the "
    "serializer for four audiences 5.2%, rendering the partials); all of `publish` was 20.2% "
    "against 25.8% for the whole `OrderListCreateApi.post`. The store was not the cost: every "
    "`execute_sql` together 13.7% (including the sockets' snapshots), the two write "
    "transactions of an order a small part of it (WAL, `synchronous=NORMAL`: no fsync per "
    "commit); the order throttle 3.8%; a new SQLite connection per request 2.2% (`CONN_MAX_AGE` "
    "0, shared by every view, left alone). So the request now reads the order as committed and "
    "queues it; `dispatch.publish.Publisher` builds the messages on a thread of its own once "
    "the request has answered, and sends them from the loop in commit order (several queued "
    "changes in one build, the admins' blocks rendered once), and the order is serialised once "
    "per event, each audience getting a copy cut by `OrderSerializer.visible_to` (DRF built four "
    "serializers per event, `Field.__init__`/`__deepcopy__` among the top self-time entries). The "
    "profile of this run is section 9: what is left of the order in the request is "
    "`OrderListCreateApi.post`; the messages' build runs under `Publisher._messages`. An idle-"
    "inclusive py-spy of 60 orders at 1 client (no sockets) then showed two more costs, both "
    "fixed: the order was read back twice after the commit (once for the live event, once for "
    "the API's answer: now once, `order.as_committed`), and closing each request's SQLite "
    "connection was the last close of the file, which checkpoints the WAL with an fsync "
    "(159 samples in `DatabaseWrapper.close` after the requests, against 264 in the order's view "
    "itself; the publisher's thread now keeps its connection open: 14 after). What was left in the "
    "request then: the order's own queries and serialisation, and the order throttle, which opened a "
    "Redis connection per request (Django's cache client lives in the request's context under ASGI).",
    "",
    "**The second pass (changes 8-12).** bench/profile_request.py (section 9, 'The order request "
    "alone') on commit e994e84, 1 client, no sockets: per order, 4.5 ms of CPU in the order throttle "
    "(two thirds of it connecting to Redis: a pool per request; then a GET and a SET), 5.1 ms in the "
    "view (of it 3.2 ms in `_create_order`, most of that the read-back of the order after the commit: "
    "3 queries and the ORM's compiling), and 12.4 ms on the publisher's thread after the answer, 10.7 "
    "ms of it the admins' dashboard blocks. At 1 client that build runs while the next order is "
    "served, on the same GIL: in a scratch run with the throttle and read-back already fixed, the "
    "trivial view took 17 ms when each request followed an order, 4-6 ms on its own. "
    "Each of the five changes removes one of these; what remains per order is the "
    "ORM's own work for 6 queries (in_bulk, the stock UPDATE, three INSERTs), DRF's input "
    "validation, one serialisation, one Redis round trip, and ~1 ms of live build (the customer's and "
    "partners' partials). Checked and left alone: **a new SQLite connection per request** "
    "(`get_new_connection` + `_close`, ~2% of the samples, the trivial view pays it too): under "
    "Django's ASGI handler every request runs on a thread of its own (a `ThreadSensitiveContext` per "
    "request; not one shared thread, as this page said before), so `CONN_MAX_AGE` would leave a "
    "connection behind in every finished thread; Django has no SQLite pool. **The two write "
    "transactions**: WAL with `synchronous=NORMAL`, a commit is a write to the log with no fsync "
    "(`Atomic.__exit__`'s commit: 0.2 ms per order under py-spy); durability unchanged "
    "(docs/stores.md). **The sync/async bridge** (the second pass got this wrong): WhiteNoise is "
    "sync-only, and Django ran the middleware below it in async mode, so every `MiddlewareMixin` "
    "there hopped to the request's thread and back for its `process_request` and "
    "`process_response`: 15 hops per request, not two. Since change 14 the chain runs sync "
    "(`quickcommerce.middleware.SyncChain`, last in `MIDDLEWARE`): 5 hops (the request_started "
    "signal, the chain, CSRF's `process_view`, the view, the response's close), pinned by "
    "quickcommerce/tests/test_middleware_chain.py. The order's hot path could not skip the bridge "
    "by being async (each ORM call would be a hop of its own). **`is_partner_online`** is not on "
    "the order's path (it is in the profile with sockets: each socket's connect).",
    "",
    *CPU_SPLIT,
    "**How steady the goal verdicts are.** Two runs of sections 1 and 4 with the publisher, the "
    "same afternoon on the shared machine: the first (before the single read and the kept "
    "connection) gave order ÷ trivial 5.61x, 1,000 ÷ 10 sockets 0.61x, end to end ÷ Socket.io "
    "0.72x, orders/s ÷ trivial 0.21x / 0.26x / 0.43x at 1 / 4 / 16 clients; the second (this "
    "document's before the second pass) 3.14x, 1.22x, 1.82x and 0.34x / 0.32x / 0.54x. "
    "Socket.io's own p95 at N = 1,000 "
    "was 100 ms in the first and 56 ms in the second: under that load the end-to-end ratio "
    "moves with the baseline as much as with us. After the second pass, on the same shared machine "
    "(another engineer's test suite running; load average 1.5-4.7), the same runs moved as much: "
    "order ÷ trivial at 1 client "
    + SECOND_PASS_SPREAD
    + ". The goals at the edge (p50 <= 2x, orders/s >= 0.5x at 1 client) are met in some runs and "
    "missed in others: read them as not met.",
    "",
    "Profiled by hand on this machine (not part of `make bench`) with py-spy 0.4 "
    "(`py-spy record -r 250 -f raw -p <pid>`) on the app holding 1,000 partner sockets while the "
    "producer sent events to the `partners` group, and cProfile of the dashboard view in one process.",
    "",
    "- **Fan-out now (sections 1-3, 6): the socket writes themselves.** At 40 events/s to 1,000 "
    "sockets (40,000 frames/s; p50 9 ms, p99 31 ms in that run), 52% of the server's samples are "
    "asyncio's `_SelectorSocketTransport.write`, i.e. the `send()` system call per frame, which "
    "every system pays; the per-socket Python on the way there (Channels' consumer `send`, an ASGI "
    "wrapper of ours, uvicorn's sans-I/O `send`, websockets' framing) was ~15%, and the hub and "
    "channels-redis, once per event, under 3%. Since then the consumer hands the frame straight to "
    "the server's `send` and the wrapper is gone (the consumer's `connect` already turns a Redis "
    "failure into 4503), two coroutine layers fewer per socket per event.",
    "- **How it got there (the fixes in 'What we changed').** Under daphne, ~28% of the samples were "
    "the per-frame write path of Twisted's asyncio reactor: `loop.add_writer` per frame (20%, 14% "
    "self time in `_ensure_fd_no_transport`) and `doWrite`/`removeWriter` on the next loop turn "
    "(~13%): two `epoll_ctl` calls and a loop callback per socket per event. The same app under "
    "uvicorn, before the hub, spent about a third of its samples delivering through the layer per "
    "socket: Channels' `await_many_dispatch` creates a Task and runs `asyncio.wait` for every message "
    "of every consumer (~28%), channels-redis' per-call `_get_layer` proxy (~8%), and a queue wake-up "
    "per socket (~15% in `Queue.put_nowait`/`call_soon`). One layer channel per group per process "
    "(`dispatch/hub.py`) removed all three.",
    "- **Connections (section 3).** Handshakes under a burst of connects: the listen backlog is "
    "1,024 (`quickcommerce/serve.py`; under daphne's default of 50 a few handshakes were reset). "
    "Memory: ~26 KiB per idle socket vs ~13 KiB in the bare relay (a consumer instance and its ASGI "
    "task, uvicorn's protocol object with websockets' state, the transport); under daphne it was "
    "~37 KiB. 5,000 sockets are ~130 MiB: memory is not the limit.",
    "- **Dashboard (section 7).** cProfile of `/dashboard/` with 10,000 orders created today: "
    "`live_numbers()` and `orders_chart()` loaded every order of the day and counted in Python, "
    "36% of the time in SQLite datetime conversion. They now count in the database (grouped by "
    "status) and load only the rows the medians need; `.order_by()` drops the model's default "
    "ordering from those queries. The query count stays constant "
    "(dispatch/tests/test_dashboard.py guards it). That was not all: the open orders (for the "
    "late count and the oldest) and the partners' deliveries today were still read a row each "
    "until change 16. The chart still reads a row per order of its three hours (why: "
    "`dispatch.selectors.orders_per_bucket`).",
]


def findings_lines(results: dict) -> list[str]:
    if not FINDINGS:
        return []
    return ["## Where the time goes (profiles)", "", *FINDINGS, ""]


# --- the order's whole path: request, end to end, orders/s (issue 21) ---------------------------------------

# The "before" columns of the order path's table: the same figures, measured by this harness
# on earlier trees, each on the same (shared, busy) machine: (1) before the live messages moved
# off the request (commit 3d213cb), one run of `--only fanout,throughput,profile
# --fanout-systems pubsub,socketio --fanout-ns 10,1000`; (2) before the second pass on the
# order's cost (commit e994e84: the throttle's pooled Redis and one-round-trip script, the new
# order not read back, one serialisation, the admins' blocks at most once a second), one run of
# `--only fanout,throughput,profile` minutes before this document's. Fixed: that code is no
# longer in the tree.
BEFORE_ORDER_PATH: list[tuple[str, dict]] = [
    (
        "before the publisher (3d213cb)",
        {
            "request_p50": 89.49,
            "trivial_p50": 10.89,
            "request_10": 36.49,
            "request_1000": 102.39,
            "e2e_p95": 92.28,
            "socketio_p95": 144.35,
            "rates": {1: (9.65, 70.50), 4: (19.70, 89.92), 16: (21.93, 113.39)},
        },
    ),
    (
        "before the second pass (e994e84)",
        {
            "request_p50": 25.23,
            "trivial_p50": 7.37,
            "request_10": 14.79,
            "request_1000": 15.43,
            "e2e_p95": 44.90,
            "socketio_p95": 26.95,
            "rates": {1: (37.38, 133.26), 4: (50.97, 124.42), 16: (56.18, 126.34)},
        },
    ),
]


def order_path_figures(results: dict, fanout_median) -> dict:
    """The issue-21 goal figures of this run (NaN where a section was not measured)."""
    nan = math.nan
    out = {"request_p50": nan, "trivial_p50": nan, "request_10": nan, "request_1000": nan}
    out.update({"e2e_p95": nan, "socketio_p95": nan, "rates": {}})
    throughput = results.get("throughput")
    if throughput and "error" not in throughput:
        first = throughput["by_level"].get("1", [])
        out["request_p50"] = _med([r.get("orders_p50_ms", nan) for r in first])
        out["trivial_p50"] = _med([r.get("baseline_p50_ms", nan) for r in first])
        for level in throughput["levels"]:
            rows = throughput["by_level"].get(str(level), [])
            out["rates"][level] = (_med([r["orders_per_s"] for r in rows]), _med([r["baseline_per_s"] for r in rows]))
    fanout = results.get("fanout")
    if fanout and "error" not in fanout:
        for n in (10, 1000):
            data = fanout["systems"].get("pubsub", {}).get("by_n", {}).get(str(n))
            if data:
                out[f"request_{n}"] = _med([r["trigger_ms"] for r in data["repeats"]])
        out["e2e_p95"] = fanout_median(fanout, "pubsub", 1000, "from_start", "p95")
        out["socketio_p95"] = fanout_median(fanout, "socketio", 1000, "from_start", "p95")
    return out


def _order_path_rows(f: dict) -> list[tuple[str, str, float]]:
    rows = [
        ("`POST /api/orders/` p50 at 1 client (ms)", _num(f["request_p50"]), f["request_p50"]),
        ("trivial DRF view `GET /api/auth/me/` p50 at 1 client (ms)", _num(f["trivial_p50"]), f["trivial_p50"]),
        (
            "... order ÷ trivial",
            _x(ratio(f["request_p50"], f["trivial_p50"])),
            ratio(f["request_p50"], f["trivial_p50"]),
        ),
        ("`POST /api/orders/` median with 10 sockets open (ms)", _num(f["request_10"]), f["request_10"]),
        ("... with 1,000 sockets open (ms)", _num(f["request_1000"]), f["request_1000"]),
        ("... 1,000 ÷ 10", _x(ratio(f["request_1000"], f["request_10"])), ratio(f["request_1000"], f["request_10"])),
        (
            "end to end at N = 1,000: request start → `new_order` at every socket, p95 (ms)",
            _num(f["e2e_p95"]),
            f["e2e_p95"],
        ),
        ("Socket.io at N = 1,000: publish → receipt, p95 (ms)", _num(f["socketio_p95"]), f["socketio_p95"]),
        ("... ours ÷ Socket.io", _x(ratio(f["e2e_p95"], f["socketio_p95"])), ratio(f["e2e_p95"], f["socketio_p95"])),
    ]
    for level, (orders, base) in sorted(f["rates"].items()):
        rows.append(
            (
                f"orders/s at {level} client(s) (÷ trivial view's req/s)",
                f"{_num(orders)} ({_x(ratio(orders, base))})",
                orders,
            )
        )
    return rows


def order_path_lines(results: dict, fanout_median) -> list[str]:
    f = order_path_figures(results, fanout_median)
    lines = [
        "## 8. The order's whole path",
        "",
        "From just before `POST /api/orders/` to the order's `new_order` at every socket, and what "
        "the request itself costs, gathered from sections 1 and 4 of this run (the request's own time "
        "with N sockets open is section 1's \"request\" column; the p50s at 1 client are section 4's). "
        "Before: the same harness on the tree before the live messages moved off the request "
        "(`dispatch.publish.Publisher`), and on the tree before the second pass on the order's own "
        "cost ('What we changed', 8-12), each one run on the same machine the same day. Compare "
        "ratios, not milliseconds: the machine is shared and its load moves every figure.",
        "",
        "| figure | " + " | ".join(name for name, _ in BEFORE_ORDER_PATH) + " | this run |",
        "|---|" + "---|" * len(BEFORE_ORDER_PATH) + "---|",
    ]
    befores = [{label: text for label, text, _ in _order_path_rows(figures)} for _, figures in BEFORE_ORDER_PATH]
    for label, text, _ in _order_path_rows(f):
        lines.append(f"| {label} | " + " | ".join(before.get(label, "-") for before in befores) + f" | {text} |")
    lines.append("")
    return lines


def _at_most(value: float, limit: float):
    return None if math.isnan(value) else value <= limit


def order_path_goal_rows(results: dict, fanout_median, row) -> None:
    f = order_path_figures(results, fanout_median)
    r = ratio(f["request_p50"], f["trivial_p50"])
    row(
        "`POST /api/orders/` p50 (with its live publish) <= 2x the trivial DRF view, 1 client",
        f"{_num(f['request_p50'])} ms vs {_num(f['trivial_p50'])} ms: {_x(r)}",
        _at_most(r, 2),
    )
    r = ratio(f["request_1000"], f["request_10"])
    row(
        "... and <= 1.3x slower with 1,000 sockets open than with 10",
        f"{_num(f['request_1000'])} ms vs {_num(f['request_10'])} ms: {_x(r)}",
        _at_most(r, 1.3),
    )
    r = ratio(f["e2e_p95"], f["socketio_p95"])
    row(
        "end to end, N = 1,000 (request start → `new_order` at every socket): "
        "p95 <= 1.5x Socket.io's publish → receipt",
        f"{_num(f['e2e_p95'])} ms vs {_num(f['socketio_p95'])} ms: {_x(r)}",
        _at_most(r, 1.5),
    )
    rates = f["rates"]
    if not rates:
        row("orders/s >= 0.5x the trivial view's req/s at 1, 4, 16 clients; not falling", "-", None)
        return
    ratios = {level: ratio(o, b) for level, (o, b) in sorted(rates.items())}
    orders = [o for _, (o, _) in sorted(rates.items())]
    row(
        "orders/s on one process >= 0.5x the trivial view's req/s at 1, 4 and 16 clients",
        ", ".join(f"{level}: {_x(x)}" for level, x in ratios.items()),
        all(x >= 0.5 for x in ratios.values()),
    )
    row(
        "... and orders/s does not fall as clients are added (each level >= 0.95x the one before: run noise)",
        " → ".join(_num(o) for o in orders) + " orders/s",
        all(later >= 0.95 * earlier for earlier, later in itertools.pairwise(orders)),
    )


# --- the profile section (bench/profile.py) ----------------------------------------------------------------

PROFILE_TOP = 20
_PROJECT = ("accounts/", "orders/", "dispatch/", "quickcommerce/")


def profile_lines(section: dict) -> list[str]:
    lines = ["## 9. Profile of the order path", ""]
    if not section or "error" in section:
        return [*lines, *not_run(section)]
    samples = section["samples"] or 1
    lines += header(section)
    lines += [
        f"py-spy (`py-spy record --rate {section['rate']} --format raw`, bench/profile.py) on the app "
        f"server while it holds {section['sockets']:,} sockets of one online partner (the Node client) "
        f"and {section['orders']} orders are placed one at a time through `POST /api/orders/`, then "
        f"{section['orders']} more from 4 clients; the pub/sub layer. {section['samples']:,} samples "
        "(idle threads not sampled; the sockets' connects, each with its snapshot, are in it too). "
        "Inclusive: the share of samples with the function anywhere on the stack; the project's own "
        "functions, and the frames they wait in.",
        "",
        "| inclusive | function (project code) |",
        "|---|---|",
    ]
    shown = 0
    for name, count in section["inclusive"]:
        where = name.rsplit("(", 1)[-1]
        if where.startswith(_PROJECT) and "serve.py" not in where:
            lines.append(f"| {100 * count / samples:.1f}% | `{name}` |")
            shown += 1
            if shown >= PROFILE_TOP:
                break
    lines += ["", "| on top of the stack | function |", "|---|---|"]
    for name, count in section["exclusive"][:12]:
        lines.append(f"| {100 * count / samples:.1f}% | `{name}` |")
    lines.append("")
    if section.get("app_errors"):
        lines += [f"**The app logged errors while profiled:** `{describe_errors(section['app_errors'])}`", ""]
    return [*lines, *REQUEST_PROFILE]


# bench/profile_request.py (by hand, not part of `make bench`): the order request without
# sockets, before and after the second pass, one run each minutes apart on the shared machine.
REQUEST_PROFILE: list[str] = [
    "### The order request alone, before and after the second pass",
    "",
    "`python -m bench.profile_request` (py-spy at 250 Hz, CPU samples, on the app server with no "
    "sockets open): 300 orders one at a time, then 300 `GET /api/auth/me/`; each figure is the samples "
    "under that frame x 4 ms / 300 orders, so ms of CPU per order (the trivial requests' own "
    "authentication is in `APIView.initial` too, and the two token logins' password hashing in "
    "`APIView.dispatch`). Before: the tree of commit e994e84; after: this tree. The p50s are under "
    "py-spy.",
    "",
    "| ms per order | before | after |",
    "|---|---|---|",
    "| p50 under py-spy: order / trivial view | 29.2 / 5.1 | 11.4 / 5.1 |",
    "| `APIView.dispatch` (orders, trivial requests, 2 logins) | 13.12 | 5.87 |",
    "| `APIView.initial` | 6.03 | 1.73 |",
    "| ... `ThrottleMessageMixin.check_throttles` (the order throttle) | 4.47 | 1.17 |",
    "| ... `APIView.perform_authentication` (JWT, both views) | 1.55 | 0.55 |",
    "| `OrderListCreateApi.post` | 5.09 | 2.05 |",
    "| ... `place_order` | 4.01 | 1.32 |",
    "| ... ... `_create_order` (before: its commit, then the order read back in 3 queries) | 3.20 | 0.68 |",
    "| ... `order_response` (the serializer) | 0.79 | 0.37 |",
    "| `Publisher._messages` (after the answer, on the publisher's thread) | 12.39 | 1.08 |",
    "| ... `admin_event_html` (the admins' row, and their blocks) | 10.65 | 0.23 |",
    "| ... `order_json_text` (the JSON frames: the serializer) | 0.88 | 0.11 |",
    "| ... `customer_html` | 0.52 | 0.45 |",
    "| ... `partners_board_html` | 0.31 | 0.17 |",
    "",
    "Before, the order throttle was mostly Redis' connect (`AbstractConnection.connect`, 66% of the "
    "throttle's samples in an idle-inclusive run: a new pool and connection per request), and the "
    "build was mostly the admins' dashboard blocks, rendered for every order.",
    "",
]


# --- partners' location updates -----------------------------------------------------------------------

LOCATION_TARGET = 200  # 1,000 partners each sending every 5 s
LOCATION_P95_MS = 500.0


def location_at(section: dict, rate) -> tuple[dict, dict]:
    loc = next((r for r in section.get("location", []) if r["rate"] == rate), {})
    ping = next((r for r in section.get("ping", []) if r["rate"] == rate), {})
    return loc, ping


def location_lines(section: dict) -> list[str]:
    lines = ["## 10. Partners' location updates", ""]
    if not section or "error" in section:
        return lines + not_run(section)
    lines += header(section)
    n = section["n"]
    lines += [
        f"{n} partners, each online with an accepted order of their own customer (bulk-created in the running "
        f"app's database), each on a JWT websocket, and their {n} customers on JWT websockets, all in the "
        'benchmark\'s one Python process (`websockets`). The partners send `{"type": "location", "lat", '
        '"lng"}` frames, round-robin, at a total rate R for '
        f"{section['seconds']:g} s per step (R rising: {', '.join(str(r) for r in section['rates'])}/s); each "
        "frame goes `dispatch.consumers` -> `dispatch.location` (position and trail point stored) -> "
        "`dispatch.publish` -> the customer's socket as `rider_location`, timed from the partner's send to "
        "the customer's receipt (one process, one clock). The app runs with "
        f"`LOCATION_MIN_INTERVAL_SECONDS={section.get('min_interval_s', 0)}` (the default, 3 s, would drop "
        f"updates that come faster than one per partner per 3 s; at {max(section['rates'])}/s each of the {n} "
        f"partners sends every {n / max(section['rates']):g} s). 1,000 partners each sending every 5 s is "
        f"{LOCATION_TARGET}/s. Baseline, same sockets, "
        'same rates, just before each step: a `{"type": "ping"}` frame answered with `pong` on the '
        "partner's own socket (the server and socket path without the database or the channel layer). "
        '"forwarded/s" counts the `rider_location` frames customers received during the step\'s '
        f"{section['seconds']:g} s, per second (what the process keeps up with); "
        '"lost" counts the step\'s updates that never arrived (waiting up to 10 s after it). One ramp, no repeats.',
        "",
        "| R (updates/s) | sent/s | forwarded/s | p50 (ms) | p95 (ms) | max (ms) | lost | refused "
        "| ping p95 (ms) | p95 ÷ ping p95 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for loc in section.get("location", []):
        _, ping = location_at(section, loc["rate"])
        lines.append(
            f"| {loc['rate']} | {_num(loc['sent_per_s'], 0)} | {_num(loc['forwarded_in_window_per_s'], 0)} "
            f"| {_num(loc['p50'], 1)} | {_num(loc['p95'], 1)} | {_num(loc['max'], 1)} | {loc['lost']} "
            f"| {loc['refused']} | {_num(ping.get('p95'), 1)} | {_x(ratio(loc['p95'], ping.get('p95', math.nan)))} |"
        )
    lines += [
        "",
        f"Duplicated `rider_location` frames: {section.get('duplicates', 0)}. Connecting the {2 * n} sockets took "
        f"{section.get('connect_s', 0):.1f} s. Each accepted update is one short write transaction on the "
        "process's one sync thread (a compare-and-set on the partner's row, a trail point, trimming the trail), "
        "so the rate one process accepts is bounded by that thread, like the order throughput (section 4); past "
        "it the frames queue in the server and the latency grows with every step, though none is lost.",
        "",
    ]
    kept = [r["rate"] for r in section.get("location", []) if _keeps_up(r)]
    lines += [
        f"In this run one process kept up (forwarded >= 95% of R within the step, p95 under "
        f"{LOCATION_P95_MS:.0f} ms) up to **{max(kept) if kept else 'none'} updates/s** of the rates tried.",
        "",
    ]
    if section.get("app_errors"):
        lines += [f"**The app logged errors:** `{describe_errors(section['app_errors'])}`", ""]
    return lines


def _keeps_up(r: dict) -> bool:
    return r["forwarded_in_window_per_s"] >= 0.95 * r["rate"] and r["p95"] <= LOCATION_P95_MS and r["lost"] == 0


def location_goal_row(results: dict, row) -> None:
    goal = (f"location updates: {LOCATION_TARGET}/s accepted and forwarded on one process, "
            f"p95 send -> customer's `rider_location` under {LOCATION_P95_MS:.0f} ms")  # fmt: skip
    section = results.get("location")
    loc, ping = location_at(section or {}, LOCATION_TARGET)
    if not loc:
        row(goal, "-", None)
        return
    kept_up = loc["forwarded_in_window_per_s"] >= 0.95 * LOCATION_TARGET
    ok = kept_up and loc["lost"] == 0 and loc["refused"] == 0 and loc["p95"] <= LOCATION_P95_MS
    row(goal,
        f"{_num(loc['forwarded_in_window_per_s'], 0)}/s forwarded of {_num(loc['sent_per_s'], 0)}/s sent, "
        f"{loc['lost']} lost, "
        f"p95 {_num(loc['p95'], 0)} ms ({_x(ratio(loc['p95'], ping.get('p95', math.nan)))} the ping's)",
        ok)  # fmt: skip
