"""Run every benchmark (pipeline, loader, transforms, tokenizers, bart), print one table and write it as JSON.

``make bench`` runs this; on a 2-core machine the whole run takes well under 15 minutes (most of it
Beam builds). Every ratio compares cases measured side by side, round-robin, in this run; the
median over rounds is quoted. The JSON (``bench/results/latest.json`` by default) also records the
machine, the git commit, the load average before and after (other processes on a shared machine
slow wall-clock cases; ratios absorb steady load, not bursts) and every round's seconds::

    python -m bench.run_all [--quick] [--only pipeline,loader,transforms,tokenizers,bart,peers] [--json PATH]
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import time
from pathlib import Path

from bench.common import REPO, Metric, format_table, machine_info, write_json

BENCHMARKS = ("pipeline", "loader", "transforms", "tokenizers", "bart", "peers")
DEFAULT_JSON = REPO / "bench" / "results" / "latest.json"


def cpu_pressure() -> str | None:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one round each (a smoke run)")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset to run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help=f"where to write the table (default {DEFAULT_JSON})")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {','.join(BENCHMARKS)}")
    context = {"machine": machine_info(), "load_before": os.getloadavg(), "cpu_pressure_before": cpu_pressure()}
    print(f"machine: {context['machine']['cpu_model']}, {context['machine']['usable_cpus']} CPUs; "
          f"load average {context['load_before'][0]:.2f}", flush=True)
    metrics: list[Metric] = []
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    for name in names:
        began = time.perf_counter()
        got = importlib.import_module(f"bench.{name}").run(quick=args.quick)
        seconds[name] = round(time.perf_counter() - began, 1)
        print(f"\n[{name}: {seconds[name]:.0f} s]\n{format_table(got)}", flush=True)
        metrics.extend(got)
    total = time.perf_counter() - start
    load_after = os.getloadavg()
    print(f"\n== all benchmarks ({total / 60:.1f} min; load average {context['load_before'][0]:.2f} before, "
          f"{load_after[0]:.2f} after) ==\n{format_table(metrics)}")
    missed = [m.name for m in metrics if m.met is False]
    print(f"\ntargets met: {sum(m.met is True for m in metrics)}/{sum(m.met is not None for m in metrics)}"
          + (f"; missed: {'; '.join(missed)}" if missed else ""))
    write_json(args.json, metrics, quick=args.quick, git_commit=git_commit(), seconds=seconds,
               total_seconds=round(total, 1), load_before=context["load_before"], load_after=load_after,
               cpu_pressure_before=context["cpu_pressure_before"], cpu_pressure_after=cpu_pressure())
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
