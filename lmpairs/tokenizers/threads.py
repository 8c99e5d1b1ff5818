"""How many native threads a tokenizer may use in this process: its share of the machine's cores.

Beam's multi-process runners start one SDK worker process per ``direct_num_workers`` (or per vCPU
on Dataflow); each encodes with ``cores / processes`` threads so the machine is busy but not
oversubscribed. SentencePiece and tiktoken take the count per call; the ``tokenizers`` Rust pool
reads it once from the environment (:func:`configure_threads`).
"""
from __future__ import annotations

import json
import os

THREADS_ENV = "LMPAIRS_TOKENIZER_THREADS"
_THREADS_MARK = "_LMPAIRS_RAYON_NUM_THREADS"  # what lmpairs itself set, so workers may resize it


def encode_threads() -> int:
    """This process's share of the cores: ``LMPAIRS_TOKENIZER_THREADS`` when set, else the usable
    cores divided by the SDK worker processes of Beam's multi-process runner (``direct_num_workers``
    from the ``PIPELINE_OPTIONS`` Beam gives each worker process)."""
    if os.environ.get(THREADS_ENV):
        return max(1, int(os.environ[THREADS_ENV]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // beam_worker_processes(cores))


def beam_worker_processes(cores: int) -> int:
    """How many Beam SDK worker processes share this machine (1 outside a Beam worker process).

    Direct runner: ``direct_num_workers`` (0 means one per core). Dataflow starts one SDK process
    per vCPU unless the ``no_use_multiple_sdk_containers`` experiment is set.
    """
    raw = os.environ.get("PIPELINE_OPTIONS")
    if not raw:
        return 1
    try:
        parsed = json.loads(raw)
        parsed = parsed.get("options", parsed)
        # Keys are plain ("direct_num_workers") or URNs ("beam:option:direct_num_workers:v1").
        options = {(k.split(":")[2] if k.startswith("beam:option:") else k): v for k, v in parsed.items()}
        if "Dataflow" in str(options.get("runner", "")):
            single = "no_use_multiple_sdk_containers" in (options.get("experiments") or [])
            return 1 if single else cores
        workers = int(options.get("direct_num_workers", 1))
    except (ValueError, TypeError, AttributeError, IndexError):
        return 1
    return cores if workers <= 0 else workers


def configure_threads(threads: int) -> None:
    """Size the ``tokenizers`` Rust pool for this process (read once, when the pool first starts).

    A value the user exported (``RAYON_NUM_THREADS`` / ``TOKENIZERS_PARALLELISM``) wins; one that
    lmpairs set in a parent process (inherited by Beam's worker processes) is replaced. One thread
    turns the pool off (``TOKENIZERS_PARALLELISM=false``) rather than starting it for nothing.
    """
    ours = os.environ.get(_THREADS_MARK)
    if "RAYON_NUM_THREADS" in os.environ and os.environ["RAYON_NUM_THREADS"] != ours:
        return
    os.environ["RAYON_NUM_THREADS"] = os.environ[_THREADS_MARK] = str(threads)
    if ours is not None or "TOKENIZERS_PARALLELISM" not in os.environ:
        os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
