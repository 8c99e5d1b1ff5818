"""tiktoken-format fixtures without downloads: Mistral's tekken.json from the ``mistral-common`` wheel,
and a small rank file cut from it (the first ranks of a BPE are a valid BPE on their own)."""
from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path


def tekken_file(name: str = "tekken_240718.json") -> Path:
    """A tekken.json as the ``mistral-common`` wheel installs it (the test extra pins it)."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("mistral-common is not installed; run `make setup` (the test extra pins it).")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def write_rank_file(path: Path, num_ranks: int = 3000) -> Path:
    """A tiktoken rank file (``base64 rank`` per line) of tekken's first ``num_ranks`` ranks."""
    vocab = json.loads(tekken_file().read_text(encoding="utf-8"))["vocab"][:num_ranks]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(base64.b64encode(base64.b64decode(t["token_bytes"])) + f" {t['rank']}\n".encode()
                              for t in vocab))
    return path
