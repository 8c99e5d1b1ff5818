"""The benchmark corpus and tokenizer: real English text tiled to a chosen size, and a 32k-piece model.

Sources are the English texts in ``../shared/data/corpora`` (Shakespeare, two novels, WikiText-2),
about 3.4 MB together. Each is normalized (BOM, CRLF) and cut into documents of whole lines of
about ``DOC_CHARS`` characters, the size of a typical web document, so per-document costs weigh as
they do on real pretraining data (single lines of Shakespeare would be ~8 tokens each). Documents
are written round-robin over the sources as JSONL (``{"text": ...}``) in files of ``FILE_MB``,
repeating the sources until the requested size is reached.

The tokenizer is a SentencePiece BPE model with 32,000 pieces (lmpairs' specials included), trained
once with ``lmpairs.tokenizers.train_tokenizer`` on the distinct source text (the tiled corpus only
repeats it, so it would train the same model more slowly). BPE, because unigram training on 3.4 MB
tops out near 30k pieces. Training takes about a second on 2 cores.

Everything is cached under ``bench/.cache`` (or ``$LMPAIRS_BENCH_CACHE``) by name and size::

    python -m bench.corpus --mb 16      # prints the corpus folder and the tokenizer path
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LMPAIRS_SHARED_DATA", REPO.parent / "shared" / "data"))
SOURCES = ("tinyshakespeare.txt", "botchan.txt", "pride_and_prejudice.txt", "wikitext2_test.raw.txt")
DOC_CHARS = 2000
FILE_MB = 4.0
VOCAB_SIZE = 32_000
TOKENIZER_NAME = f"bpe{VOCAB_SIZE // 1000}k.model"


def cache_dir() -> Path:
    """Where corpora, tokenizers and built shards are kept between runs (git-ignored)."""
    path = Path(os.environ.get("LMPAIRS_BENCH_CACHE", REPO / "bench" / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_paths() -> list[Path]:
    paths = [SHARED_DATA / "corpora" / name for name in SOURCES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"benchmark sources missing: {', '.join(missing)}; the benchmarks read the "
                                "shared test data next to the repository (../shared/data/corpora).")
    return paths


def split_documents(text: str, doc_chars: int = DOC_CHARS) -> list[str]:
    """Whole non-blank lines grouped into documents of at least ``doc_chars`` characters (the last may be shorter)."""
    docs, current, size = [], [], 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        current.append(line)
        size += len(line) + 1
        if size >= doc_chars:
            docs.append("\n".join(current))
            current, size = [], 0
    if current:
        docs.append("\n".join(current))
    return docs


def source_documents() -> list[str]:
    """Documents of every source, interleaved round-robin so each file mixes all of them."""
    per_source = []
    for path in source_paths():
        with open(path, encoding="utf-8-sig", newline=None) as f:  # drops the BOM, CRLF -> LF
            per_source.append(split_documents(f.read()))
    longest = max(map(len, per_source))
    return [docs[i] for i in range(longest) for docs in per_source if i < len(docs)]


def tiled_corpus(mb: float, *, file_mb: float = FILE_MB) -> Path:
    """A folder of JSONL files holding ``mb`` megabytes (10^6 bytes) of documents; built once, then cached."""
    folder = cache_dir() / f"corpus-{mb:g}MB"
    if (folder / "DONE").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    lines = [(json.dumps({"text": d}, ensure_ascii=False) + "\n").encode("utf-8") for d in source_documents()]
    write_tiles(folder, lines, mb, suffix=".jsonl", file_mb=file_mb)
    return folder


def write_tiles(folder: Path, lines: list[bytes], mb: float, *, suffix: str, file_mb: float) -> None:
    """Repeat ``lines`` in order into ``part-NNNN{suffix}`` files of ``file_mb`` until ``mb`` megabytes."""
    total, limit, file_limit = 0, int(mb * 1e6), int(file_mb * 1e6)
    index, i = 0, 0
    while total < limit:
        written = 0
        with open(folder / f"part-{index:04d}{suffix}", "wb") as out:
            while written < file_limit and total < limit:
                line = lines[i % len(lines)]
                out.write(line)
                written += len(line)
                total += len(line)
                i += 1
        index += 1
    (folder / "DONE").write_text(f"{total} bytes, {i} documents, {index} files\n")


def short_lines_corpus(mb: float, *, line_chars: int = 40, file_mb: float = FILE_MB) -> Path:
    """A folder of plain-text files of ``mb`` megabytes holding one short document per line (about
    ``line_chars`` characters, cut at word boundaries from the same sources): the many-small-documents
    case where per-document costs show. Built once, then cached."""
    folder = cache_dir() / f"short-lines-{mb:g}MB"
    if (folder / "DONE").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    words = " ".join(source_documents()).split()
    lines, current = [], []
    for word in words:
        current.append(word)
        if sum(map(len, current)) + len(current) - 1 >= line_chars:
            lines.append((" ".join(current) + "\n").encode("utf-8"))
            current = []
    write_tiles(folder, lines, mb, suffix=".txt", file_mb=file_mb)
    return folder


def read_lines(folder: Path) -> list[str]:
    """Every line document of a short-lines corpus, in file order."""
    docs = []
    for path in sorted(folder.glob("part-*.txt")):
        docs.extend(path.read_text(encoding="utf-8").splitlines())
    return docs


def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.jsonl"))


def read_documents(folder: Path) -> list[str]:
    """Every document of a tiled corpus, in file order."""
    docs = []
    for path in corpus_files(folder):
        with open(path, encoding="utf-8") as f:
            docs.extend(json.loads(line)["text"] for line in f)
    return docs


def tokenizer_model() -> Path:
    """The benchmark's 32k-piece SentencePiece model, trained on the sources once and cached."""
    path = cache_dir() / TOKENIZER_NAME
    if not path.exists():
        from lmpairs.tokenizers import train_tokenizer

        train_tokenizer(source_paths(), path, VOCAB_SIZE, model_type="bpe", num_threads=2)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=16.0, help="corpus size in MB")
    args = parser.parse_args()
    print(tiled_corpus(args.mb))
    print(tokenizer_model())


if __name__ == "__main__":
    main()
