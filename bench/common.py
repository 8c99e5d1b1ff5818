"""Shared benchmark plumbing: interleaved repeated timing, process-tree peak RSS, metrics and the table.

Timings on shared machines drift, so cases compared with each other run round-robin (A, B, A, B, …)
and a ratio is the median of the per-round ratios: each pair is measured seconds apart.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One table row: a measured value, its ratio to a reference measured in the same run, a target."""

    name: str
    value: float
    unit: str
    ratio: float | None = None
    versus: str = ""
    target: str = ""
    met: bool | None = None
    detail: dict = field(default_factory=dict)


def at_least(bound: float) -> tuple[str, Callable[[float], bool]]:
    return f">= {bound:g}x", lambda r: r >= bound


def at_most(bound: float) -> tuple[str, Callable[[float], bool]]:
    return f"<= {bound:g}x", lambda r: r <= bound


def ratio_metric(name: str, value: float, unit: str, ratio: float, versus: str,
                 target: tuple[str, Callable[[float], bool]] | None = None, **detail) -> Metric:
    text, check = target if target else ("", None)
    return Metric(name=name, value=value, unit=unit, ratio=ratio, versus=versus, target=text,
                  met=None if check is None else bool(check(ratio)), detail=detail)


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, *, warmup: bool = False,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds of each case per round; cases run round-robin so drift hits them alike.

    Single-threaded cases may pass ``clock=time.process_time``: CPU seconds are not inflated
    when other processes share the cores, wall seconds are.
    """
    if warmup:
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of ``numerator[i] / denominator[i]`` (times or rates of the same round)."""
    return median([a / b for a, b in zip(numerator, denominator)])


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_rss: int
    """Peak of the summed RSS of the process and all its descendants, polled every ``interval``."""
    cpu_seconds: float
    """User + system CPU seconds of the process and the descendants it waited for."""


def run_process(cmd: Sequence[str], *, interval: float = 0.1, env: dict | None = None,
                cwd: Path = REPO) -> ProcessRun:
    """Run ``cmd`` to completion, timing it and polling its process tree's resident memory."""
    import psutil

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child never blocks on a full pipe
    proc = subprocess.Popen(list(cmd), cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    peak = 0
    while True:
        peak = max(peak, _tree_rss(root, psutil))
        try:
            proc.wait(timeout=interval)  # returns at exit, so the wall time is not rounded up
            break
        except subprocess.TimeoutExpired:
            pass
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    log.seek(0)
    output = log.read().decode(errors="replace")
    log.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{output[-4000:]}")
    return ProcessRun(seconds, peak, cpu)


def _tree_rss(root, psutil) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def python_cmd(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


# -- output ------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}"


def format_table(metrics: Sequence[Metric]) -> str:
    """One aligned text table: metric, value, ratio (versus what), target, met?"""
    header = ("metric", "value", "ratio", "versus", "target", "met?")
    rows = [header]
    for m in metrics:
        met = "-" if m.met is None else ("yes" if m.met else "NO")
        ratio = "-" if m.ratio is None else f"{m.ratio:.2f}x"
        rows.append((m.name, f"{_fmt(m.value)} {m.unit}", ratio, m.versus, m.target or "-", met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import platform

    return {"nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)), "cpu_model": model,
            "python": platform.python_version(), "platform": platform.platform()}


def write_json(path: Path, metrics: Sequence[Metric], **extra) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine_info(), **extra, "metrics": [asdict(m) for m in metrics]}
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")


def script_args(description: str) -> argparse.Namespace:
    """The options every bench script takes: ``--quick``, ``--repeats``, ``--json``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one round: checks the script runs")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per comparison (default 3, quick 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    return parser.parse_args()


def finish(metrics: Sequence[Metric], json_path: Path | None, **extra) -> None:
    print(format_table(metrics))
    if json_path is not None:
        write_json(json_path, metrics, **extra)


def run_script(run: Callable[..., Sequence[Metric]], doc: str) -> None:
    """A bench module's ``main``: parse the common options, ``run(quick=, repeats=)``, print and save."""
    args = script_args(doc.splitlines()[0])
    finish(run(quick=args.quick, repeats=args.repeats), args.json)
