"""Hugging Face tokenizer.json fixtures trained here with ``tokenizers`` (no downloads): a GPT-2-style
byte-level BPE and a T5-style Metaspace Unigram, on the embedded corpus plus generated Japanese.

The GPT-2 style has one special token (``<|endoftext|>``: eos), so pad, mask and the sentinels are
appended; the T5 style has pad 0, ``</s>`` 1 (eos through its ``$A </s>`` template), unk 2, and no
bos, mask or sentinels. Japanese sentences are built from a fixed word list with a seeded
``random.Random``, so the text (and the trained files) are the same on every run.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from lmpairs.embedded_corpus import corpus_documents
from lmpairs.tokenizers.training import train_tokenizer_json

VOCAB_SIZE = 2000
_SUBJECTS = ("吾輩", "猫", "先生", "坊っちゃん", "山田さん", "東京の人", "子供たち", "鈴木", "学生", "犬")
_OBJECTS = ("本", "手紙", "お茶", "魚", "新聞", "桜の花", "古い家", "電車", "雨", "夏目漱石の小説")
_VERBS = ("を読んだ", "を見ている", "が好きだ", "を書いた", "を待っていた", "を探している", "を忘れた", "を買った")
_TAILS = ("。", "。", "。", "！", "？")


def japanese_documents(count: int, *, seed: int = 0) -> list[str]:
    """``count`` documents of 2-6 generated Japanese sentences each (no spaces; 。！？ end them)."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        sentences = [f"{rng.choice(_SUBJECTS)}は{rng.choice(_OBJECTS)}{rng.choice(_VERBS)}{rng.choice(_TAILS)}"
                     for _ in range(rng.randint(2, 6))]
        documents.append("".join(sentences))
    return documents


def training_texts() -> list[str]:
    """The embedded corpus and 200 Japanese documents: the text both fixtures are trained on."""
    return [d.text for d in corpus_documents()] + japanese_documents(200)


def write_gpt2_style(directory: Path) -> Path:
    """A byte-level BPE tokenizer.json with ``<|endoftext|>`` (id 0) as its only special token."""
    path = directory / "gpt2_style" / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(train_tokenizer_json(training_texts(), "bpe-bytelevel", VOCAB_SIZE,
                                          special_tokens=["<|endoftext|>"]))
    return path


def write_t5_style(directory: Path) -> Path:
    """A Metaspace Unigram tokenizer.json: ``<pad>`` 0, ``</s>`` 1 (template ``$A </s>``), ``<unk>`` 2."""
    path = directory / "t5_style" / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(train_tokenizer_json(training_texts(), "unigram-metaspace", VOCAB_SIZE,
                                          special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                          eos_template="</s>"))
    return path


def write_llama_style(directory: Path) -> Path:
    """A LLaMA-2-style tokenizer.json as ``transformers`` converts a SentencePiece BPE: no pre-tokenizer,
    a normalizer that prepends ``▁`` and turns spaces into ``▁``, ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2,
    byte fallback (256 ``<0xNN>`` pieces, here after the trained ones) and a ``<s> $A`` template."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")  # for training only
    tokenizer.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - 256, special_tokens=["<unk>", "<s>", "</s>"],
                                  show_progress=False)
    tokenizer.train_from_iterator([d.text for d in corpus_documents()[:100]], trainer)
    tokenizer.pre_tokenizer = None
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    n = tokenizer.get_vocab_size()
    config = json.loads(tokenizer.to_str())
    config["model"]["vocab"].update({f"<0x{b:02X}>": n + b for b in range(256)})
    config["post_processor"] = json.loads(processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]).__getstate__())
    path = directory / "llama_style" / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path
