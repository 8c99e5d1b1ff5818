"""Shared pieces of the remote-storage build tests (test_build_s3.py, test_build_gcs.py): each store's
test module passes its own flags, object listing and script prelude to the same steps here.

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
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lmpairs.inspection.cli import main as inspect_main
from lmpairs.pipeline.commit import JOURNAL, TMP_NAME

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


def local_and_remote_builds(build: Callable, root: Path, url: str, remote: str, local: Path,
                            beam_args: tuple[str, ...] = ()) -> tuple[Path, str]:
    """The same build from ``root`` to ``local`` and from ``url`` (the sources' copy on the store) to
    ``remote``: ``(local OUT, remote OUT)``."""
    build([str(root / "corpus" / "*")], local, str(root / "tok" / "spm.model"), objectives=OBJECTIVES,
          seq_len=SEQ_LEN)
    build([f"{url}/corpus/*"], remote, f"{url}/tok/spm.model", beam_args=list(beam_args), objectives=OBJECTIVES,
          seq_len=SEQ_LEN)
    return local, remote


def build_argv(url: str, output: str, *flags: str) -> list[str]:
    """README's remote build (sources at ``url``), with the store's ``flags``."""
    return ["build", "--input", f"{url}/corpus/*", "--output", output, "--tokenizer", f"{url}/tok/spm.model",
            "--objectives", ",".join(OBJECTIVES), "--seq-len", str(SEQ_LEN), *flags]


def check_killed_commit_and_rerun(argv: list[str], tree: Callable[[], dict[str, bytes]], local: Path, *,
                                  url: str, root: Path, cwd: Path, prelude: tuple[str, ...] = ()) -> None:
    """A build SIGKILLed as its commit publishes the first manifest leaves no published manifest (the
    commit decided, its shards in place), and the same command run again completes it, equal to the
    local build. ``tree()`` lists the output on the store; ``prelude`` is the store's script setup."""
    killed = subprocess.run([sys.executable, "-c", cli_script(*prelude, KILL_AT_FIRST_MANIFEST_PUBLISH), *argv],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = tree()
    assert not [k for k in left if k.endswith("manifest.json") and not k.startswith(TMP_NAME + "/")]
    assert f"{TMP_NAME}/{JOURNAL}" in left  # the commit was decided ...
    assert any(re.match(rf"{OBJECTIVES[0]}/b-[0-9a-f]{{12}}/train/", k) for k in left)  # ... and half done

    rerun = subprocess.run([sys.executable, "-c", cli_script(*prelude), *argv], cwd=cwd, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "interrupted" in rerun.stderr
    assert " root: " not in rerun.stderr  # Beam's "Finished listing …" lines stay out unless -v asks
    assert_same_build(tree(), local_tree(local), url=url, root=root)


def inspect_output(capsys, *argv) -> str:
    """``lmpairs inspect`` output (2 examples, 100 columns), the build times and a remote build's
    in-place directory blanked."""
    code = inspect_main([*map(str, argv), "--width", "100", "-n", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return re.sub(r"b-[0-9a-f]{12}/", "", re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "TIME", captured.out))
