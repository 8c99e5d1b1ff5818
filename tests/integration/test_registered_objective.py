"""An objective registered in one place builds with Beam, streams through PairStream and inspects,
with no edit anywhere else: the declaration (``tests/reverse_objective.py``) is all it needs."""
from __future__ import annotations

import numpy as np
import pytest
from reverse_objective import SPEC

from lmpairs.objectives import IGNORE_INDEX, register, unregister


@pytest.fixture
def registered():
    register(SPEC)
    yield SPEC.name
    unregister(SPEC.name)


def test_a_registered_objective_builds_streams_and_inspects(registered, build, trained_tokenizer, english_corpus,
                                                            tmp_path):
    from lmpairs.inspection import InspectOptions, inspect_build
    from lmpairs.loader import PairStream

    manifests = build([str(english_corpus)], tmp_path / "out", trained_tokenizer.name, objectives=(registered,),
                      validation_fraction=0.0)
    manifest = manifests[registered]
    assert manifest.objective == registered and manifest.num_rows("train") > 0
    assert manifest.counters["rates"] == {"reversed_per_tokens": 1.0}

    rows = 0
    for batch in PairStream(str(tmp_path / "out" / registered), batch_size=2, shuffle=False):
        real = batch["labels"] != IGNORE_INDEX
        labels, inputs = batch["labels"].numpy(), batch["input_ids"].numpy()
        for i in range(labels.shape[0]):  # the input is the row reversed, the labels the row
            n = int(real[i].sum())
            assert np.array_equal(inputs[i, :n], labels[i, :n][::-1])
        assert (batch["decoder_input_ids"][:, 0] == trained_tokenizer.vocab.eos_id).all()  # declared start
        rows += labels.shape[0]
    assert rows == manifest.num_rows("train")

    report = inspect_build(str(tmp_path / "out"), InspectOptions(num_examples=1, width=100,
                                                                         tokenizer=trained_tokenizer.name))
    assert registered in report and "reversed / tokens" in report
