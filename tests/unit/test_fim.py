"""fim: FIM rate and SPM share, pieces that rebuild the document, PSM/SPM layouts, CLM rows after."""
import numpy as np
from vocabs import toy_vocab

from lmpairs.objectives import get_spec, make_objective
from lmpairs.transforms.fim import SENTINELS, FimConfig, fim_pieces
from lmpairs.transforms.testing import check_invariants, document_batch, rows_in_memory

VOCAB = toy_vocab().with_named({s: None for s in SENTINELS})
PRE, MID, SUF = (VOCAB.named_id(s) for s in SENTINELS)


def encode(texts):
    """A stand-in tokenizer: one id per character (ordinary ids only)."""
    return [np.array([105 + ord(ch) % 1000 for ch in text], dtype=np.int32) for text in texts]


def corpus(n: int):
    rng = np.random.default_rng(1)
    texts = ["".join(chr(97 + c) for c in rng.integers(0, 26, size=int(rng.integers(1, 80)))) + " \u00e9\u4e2d"
             for _ in range(n)]
    docs = document_batch([(f"file.py:{i}", encode([t])[0], np.zeros(0, np.int32)) for i, t in enumerate(texts)])
    return texts, docs


def test_rate_and_spm_share_and_pieces_rebuild_every_document():
    texts, docs = corpus(8000)
    pieces = fim_pieces(docs.keys, texts, seed=0, objective_id=7, fim_rate=0.5, spm_rate=0.5)
    assert abs(pieces.applied.mean() - 0.5) < 0.03
    assert abs(pieces.spm.sum() / pieces.applied.sum() - 0.5) < 0.03
    chosen = np.flatnonzero(pieces.applied)
    for j, i in enumerate(chosen):
        assert pieces.prefix[j] + pieces.middle[j] + pieces.suffix[j] == texts[i]
    sizes = np.array([len(pieces.middle[j]) for j in range(len(chosen))])
    assert sizes.min() == 0 and sizes.max() > 40  # cut points anywhere, empty pieces included


def test_prepare_lays_out_psm_and_spm_and_leaves_other_documents_alone():
    objective = make_objective("fim", FimConfig(seq_len=64), VOCAB)
    texts, docs = corpus(400)
    prepared, counts = objective.prepare(docs, texts, encode, seed=3)
    pieces = fim_pieces(docs.keys, texts, seed=3, objective_id=7, fim_rate=0.5, spm_rate=0.5)
    assert counts == {"documents": 400, "fim_documents": int(pieces.applied.sum()),
                      "spm_documents": int(pieces.spm.sum())}
    j = 0
    for i in range(docs.num_documents):
        got = prepared.ids.row(i).tolist()
        if not pieces.applied[i]:
            assert got == docs.ids.row(i).tolist()
            continue
        p, m, s = (encode([x])[0].tolist() for x in (pieces.prefix[j], pieces.middle[j], pieces.suffix[j]))
        want = [PRE, SUF, *s, MID, *p, *m] if pieces.spm[i] else [PRE, *p, SUF, *s, MID, *m]
        assert got == want
        j += 1
    rows = rows_in_memory(objective, [(int(k), prepared.ids.row(i), np.zeros(0, np.int32))
                                      for i, k in enumerate(prepared.keys)])
    check_invariants(objective, rows, seed=3)
    spec = get_spec("fim")
    assert spec.family == "decoder" and spec.needs_text and spec.named_specials == SENTINELS


def test_a_document_draws_the_same_whatever_its_batch():
    texts, docs = corpus(50)
    whole = fim_pieces(docs.keys, texts, seed=9, objective_id=7, fim_rate=0.5, spm_rate=0.5)
    tail = fim_pieces(docs.keys[20:], texts[20:], seed=9, objective_id=7, fim_rate=0.5, spm_rate=0.5)
    assert np.array_equal(whole.applied[20:], tail.applied) and np.array_equal(whole.spm[20:], tail.spm)
    assert whole.middle[-len(tail.middle):] == tail.middle
