"""``lmpairs.build(...)``: the ``lmpairs build`` job as one Python call.

The command line and this function build the same :class:`~lmpairs.config.BuildConfig` and run the
same job, so a script, a notebook or an orchestrator (Airflow, Kubeflow) gets exactly the shards
``lmpairs build`` would write. Beam is imported only when the job starts, so ``import lmpairs``
stays light for the loader side.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lmpairs.config import OBJECTIVE_CONFIGS, BuildConfig, ConfigError

if TYPE_CHECKING:
    from lmpairs.schemas.manifest import Manifest


def build(inputs: str | Sequence[str], output: str, tokenizer: str, *,
          objectives: str | Sequence[str] | None = None, seq_len: int | None = None,
          settings: Mapping[str, Mapping[str, Any]] | None = None,
          beam_args: Sequence[str] = (), **options: Any) -> dict[str, Manifest]:
    """Build training examples and return each objective's manifest (``{}`` for a Beam dry run).

    ``inputs`` are files, directories or globs (local, ``gs://``, ``s3://``): one string or any
    sequence of them; ``objectives`` likewise (``"clm,mlm"`` or ``["clm", "mlm"]``; default: all
    built-in ones). ``seq_len`` sets every chosen objective's length as ``--seq-len`` does;
    ``settings`` sets objective fields as ``--set`` does: ``{"mlm": {"mask_prob": 0.2}}``.
    ``options`` are the other :class:`~lmpairs.config.BuildConfig` fields under their Python names
    (``seed=1``, ``documents="line"``, ``overwrite=True``, ``validation_fraction=0.0`` …), and
    ``beam_args`` Beam's pipeline options as on the command line (``["--direct_num_workers=2",
    "--direct_running_mode=multi_processing"]``); without ``--runner`` the job runs in this process.

    Bad input raises a :class:`~lmpairs.errors.UserError` whose message names the problem and the
    fix (the command line prints the same message)::

        import lmpairs
        manifests = lmpairs.build(["corpus/*.jsonl"], "out", "tok.model", objectives=["clm", "t5"],
                                  seq_len=512, settings={"t5": {"noise_density": 0.3}})
        print(manifests["clm"].counters["examples"])  # {"train": …, "validation": …}
    """
    fields = {f.name for f in dataclasses.fields(BuildConfig)}
    unknown = sorted(set(options) - fields - set(OBJECTIVE_CONFIGS))  # mlm=MlmConfig(...): the older form
    if unknown:
        raise ConfigError(f"lmpairs.build: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                          f"choose from {', '.join(sorted(fields - {'inputs', 'output', 'tokenizer', 'objectives'}))}.")
    given = dict(options, inputs=inputs, output=output, tokenizer=tokenizer)
    if objectives is not None:
        given["objectives"] = objectives
    config = BuildConfig(**given)
    if seq_len is not None:
        config = config.with_seq_len(seq_len)
    for objective, values in (settings or {}).items():
        if objective not in config.objectives or objective not in OBJECTIVE_CONFIGS:
            raise ConfigError(f"lmpairs.build: settings for {objective!r}, which this build does not make; "
                              f"its objectives are {','.join(config.objectives)}.")
        current = config.objective_config(objective)
        names = [f.name for f in dataclasses.fields(current)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(f"lmpairs.build: settings[{objective!r}] names {', '.join(unknown)}, which {objective} "
                              f"does not have; choose from {', '.join(names)}.")
        sub = dataclasses.replace(current, **dict(values))
        config = dataclasses.replace(config, **{objective: sub})
    from lmpairs.pipeline import run_build  # Beam: imported when the job starts

    return run_build(config, list(beam_args))
