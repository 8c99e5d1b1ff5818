"""``lmpairs report`` and the build warnings on real builds: a clean one and one crafted to trip each warning.

The report's figures must equal the manifest's counters and a recount from the shards; every
section is on the page for every objective; the page is valid HTML with no external reference; it
renders in headless Chromium with plots of non-zero size.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from textgen import english_paragraphs, japanese_lines

from lmpairs.cli import main as lmpairs_main
from lmpairs.objectives import get_spec
from lmpairs.report import FigureOptions, build_figures, render_page
from lmpairs.report.html import OBJECTIVE_SECTIONS
from lmpairs.schemas import read_manifest

WARNING_CODES = {"one_document_file", "mostly_rejected", "unknown_pieces", "empty_validation", "padding"}


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory, trained_tokenizer, build) -> Path:
    """All four objectives from 50 documents of 8 paragraphs each (blank lines between documents), seq_len
    128 (BART's rows, cut at sentence ends, then pad about 13%), 20% validation."""
    root = tmp_path_factory.mktemp("report_clean")
    (root / "corpus").mkdir()
    paragraphs = english_paragraphs(400, seed=3)
    documents = [" ".join(paragraphs[i:i + 8]) for i in range(0, len(paragraphs), 8)]
    (root / "corpus" / "english.txt").write_text("\n\n".join(documents) + "\n", encoding="utf-8")
    shutil.copy(trained_tokenizer.name, root / Path(trained_tokenizer.name).name)
    build([str(root / "corpus" / "*")], root / "out", str(root / Path(trained_tokenizer.name).name), seq_len=128,
          validation_fraction=0.2)
    shutil.copy(trained_tokenizer.name, root / "out" / Path(trained_tokenizer.name).name)
    return root / "out"


@pytest.fixture(scope="module")
def crafted_build(tmp_path_factory, trained_tokenizer, build) -> Path:
    """Inputs that trip every warning: a 1.5 KB text file without blank lines, a JSONL file whose documents
    are mostly rejected, Japanese text for an English tokenizer; rows far longer than the corpus; a
    validation fraction that leaves the validation split empty."""
    root = tmp_path_factory.mktemp("report_crafted")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "oneline.txt").write_text("\n".join(english_paragraphs(8, seed=5)) + "\n", encoding="utf-8")
    good = [json.dumps({"text": t}) for t in english_paragraphs(2, seed=6)]
    (corpus / "bad.jsonl").write_text("\n".join(good + ['{"title": "no text"}'] * 5) + "\n", encoding="utf-8")
    (corpus / "ja.txt").write_text("\n\n".join(japanese_lines(6, seed=1)) + "\n", encoding="utf-8")
    build([str(corpus / "*")], root / "out", trained_tokenizer.name, seq_len=4096, validation_fraction=0.001,
          objectives=("clm", "mlm", "bart"))
    shutil.copy(trained_tokenizer.name, root / "out" / Path(trained_tokenizer.name).name)
    return root / "out"


def codes(out: Path, objective: str) -> set[str]:
    return {w["code"] for w in read_manifest(str(out / objective)).warnings}


def test_a_clean_build_has_no_warning(clean_build: Path):
    for objective in ("clm", "mlm", "t5", "bart"):
        assert read_manifest(str(clean_build / objective)).warnings == []


def test_each_warning_fires_on_the_crafted_build(crafted_build: Path):
    for objective in ("clm", "mlm", "bart"):
        assert codes(crafted_build, objective) == WARNING_CODES
    warnings = read_manifest(str(crafted_build / "clm")).warnings
    files = {w["code"]: w.get("file", "") for w in warnings}
    assert files["one_document_file"].endswith("oneline.txt") and files["mostly_rejected"].endswith("bad.jsonl")
    assert all(w["objective"] == "clm" for w in warnings if w["code"] in ("padding", "empty_validation"))


def test_per_file_counts_add_up_to_the_build_counters(crafted_build: Path):
    counters = read_manifest(str(crafted_build / "mlm")).counters
    files = {Path(f["path"]).name: f for f in counters["files"]}
    assert files["bad.jsonl"]["documents_read"] == 7 and files["bad.jsonl"]["documents_used"] == 2
    assert files["bad.jsonl"]["rejected"] == {"missing_field": 5}
    assert files["oneline.txt"]["documents_read"] == 1
    for name in ("documents_read", "documents_used", "tokens", "unknown_tokens"):
        assert sum(f[name] for f in files.values()) == counters[name]
    assert files["ja.txt"]["unknown_tokens"] > 0.01 * files["ja.txt"]["tokens"]
    assert sum(counters["document_lengths_log2"]) == counters["documents_used"]


@pytest.mark.parametrize("objective", ["clm", "mlm", "t5", "bart"])
def test_figures_equal_the_manifest_and_the_recount(clean_build: Path, objective: str):
    figures = build_figures(str(clean_build / objective), FigureOptions(max_rows=0))["objectives"][0]
    counters = read_manifest(str(clean_build / objective)).counters
    recount = figures["recount"]
    assert recount["complete"] and recount["examples"] == counters["examples"]
    # the packer's own counts (BART's sentences_cut) are not in the stored rows; everything else recounts
    packer_only = set(counters["measured"]) - set(recount["measured"])
    assert packer_only <= {"sentences_cut"}
    assert recount["measured"] == {k: v for k, v in counters["measured"].items() if k not in packer_only}
    assert recount["padding_tokens"] == counters["padding_tokens"] == figures["counters"]["padding_tokens"]
    assert recount["slots"] == counters["slots"]
    assert sum(recount["row_fill"]["counts"]) == sum(counters["examples"].values())
    for rate in figures["rates"]:
        assert rate["manifest"] == rate["recount"]
    if objective == "clm":  # doc_lengths stored: documents cut = pieces - documents
        assert figures["counters"]["cut_documents"] == recount["document_pieces"] - counters["documents_used"] > 0
    assert {p["title"] for p in figures["corruption"]["plots"]}, "every built-in objective has corruption plots"
    json.dumps(figures)


class _Checker(HTMLParser):
    """Collects ids, svg sizes and every attribute that could load something; fails on unbalanced tags."""

    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.references: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.ids.add(attributes.get("id", ""))
        self.svgs += tag == "svg"
        self.references += [v for k, v in attrs if k in ("src", "href", "xlink:href", "action") and v
                             and not v.startswith("#")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def test_page_has_every_section_per_objective_and_no_external_reference(clean_build: Path, tmp_path: Path):
    page_path = tmp_path / "report.html"
    assert lmpairs_main(["report", str(clean_build), "--output", str(page_path), "-n", "2"]) == 0
    page = page_path.read_text(encoding="utf-8")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == ["html"] or checker.stack == []
    assert checker.references == []
    assert not re.search(r"https?:|url\(|@import|<script|<link|<iframe|<img", page)
    for objective in ("clm", "mlm", "t5", "bart"):
        assert {f"{objective}-{s}" for s in OBJECTIVE_SECTIONS} <= checker.ids
    assert {"warnings", "inputs"} <= checker.ids
    assert checker.svgs >= 4 * 3
    assert page.count('class="example"') == 8
    for marker in ('class="mask"', 'class="rand"', 'class="kept"', 'class="sentinel"', 'class="del"',
                   "document piece(s)"):
        assert marker in page


def test_a_new_objective_gets_the_generic_sections(clean_build: Path):
    figures = build_figures(str(clean_build / "clm"), FigureOptions(num_examples=1), with_rows=True)
    figures["objectives"][0]["view"] = "unknown-view"
    figures["objectives"][0]["corruption"] = {"plots": [], "table": []}
    page = render_page(figures)
    assert all(f'id="clm-{s}"' in page for s in OBJECTIVE_SECTIONS) and "No corruption" in page
    assert get_spec("clm").view == "next-token"


def test_inspect_shows_the_warnings_and_json_has_the_report_figures(crafted_build: Path, capsys):
    assert lmpairs_main(["inspect", str(crafted_build / "mlm"), "-n", "0"]) == 0
    text = capsys.readouterr().out
    assert text.count("  warning      ") == len(WARNING_CODES)
    assert lmpairs_main(["inspect", str(crafted_build), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [o["objective"] for o in data["objectives"]] == ["clm", "mlm", "bart"]
    mlm = data["objectives"][1]
    assert {w["code"] for w in mlm["warnings"]} == WARNING_CODES
    assert mlm["counters"]["padding_share"] > 0.2 and mlm["inputs"]["unknown_share"] > 0.01


def test_mixture_section_shows_planned_and_realised_shares(clean_build: Path, tmp_path: Path):
    page_path = tmp_path / "mix.html"
    assert lmpairs_main(["report", "--data", f"{clean_build / 'clm'}:3", "--data", f"{clean_build / 'clm'}:1",
                         "--output", str(page_path), "-n", "0"]) == 0
    page = page_path.read_text(encoding="utf-8")
    assert 'id="mixture"' in page and "planned share" in page and "0.75" in page and "0.25" in page


def test_report_errors_are_one_line(tmp_path: Path, capsys):
    assert lmpairs_main(["report", str(tmp_path / "missing"), "--output", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lmpairs report: error:") and "\n" not in err and "Traceback" not in err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None,
                    reason="chromium is not installed (Debian package `chromium`; .ci/run installs it)")
def test_page_renders_in_chromium_with_plots_of_non_zero_size(clean_build: Path, tmp_path: Path):
    page_path = tmp_path / "report.html"
    assert lmpairs_main(["report", str(clean_build), "--output", str(page_path), "-n", "1"]) == 0
    # A probe page loads the report in an iframe (same origin: file://), measures every plot and
    # writes the sizes into its own DOM, which --dump-dom prints.
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><body><iframe id="f" src="report.html" width="1200" height="900"></iframe>'
        '<pre id="out">pending</pre><script>'
        'document.getElementById("f").onload = function () {'
        '  var d = this.contentDocument, sizes = [];'
        '  d.querySelectorAll("svg.plot").forEach(function (s) {'
        '    var r = s.getBoundingClientRect(); sizes.push([Math.round(r.width), Math.round(r.height)]); });'
        '  document.getElementById("out").textContent = "SIZES=" + JSON.stringify(sizes)'
        '    + " SECTIONS=" + d.querySelectorAll("section").length; };'
        '</script></body></html>', encoding="utf-8")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
                           probe.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"SIZES=(\[.*?\]) SECTIONS=(\d+)", done.stdout)
    assert found, done.stdout[-500:] + done.stderr[-2000:]
    sizes = json.loads(found.group(1))
    assert len(sizes) >= 12 and all(w > 100 and h > 50 for w, h in sizes)
    assert int(found.group(2)) == 2 + 4 * (1 + len(OBJECTIVE_SECTIONS))


def test_a_registered_objective_gets_the_generic_sections_and_its_rates(build, trained_tokenizer, tmp_path):
    from reverse_objective import SPEC

    from lmpairs.objectives import register, unregister

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(english_paragraphs(60, seed=9)) + "\n", encoding="utf-8")
    register(SPEC)
    try:
        build([str(corpus)], tmp_path / "out", trained_tokenizer.name, objectives=(SPEC.name,), validation_fraction=0)
        figures = build_figures(str(tmp_path / "out"), FigureOptions(tokenizer=trained_tokenizer.name, num_examples=1),
                                with_rows=True)
        page = render_page(figures)
        manifest = read_manifest(str(tmp_path / "out" / SPEC.name))
    finally:
        unregister(SPEC.name)
    (f,) = figures["objectives"]
    assert f["recount"]["measured"] == manifest.counters["measured"]
    assert [r["label"] for r in f["rates"]] == ["reversed / tokens"] and f["rates"][0]["recount"] == 1.0
    assert all(f'id="{SPEC.name}-{s}"' in page for s in OBJECTIVE_SECTIONS)
    assert "reversed / tokens" in page and 'class="example"' in page
