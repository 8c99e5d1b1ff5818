"""The report's figures as plain data: manifest counters, a recount from the shards, corruption plots.

``build_figures`` is what ``lmpairs report`` draws and what ``lmpairs inspect --json`` prints, so the
page and the JSON never disagree. Everything here is JSON-serializable (ints, floats, strings,
lists, dicts).
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any

from lmpairs.deprecation import renamed
from lmpairs.inspection.report import check_build_tokenizer, find_tokenizer, objective_dirs, read_rows
from lmpairs.objectives import get_spec
from lmpairs.report.corruption import SECTIONS
from lmpairs.report.recount import build_objective, byte_pieces, recount
from lmpairs.schemas import Manifest, read_manifest
from lmpairs.schemas.checks import build_warnings
from lmpairs.schemas.rates import RATIOS
from lmpairs.schemas.storage import is_url, local_copy
from lmpairs.tokenizers import Tokenizer

MAX_ROWS = 20_000
"""Rows recounted per side by default (0: all): enough for smooth histograms, seconds to read."""


@dataclass(frozen=True, kw_only=True)
class FigureOptions:
    """``max_rows`` per side recounted (0: all), ``num_examples`` rows of ``side`` kept for the coloured
    examples. ``split=`` is ``side``'s deprecated name (one release)."""

    tokenizer: str | None = None
    max_rows: int = MAX_ROWS
    num_examples: int = 3
    side: str = "train"
    storage_options: dict[str, Any] | None = None
    split: InitVar[str | None] = None

    def __post_init__(self, split: str | None) -> None:
        object.__setattr__(self, "side", renamed("FigureOptions", "split", split, "side", self.side, "train",
                                                 stacklevel=4))


def _share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def rates_table(manifest: Manifest, recounted: dict[str, int]) -> list[dict[str, Any]]:
    """Each declared ratio: the manifest's value, the recount's, and the config value it should match."""
    measured = manifest.counters.get("measured", {})
    table = []
    for label, numerator, denominator, field in RATIOS.get(manifest.objective, []):
        table.append({"label": label, "manifest": _share(measured.get(numerator, 0), measured.get(denominator, 0)),
                      "recount": _share(recounted.get(numerator, 0), recounted.get(denominator, 0)),
                      "configured": manifest.config.get(field) if field else None})
    return table


def input_figures(manifest: Manifest) -> dict[str, Any]:
    """Documents and tokens per file, rejections by reason and file, the unknown-piece share."""
    c = manifest.counters
    return {"files": c.get("files", []), "files_omitted": c.get("files_omitted", 0),
            "files_rejected": c.get("files_rejected", []),
            "documents_read": c.get("documents_read", 0), "documents_used": c.get("documents_used", 0),
            "documents_rejected": {k: v for k, v in c.get("documents_rejected", {}).items() if v},
            "tokens": c.get("tokens", 0), "unknown_tokens": c.get("unknown_tokens", 0),
            "unknown_share": _share(c.get("unknown_tokens", 0), c.get("tokens", 0)),
            "document_lengths_log2": c.get("document_lengths_log2", [])}


def objective_figures(manifest: Manifest, objective_dir: str, tokenizer: Tokenizer, options: FigureOptions,
                      byte_mask) -> dict[str, Any]:
    """Every figure of one objective directory (see the module docstring)."""
    spec = get_spec(manifest.objective)
    objective = build_objective(manifest, tokenizer)
    make = SECTIONS.get(spec.view)
    collector = make(objective) if make is not None else None
    counted = recount(manifest, objective_dir, objective, max_rows=options.max_rows,
                      storage=options.storage_options, byte_mask=byte_mask,
                      sections=[collector] if collector is not None else [])
    c = manifest.counters
    rec = counted.figures()
    rec["padding_share"] = _share(rec["padding_tokens"], rec["slots"])
    rec["byte_fallback_share"] = _share(rec["byte_fallback_tokens"], rec["clean_tokens"])
    slots = c.get("slots", 0)
    warnings = manifest.warnings if "files" in c else build_warnings(manifest.objective, manifest.extra.get(
        "build", {}), c)
    documents = c.get("documents_used", 0)
    return {
        "objective": manifest.objective, "path": objective_dir, "family": spec.family, "view": spec.view,
        "config": manifest.config, "seed": manifest.seed, "seq_len": manifest.config.get("seq_len"),
        "full_row_length": objective.full_row_length, "tokenizer": manifest.tokenizer,
        "build": manifest.extra.get("build", {}), "warnings": warnings,
        "counters": {"rows": c.get("rows", 0), "examples": c.get("examples", {}),
                     "padding_tokens": c.get("padding_tokens", 0), "slots": slots,
                     "padding_share": _share(c.get("padding_tokens", 0), slots),
                     "dropped_tokens": c.get("dropped_tokens", 0), "measured": c.get("measured", {}),
                     "rates": c.get("rates", {}),
                     "cut_documents": max(0, rec["document_pieces"] - documents)
                     if rec["document_pieces"] and rec["complete"] else None},
        "shards": {split: {"shards": len(shards), "rows": manifest.num_rows(split),
                           "bytes": sum(s.num_bytes for s in shards)} for split, shards in manifest.splits.items()},
        "inputs": input_figures(manifest),
        "rates": rates_table(manifest, rec["measured"]),
        "recount": rec,
        "corruption": collector.figures() if collector is not None else {"plots": [], "table": []},
    }


def load_tokenizer(manifest: Manifest, objective_dir: str, options: FigureOptions,
                   cache: dict[str, Tokenizer]) -> Tokenizer:
    """The build's tokenizer (looked up as ``inspect`` does), loaded once per file, fingerprint checked."""
    model = find_tokenizer(manifest, objective_dir, options.tokenizer, options.storage_options)
    if model not in cache:
        with local_copy(model, options.storage_options if is_url(model) else None) as local:
            cache[model] = Tokenizer.load(local)
    # the named specials this build appended (UL2's modes, FIM's sentinels), as inspect restores them
    cache[model].restore_named_specials(manifest.tokenizer.get("special_ids") or {})
    check_build_tokenizer(cache[model], manifest, objective_dir, model)
    return cache[model]


def build_figures(path: str, options: FigureOptions, *, with_rows: bool = False) -> dict[str, Any]:
    """``{"path", "objectives": [figures...]}`` for every objective under ``path`` (or the one it names).

    ``with_rows`` adds ``rows``: the first ``num_examples`` stored rows of ``side`` (numpy arrays,
    for the coloured examples; not JSON) and ``tokenizer_object``.
    """
    cache: dict[str, Tokenizer] = {}
    masks: dict[int, Any] = {}
    out = []
    for objective_dir in objective_dirs(path, options.storage_options):
        manifest = read_manifest(objective_dir, filesystem=options.storage_options)
        tokenizer = load_tokenizer(manifest, objective_dir, options, cache)
        if id(tokenizer) not in masks:
            masks[id(tokenizer)] = byte_pieces(tokenizer)
        figures = objective_figures(manifest, objective_dir, tokenizer, options, masks[id(tokenizer)])
        if with_rows:
            side = options.side if options.side in manifest.splits else next(iter(manifest.splits))
            figures["rows"] = read_rows(manifest, objective_dir, side, options.num_examples, options.storage_options)
            figures["rows_side"] = side
            figures["tokenizer_object"] = tokenizer
        out.append(figures)
    return {"path": path, "objectives": out}
