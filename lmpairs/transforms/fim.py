"""Fill-in-the-middle (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in the Middle").

Document-level, character-level FIM before packing: with probability ``fim_rate`` a document's
text is cut at two uniform character positions into prefix, middle and suffix; the three pieces
are tokenized apart and joined with the sentinels, in PSM or (with probability ``spm_rate``) SPM
order (the paper's SPM variant, as StarCoder and CodeLlama train it)::

    PSM  <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
    SPM  <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle

Every other document keeps its own ids. The result is then exactly CLM: framed ``[bos] … [eos]``,
packed into ``seq_len + 1`` tokens, loss on every position. The sentinels are the tokenizer's own
pieces where it has them (StarCoder's, CodeLlama's), else appended past the vocabulary.

The text hook (:meth:`FimObjective.prepare`) runs in the build, per batch of documents, with the
document texts and the tokenizer's encode; every draw is keyed by the document's key, so a
document's FIM form never depends on its batch or worker.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal  # noqa: F401  (Literal: pdoc resolves the inherited fields here)

import numpy as np

from lmpairs.config_base import FRACTION
from lmpairs.fields import setting
from lmpairs.transforms.batch import DocumentBatch, Ragged
from lmpairs.transforms.clm import ClmConfig, ClmObjective
from lmpairs.transforms.objective import declare
from lmpairs.transforms.seeding import below, stream_keys, uniform_ints, words_at

APPLY, SPM, CUTS = 0, 1, 2
"""Hash streams of a document: whether FIM applies, whether in SPM order, the two cut points."""
SENTINELS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>")

Encode = Callable[[list[str]], list[np.ndarray]]
"""Texts -> their ids (the build's tokenizer, one call per batch)."""


@dataclass(frozen=True, kw_only=True)
class FimConfig(ClmConfig):
    """FIM on CLM rows: ``fim_rate`` of documents transformed, ``spm_rate`` of those in SPM order."""

    owner: ClassVar[str] = "fim"
    fim_rate: float = setting(0.5, "share of documents turned into prefix/suffix/middle", limits=FRACTION)
    spm_rate: float = setting(0.5, "share of FIM documents in SPM order (the rest PSM)", limits=FRACTION)


@dataclass(frozen=True)
class FimPieces:
    """What FIM draws for a batch of documents: who is transformed, in which order, and the pieces."""

    applied: np.ndarray
    spm: np.ndarray
    prefix: list[str]
    middle: list[str]
    suffix: list[str]


def fim_pieces(keys: np.ndarray, texts: Sequence[str], *, seed: int, objective_id: int, fim_rate: float,
               spm_rate: float) -> FimPieces:
    """The draws of every document (keyed by its uint64 key) and the text pieces of those transformed.

    Cut points are two uniform positions in ``[0, len(text)]`` (sorted), so pieces may be empty and
    ``prefix + middle + suffix == text`` always.
    """
    applied = below(words_at(stream_keys(seed, objective_id, keys, 0, APPLY), np.zeros(keys.shape, np.int64)),
                    fim_rate)
    spm = applied & below(words_at(stream_keys(seed, objective_id, keys, 0, SPM), np.zeros(keys.shape, np.int64)),
                          spm_rate)
    chosen = np.flatnonzero(applied)
    sizes = np.array([len(texts[i]) for i in chosen], dtype=np.int64)
    cut_keys = stream_keys(seed, objective_id, keys[chosen], 0, CUTS)
    cuts = np.sort(uniform_ints(words_at(cut_keys[:, None], np.arange(2)[None, :]), (sizes + 1)[:, None]), axis=1)
    prefix, middle, suffix = [], [], []
    for i, (a, b) in zip(chosen, cuts.tolist()):
        text = texts[i]
        prefix.append(text[:a])
        middle.append(text[a:b])
        suffix.append(text[b:])
    return FimPieces(applied, spm, prefix, middle, suffix)


@declare(name="fim", objective_id=7, config=FimConfig, columns=("input_ids", "doc_lengths"), family="decoder",
         view="next-token", randomized=False, named_specials=SENTINELS, needs_text=True,
         rates=(("FIM documents / documents", "fim_documents", "documents", "fim_rate"),
                ("SPM / FIM documents", "spm_documents", "fim_documents", "spm_rate")))
class FimObjective(ClmObjective):
    """CLM rows over documents that :meth:`prepare` turned into FIM form (see the module docstring)."""

    config: FimConfig

    def prepare(self, docs: DocumentBatch, texts: Sequence[str], encode: Encode, *,
                seed: int) -> tuple[DocumentBatch, dict[str, int]]:
        """The documents as they are packed (FIM documents re-encoded piece by piece with sentinels),
        and the counts the manifest's rates come from."""
        c = self.config
        pieces = fim_pieces(docs.keys, texts, seed=seed, objective_id=self.objective_id, fim_rate=c.fim_rate,
                            spm_rate=c.spm_rate)
        counts = {"documents": docs.num_documents, "fim_documents": int(pieces.applied.sum()),
                  "spm_documents": int(pieces.spm.sum())}
        if not pieces.applied.any():
            return docs, counts
        encoded = encode(pieces.prefix + pieces.middle + pieces.suffix)
        n = len(pieces.prefix)
        pre, mid, suf = (self.vocab.named_id(s) for s in SENTINELS)
        rows = [docs.ids.row(i) for i in range(docs.num_documents)]
        for j, i in enumerate(np.flatnonzero(pieces.applied)):
            p, m, s = encoded[j], encoded[n + j], encoded[2 * n + j]
            if pieces.spm[i]:
                parts = [[pre, suf], s, [mid], p, m]
            else:
                parts = [[pre], p, [suf], s, [mid], m]
            rows[i] = np.concatenate([np.asarray(x, dtype=np.int32) for x in parts])
        ids = Ragged.from_rows(rows)
        empty = Ragged(np.zeros(0, np.int32), np.zeros(docs.num_documents + 1, np.int64))
        return DocumentBatch(docs.keys, ids, empty), counts
