"""BART rows: padding as a share of row slots, on the bench corpus and on paragraph documents of novels.

Question (issue 19): do rows of whole documents packed best-fit keep BART's padding under 10% of
the row slots a trainer pays for? Rows of one document each padded 65% on Pride and Prejudice +
WikiText-2 paragraphs. Each case is a real in-process build (``lmpairs build --objectives bart
--seq-len 512``, Beam's DirectRunner, the bench tokenizer); the manifest counts padding tokens and
row slots, so the figure is the one ``lmpairs inspect`` prints:

- ``bench corpus``: the tiled JSONL corpus (documents of about 2,000 characters);
- ``generated novel``: a novel-like text made here from a fixed seed (hard-wrapped narration and
  dialogue paragraphs, short and long, blank lines between them), read as paragraph documents, so
  the case needs no third-party text;
- ``Pride and Prejudice``: the shared novel's paragraphs, when ``../shared/data`` holds it.

Target: padding <= 10% of row slots in each case. The build's seconds and tokens are recorded too
(rates here include Beam's start-up; ``bench.transforms`` times BART's rows and noise alone)::

    python -m bench.bart [--quick] [--json out.json]
"""
from __future__ import annotations

import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from bench.common import Metric, at_most, ratio_metric, run_script
from bench.corpus import SHARED_DATA, cache_dir, tiled_corpus, tokenizer_model

SEQ_LEN = 512
TARGET_PERCENT = 10.0
FULL_MB, QUICK_MB = 2.0, 0.2
NOVEL_PARAGRAPHS, QUICK_NOVEL_PARAGRAPHS = 3000, 300

_WORDS = ("the of and to a in that it was her his she he had with for as not be but you at on all which by "
          "this have is from so were my very what would been said one could there their more no any them "
          "much must will an such when if only should did who how little time own great some than never "
          "made before long after every might think know being well nothing herself himself again those "
          "house family sister mother father letter morning evening walk room door answer manner friend "
          "heart moment pleasure opinion subject young lady gentleman country town ball marriage fortune "
          "happy glad sorry afraid certain quite indeed perhaps however though while through without into "
          "against between under about whose whom whatever believe hope wish feel wonder reply replied "
          "looked turned smiled cried returned observed continued added thought spoke went came left "
          "seemed appeared began felt knew heard saw found told asked gave took kept brought").split()
_NAMES = ("Elizabeth", "Jane", "Mr. Darcy", "Mrs. Bennet", "Charlotte", "Mr. Collins", "Lydia", "Kitty",
          "Mr. Bingley", "Lady Catherine", "Mr. Wickham", "Mary", "Georgiana", "Mrs. Gardiner")


def novel_text(num_paragraphs: int, *, seed: int = 0) -> str:
    """A novel-like text: narration paragraphs of 1-12 sentences and short dialogue paragraphs
    (a quoted sentence or two and who said it), hard-wrapped at 72 characters, blank-line separated."""
    rng = np.random.default_rng(seed)

    def sentence() -> str:
        words = [_WORDS[i] for i in rng.integers(0, len(_WORDS), int(rng.integers(4, 28)))]
        if rng.random() < 0.3:
            words.insert(int(rng.integers(0, len(words))), str(_NAMES[int(rng.integers(0, len(_NAMES)))]))
        if rng.random() < 0.3:
            words[int(rng.integers(1, len(words)))] += ","
        text = " ".join(words)
        return text[0].upper() + text[1:] + str(rng.choice([".", ".", ".", "!", "?"]))

    paragraphs = []
    for _ in range(num_paragraphs):
        if rng.random() < 0.45:  # dialogue
            name = _NAMES[int(rng.integers(0, len(_NAMES)))]
            spoken = " ".join(sentence() for _ in range(int(rng.integers(1, 3))))
            text = f"\u201c{spoken}\u201d {rng.choice(['said', 'cried', 'replied'])} {name}."
        else:
            text = " ".join(sentence() for _ in range(int(rng.integers(1, 13))))
        paragraphs.append(textwrap.fill(text, width=72))
    return "\n\n".join(paragraphs) + "\n"


def padding_build(inputs: list[str], out: Path, **options) -> dict:
    """One BART build; its manifest's padding share of row slots, seconds and tokens."""
    from lmpairs.config import BuildConfig
    from lmpairs.pipeline.build import run_build

    config = BuildConfig(inputs=tuple(inputs), output=str(out), tokenizer=str(tokenizer_model()),
                         objectives=("bart",), **options).with_seq_len(SEQ_LEN)
    began = time.perf_counter()
    manifest = run_build(config, [])["bart"]
    seconds = time.perf_counter() - began
    c = manifest.counters
    return {"percent": 100.0 * c["padding_tokens"] / c["slots"], "padding_tokens": c["padding_tokens"],
            "slots": c["slots"], "rows": c["rows"], "tokens": c["tokens"], "documents": c["documents_used"],
            "sentences_cut": c["measured"].get("sentences_cut", 0), "seconds": round(seconds, 2)}


def padding_metric(case: str, result: dict) -> Metric:
    """The padding share as value (%) and as ratio (padding / slots), with the <= 10% target on the ratio."""
    return ratio_metric(f"bart padding, {case}", round(result["percent"], 2), "% of slots",
                        result["padding_tokens"] / result["slots"], "row slots", at_most(TARGET_PERCENT / 100),
                        **result)


def run(*, quick: bool = False, repeats: int | None = None) -> list[Metric]:
    del repeats  # one build per case: padding is deterministic
    metrics = []
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        root = Path(tmp)
        corpus = tiled_corpus(QUICK_MB if quick else FULL_MB)
        metrics.append(padding_metric("bench corpus", padding_build([str(corpus / "*.jsonl")], root / "corpus")))
        novel = root / "novel.txt"
        novel.write_text(novel_text(QUICK_NOVEL_PARAGRAPHS if quick else NOVEL_PARAGRAPHS), encoding="utf-8")
        metrics.append(padding_metric("generated novel (paragraphs)",
                                      padding_build([str(novel)], root / "novel", documents="paragraph")))
        pride = SHARED_DATA / "corpora" / "pride_and_prejudice.txt"
        if pride.is_file():
            metrics.append(padding_metric("Pride and Prejudice (paragraphs)",
                                          padding_build([str(pride)], root / "pride", documents="paragraph")))
        else:
            metrics.append(Metric(name="bart padding, Pride and Prejudice (paragraphs)", value=0.0, unit="% of slots",
                                  detail={"skipped": f"{pride} absent"}))
    return metrics


def main() -> None:
    run_script(run, __doc__)


if __name__ == "__main__":
    main()
