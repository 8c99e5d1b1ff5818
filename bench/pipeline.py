"""Pipeline: ``lmpairs build`` (format v2: one streaming worker per input split) against a hand-written script.

Question: what does a Beam build cost over the obvious single-process script, and does its memory
stay flat as the corpus grows? On the tiled corpus (:mod:`bench.corpus`, 16 MB of JSONL in 4 MB
files, ~3.4 M tokens with the 32k BPE model) each round runs, round-robin:

- ``spm x1`` / ``spm x2``: ``SentencePieceProcessor.encode`` of every document in batches of
  1,000 with 1 and 2 threads, texts already in memory (the ceiling);
- ``plain x1`` / ``plain x2``: :mod:`bench.plain_baseline` as a subprocess (read, encode, pack
  CLM rows, write Parquet) with 1 and 2 encode threads;
- ``build clm``: ``python -m lmpairs.cli build --objectives clm`` on the in-process DirectRunner;
- ``build clm 2w`` / ``build all 2w``: the same with ``--direct_num_workers=2
  --direct_running_mode=multi_processing``, CLM alone and all four objectives;
- ``build all 2w short lines``: all four objectives, 2 workers, on 16 MB of ~40-byte line documents
  (``--documents line``), the many-small-documents case where per-document costs show;
- ``build clm dask 2w``: ``--runner=DaskRunner`` against a ``dask.distributed.LocalCluster`` of
  2 worker processes (1 thread each) that this script starts once and keeps warm across rounds.

Subprocess times are wall seconds from start to exit (imports and Beam start-up included: that is
what a user waits for); tokens/s divide the corpus' SentencePiece token count by them; CPU seconds
of the process tree are recorded too (on a shared machine they drift less than wall time). Peak RSS
is the largest sum of resident memory over the build's process tree (psutil, every 100 ms). One
more run of ``build all 2w``, ``build clm 2w`` and ``plain x2`` on a 4x corpus gives the peak RSS
at 4x and the marginal rate on the extra corpus, where start-up cancels out; a build of a tiny
corpus measures Beam's fixed start-up. Targets: CLM 2 workers at the margin >= 0.9x plain
x2; in-process CLM >= 0.8x plain x1; all four <= 1.6x CLM alone; peak RSS of all four at 4x <= 1.1x
that at 1x::

    python -m bench.pipeline [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path

from bench.common import (
    Metric,
    ProcessRun,
    at_least,
    at_most,
    median,
    paired_ratio,
    python_cmd,
    ratio_metric,
    run_process,
    run_script,
)
from bench.corpus import (
    cache_dir,
    corpus_files,
    read_documents,
    read_lines,
    short_lines_corpus,
    tiled_corpus,
    tokenizer_model,
)

FULL_MB, QUICK_MB, TINY_MB = 16.0, 0.2, 0.05
TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
ALL = "clm,mlm,t5,bart"


def spm_encode(texts: list[str], model: Path, threads: int, batch: int = 1000) -> int:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    return sum(sum(map(len, sp.encode(texts[i:i + batch], num_threads=threads))) for i in range(0, len(texts), batch))


def build_cmd(corpus: Path, model: Path, out: Path, objectives: str, beam_args: tuple[str, ...] = ()) -> list[str]:
    return python_cmd("lmpairs.cli", "build", "--input", str(corpus / "*.jsonl"), "--output", str(out),
                      "--tokenizer", str(model), "--objectives", objectives, *beam_args)


def lines_build_cmd(corpus: Path, model: Path, out: Path, objectives: str,
                    beam_args: tuple[str, ...] = ()) -> list[str]:
    """``build`` of a short-lines corpus: one document per line."""
    return python_cmd("lmpairs.cli", "build", "--input", str(corpus / "*.txt"), "--output", str(out),
                      "--tokenizer", str(model), "--objectives", objectives, "--documents", "line", *beam_args)


def plain_cmd(corpus: Path, model: Path, out: Path, threads: int) -> list[str]:
    return python_cmd("bench.plain_baseline", "--input", str(corpus), "--tokenizer", str(model),
                      "--output", str(out / "plain.parquet"), "--threads", str(threads))


def fresh(out: Path) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out


def run_cases(cases: dict, repeats: int) -> dict[str, list]:
    """Round-robin rounds; a case returns a ProcessRun or None (then its wall time is taken here)."""
    results: dict[str, list] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            got = fn()
            seconds = time.perf_counter() - start
            results[name].append(got if isinstance(got, ProcessRun) else ProcessRun(seconds, 0, 0.0))
    return results


def dask_cluster():
    """A 2-process LocalCluster on 127.0.0.1 (None when Dask is not installed: the case is skipped)."""
    try:
        from dask.distributed import LocalCluster
    except ImportError:
        return None
    return LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    repeats = repeats or (1 if quick else 3)
    mb = QUICK_MB if quick else FULL_MB
    corpus, big, tiny = tiled_corpus(mb), tiled_corpus(4 * mb), tiled_corpus(TINY_MB)
    model = tokenizer_model()
    work = cache_dir() / "pipeline-out"
    texts = read_documents(corpus)
    num_tokens = spm_encode(texts, model, 1)
    lines = short_lines_corpus(mb)
    num_line_tokens = spm_encode(read_lines(lines), model, 2)
    cluster = dask_cluster()

    def process(cmd_of_out) -> ProcessRun:
        return run_process(cmd_of_out(fresh(work)))

    cases = {
        "spm x1": partial(spm_encode, texts, model, 1),
        "spm x2": partial(spm_encode, texts, model, 2),
        "plain x1": partial(process, lambda out: plain_cmd(corpus, model, out, 1)),
        "plain x2": partial(process, lambda out: plain_cmd(corpus, model, out, 2)),
        "build clm": partial(process, lambda out: build_cmd(corpus, model, out, "clm")),
        "build clm 2w": partial(process, lambda out: build_cmd(corpus, model, out, "clm", TWO_WORKERS)),
        "build all 2w": partial(process, lambda out: build_cmd(corpus, model, out, ALL, TWO_WORKERS)),
        "build all 2w short lines": partial(process, lambda out: lines_build_cmd(lines, model, out, ALL, TWO_WORKERS)),
    }
    if cluster is not None:
        dask_args = ("--runner=DaskRunner", f"--dask_client_address={cluster.scheduler_address}")
        cases["build clm dask 2w"] = partial(process, lambda out: build_cmd(corpus, model, out, "clm", dask_args))
    try:
        runs = run_cases(cases, repeats)
    finally:
        if cluster is not None:
            cluster.close()
    # Quick mode's corpus is tiny already: its in-process CLM build is the start-up cost.
    startup = runs["build clm"][0] if quick else process(lambda out: build_cmd(tiny, model, out, "clm"))
    all_4x = process(lambda out: build_cmd(big, model, out, ALL, TWO_WORKERS))
    clm_4x = process(lambda out: build_cmd(big, model, out, "clm", TWO_WORKERS))
    plain_4x = process(lambda out: plain_cmd(big, model, out, 2))
    shutil.rmtree(work, ignore_errors=True)
    metrics = pipeline_metrics(runs, startup, all_4x, clm_4x, num_tokens=num_tokens, corpus_mb=mb)
    metrics.append(short_lines_metric(runs, num_tokens=num_tokens, num_line_tokens=num_line_tokens, corpus_mb=mb))
    extra_tokens = num_tokens * (corpus_bytes(big) / corpus_bytes(corpus) - 1)  # the tiles repeat one text
    metrics.append(marginal_metric(runs, clm_4x, plain_4x, extra_tokens=extra_tokens, corpus_mb=mb))
    return metrics


def short_lines_metric(runs: dict[str, list[ProcessRun]], *, num_tokens: int, num_line_tokens: int,
                       corpus_mb: float) -> Metric:
    """All four objectives on ~40-byte line documents against the same build on ~2 KB documents, in
    tokens/s per round: what per-document costs (keys, packing, BART's row per document) take."""
    short = [num_line_tokens / r.seconds for r in runs["build all 2w short lines"]]
    long = [num_tokens / r.seconds for r in runs["build all 2w"]]
    return ratio_metric(f"build all 2w short lines ({corpus_mb:g} MB, ~40 B docs)", median(short), "tok/s",
                        median([s / g for s, g in zip(short, long)]), "build all 2w (~2 KB docs)", None,
                        seconds=[r.seconds for r in runs["build all 2w short lines"]], tokens=num_line_tokens)


def corpus_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in corpus_files(folder))


def marginal_metric(runs: dict[str, list[ProcessRun]], build_4x: ProcessRun, plain_4x: ProcessRun, *,
                    extra_tokens: float, corpus_mb: float) -> Metric:
    """Rate on the extra 3x of corpus between the 1x and 4x runs: start-up costs cancel out.

    Both corpora tile the same documents, so tokens scale with bytes. Not a same-round pair
    (one 4x run each), so it is informational: it says what the ratio tends to on large corpora.
    """
    build_extra = build_4x.seconds - median([r.seconds for r in runs["build clm 2w"]])
    plain_extra = plain_4x.seconds - median([r.seconds for r in runs["plain x2"]])
    name = f"build clm 2w marginal ({corpus_mb:g}->{4 * corpus_mb:g} MB)"
    if build_extra <= 0 or plain_extra <= 0:
        return Metric(name=name, value=float("nan"), unit="tok/s",
                      detail={"skipped": "the 4x runs were not slower than 1x: the corpus is too small to tell"})
    return ratio_metric(name, extra_tokens / build_extra,
                        "tok/s", plain_extra / build_extra, "plain x2 marginal", at_least(0.9),
                        build_4x_seconds=build_4x.seconds, plain_4x_seconds=plain_4x.seconds,
                        build_4x_cpu_seconds=build_4x.cpu_seconds, plain_4x_cpu_seconds=plain_4x.cpu_seconds)


def pipeline_metrics(runs: dict[str, list[ProcessRun]], startup: ProcessRun, all_4x: ProcessRun,
                     clm_4x: ProcessRun, *, num_tokens: int, corpus_mb: float) -> list[Metric]:
    sec = {name: [r.seconds for r in rs] for name, rs in runs.items()}

    def rate(name: str) -> float:
        return num_tokens / median(sec[name])

    def versus(name: str, ref: str, label: str, target=None) -> Metric:
        return ratio_metric(f"{name} ({corpus_mb:g} MB)", rate(name), "tok/s", paired_ratio(sec[ref], sec[name]),
                            label, target, seconds=sec[name], ref_seconds=sec[ref],
                            cpu_seconds=[r.cpu_seconds for r in runs[name]],
                            ref_cpu_seconds=[r.cpu_seconds for r in runs[ref]], tokens=num_tokens)

    def peak(name: str, at_4x: ProcessRun, target=None) -> Metric:
        peak_1x = median([r.peak_rss for r in runs[name]])
        return ratio_metric(f"{name} peak RSS at 4x", at_4x.peak_rss / 2**20, "MiB", at_4x.peak_rss / peak_1x,
                            f"at 1x ({peak_1x / 2**20:.0f} MiB)", target, peak_1x=[r.peak_rss for r in runs[name]],
                            peak_4x=at_4x.peak_rss, seconds_4x=at_4x.seconds, corpus_mb_4x=4 * corpus_mb)

    metrics = [
        versus("spm x2", "spm x1", "spm x1"),
        versus("plain x1", "spm x1", "spm x1 (ceiling)"),
        versus("plain x2", "spm x2", "spm x2 (ceiling)"),
        versus("build clm", "plain x1", "plain x1", at_least(0.8)),
        versus("build clm 2w", "plain x2", "plain x2"),
        versus("build clm 2w", "spm x2", "spm x2 (ceiling)"),
        ratio_metric("build all 2w / clm 2w time", median(sec["build all 2w"]), "s",
                     paired_ratio(sec["build all 2w"], sec["build clm 2w"]), "build clm 2w", at_most(1.6),
                     seconds=sec["build all 2w"], ref_seconds=sec["build clm 2w"],
                     cpu_seconds=[r.cpu_seconds for r in runs["build all 2w"]],
                     ref_cpu_seconds=[r.cpu_seconds for r in runs["build clm 2w"]]),
        peak("build all 2w", all_4x, at_most(1.1)),
        peak("build clm 2w", clm_4x),
        Metric(name="build clm start-up (tiny corpus)", value=startup.seconds, unit="s",
               detail={"peak_rss": startup.peak_rss, "cpu_seconds": startup.cpu_seconds}),
    ]
    if "build clm dask 2w" in sec:
        metrics.append(versus("build clm dask 2w", "build clm 2w", "build clm 2w (DirectRunner)"))
    return metrics


def main() -> None:
    run_script(run, __doc__)


if __name__ == "__main__":
    main()
