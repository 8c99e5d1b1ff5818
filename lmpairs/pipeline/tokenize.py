"""Tokenize documents in batches with a SentencePiece model shipped as bytes to every worker.

The model is read once on the driver and travels inside the DoFn (workers may not see the
driver's paths); it is parsed in ``setup()``, once per DoFn instance. Documents are grouped with
``BatchElements`` (by characters, so one huge document does not ride with a thousand others) and
each batch is one ``Tokenizer.encode_documents`` call.
"""
from __future__ import annotations

from typing import Iterator

import apache_beam as beam
from apache_beam import pvalue

from lmpairs.pipeline.counters import COUNTS, REJECTED_PREFIX, CountingFn
from lmpairs.pipeline.records import NO_TOKENS, Document, Rejection, TokenizedDocument
from lmpairs.tokenizer import Tokenizer

REJECTED = "rejected"
BATCH_CHARACTERS = 1 << 20
"""Upper bound on the characters of one encode batch (about 1 MB of text)."""


class TokenizeDocumentsFn(CountingFn):
    """list[Document] -> list[TokenizedDocument] (the batch stays one element, so the objective
    steps after it pay Beam's per-element cost once per batch); ``no_tokens`` rejections; counts."""

    def __init__(self, model_bytes: bytes, *, name: str) -> None:
        self._model_bytes = model_bytes
        self._name = name
        self._tokenizer: Tokenizer | None = None

    def setup(self) -> None:
        if self._tokenizer is None:
            self._tokenizer = Tokenizer.from_bytes(self._model_bytes, name=self._name)

    def process(self, batch: list[Document]) -> Iterator:
        encoded = self._tokenizer.encode_documents([doc.text for doc in batch])
        tokenized = []
        for doc, (ids, sentence_ends) in zip(batch, encoded):
            if ids.shape[0] == 0:
                yield pvalue.TaggedOutput(REJECTED, Rejection(doc.key, NO_TOKENS))
            else:
                tokenized.append(TokenizedDocument(doc.key, ids, sentence_ends))
        if tokenized:
            yield tokenized
        counts = {"documents_used": len(tokenized), "tokens": sum(int(d.ids.shape[0]) for d in tokenized),
                  REJECTED_PREFIX + NO_TOKENS: len(batch) - len(tokenized)}
        yield pvalue.TaggedOutput(COUNTS, self.report(counts))


class TokenizeDocuments(beam.PTransform):
    """Documents -> outputs ``documents`` (lists of TokenizedDocument), ``rejected`` and ``counts``."""

    def __init__(self, model_bytes: bytes, *, name: str, batch_characters: int = BATCH_CHARACTERS) -> None:
        super().__init__()
        self._fn = TokenizeDocumentsFn(model_bytes, name=name)
        self._batch_characters = batch_characters

    def expand(self, documents):
        return (documents
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._batch_characters,
                                                element_size_fn=lambda doc: max(1, len(doc.text)))
                | "Encode" >> beam.ParDo(self._fn).with_outputs(REJECTED, COUNTS, main="documents"))
