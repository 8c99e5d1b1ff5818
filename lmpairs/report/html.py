"""The report page: one self-contained HTML document (inline CSS and SVG, no script, no external reference).

Sections: the build's warnings and inputs once, then per objective a summary, lengths, applied
corruption and coloured examples (element ids ``<objective>-<section>``), and for a mixture each
source's planned and realised share. Every number comes from :func:`lmpairs.report.figures.build_figures`.
"""
from __future__ import annotations

import math
from html import escape
from typing import Any

from lmpairs.inspection.render import PieceRenderer
from lmpairs.report import svg
from lmpairs.report.examples import example_html

OBJECTIVE_SECTIONS = ("summary", "lengths", "corruption", "examples")

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1120px;padding:18px;
color:#222}
h1{font-size:22px}h2{border-bottom:2px solid #4e79a7;padding-bottom:3px;margin-top:34px}h3{margin:20px 0 6px}
h5{margin:6px 0 2px;font-size:12px;color:#555}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f5f8}
.plots{display:flex;flex-wrap:wrap;gap:10px}.plot{border:1px solid #e3e3e3;background:#fff}
.plot .t{font-size:13px;font-weight:600}.plot .a{font-size:11px;fill:#444}.plot .ax{stroke:#888}
.warn{background:#fff4e5;border-left:4px solid #f28e2b;padding:6px 10px;margin:4px 0}
.ok{background:#eef7ee;border-left:4px solid #59a14f;padding:6px 10px}
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:14px}
.ids{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;white-space:pre-wrap;overflow-wrap:anywhere;
background:#fafafa;border:1px solid #eee;padding:6px;margin:0}
.mask{background:#e15759;color:#fff;border-radius:2px}.rand{background:#f28e2b;color:#fff;border-radius:2px}
.kept{background:#76b7b2;border-radius:2px}.label{background:#ffe08a;border-radius:2px}
.del{background:#ffd0d0;text-decoration:line-through;text-decoration-color:#c00}
.sentinel{font-weight:700;border:1px solid #888;border-radius:2px}.boundary{color:#c00;font-weight:700}
.legend{color:#444;margin:4px 0}.more{color:#888}.example{margin:10px 0 18px}
nav a{margin-right:12px}
"""


def _n(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "\u2013" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def compact(value: int) -> str:
    """``1024`` -> ``1k``, ``1048576`` -> ``1M``: powers of two as short axis labels."""
    for unit, size in (("M", 2 ** 20), ("k", 2 ** 10)):
        if value >= size:
            return f"{value // size}{unit}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{escape(_n(v))}</td>' if isinstance(v, (int, float))
                                   and not isinstance(v, bool) else f"<td>{escape(_n(v))}</td>" for v in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def warnings_html(warnings: list[dict[str, Any]]) -> str:
    if not warnings:
        return '<p class="ok">No build warnings.</p>'
    return "".join(f'<p class="warn"><b>{escape(w["code"])}</b>: {escape(w["message"])}</p>' for w in warnings)


def inputs_section(figures: dict[str, Any], recount: dict[str, Any]) -> str:
    inputs = figures["inputs"]
    files = inputs["files"]
    parts = [table(["documents read", "used", "rejected", "tokens", "unknown pieces", "byte-fallback pieces (recount)"],
                   [[inputs["documents_read"], inputs["documents_used"],
                     inputs["documents_read"] - inputs["documents_used"], inputs["tokens"],
                     f"{inputs['unknown_tokens']:,} ({inputs['unknown_share']:.2%})",
                     f"{recount['byte_fallback_tokens']:,} ({recount['byte_fallback_share']:.2%})"]])]
    plots = []
    if files:
        plots.append(svg.bars("documents per file", [f["path"] for f in files], [f["documents_read"] for f in files]))
        plots.append(svg.bars("tokens per file", [f["path"] for f in files], [f["tokens"] for f in files]))
    if inputs["documents_rejected"]:
        reasons = inputs["documents_rejected"]
        plots.append(svg.bars("rejected documents by reason", list(reasons), list(reasons.values())))
    parts.append(f'<div class="plots">{"".join(plots)}</div>')
    rows = [[f["path"], f.get("format", ""), f["documents_read"], f["documents_used"], f["tokens"],
             f.get("unknown_tokens", 0), ", ".join(f"{k} {v}" for k, v in f.get("rejected", {}).items()) or "none"]
            for f in files]
    rows += [[f.get("path", "?"), "", 0, 0, 0, 0, f"whole file: {f.get('reason', '?')}"]
             for f in inputs["files_rejected"]]
    if rows:
        parts.append(table(["file", "format", "documents", "used", "tokens", "unknown", "rejected"], rows))
        if inputs["files_omitted"]:
            parts.append(f'<p class="legend">{inputs["files_omitted"]:,} more files are not listed (the manifest '
                         "keeps the files with the most rejections, then the most tokens).</p>")
    else:
        parts.append("<p>Per-file counts are not in this manifest (built by an older lmpairs).</p>")
    return "".join(parts)


def summary_section(f: dict[str, Any]) -> str:
    c = f["counters"]
    examples = c["examples"]
    rows = [["rows (clean, before copies)", c["rows"]],
            *[[f"{side} examples", n] for side, n in examples.items()],
            ["tokens read (all objectives)", f["inputs"]["tokens"]],
            ["tokens in the clean rows (recount)", f["recount"]["clean_tokens"]],
            ["stored row length (full row)", f["full_row_length"]],
            ["padding tokens", c["padding_tokens"]],
            ["padding share of row slots", f"{c['padding_share']:.2%}" if c["slots"] else "not recorded"],
            ["tokens dropped (final rows, truncation)", c["dropped_tokens"]],
            ["cuts of documents across rows (pieces − documents)",
             "not recorded" if c["cut_documents"] is None else c["cut_documents"]]]
    shards = [[side, s["shards"], s["rows"], s["bytes"]] for side, s in f["shards"].items()]
    config = ", ".join(f"{k}={v}" for k, v in sorted(f["config"].items()))
    return (table(["figure", "value"], rows) + table(["side", "shards", "rows", "bytes"], shards)
            + f'<p class="legend">config: {escape(config)}; seed {f["seed"]}</p>' + warnings_html(f["warnings"]))


def lengths_section(f: dict[str, Any]) -> str:
    plots = []
    log2 = f["inputs"]["document_lengths_log2"]
    if log2:
        edges = list(range(len(log2) + 1))
        seq_len = f.get("seq_len")
        plots.append(svg.histogram("document lengths (tokens, log scale)", edges, log2, xlabel="tokens per document",
                                   ylabel="documents", tick_labels=[compact(2 ** k) for k in edges],
                                   target=math.log2(seq_len) if seq_len else None, target_label=f"seq_len {seq_len}"))
    fill = f["recount"]["row_fill"]
    plots.append(svg.histogram("row fill (clean row length / full row)", fill["edges"], fill["counts"],
                               xlabel="share of the row's slots holding tokens", ylabel="rows"))
    note = "" if log2 else "<p>The document length histogram is not in this manifest (older lmpairs).</p>"
    return f'<div class="plots">{"".join(plots)}</div>{note}'


def corruption_section(f: dict[str, Any]) -> str:
    parts = []
    if f["rates"]:
        parts.append(table(["applied rate", "manifest", "recount from shards", "configured"],
                           [[r["label"], r["manifest"], r["recount"], r["configured"]] for r in f["rates"]]))
    section = f["corruption"]
    plots = [svg.histogram(p["title"], p["edges"], p["counts"], xlabel=p.get("xlabel", ""), ylabel=p.get("ylabel", ""),
                           target=p.get("target"), target_label=p.get("target_label", ""), expected=p.get("expected"),
                           integers=p.get("integers", False))
             for p in section["plots"]]
    if plots:
        parts.append(f'<div class="plots">{"".join(plots)}</div>')
    if section["table"]:
        parts.append(table(["recounted", "value", "configured"], section["table"]))
    if not parts:
        parts.append("<p>No corruption: this objective stores its rows as they are.</p>")
    if not f["recount"]["complete"]:
        parts.append(f'<p class="legend">Recounted from the first {_n(sum(f["recount"]["examples"].values()))} '
                     "stored examples (pass --max-rows 0 to read all).</p>")
    return "".join(parts)


def examples_section(f: dict[str, Any], pieces: PieceRenderer | None) -> str:
    rows = f.get("rows") or []
    if pieces is None or not rows:
        return "<p>No examples shown.</p>"
    return "".join(f'<div class="example"><h4>{escape(f.get("rows_side", "train"))} example {n} of {len(rows)} '
                   f'({len(row["input_ids"])} input tokens)</h4>{example_html(f["view"], row, pieces)}</div>'
                   for n, row in enumerate(rows, 1))


def mixture_section(mixture: list[dict[str, Any]]) -> str:
    rows = [[m["path"], m["weight"], m["planned_share"], m["share"], m["rows"], m["examples"], m["passes"]]
            for m in mixture]
    plot = svg.bars("realised share of an epoch", [m["path"] for m in mixture], [m["share"] for m in mixture])
    return (table(["source", "weight", "planned share", "realised share", "rows", "examples per epoch", "passes"], rows)
            + f'<div class="plots">{plot}</div>')


def render_page(figures: dict[str, Any], *, mixture: list[dict[str, Any]] | None = None) -> str:
    """The whole page for ``build_figures(..., with_rows=True)``'s result (``mixture`` optional)."""
    objectives = figures["objectives"]
    first = objectives[0]
    warnings, seen = [], set()
    for f in objectives:
        for w in f["warnings"]:
            if w["message"] not in seen:
                seen.add(w["message"])
                warnings.append(w)
    renderers: dict[int, PieceRenderer] = {}
    nav = "".join(f'<a href="#{escape(f["objective"])}">{escape(f["objective"])}</a>' for f in objectives)
    body = [f"<h1>lmpairs report: {escape(figures['path'])}</h1>", f"<nav>{nav}</nav>",
            f'<section id="warnings"><h2>Warnings</h2>{warnings_html(warnings)}</section>',
            f'<section id="inputs"><h2>Inputs</h2>{inputs_section(first, first["recount"])}</section>']
    if mixture:
        body.append(f'<section id="mixture"><h2>Mixture</h2>{mixture_section(mixture)}</section>')
    for f in objectives:
        tok = f.get("tokenizer_object")
        if tok is not None and id(tok) not in renderers:
            renderers[id(tok)] = PieceRenderer(tok)
        name = escape(f["objective"])
        content = {"summary": summary_section(f), "lengths": lengths_section(f),
                   "corruption": corruption_section(f),
                   "examples": examples_section(f, renderers.get(id(tok)) if tok is not None else None)}
        titles = {"summary": "Summary", "lengths": "Lengths", "corruption": "Applied corruption",
                  "examples": "Examples"}
        body.append(f'<section id="{name}"><h2>{name} <small>({escape(f["family"])}, {escape(f["path"])})</small></h2>'
                    + "".join(f'<section id="{name}-{key}"><h3>{titles[key]}</h3>{content[key]}</section>'
                              for key in OBJECTIVE_SECTIONS) + "</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lmpairs report: {escape(figures['path'])}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
