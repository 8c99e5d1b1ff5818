"""The report's pure parts: build warnings from counters, per-file and length counters, SVG plots,
expected span-length distributions, the manifest's ``warnings`` field.

Whole builds: tests/integration/test_report.py."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest

from lmpairs.pipeline.counters import count_documents, file_counts, kept_files, length_histogram, log_warnings
from lmpairs.report import svg
from lmpairs.report.corruption import aligned_blocks, poisson, t5_span_probabilities
from lmpairs.schemas import Manifest, ManifestError
from lmpairs.schemas.checks import build_warnings
from lmpairs.schemas.rows import FORMAT_VERSION

BUILD = {"documents": "paragraph", "validation_fraction": 0.1}


def clean_counters(**changes) -> dict:
    counters = {"tokens": 10_000, "unknown_tokens": 100, "documents_used": 50, "padding_tokens": 200, "slots": 1000,
                "examples": {"train": 90, "validation": 10},
                "files": [{"path": "a.txt", "format": "text", "bytes": 50_000, "documents_read": 50,
                           "documents_used": 50, "rejected": {}}]}
    counters.update(changes)
    return counters


def codes(counters: dict, build: dict = BUILD) -> list[str]:
    return [w["code"] for w in build_warnings("mlm", build, counters)]


def test_no_warning_at_the_thresholds():
    assert codes(clean_counters()) == []  # padding exactly 20%, unknown exactly 1%


@pytest.mark.parametrize(("changes", "code"), [
    ({"padding_tokens": 201}, "padding"),
    ({"unknown_tokens": 101}, "unknown_pieces"),
    ({"examples": {"train": 100, "validation": 0}}, "empty_validation"),
    ({"files": [{"path": "book.txt", "format": "text", "bytes": 1_300_000, "documents_read": 1}]}, "one_document_file"),
    ({"files": [{"path": "b.jsonl", "format": "jsonl", "bytes": 900, "documents_read": 9,
                 "rejected": {"missing_field": 5}}]}, "mostly_rejected"),
])
def test_each_warning_fires_alone(changes: dict, code: str):
    warnings = build_warnings("mlm", BUILD, clean_counters(**changes))
    assert [w["code"] for w in warnings] == [code]
    assert all(isinstance(w["message"], str) and "\n" not in w["message"] for w in warnings)


def test_warnings_depend_on_the_build_settings():
    one_document = {"files": [{"path": "book.txt", "format": "text", "bytes": 5000, "documents_read": 1}]}
    assert codes(clean_counters(**one_document), dict(BUILD, documents="line")) == []
    assert codes(clean_counters(**one_document), dict(BUILD, documents="paragraph")) == ["one_document_file"]
    small = {"files": [{"path": "tiny.txt", "format": "text", "bytes": 80, "documents_read": 1}]}
    assert codes(clean_counters(**small)) == []  # a short note is a fine single paragraph
    empty = {"examples": {"train": 100}}
    assert codes(clean_counters(**empty), dict(BUILD, validation_fraction=0.0)) == []


def test_count_documents_counts_unknown_pieces_and_log2_lengths():
    counts: Counter = Counter()
    lengths = np.array([1, 2, 3, 4, 1000])
    ids = np.concatenate([np.full(n, 7) for n in lengths])
    ids[:3] = 1
    count_documents(counts, ids, lengths, unk_id=1)
    count_documents(counts, np.array([5, 5]), np.array([2]), unk_id=None)
    assert counts["documents_used"] == 6 and counts["tokens"] == 1012 and counts["unknown_tokens"] == 3
    assert length_histogram(dict(counts)) == [1, 3, 1, 0, 0, 0, 0, 0, 0, 1]


def test_file_counts_add_the_splits_of_a_file_and_skip_rejected_files():
    def result(path, start, counts, rejected=None):
        return {"split": {"path": path, "format": "text", "file_bytes": 100, "start": start}, "counts": counts,
                "rejected": rejected}

    files = file_counts([
        result("b.txt", 0, {"documents_read": 3, "documents_used": 2, "tokens": 20, "documents_rejected.empty": 1}),
        result("a.txt", 0, {"documents_read": 1, "documents_used": 1, "tokens": 5, "unknown_tokens": 1}),
        result("b.txt", 50, {"documents_read": 2, "documents_used": 2, "tokens": 9}),
        result("c.gz", 0, {"files_rejected": 1}, rejected={"path": "c.gz", "reason": "unreadable_file"}),
    ])
    assert [f["path"] for f in files] == ["a.txt", "b.txt"]
    assert files[1] == {"path": "b.txt", "format": "text", "bytes": 100, "documents_read": 5, "documents_used": 4,
                        "tokens": 29, "unknown_tokens": 0, "rejected": {"empty": 1}}


def test_kept_files_keeps_the_most_rejected_then_the_largest_in_path_order():
    files = [{"path": f"f{i}", "tokens": i, "rejected": {"empty": 5} if i == 1 else {}} for i in range(6)]
    assert kept_files(files, limit=6) == (files, 0)
    kept, omitted = kept_files(files, limit=3)
    assert [f["path"] for f in kept] == ["f1", "f4", "f5"] and omitted == 3


def test_each_warning_is_logged_once_for_the_build(caplog):
    shared = {"code": "unknown_pieces", "message": "unknown pieces are 3%"}
    manifests = {"clm": SimpleNamespace(warnings=[shared]),
                 "mlm": SimpleNamespace(warnings=[shared, {"code": "padding", "message": "mlm: padding 30%"}])}
    with caplog.at_level("WARNING", logger="lmpairs.pipeline.counters"):
        log_warnings(manifests)
    assert [r.getMessage() for r in caplog.records] == ["unknown pieces are 3%", "mlm: padding 30%"]


def manifest_json(**extra) -> dict:
    return {"format_version": FORMAT_VERSION, "objective": "clm", "config": {}, "seed": 0,
            "tokenizer": {"vocab_size": 10, "special_ids": {}}, "inputs": [], "counters": {}, "splits": {},
            "lmpairs_version": "x", **extra}


def test_manifest_warnings_are_optional_and_checked():
    assert Manifest.from_json(json.dumps(manifest_json()), "m").warnings == []
    warning = {"code": "padding", "message": "clm: padding", "objective": "clm"}
    manifest = Manifest.from_json(json.dumps(manifest_json(warnings=[warning])), "m")
    assert manifest.warnings == [warning]
    assert json.loads(manifest.to_json())["warnings"] == [warning]
    with pytest.raises(ManifestError, match="warnings"):
        Manifest.from_json(json.dumps(manifest_json(warnings=[{"code": 1}])), "m")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(markup: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(markup)
    return parser.tags


def test_histogram_svg_has_one_bar_per_non_empty_bin_a_target_and_escaped_text():
    markup = svg.histogram("a <b> & c", [0, 1, 2, 3], [4, 0, 2], target=1.5, target_label="x<y",
                           expected=[3.0, 1.0, 1.0])
    tags = parse(markup)
    assert tags[0][0] == "svg" and int(tags[0][1]["width"]) > 0 and int(tags[0][1]["height"]) > 0
    assert [t for t, _ in tags].count("rect") == 2 and [t for t, _ in tags].count("polyline") == 1
    assert "a &lt;b&gt; &amp; c" in markup and "x&lt;y" in markup and "<b>" not in markup
    assert "http" not in markup


def test_bars_svg_grows_with_its_labels():
    one, three = svg.bars("t", ["a"], [1]), svg.bars("t", ["a", "b", "c"], [1, 2, 3])
    assert int(parse(three)[0][1]["height"]) > int(parse(one)[0][1]["height"])
    assert [t for t, _ in parse(three)].count("rect") == 3


def test_t5_span_probabilities_are_a_distribution_with_the_configured_mean():
    p = t5_span_probabilities(77, 26)
    assert sum(p.values()) == pytest.approx(1.0)
    assert sum(k * v for k, v in p.items()) == pytest.approx(77 / 26)
    assert t5_span_probabilities(5, 1) == {5: 1.0}
    assert sum(poisson(3.5, 60).values()) == pytest.approx(1.0)


def test_aligned_blocks_follow_moved_text():
    blocks = aligned_blocks([5, 6, 7, 1, 2, 3, 9], [1, 2, 3, 4, 5, 6, 7])
    assert sorted(blocks) == [(0, 4, 3), (3, 0, 3)]


def test_report_and_inspect_load_neither_torch_nor_beam():
    code = ("import sys, lmpairs.report.cli, lmpairs.inspection.cli; "
            "print(sorted(m for m in ('torch', 'apache_beam') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
