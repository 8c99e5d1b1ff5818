"""prefix_lm, ul2 and fim build from the command line (--seq-len, --set) on the in-process, two-process
and Dask runners with byte-identical results, stream through PairStream, and the reference trainer learns
each of them."""
from __future__ import annotations

import numpy as np
import pytest
from build_fingerprints import fingerprint
from logging_state import restored_logging
from runners import runner_args
from textgen import english_paragraphs

from lmpairs.cli import main
from lmpairs.loader import PairStream
from lmpairs.schemas import read_manifest
from lmpairs.trainer import train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("torch_one_thread")]

OBJECTIVES = ("prefix_lm", "ul2", "fim")
RUNNERS = {"in_process": (), "two_workers": ("--direct_num_workers=2", "--direct_running_mode=multi_processing"),
           "dask": ("--runner=DaskRunner",)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, english_corpus):
    root = tmp_path_factory.mktemp("new_objectives")
    (root / "a.txt").write_text("\n\n".join(english_paragraphs(60, seed=1)) + "\n", encoding="utf-8")
    (root / "b.txt").write_text(english_corpus.read_text(encoding="utf-8"), encoding="utf-8")
    return root


def lmpairs_build(corpus, out, tokenizer, *beam_args) -> int:
    with restored_logging():  # called from a module-scoped fixture, outside any test's own restore
        return run_main(corpus, out, tokenizer, *beam_args)


def run_main(corpus, out, tokenizer, *beam_args) -> int:
    return main(["build", "--input", str(corpus / "*.txt"), "--output", str(out), "--tokenizer", tokenizer,
                 "--objectives", ",".join(OBJECTIVES), "--seq-len", "48", "--split-mb", "0.02",
                 "--set", "ul2.weights=[2,1,1,1,1,1,2]", "--set", "fim.spm_rate=0.25",
                 "--set", "prefix_lm.add_bos=false", *beam_args])


@pytest.fixture(scope="module")
def builds(corpus, trained_tokenizer, tmp_path_factory):
    results = {}
    for runner, args in RUNNERS.items():
        out = tmp_path_factory.mktemp(runner) / "out"
        with runner_args(runner, args) as beam_args:
            assert lmpairs_build(corpus, out, trained_tokenizer.name, *beam_args) == 0
        results[runner] = (out, fingerprint(out, {n: read_manifest(str(out / n)) for n in OBJECTIVES}))
    return results


def test_settings_reach_every_objective_and_the_manifest_records_the_named_specials(builds, trained_tokenizer):
    out, _ = builds["in_process"]
    manifests = {n: read_manifest(str(out / n)) for n in OBJECTIVES}
    assert manifests["ul2"].config["weights"] == [2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    assert manifests["fim"].config["spm_rate"] == 0.25 and manifests["prefix_lm"].config["add_bos"] is False
    assert {m.config["seq_len"] for m in manifests.values()} == {48}
    special = manifests["fim"].tokenizer["special_ids"]
    base = trained_tokenizer.vocab.size
    assert [special[p] for p in ("[NLU]", "[NLG]", "[S2S]", "<fim_prefix>", "<fim_middle>", "<fim_suffix>")] \
        == list(range(base, base + 6))
    assert manifests["fim"].tokenizer["vocab_size"] == base + 6
    rates = manifests["fim"].counters["rates"]
    assert abs(rates["fim_documents_per_documents"] - 0.5) < 0.1 and rates["spm_documents_per_fim_documents"] < 0.5


@pytest.mark.parametrize("runner", ["two_workers", "dask"])
def test_runners_give_byte_identical_shards(builds, runner):
    assert builds[runner][1] == builds["in_process"][1]


def test_pair_stream_batches_have_the_declared_layouts(builds):
    out, _ = builds["in_process"]
    prefix = next(iter(PairStream(str(out / "prefix_lm"), batch_size=4, shuffle=False)))
    assert set(prefix) >= {"input_ids", "target_ids", "prefix_lengths", "attention_mask"}
    positions = np.arange(prefix["target_ids"].shape[1])[None, :]
    assert (prefix["target_ids"].numpy()[positions < prefix["prefix_lengths"].numpy()[:, None] - 1] == -100).all()
    pairs = next(iter(PairStream(str(out / "prefix_lm"), batch_size=4, shuffle=False, batch_format="encoder-decoder")))
    assert set(pairs) >= {"input_ids", "decoder_input_ids", "labels"}
    ul2 = next(iter(PairStream(str(out / "ul2"), batch_size=4, shuffle=False)))
    assert "decoder_input_ids" in ul2
    fim = next(iter(PairStream(str(out / "fim"), batch_size=4, shuffle=False)))
    assert "target_ids" in fim and fim["input_ids"].shape[1] == 48


@pytest.mark.parametrize("objective, batch_format", [("prefix_lm", None), ("prefix_lm", "encoder-decoder"),
                                                     ("ul2", None), ("fim", None)])
def test_the_reference_trainer_learns_each(builds, objective, batch_format):
    out, _ = builds["in_process"]
    result = train(str(out / objective), steps=80, batch_size=16, seed=0, log_every=40, batch_format=batch_format)
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.9 * first, result.losses  # prefix-LM learns from the targets only: about half the tokens


def test_inspect_shows_the_new_objectives_with_their_named_specials(builds, trained_tokenizer):
    from lmpairs.inspection import InspectOptions, inspect_build

    out, _ = builds["in_process"]
    report = inspect_build(str(out), InspectOptions(num_examples=3, width=100, tokenizer=trained_tokenizer.name))
    for name in OBJECTIVES:
        assert name in report
    assert any(mode in report for mode in ("[NLU]", "[NLG]", "[S2S]"))
    assert "FIM documents / documents" in report


@pytest.mark.parametrize("objective", ["prefix_lm", "ul2"])
def test_dynamic_corruption_redraws_each_epoch_and_epoch_zero_is_the_stored_copy(builds, trained_tokenizer,
                                                                                objective):
    out, _ = builds["in_process"]
    stored = next(iter(PairStream(str(out / objective), batch_size=8, shuffle=False)))
    stream = PairStream(str(out / objective), batch_size=8, shuffle=False, dynamic=True,
                        tokenizer=trained_tokenizer.name)
    first = next(iter(stream))
    stream.set_epoch(1)
    second = next(iter(stream))
    assert all(np.array_equal(stored[k].numpy(), first[k].numpy()) for k in stored)
    assert any(first[k].shape != second[k].shape or not np.array_equal(first[k].numpy(), second[k].numpy())
               for k in first)  # prefix_lm: the same row, another split (prefix_lengths, target_ids)


def test_the_report_draws_every_new_objective(builds, trained_tokenizer):
    """``lmpairs report`` over prefix_lm, ul2 (a mixture: no single configured density) and fim."""
    from lmpairs.report import FigureOptions, build_figures, render_page

    out, _ = builds["in_process"]
    figures = build_figures(str(out), FigureOptions(max_rows=0, tokenizer=trained_tokenizer.name), with_rows=True)
    assert sorted(f["objective"] for f in figures["objectives"]) == sorted(OBJECTIVES)
    ul2 = next(f for f in figures["objectives"] if f["objective"] == "ul2")
    assert ul2["corruption"]["plots"] and ul2["recount"]["complete"]
    page = render_page(figures)
    for name in OBJECTIVES:
        assert f'id="{name}-summary"' in page
