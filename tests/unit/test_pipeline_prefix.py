"""The in-place shard directory of an object-store build never equals one a live manifest uses."""
from __future__ import annotations

import json

from lmpairs.pipeline.ownership import build_prefix, live_prefixes

KEY = "0123456789ab" + "f" * 52


def test_a_fresh_output_gets_the_fingerprint_prefix():
    assert build_prefix(KEY) == "b-0123456789ab"
    assert build_prefix(KEY, {"b-aaaaaaaaaaaa"}) == "b-0123456789ab"


def test_a_live_prefix_is_never_taken_and_the_choice_is_stable():
    live = {"b-0123456789ab"}
    other = build_prefix(KEY, live)
    assert other != "b-0123456789ab" and other.startswith("b-") and len(other) == 14
    assert build_prefix(KEY, live) == other  # a rerun (the live manifest unchanged) finds its own shards
    assert build_prefix(KEY, live | {other}) not in live | {other}


def test_live_prefixes_reads_the_manifests_of_the_chosen_objectives(tmp_path):
    shard = {"path": "b-0123456789ab/train/part-00000-0000.parquet"}
    (tmp_path / "clm").mkdir()
    (tmp_path / "clm" / "manifest.json").write_text(json.dumps({"objective": "clm", "splits": {"train": [shard]}}))
    (tmp_path / "t5").mkdir()
    (tmp_path / "t5" / "manifest.json").write_text(json.dumps({"objective": "t5", "splits": {
        "train": [{"path": "train/part-00000-0000.parquet"}]}}))  # a local dataset: no in-place prefix
    assert live_prefixes(str(tmp_path), ("clm", "t5", "mlm")) == {"b-0123456789ab"}
    assert live_prefixes(str(tmp_path), ("t5",)) == set()
