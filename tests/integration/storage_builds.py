"""Shared pieces of the remote-storage build tests (test_build_s3.py, test_build_gcs.py).

The same small corpus and tokenizer are built locally and on the remote store; a remote build must
write the local build's exact files (manifests equal but for ``created_at`` and where the inputs
were; remote shards sit under an in-place ``b-<fingerprint>/`` directory, which the comparison
strips). ``cli_script(KILL_AT_FIRST_MANIFEST_PUBLISH)`` is a ``python -c`` script running ``lmpairs``
that SIGKILLs itself when the commit writes the first published manifest (every shard is in place by
then: a remote build writes shards once, where they stay).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

OBJECTIVES = ("clm", "mlm", "t5", "bart")
SEQ_LEN = 64
KILL_AT_FIRST_MANIFEST_PUBLISH = """
create = FileSystems.create
def create_or_die(path, *args, **kwargs):
    if path.endswith("/manifest.json") and "/_lmpairs_tmp/" not in path:
        os.kill(os.getpid(), signal.SIGKILL)  # the commit is decided, no manifest published yet
    return create(path, *args, **kwargs)
FileSystems.create = create_or_die
"""
IN_PLACE = re.compile(r"(?<=/)b-[0-9a-f]{12}/")


def without_prefix(tree: dict[str, bytes]) -> dict[str, bytes]:
    """A remote tree with the in-place build directory taken out of keys and manifest shard paths."""
    out = {}
    for name, data in tree.items():
        if name.endswith("manifest.json"):
            data = re.sub(rb'"b-[0-9a-f]{12}/', b'"', data)
        out[IN_PLACE.sub("", name)] = data
    return out


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
    (``url`` in place of the local ``root``) and the remote build's in-place directory."""
    got = without_prefix(got)
    assert sorted(got) == sorted(want), (sorted(set(got) - set(want)), sorted(set(want) - set(got)))
    assert sum(name.endswith("manifest.json") for name in want) == len(objectives)
    for name in want:
        if name.endswith("manifest.json"):
            a, b = json.loads(want[name]), json.loads(got[name])
            a.pop("created_at"), b.pop("created_at")
            assert json.dumps(b, sort_keys=True).replace(url, str(root)) == json.dumps(a, sort_keys=True), name
        else:
            assert got[name] == want[name], name
