"""Peers: ``lmpairs build`` CLM against what users run instead, side by side on one corpus and tokenizer.

Question: is the build ahead of the tools a user already has? Each round runs, round-robin, on the
same corpus (English paragraphs of ~2 KB from the shared sources, blank-line separated, as one text
file and the same documents as JSONL) and the same tokenizer (Mistral 7B's ``tokenizer.model.v1``
from the ``mistral-common`` wheel; a byte-level BPE ``tokenizer.json`` trained on the sources):

- ``build clm``: ``lmpairs build --objectives clm --seq-len 1024`` as a user runs it locally: Beam's
  DirectRunner in one process, the tokenizer's native encode on every core (2 threads here), reading
  and packing overlapped with it;
- ``build clm 2w``: the same with ``--direct_num_workers=2 --direct_running_mode=multi_processing``
  (two SDK worker processes of one encode thread each);
- ``build clm start-up``: the default build of a one-line corpus (Python, Beam and the tokenizer
  loading, the pipeline's fixed cost; the CPU beyond it is what the corpus costs);
- ``build all`` / ``build all 2w``: the same with all four objectives (paragraphs, SentencePiece only);
- ``hf datasets``: :mod:`bench.peer_hf` (``load_dataset("text", sample_by=...)`` -> ``map(encode,
  batched=True, num_proc=2)`` -> run_clm's ``group_texts`` -> ``to_parquet``);
- ``megatron``: :mod:`bench.peer_megatron` (a 2-process pool over JSONL lines, one ``.bin``);
- ``encode``: :mod:`bench.peer_encode`, the tokenizer alone on 2 threads over texts in memory (the
  ceiling; its CPU seconds are the yardstick for the build's CPU).

Also on ~40-byte line documents (``--documents line`` / ``sample_by="line"``). Wall seconds include
start-up (what a user waits for); CPU seconds are the process tree's. Targets (issue 18): build
wall <= 0.8x HF datasets, build CPU <= 1.15x pure encode, all four <= 1.3x CLM alone, lines >= 0.7x
the paragraph rate in tokens/s::

    LMPAIRS_BENCH_PEERS_MB=64 LMPAIRS_BENCH_PEERS_TOKENIZERS=spm,json python -m bench.peers [--quick] [--repeats N]
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, Metric, ProcessRun, at_least, at_most, median, python_cmd, ratio_metric, run_process
from bench.corpus import cache_dir, source_documents

FULL_MB, QUICK_MB = 64.0, 0.2
TWO_WORKERS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


def mistral_v1() -> Path:
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the peers benchmark needs the mistral-common wheel (pip install 'lmpairs[bench]').")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.model.v1"


def tokenizer_json() -> Path:
    """A 32k byte-level BPE tokenizer.json trained on the sources once, then cached."""
    path = cache_dir() / "bytelevel32k" / "tokenizer.json"
    if not path.exists():
        from lmpairs.tokenizers.training import lmpairs_special_tokens, train_tokenizer_json

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(train_tokenizer_json(source_documents(), "bpe-bytelevel", 32_000,
                                              special_tokens=lmpairs_special_tokens(), unk_token="<unk>"))
    return path


def peer_corpus(mb: float, kind: str) -> tuple[Path, Path]:
    """``(text file, JSONL file)`` of ``mb`` MB of documents: ``paragraph`` (~2 KB, blank-line
    separated) or ``line`` (~40 B, one per line); the same documents in both files."""
    folder = cache_dir() / f"peers-{kind}-{mb:g}MB"
    text, jsonl = folder / "corpus.txt", folder / "corpus.jsonl"
    if (folder / "DONE").exists():
        return text, jsonl
    folder.mkdir(parents=True, exist_ok=True)
    docs = source_documents()
    if kind == "line":
        words, docs, current = " ".join(docs).split(), [], []
        for word in words:
            current.append(word)
            if sum(map(len, current)) + len(current) > 40:
                docs.append(" ".join(current))
                current = []
    sep = "\n\n" if kind == "paragraph" else "\n"
    total, i = 0, 0
    with open(text, "w", encoding="utf-8") as t, open(jsonl, "w", encoding="utf-8") as j:
        while total < mb * 1e6:
            doc = docs[i % len(docs)]
            t.write(doc + sep)
            j.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
            total += len(doc.encode("utf-8")) + len(sep)
            i += 1
    (folder / "DONE").write_text(f"{i} documents\n")
    return text, jsonl


def encode_ceiling(text: Path, tokenizer: Path, kind: str) -> dict:
    out = subprocess.run(python_cmd("bench.peer_encode", "--input", str(text), "--tokenizer", str(tokenizer),
                                    "--sample-by", kind, "--threads", "2"),
                         cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def cases_for(text: Path, jsonl: Path, tokenizer: Path, kind: str, work: Path, *, with_all: bool) -> dict:
    def build(objectives: str, *runner: str):
        return lambda: run_process(python_cmd("lmpairs.cli", "build", "--input", str(text), "--output",
                                              str(fresh(work) / "out"), "--tokenizer", str(tokenizer),
                                              "--objectives", objectives, "--documents", kind, "--seq-len", "1024",
                                              *runner))
    tiny = cache_dir() / "peers-one-document.txt"
    tiny.write_text("One short document, to measure what a build costs before its first token.\n", encoding="utf-8")
    cases = {
        "build clm": build("clm"),
        "build clm start-up": lambda: run_process(python_cmd("lmpairs.cli", "build", "--input", str(tiny), "--output",
                                                           str(fresh(work) / "out"), "--tokenizer", str(tokenizer),
                                                           "--objectives", "clm", "--seq-len", "1024")),
        "build clm 2w": build("clm", *TWO_WORKERS),
        "hf datasets": lambda: run_process(python_cmd("bench.peer_hf", "--input", str(text), "--tokenizer",
                                                      str(tokenizer), "--output", str(fresh(work) / "hf.parquet"),
                                                      "--sample-by", kind, "--num-proc", "2")),
        "megatron": lambda: run_process(python_cmd("bench.peer_megatron", "--input", str(jsonl), "--tokenizer",
                                                   str(tokenizer), "--output", str(fresh(work) / "mega"),
                                                   "--workers", "2")),
    }
    if with_all:
        cases["build all"] = build("clm,mlm,t5,bart")
        cases["build all 2w"] = build("clm,mlm,t5,bart", *TWO_WORKERS)
    return cases


def run(*, quick: bool = False, repeats: int | None = None, mb: float | None = None) -> list[Metric]:
    repeats = repeats or (1 if quick else 2)
    mb = mb or float(os.environ.get("LMPAIRS_BENCH_PEERS_MB", QUICK_MB if quick else FULL_MB))
    work = cache_dir() / "peers-out"
    metrics: list[Metric] = []
    clm_rates: dict[tuple[str, str], list[float]] = {}
    chosen = os.environ.get("LMPAIRS_BENCH_PEERS_TOKENIZERS", "spm" if quick else "spm,json").split(",")
    tokenizers = [(name, mistral_v1() if name == "spm" else tokenizer_json()) for name in chosen]
    for tok_name, tokenizer in tokenizers:
        for kind in ("paragraph", "line"):
            text, jsonl = peer_corpus(mb, kind)
            ceiling = encode_ceiling(text, tokenizer, kind)
            cases = cases_for(text, jsonl, tokenizer, kind, work, with_all=(tok_name, kind) == ("spm", "paragraph"))
            runs: dict[str, list[ProcessRun]] = {name: [] for name in cases}
            for _ in range(repeats):
                for name, fn in cases.items():
                    runs[name].append(fn())
            label = f"{tok_name} {kind} {mb:g} MB"
            metrics += peer_metrics(runs, ceiling, label)
            clm_rates[(tok_name, kind)] = [ceiling["tokens"] / r.seconds for r in runs["build clm"]]
        para, line = clm_rates[(tok_name, "paragraph")], clm_rates[(tok_name, "line")]
        metrics.append(ratio_metric(f"peers {tok_name} lines / paragraphs tok/s", median(line), "tok/s",
                                    median(line) / median(para), "build clm paragraphs", at_least(0.7)))
    shutil.rmtree(work, ignore_errors=True)
    return metrics


def peer_metrics(runs: dict[str, list[ProcessRun]], ceiling: dict, label: str) -> list[Metric]:
    """Each build mode against HF datasets (wall), the pure encode (CPU) and Megatron (wall); all four
    objectives against CLM alone in the same mode. Targets sit on the default mode; 2w is reported."""
    detail = {name: {"seconds": [r.seconds for r in rs], "cpu_seconds": [r.cpu_seconds for r in rs]}
              for name, rs in runs.items()}
    detail["encode"] = ceiling
    out = []
    for mode, target in (("", True), (" 2w", False)):
        build = runs["build clm" + mode]
        seconds, cpu = median([b.seconds for b in build]), median([b.cpu_seconds for b in build])
        out += [
            ratio_metric(f"peers {label}: build clm{mode} / hf datasets wall", seconds, "s",
                         median([b.seconds / h.seconds for b, h in zip(build, runs["hf datasets"])]), "hf datasets",
                         at_most(0.8) if target else None, **(detail if target else {})),
            ratio_metric(f"peers {label}: build clm{mode} CPU / pure encode CPU", cpu, "cpu-s",
                         cpu / ceiling["cpu_seconds"], "pure encode", at_most(1.15) if target else None),
            ratio_metric(f"peers {label}: build clm{mode} / megatron wall", seconds, "s",
                         median([b.seconds / m.seconds for b, m in zip(build, runs["megatron"])]), "megatron"),
        ]
        startup = median([r.cpu_seconds for r in runs["build clm start-up"]])
        if not mode and cpu >= 2 * startup:  # on a tiny (--quick) corpus the difference is only noise
            out.append(ratio_metric(f"peers {label}: build clm CPU beyond start-up ({startup:.1f} cpu-s) / pure encode",
                                    cpu - startup, "cpu-s", (cpu - startup) / ceiling["cpu_seconds"], "pure encode"))
        if "build all" + mode in runs:
            every = runs["build all" + mode]
            out.append(ratio_metric(f"peers {label}: build all{mode} / clm{mode} wall",
                                    median([r.seconds for r in every]), "s",
                                    median([a.seconds / b.seconds for a, b in zip(every, build)]),
                                    "build clm" + mode, at_most(1.3) if target else None))
    return out


if __name__ == "__main__":
    from bench.common import run_script

    run_script(run, __doc__)
    sys.exit(0)
