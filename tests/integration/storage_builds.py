"""Shared pieces of the remote-storage build tests (test_build_s3.py, test_build_gcs.py).

The same small corpus and tokenizer are built locally and on the remote store; a remote build must
write the local build's exact files (manifests equal but for ``created_at`` and where the inputs
were). ``cli_script(KILL_AT_FIRST_MANIFEST_MOVE)`` is a ``python -c`` script running ``lmpairs`` that
SIGKILLs itself when the commit moves the first manifest into place (the first objective's shards
have moved by then).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

OBJECTIVES = ("clm", "mlm", "t5", "bart")
SEQ_LEN = 64
KILL_AT_FIRST_MANIFEST_MOVE = """
rename = FileSystems.rename
def rename_or_die(sources, destinations):
    if any(d.endswith("/manifest.json") for d in destinations):
        os.kill(os.getpid(), signal.SIGKILL)  # shards of the first objective moved, no manifest yet
    return rename(sources, destinations)
FileSystems.rename = rename_or_die
"""


def cli_script(*patches: str) -> str:
    """A ``python -c`` script: the patches, then ``lmpairs`` with the script's arguments."""
    return ("import os, signal, sys\nfrom apache_beam.io.filesystems import FileSystems\n" + "".join(patches)
            + "from lmpairs.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def write_sources(root: Path, corpus_slices: Path, tokenizer_path: str) -> Path:
    """``root/corpus/`` (plain text, gzip, JSONL) and ``root/tok/spm.model``."""
    (root / "corpus").mkdir(parents=True)
    for name in ("en/shakespeare.txt", "en/botchan.txt.gz", "arxiv.jsonl"):
        shutil.copy(corpus_slices / name, root / "corpus" / os.path.basename(name))
    (root / "tok").mkdir()
    shutil.copy(tokenizer_path, root / "tok" / "spm.model")
    return root


def local_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_build(got: dict[str, bytes], want: dict[str, bytes], *, url: str, root: Path,
                      objectives: tuple[str, ...] = OBJECTIVES) -> None:
    """Same files, same shard bytes; manifests the same but for created_at and the inputs' location
    (``url`` in place of the local ``root``)."""
    assert sorted(got) == sorted(want), (sorted(set(got) - set(want)), sorted(set(want) - set(got)))
    assert sum(name.endswith("manifest.json") for name in want) == len(objectives)
    for name in want:
        if name.endswith("manifest.json"):
            a, b = json.loads(want[name]), json.loads(got[name])
            a.pop("created_at"), b.pop("created_at")
            assert json.dumps(b, sort_keys=True).replace(url, str(root)) == json.dumps(a, sort_keys=True), name
        else:
            assert got[name] == want[name], name
