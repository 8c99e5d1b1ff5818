"""Pipeline: ``lmpairs build`` tokens/s against SentencePiece (ceiling) and a hand-written script (baseline).

Question: what does a Beam build cost over the obvious single-process script, and does it stay in
bounded memory as the corpus grows? On the tiled corpus (:mod:`bench.corpus`, 16 MB of JSONL,
~3.4 M tokens with the 32k BPE model) each round runs, round-robin:

- ``spm x1`` / ``spm x2``: ``SentencePieceProcessor.encode`` of every document in batches of
  1,000 with 1 and 2 threads, texts already in memory (the ceiling);
- ``plain x1`` / ``plain x2``: :mod:`bench.plain_baseline` as a subprocess (read, encode, pack
  CLM rows, write Parquet) with 1 and 2 encode threads;
- ``build clm``: ``python -m lmpairs.cli build --objectives clm`` on the in-process DirectRunner;
- ``build clm 2w`` / ``build all 2w``: the same with ``--direct_num_workers=2
  --direct_running_mode=multi_processing``, CLM alone and all four objectives.

Subprocess times are wall seconds from start to exit (imports and Beam start-up included: that is
what a user waits for); tokens/s divide the corpus' SentencePiece token count by them. Peak RSS is
the largest sum of resident memory over the build's process tree (psutil, polled every 100 ms);
the ``build clm 2w`` runs give it at 1x, one more run on a 4x corpus at 4x. A build of a tiny
corpus measures the fixed start-up cost, and 4x runs of ``build clm 2w`` and ``plain x2`` give
the marginal rate on the extra corpus, where start-up cancels out. Targets: CLM 2 workers >= 0.8x plain x2; all four <= 2x
CLM alone; peak RSS at 4x <= 1.3x that at 1x::

    python -m bench.pipeline [--quick] [--repeats N] [--json out.json]
"""
from __future__ import annotations

import shutil
import time
from functools import partial
from pathlib import Path

from bench.common import (Metric, ProcessRun, at_least, at_most, finish, median, paired_ratio, python_cmd,
                          ratio_metric, run_process, script_args)
from bench.corpus import cache_dir, corpus_files, read_documents, tiled_corpus, tokenizer_model

FULL_MB, QUICK_MB, TINY_MB = 16.0, 0.2, 0.05
TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


def spm_encode(texts: list[str], model: Path, threads: int, batch: int = 1000) -> int:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    return sum(sum(map(len, sp.encode(texts[i:i + batch], num_threads=threads))) for i in range(0, len(texts), batch))


def build_cmd(corpus: Path, model: Path, out: Path, objectives: str, beam_args: tuple[str, ...] = ()) -> list[str]:
    return python_cmd("lmpairs.cli", "build", "--input", str(corpus / "*.jsonl"), "--output", str(out),
                      "--tokenizer", str(model), "--objectives", objectives, *beam_args)


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
            results[name].append(got if isinstance(got, ProcessRun) else ProcessRun(time.perf_counter() - start, 0, 0.0))
    return results


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    repeats = repeats or (1 if quick else 3)
    mb = QUICK_MB if quick else FULL_MB
    corpus, big, tiny = tiled_corpus(mb), tiled_corpus(4 * mb), tiled_corpus(TINY_MB)
    model = tokenizer_model()
    work = cache_dir() / "pipeline-out"
    texts = read_documents(corpus)
    num_tokens = spm_encode(texts, model, 1)

    def process(cmd_of_out) -> ProcessRun:
        return run_process(cmd_of_out(fresh(work)))

    cases = {
        "spm x1": partial(spm_encode, texts, model, 1),
        "spm x2": partial(spm_encode, texts, model, 2),
        "plain x1": partial(process, lambda out: plain_cmd(corpus, model, out, 1)),
        "plain x2": partial(process, lambda out: plain_cmd(corpus, model, out, 2)),
        "build clm": partial(process, lambda out: build_cmd(corpus, model, out, "clm")),
        "build clm 2w": partial(process, lambda out: build_cmd(corpus, model, out, "clm", TWO_WORKERS)),
        "build all 2w": partial(process, lambda out: build_cmd(corpus, model, out, "clm,mlm,t5,bart", TWO_WORKERS)),
    }
    runs = run_cases(cases, repeats)
    # Quick mode's corpus is tiny already: its in-process CLM build is the start-up cost.
    startup = runs["build clm"][0] if quick else process(lambda out: build_cmd(tiny, model, out, "clm"))
    at_4x = process(lambda out: build_cmd(big, model, out, "clm", TWO_WORKERS))
    plain_4x = process(lambda out: plain_cmd(big, model, out, 2))
    shutil.rmtree(work, ignore_errors=True)
    metrics = pipeline_metrics(runs, startup, at_4x, num_tokens=num_tokens, corpus_mb=mb)
    extra_tokens = num_tokens * (corpus_bytes(big) / corpus_bytes(corpus) - 1)  # the tiles repeat one text
    metrics.append(marginal_metric(runs, at_4x, plain_4x, extra_tokens=extra_tokens, corpus_mb=mb))
    return metrics


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
                        "tok/s", plain_extra / build_extra, "plain x2 marginal", build_4x_seconds=build_4x.seconds,
                        plain_4x_seconds=plain_4x.seconds)


def pipeline_metrics(runs: dict[str, list[ProcessRun]], startup: ProcessRun, at_4x: ProcessRun, *,
                     num_tokens: int, corpus_mb: float) -> list[Metric]:
    sec = {name: [r.seconds for r in rs] for name, rs in runs.items()}

    def rate(name: str) -> float:
        return num_tokens / median(sec[name])

    def versus(name: str, ref: str, label: str, target=None) -> Metric:
        return ratio_metric(f"{name} ({corpus_mb:g} MB)", rate(name), "tok/s", paired_ratio(sec[ref], sec[name]),
                            label, target, seconds=sec[name], ref_seconds=sec[ref],
                            cpu_seconds=[r.cpu_seconds for r in runs[name]], tokens=num_tokens)

    peak_1x = median([r.peak_rss for r in runs["build clm 2w"]])
    return [
        versus("spm x2", "spm x1", "spm x1"),
        versus("plain x1", "spm x1", "spm x1 (ceiling)"),
        versus("plain x2", "spm x2", "spm x2 (ceiling)"),
        versus("build clm", "plain x1", "plain x1"),
        versus("build clm 2w", "plain x2", "plain x2", at_least(0.8)),
        versus("build clm 2w", "spm x2", "spm x2 (ceiling)"),
        ratio_metric("build all 2w / clm 2w time", median(sec["build all 2w"]), "s",
                     paired_ratio(sec["build all 2w"], sec["build clm 2w"]), "build clm 2w", at_most(2.0),
                     seconds=sec["build all 2w"], ref_seconds=sec["build clm 2w"],
                     cpu_seconds=[r.cpu_seconds for r in runs["build all 2w"]],
                     ref_cpu_seconds=[r.cpu_seconds for r in runs["build clm 2w"]]),
        ratio_metric("build clm 2w peak RSS at 4x", at_4x.peak_rss / 2**20, "MiB", at_4x.peak_rss / peak_1x,
                     f"at 1x ({peak_1x / 2**20:.0f} MiB)", at_most(1.3), peak_1x=[r.peak_rss for r in runs["build clm 2w"]],
                     peak_4x=at_4x.peak_rss, seconds_4x=at_4x.seconds),
        Metric(name="build clm start-up (tiny corpus)", value=startup.seconds, unit="s",
               detail={"peak_rss": startup.peak_rss, "cpu_seconds": startup.cpu_seconds}),
    ]


def main() -> None:
    args = script_args(__doc__.splitlines()[0])
    finish(run(quick=args.quick, repeats=args.repeats), args.json)


if __name__ == "__main__":
    main()
