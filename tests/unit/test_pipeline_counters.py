"""Counter sums and the manifest's counters section."""
import apache_beam as beam

from lmpairs.pipeline.counters import REJECTION_REASONS, manifest_counters, report_metrics
from lmpairs.schemas.rates import applied_rates


def test_manifest_counters_lists_every_reason_and_balances():
    documents = {"documents_read": 10, "documents_used": 6, "documents_rejected.empty": 3,
                 "documents_rejected.no_tokens": 1, "tokens": 50, "files_read": 2}
    objective = {"rows": 4, "examples.train": 3, "examples.validation": 1, "padding_tokens": 7,
                 "measured.tokens": 40, "measured.maskable": 30, "measured.selected": 6}
    rejected = [{"path": "p", "reason": "r", "detail": "d"}]
    c = manifest_counters("mlm", documents, objective, ("train", "validation"), rejected)
    assert list(c["documents_rejected"]) == list(REJECTION_REASONS)
    assert c["documents_read"] == c["documents_used"] + sum(c["documents_rejected"].values())
    assert c["examples"] == {"train": 3, "validation": 1} and c["dropped_tokens"] == 0
    assert c["rates"] == {"selected_per_maskable": 0.2, "masked_per_selected": 0.0, "random_per_selected": 0.0,
                          "kept_per_selected": 0.0}
    assert c["files_rejected"][0]["path"] == "p"


def test_rates_are_the_defining_ratios_and_zero_without_a_denominator():
    assert applied_rates("t5", {"tokens": 200, "noise_tokens": 30, "noise_spans": 10}) == {
        "noise_tokens_per_tokens": 0.15, "noise_tokens_per_noise_spans": 3.0}
    assert applied_rates("t5", {"noise_tokens": 3}) == {"noise_tokens_per_tokens": 0.0,
                                                         "noise_tokens_per_noise_spans": 0.0}
    assert applied_rates("clm", {"tokens": 5}) == {}


class _CountWords(beam.DoFn):
    def process(self, line):
        report_metrics({"words": len(line.split()), "lines": 1}, prefix="test.")
        yield line


def test_report_metrics_feeds_beam_metrics():
    pipeline = beam.Pipeline(runner="DirectRunner")
    _ = pipeline | beam.Create(["a b", "c", "d e f"]) | beam.ParDo(_CountWords())
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]
                if c.key.metric.namespace == "lmpairs"}
    assert counters == {"test.words": 6, "test.lines": 3}


def test_a_reason_outside_the_known_list_is_still_counted():
    c = manifest_counters("clm", {"documents_read": 2, "documents_rejected.odd_reason": 2}, {}, ("train",), [])
    assert c["documents_rejected"]["odd_reason"] == 2 and set(REJECTION_REASONS) <= set(c["documents_rejected"])
