"""A manifest as a short human summary: what was read and rejected, what was written, rates applied.

The applied rates are recomputed from the manifest's ``measured`` counts as the ratios the
objectives are defined by (MLM: selected per maskable token, then 80/10/10 of the selected),
printed beside the config value they should match.
"""
from __future__ import annotations

from typing import Any

from lmpairs.schemas import Manifest
from lmpairs.schemas.rates import RATIOS


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _size(num_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return ""


def applied_ratios(manifest: Manifest) -> list[str]:
    """``label  value  (config field value)`` lines for the objective's defining ratios."""
    measured = manifest.counters.get("measured", {})
    lines = []
    for label, numerator, denominator, field in RATIOS.get(manifest.objective, []):
        if not measured.get(denominator):
            continue
        value = measured.get(numerator, 0) / measured[denominator]
        target = f"  (config {field} = {manifest.config[field]})" if field and field in manifest.config else ""
        lines.append(f"    {label:<24} {value:.4f}{target}")
    return lines


def input_lines(inputs: list[dict[str, Any]], *, shown: int = 3) -> list[str]:
    """The number and size of input files, and the first few paths."""
    total = sum(int(item.get("bytes", 0) or 0) for item in inputs)
    lines = [f"  inputs       {len(inputs)} file(s), {_size(total)}"]
    lines += [f"    {item.get('path', '?')}" for item in inputs[:shown]]
    if len(inputs) > shown:
        lines.append(f"    \u2026 {len(inputs) - shown} more")
    return lines


def document_lines(counters: dict[str, Any]) -> list[str]:
    """Files and documents read, used and rejected (by reason, zero reasons left out)."""
    rejected = {k: v for k, v in counters.get("documents_rejected", {}).items() if v}
    reasons = ", ".join(f"{k} {_number(v)}" for k, v in sorted(rejected.items())) or "none"
    lines = [f"  documents    read {_number(counters.get('documents_read', 0))}, used "
             f"{_number(counters.get('documents_used', 0))}, rejected {_number(sum(rejected.values()))} "
             f"({reasons}); files read {_number(counters.get('files_read', 0))}"]
    for item in counters.get("files_rejected", []):
        lines.append(f"    file rejected: {item.get('path', '?')}: {item.get('reason', '?')}")
    return lines


def padding_share(counters: dict[str, Any]) -> str:
    """`` (x.x% of row slots)`` when the manifest counts row slots (a trainer pays for every slot)."""
    slots = counters.get("slots") or 0
    return f" ({100 * counters.get('padding_tokens', 0) / slots:.1f}% of row slots)" if slots else ""


def example_lines(manifest: Manifest) -> list[str]:
    """Tokens, rows, examples per side, padding (and its share of the row slots) and dropped tokens."""
    c = manifest.counters
    examples = ", ".join(f"{side} {_number(n)}" for side, n in c.get("examples", {}).items())
    return [f"  tokens       {_number(c.get('tokens', 0))} read; {_number(c.get('rows', 0))} rows; examples "
            f"{examples or 'none'}",
            f"  padding      {_number(c.get('padding_tokens', 0))} tokens{padding_share(c)}; dropped "
            f"{_number(c.get('dropped_tokens', 0))} tokens"]


def shard_lines(manifest: Manifest) -> list[str]:
    """One line per shard: path, rows, size and row groups."""
    lines = []
    for side, shards in manifest.splits.items():
        total = sum(s.num_bytes for s in shards)
        rows = _number(manifest.num_rows(side))
        lines.append(f"  {side:<12} {rows} rows in {len(shards)} shard(s), {_size(total)}")
        lines += [f"    {s.path}  {_number(s.num_rows)} rows  {_size(s.num_bytes)}  "
                  f"{s.num_row_groups} row group(s)" for s in shards]
    return lines


def summary_lines(manifest: Manifest, where: str) -> list[str]:
    """The summary block of one objective directory ``where``."""
    tok = manifest.tokenizer
    config = " ".join(f"{k}={v}" for k, v in sorted(manifest.config.items()))
    lines = [f"== {manifest.objective}  ({where})",
             f"  format {manifest.format_version}, lmpairs {manifest.lmpairs_version}, seed {manifest.seed}"
             + (f", created {manifest.created_at}" if manifest.created_at else ""),
             f"  config       {config}",
             f"  tokenizer    {tok.get('file', '?')}  sha256 {str(tok.get('sha256', '?'))[:12]}  "
             f"vocab {_number(tok.get('vocab_size', '?'))}",
             *input_lines(manifest.inputs)]
    lines += document_lines(manifest.counters)
    lines += example_lines(manifest)
    ratios = applied_ratios(manifest)
    if ratios:
        lines.append("  applied rates")
        lines += ratios
    lines += shard_lines(manifest)
    lines += [f"  warning      {w['message']}" for w in manifest.warnings]
    return lines
