"""Run the benchmarks and write docs/benchmarks.md (+ plots).

    python -m bench.run                 # full run, ~7-10 minutes on 2 cores; writes docs/
    python -m bench.run --quick         # smoke run, < 2 minutes; writes bench/results/quick/
    python -m bench.run --only fanout   # one section (fanout, rate, connections, throughput, emails,
                                        # race, scaleout, pages, profile, location); repeatable

Each run starts its own redis-server(s) and app server(s) on free ports (never 6379) on a
copy of a freshly migrated and seeded SQLite file, and stops them. Raw results go to
bench/results/ (gitignored); a run with ``--only`` keeps the other sections of the
last run of the same mode in the document.
"""

import argparse
import asyncio
import datetime
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

from bench import connections, fanout, location, pages, profile, race, rate, scaleout, throughput
from bench.common import RESULTS_DIR, BenchError, Services, api_missing, dump_json, make_template_db, say
from bench.common import raise_fd_limit as _raise_fd_limit
from bench.live import write_payload
from bench.report import machine_info, print_summary, render
from quickcommerce.testing import BASE_DIR

SECTIONS = (
    "fanout",
    "rate",
    "connections",
    "throughput",
    "emails",
    "race",
    "scaleout",
    "pages",
    "profile",
    "location",
)

FULL = {
    "fanout_ns": (10, 100, 1000),
    "fanout_repeats": 9,
    "throughput_levels": (1, 4, 16),
    "throughput_count": 200,
    "throughput_repeats": 3,
    "emails_count": 30,
    "emails_repeats": 6,
    "race_levels": (10, 50, 200),
    "race_repeats": 3,
    "rate_n": 1000,
    "rate_rates": (1, 2, 5, 10, 20, 40, 80, 120, 160, 240),
    "rate_seconds": 2,
    "rate_repeats": 3,
    "conn_steps": (500, 1000, 2000, 3000, 5000),
    "conn_events": 3,
    "scaleout_n": 1000,
    "scaleout_events": 5,
    "pages_orders": 10_000,
    "pages_products": 500,
    "pages_requests": 20,
    "pages_repeats": 3,
    "profile_sockets": 1000,
    "profile_orders": 150,
    "location_n": 200,
    "location_rates": (50, 100, 200, 400),
    "location_seconds": 5,
}
QUICK = {
    "fanout_ns": (10, 100),
    "fanout_repeats": 3,
    "throughput_levels": (1, 4, 16),
    "throughput_count": 40,
    "throughput_repeats": 3,
    "emails_count": 10,
    "emails_repeats": 4,
    "race_levels": (10, 25),
    "race_repeats": 3,
    "rate_n": 200,
    "rate_rates": (2, 5, 10, 20, 40, 80),
    "rate_seconds": 1,
    "rate_repeats": 3,
    "conn_steps": (200, 500),
    "conn_events": 3,
    "scaleout_n": 200,
    "scaleout_events": 3,
    "pages_orders": 2_000,
    "pages_products": 200,
    "pages_requests": 5,
    "pages_repeats": 3,
    "profile_sockets": 200,
    "profile_orders": 30,
    "location_n": 50,
    "location_rates": (25, 50, 100),
    "location_seconds": 2,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="quickcommerce benchmarks")
    parser.add_argument("--quick", action="store_true", help="small smoke run (< 2 minutes)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this section ({', '.join(SECTIONS)}); repeat or comma-separate for several",
    )
    parser.add_argument(
        "--fanout-systems",
        default=",".join(fanout.SYSTEMS),
        help=f"fan-out systems to measure (default: {','.join(fanout.SYSTEMS)}; all: {','.join(fanout.ALL_SYSTEMS)})",
    )
    parser.add_argument("--fanout-ns", help="comma-separated socket counts for the fan-out (default 10,100,1000)")
    parser.add_argument("--repeats", type=int, help="override the repeats of every section (>= 3)")
    parser.add_argument("--out", help="where benchmarks.md and the plots go (default: docs/, or bench/results/quick/)")
    parser.add_argument("--note", action="append", default=[], help="a note printed at the top of the document")
    args = parser.parse_args(argv)
    only = [name.strip() for value in (args.only or []) for name in value.split(",") if name.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if not only or s in only]
    args.systems = [s.strip() for s in args.fanout_systems.split(",") if s.strip()]
    if set(args.systems) - set(fanout.ALL_SYSTEMS):
        parser.error(f"--fanout-systems: choose from {', '.join(fanout.ALL_SYSTEMS)}")
    try:
        args.ns = tuple(int(n) for n in args.fanout_ns.split(",")) if args.fanout_ns else None
    except ValueError:
        parser.error("--fanout-ns: comma-separated integers, e.g. 10,100,1000")
    if args.repeats is not None and args.repeats < 3:
        parser.error("--repeats must be at least 3")
    return args


def needs_app(args) -> bool:
    """Every section measures the app, except a fan-out run of the baselines alone."""
    return any(s != "fanout" for s in args.sections) or bool(set(fanout.APP_SYSTEMS) & set(args.systems))


async def check_api(workdir, template) -> None:
    with Services(workdir, template, "api-check") as services:
        missing = await api_missing(services.app.url)
    if missing:
        raise BenchError("the API is not complete yet; these endpoints do not answer: " + "; ".join(missing))


def _payload(workdir, results):
    """The live sections' event: the real new_order message the fan-out section captured."""
    sample = ((results.get("fanout") or {}).get("systems", {}).get("pubsub") or {}).get("sample_event")
    return write_payload(workdir / "payload.json", sample)


async def run_section(name, plan, args, workdir, template, results=None) -> dict:
    repeats = args.repeats
    if name == "rate":
        return await rate.run(
            workdir=workdir,
            template=template,
            n=plan["rate_n"],
            rates=plan["rate_rates"],
            seconds=plan["rate_seconds"],
            repeats=repeats or plan["rate_repeats"],
            payload=_payload(workdir, results or {}),
        )
    if name == "connections":
        return await connections.run(
            workdir=workdir,
            template=template,
            steps=plan["conn_steps"],
            events=plan["conn_events"],
            payload=_payload(workdir, results or {}),
        )
    if name == "scaleout":
        return await scaleout.run(
            workdir=workdir,
            template=template,
            n=plan["scaleout_n"],
            events=repeats or plan["scaleout_events"],
            payload=_payload(workdir, results or {}),
        )
    if name == "pages":
        return pages.run(
            workdir=workdir,
            template=template,
            orders=plan["pages_orders"],
            products=plan["pages_products"],
            requests=plan["pages_requests"],
            repeats=repeats or plan["pages_repeats"],
        )
    if name == "fanout":
        return await fanout.run(
            workdir=workdir,
            template=template,
            ns=args.ns or plan["fanout_ns"],
            repeats=repeats or plan["fanout_repeats"],
            warmup=1,
            systems=args.systems,
        )
    if name == "emails":
        return await throughput.run_emails(
            workdir=workdir, template=template, count=plan["emails_count"], repeats=repeats or plan["emails_repeats"]
        )
    if name == "profile":
        return await profile.run(
            workdir=workdir, template=template, sockets=plan["profile_sockets"], orders=plan["profile_orders"]
        )
    if name == "location":
        return await location.run(
            workdir=workdir,
            template=template,
            n=plan["location_n"],
            rates=plan["location_rates"],
            seconds=plan["location_seconds"],
        )
    if name == "throughput":
        return await throughput.run(
            workdir=workdir,
            template=template,
            levels=plan["throughput_levels"],
            count=plan["throughput_count"],
            repeats=repeats or plan["throughput_repeats"],
        )
    return await race.run(
        workdir=workdir, template=template, levels=plan["race_levels"], repeats=repeats or plan["race_repeats"]
    )


def _prune_old_runs(keep: int = 3) -> None:
    runs = sorted(RESULTS_DIR.glob("run-*"))
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    mode = "quick" if args.quick else "full"
    out_dir = BASE_DIR / (args.out or ("bench/results/quick" if args.quick else "docs"))
    results_path = RESULTS_DIR / f"results-{mode}.json"
    fds = _raise_fd_limit(16384)
    started = time.monotonic()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = RESULTS_DIR / f"run-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    _prune_old_runs()

    machine = machine_info()
    say(f"{mode} run: {', '.join(args.sections)}; open-file limit {fds}; logs in {workdir}")
    say(
        f"machine: {machine['cpu']}, {machine['cores']} cores, load average {machine['load_average']}, "
        f"{machine['python_speed_us']} µs per sum(range(1000))"
    )

    previous = {}
    if len(args.sections) < len(SECTIONS) and results_path.exists():
        previous = json.loads(results_path.read_text())
    results = {**previous, "machine": machine, "notes": args.note or previous.get("notes", [])}

    failed = False
    try:
        say("preparing a migrated, seeded SQLite template")
        template = make_template_db(workdir)
        if needs_app(args):
            asyncio.run(check_api(workdir, template))
    except BenchError as exc:
        say(f"cannot benchmark: {exc}")
        return 2

    for name in args.sections:
        section_start = time.monotonic()
        info = machine_info()
        section_machine = {key: info[key] for key in ("date", "load_average", "python_speed_us")}
        say(f"== {name} ==")
        try:
            section = asyncio.run(run_section(name, plan, args, workdir, template, results))
        except Exception as exc:
            failed = True
            traceback.print_exc()
            section = {"error": f"{type(exc).__name__}: {exc}"}
        section.update(mode=mode, machine=section_machine, elapsed_s=time.monotonic() - section_start)
        results[name] = section
        say(f"{name} took {section['elapsed_s']:.0f}s")
        dump_json(results_path, results)

    race_rows = [r for rows in results.get("race", {}).get("by_level", {}).values() for r in rows]
    if "race" in args.sections and not all(r["correct"] for r in race_rows):
        say("ACCEPT RACE WAS WRONG: a race did not end with exactly one 200 and the rest 409")
        failed = True

    path = render(results, out_dir)
    print_summary({k: results.get(k) for k in args.sections})
    say(f"wrote {_shown(path)} and its plots; raw results in {_shown(results_path)}")
    say(f"total {time.monotonic() - started:.0f}s")
    return 1 if failed else 0


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (``--out`` may be anywhere)."""
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


if __name__ == "__main__":
    sys.exit(main())
