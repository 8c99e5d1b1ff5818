"""``lmpairs train-tokenizer``: a SentencePiece ``.model`` or a Hugging Face ``tokenizer.json`` holding
every special piece lmpairs needs (pad 0, unk 1, bos 2, eos 3, ``<mask>`` 4, then the 100 sentinels
in T5's descending layout, ``<extra_id_99>`` = 5 … ``<extra_id_0>`` = 104), so nothing is appended.

SentencePiece kinds (``unigram``, ``bpe``, ``char``, ``word``) write a ``.model``; ``bpe-bytelevel``
(GPT-2's byte-level BPE) writes a ``tokenizer.json`` with the optional ``tokenizers`` package. Same
inputs and options give the same bytes.
"""
from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from lmpairs.reading.training_sentences import CorpusSentences
from lmpairs.tokenizers.errors import NUM_SENTINELS, TokenizerError, sentinel_piece

logger = logging.getLogger(__name__)

SPM_MODEL_TYPES = ("unigram", "bpe", "char", "word")
HF_MODEL_TYPES = ("bpe-bytelevel",)
"""tokenizer.json kinds of ``train-tokenizer``. Not ``unigram-metaspace``: the ``tokenizers`` Unigram
trainer gives different bytes from run to run (tests still use it for fixtures; SentencePiece's
``unigram`` is the reproducible choice)."""
MODEL_TYPES = SPM_MODEL_TYPES + HF_MODEL_TYPES
TRAINED_SPECIALS = {"pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3,
                    "pad_piece": "<pad>", "unk_piece": "<unk>", "bos_piece": "<s>", "eos_piece": "</s>"}


def lmpairs_special_tokens() -> list[str]:
    """The special pieces of a trained tokenizer, in id order (pad, unk, bos, eos, mask, sentinels 99..0)."""
    return ["<pad>", "<unk>", "<s>", "</s>", "<mask>", *(sentinel_piece(i) for i in reversed(range(NUM_SENTINELS)))]


def write_trained_tokenizer(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output: str | os.PathLike,
    vocab_size: int,
    *,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    input_sentence_size: int = 2_000_000,
    byte_fallback: bool = False,
    text_field: str = "text",
    seed: int = 0,
    num_threads: int = 4,
) -> Path:
    """Train a tokenizer on text files and write it to ``output`` (``.model``, or ``.json`` for the
    ``tokenizer.json`` kinds); returns ``output``. :func:`lmpairs.tokenizers.train_tokenizer` loads it.

    ``inputs`` are files, directories or globs, read as ``lmpairs build`` reads them
    (:mod:`lmpairs.reading`: text paragraphs, JSONL/Parquet ``text_field``, compressed files);
    documents are split into sentences, as :meth:`Tokenizer.encode_documents` sees them.
    Special pieces are control pieces (literal ``<mask>`` in a corpus is not matched).
    ``character_coverage``, ``input_sentence_size``, ``byte_fallback``, ``seed`` and
    ``num_threads`` only apply to SentencePiece (byte-level BPE covers every byte by design).
    Unusable inputs raise :class:`~lmpairs.reading.InputError`, failed training ``TokenizerError``.
    """
    output = Path(output)
    if model_type not in MODEL_TYPES:
        raise TokenizerError(f"model_type={model_type!r}: expected one of {', '.join(MODEL_TYPES)}.")
    suffix = ".json" if model_type in HF_MODEL_TYPES else ".model"
    if output.suffix != suffix:
        raise TokenizerError(f"{output}: a {model_type} tokenizer is written to a {suffix} path, "
                             f"e.g. {output.with_suffix(suffix)}.")
    sentences = CorpusSentences(inputs, text_field=text_field)
    reserved = len(lmpairs_special_tokens())
    if not isinstance(vocab_size, int) or vocab_size <= reserved:
        raise TokenizerError(f"vocab_size={vocab_size!r}: must be an integer > {reserved} (the special "
                             "pieces) plus room for characters; pass e.g. --vocab-size 8000.")
    logger.info("training a %s tokenizer (vocab %d) on %d file(s)", model_type, vocab_size, sentences.num_files)
    if model_type in HF_MODEL_TYPES:
        try:
            data = train_tokenizer_json(sentences, model_type, vocab_size, special_tokens=lmpairs_special_tokens(),
                                        unk_token="<unk>")
        except Exception as err:  # tokenizers raises plain Exception
            if isinstance(err, TokenizerError):
                raise
            raise _training_error(err, sentences, vocab_size) from err
    else:
        data = _train_sentencepiece(sentences, vocab_size, model_type=model_type,
                                    character_coverage=character_coverage, input_sentence_size=input_sentence_size,
                                    byte_fallback=byte_fallback, seed=seed, num_threads=num_threads)
    _write_atomically(output, data)
    logger.info("wrote %s (%d sentences read)", output, sentences.count)
    return output


def _train_sentencepiece(sentences: CorpusSentences, vocab_size: int, *, model_type: str, character_coverage: float,
                         input_sentence_size: int, byte_fallback: bool, seed: int, num_threads: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
            model_type=model_type, character_coverage=character_coverage,
            input_sentence_size=input_sentence_size, shuffle_input_sentence=True,
            byte_fallback=byte_fallback, num_threads=num_threads, hard_vocab_limit=True,
            control_symbols=lmpairs_special_tokens()[4:],
            minloglevel=0 if logger.isEnabledFor(logging.DEBUG) else 2, **TRAINED_SPECIALS)
    except (RuntimeError, ValueError, OSError) as err:  # SentencePiece may wrap a feed error
        raise _training_error(err, sentences, vocab_size) from err
    return model.getvalue()


def train_tokenizer_json(texts: Iterable[str], model_type: str, vocab_size: int, *, special_tokens: Sequence[str],
                         unk_token: str | None = None, eos_template: str | None = None) -> bytes:
    """A ``tokenizer.json`` (UTF-8 bytes) trained with ``tokenizers`` on ``texts``.

    ``bpe-bytelevel`` is GPT-2's layout (ByteLevel pre-tokenizer, decoder and post-processor, the
    256 byte pieces in the alphabet; reproducible); ``unigram-metaspace`` is T5/ALBERT's (Metaspace
    ``▁``; the bytes vary between runs).
    ``special_tokens`` take ids 0.. in order; ``eos_template`` adds a ``$A <eos>`` post-processor
    template (as T5's tokenizer.json has). Tests train their fixtures with this too.
    """
    from lmpairs.tokenizers.hf import _import_tokenizers

    tk = _import_tokenizers(f"--model-type {model_type}")
    from tokenizers import decoders, models, pre_tokenizers, processors, trainers

    if model_type == "bpe-bytelevel":
        tokenizer = tk.Tokenizer(models.BPE(unk_token=unk_token))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif model_type == "unigram-metaspace":
        tokenizer = tk.Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens),
                                          unk_token=unk_token, show_progress=False)
    else:
        raise ValueError(f"model_type={model_type!r}: expected bpe-bytelevel or unigram-metaspace.")
    tokenizer.train_from_iterator(texts, trainer)
    if eos_template is not None:
        eos = (eos_template, tokenizer.token_to_id(eos_template))
        tokenizer.post_processor = processors.TemplateProcessing(single=f"$A {eos[0]}", pair=f"$A {eos[0]} $B {eos[0]}",
                                                                 special_tokens=[eos])
    return tokenizer.to_str().encode("utf-8")


def _training_error(err: Exception, feed: CorpusSentences, vocab_size: int) -> Exception:
    if feed.error is not None:
        return feed.error
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if feed.count == 0:
        fix = "the inputs hold no text; check the paths."
    elif "too high" in reason:
        fix = f"the corpus is too small for {vocab_size} pieces; lower --vocab-size or add text."
    else:
        fix = "check --vocab-size and --model-type."
    return TokenizerError(f"tokenizer training failed after {feed.count} sentences ({reason}): {fix}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a model behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
