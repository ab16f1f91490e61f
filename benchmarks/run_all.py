"""Runs every benchmark on SQLite and/or Postgres and prints one comparison table.

    .venv/bin/python benchmarks/run_all.py [--backend sqlite|postgres|both] [--quick]
                                           [--suite checkpoint|async|queue|messaging|admin|all]

The checkpoint suite (the default), for each backend in one process and one launch of DBOS:
the raw-driver floor (sampled between scenarios), scenarios A (sequential 3-step
workflows), B (one 1,000-step workflow), C (64 workflows in flight), a count of storage
calls, and two cProfile runs of B. The async suite, in a launch of its own with
max_executor_threads=4: D (async twin vs sync twin), E (1,000 async workflows sleeping)
and F (1,000 async parents awaiting a child each). The queue suite, in a launch of its own:
Q1 and Q2 (2,000 queued one-step workflows served by this process, default queue and
worker_concurrency=16), the enqueue rate alone, Q3 (two worker processes, Postgres only) and
Q4 (enqueue-to-start latency with an idle worker). The messaging suite: M1-M2 (send-to-recv
wake-up in one process and across processes) and M3-M4 (set_event and write_stream from a
workflow against the floor). The admin suite, in a launch of its own:
1,000,000 workflow rows bulk-loaded (100,000 with --quick), list_workflows latency by filter,
and garbage collection of them under a steady workflow load (--admin-rows to change N).
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import admin_scenarios
import async_report
import queue_report
from admin_scenarios import ADMIN_FULL, ADMIN_QUICK, AdminReport, run_admin_backend
from async_scenarios import ASYNC_FULL, ASYNC_QUICK, AsyncReport, run_async_backend
from dbos import DBOS
from messaging_scenarios import (
    MESSAGING_FULL,
    MESSAGING_QUICK,
    run_messaging_backend,
)
from messaging_scenarios import summary_table as messaging_table
from queue_results import QueueReport
from queue_scenarios import QUEUE_FULL, QUEUE_QUICK, run_queue_backend
from report import BackendReport, summary_table, write_json

# Importing session imports the workload, which registers the benchmark's workflows and
# steps; that must happen before DBOS(...) is constructed, and module imports ensure it.
from session import (
    FULL,
    QUICK,
    Target,
    postgres_durability_warning,
    postgres_target,
    run_backend,
    sqlite_target,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@localhost:5432/dbos_bench"
DEFAULT_OUT_DIR = Path("/tmp/dbos-bench")


def print_profiles(report: BackendReport) -> None:
    for profile in report.profiles:
        clock = "wall clock" if profile.kind == "wall" else "thread CPU clock"
        print(f"\n--- {report.backend}: scenario B under cProfile ({clock}), by tottime ---")
        print(profile.top_table)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (about 15 s)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="SQLite files, profiles and results.json go here (default: %(default)s)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="profile rows to print")
    parser.add_argument(
        "--suite",
        choices=("checkpoint", "async", "queue", "messaging", "admin", "all"),
        default="checkpoint",
        help="checkpoint (A-C, the default), async (D-F), queue (Q1-Q4), messaging (M1-M4), "
        "admin or all",
    )
    parser.add_argument(
        "--admin-rows", type=int, default=None, help="workflow rows the admin suite loads"
    )
    return parser.parse_args(argv)


def run_checkpoint_suite(
    targets: list[Target], args: argparse.Namespace, warnings: list[str]
) -> None:
    plan = QUICK if args.quick else FULL
    out_dir: Path = args.out_dir
    reports: list[BackendReport] = []
    for target in targets:
        reports.append(run_backend(target, plan, out_dir, args.profile_top))
    for report in reports:
        print_profiles(report)
    results = out_dir / "results.json"
    write_json(reports, results)
    print(f"\n=== DBOS checkpoint benchmarks ({'quick' if args.quick else 'full'} run) ===\n")
    print(summary_table(reports))
    for warning in warnings:
        print(f"WARNING {warning}")
    print(f"Results: {results}; profiles: {out_dir}/profile-*.prof (and .txt)")


def run_async_suite(targets: list[Target], args: argparse.Namespace) -> None:
    plan = ASYNC_QUICK if args.quick else ASYNC_FULL
    out_dir: Path = args.out_dir
    reports: list[AsyncReport] = []
    for target in targets:
        reports.append(run_async_backend(target, plan, out_dir, args.profile_top))
    async_report.print_profiles(reports)
    results = out_dir / "results-async.json"
    async_report.write_json(reports, results)
    print(f"\n=== DBOS async benchmarks ({'quick' if args.quick else 'full'} run) ===\n")
    print(async_report.summary_table(reports))
    print(f"Results: {results}; profiles: {out_dir}/profile-*-twin-*.prof (and .txt)")


def run_queue_suite(targets: list[Target], args: argparse.Namespace) -> None:
    plan = QUEUE_QUICK if args.quick else QUEUE_FULL
    out_dir: Path = args.out_dir
    reports: list[QueueReport] = [run_queue_backend(target, plan) for target in targets]
    results = out_dir / "results-queue.json"
    queue_report.write_json(reports, results)
    print(f"\n=== DBOS queue benchmarks ({'quick' if args.quick else 'full'} run) ===\n")
    print(queue_report.summary_table(reports))
    print(f"Results: {results}")


def run_messaging_suite(targets: list[Target], args: argparse.Namespace) -> None:
    plan = MESSAGING_QUICK if args.quick else MESSAGING_FULL
    reports = [run_messaging_backend(target, plan) for target in targets]
    print(f"\n=== DBOS messaging benchmarks ({'quick' if args.quick else 'full'} run) ===\n")
    print(messaging_table(reports))


def run_admin_suite(targets: list[Target], args: argparse.Namespace) -> None:
    plan = ADMIN_QUICK if args.quick else ADMIN_FULL
    if args.admin_rows is not None:
        plan = replace(plan, rows=args.admin_rows)
    reports: list[AdminReport] = [run_admin_backend(target, plan) for target in targets]
    print(f"\n=== DBOS admin benchmarks ({'quick' if args.quick else 'full'} run) ===\n")
    print(admin_scenarios.summary_table(reports))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    targets: list[Target] = []
    warnings: list[str] = []
    if args.backend in ("sqlite", "both"):
        targets.append(sqlite_target(out_dir))
    if args.backend in ("postgres", "both"):
        warning = postgres_durability_warning(args.postgres_url)
        if warning is not None:
            warnings.append(f"postgres: {warning}")
        targets.append(postgres_target(args.postgres_url))
    started = time.perf_counter()
    # Every suite leaves DBOS destroyed but the registry in place: the workload is
    # registered once, at import, and the queue suite's runners dispatch through it.
    try:
        if args.suite in ("checkpoint", "all"):
            run_checkpoint_suite(targets, args, warnings)
        if args.suite in ("async", "all"):
            run_async_suite(targets, args)
        if args.suite in ("queue", "all"):
            run_queue_suite(targets, args)
        if args.suite in ("messaging", "all"):
            run_messaging_suite(targets, args)
        if args.suite in ("admin", "all"):
            run_admin_suite(targets, args)
    finally:
        DBOS.destroy(destroy_registry=True)
    print(f"Elapsed: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
