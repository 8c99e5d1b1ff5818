"""``lmpairs build`` from and to gs:// against gcp-storage-emulator on 127.0.0.1 (started here).

Beam's GCS filesystem has no endpoint flag: google-cloud-storage reads ``STORAGE_EMULATOR_HOST``.
Without credentials Beam first looks for Application Default Credentials (retrying for about 25 s)
and then connects anonymously; these tests mark that lookup done (anonymous) to skip the wait.
gcp-storage-emulator serves everything Beam does (its batch rename/delete in the commit included;
fake-gcs-server answers batch requests with "Bad response: not multi-part"), but pyarrow's ranged
Parquet reads hang on it, so ``lmpairs inspect`` reads a copy of the gs build on fake-gcs-server
(tests/gcs_server.py), whose pyarrow support the loader tests use.
"""
from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

import pyarrow.fs as pafs
import pytest
from gcs_server import gcs  # noqa: F401  (fake-gcs-server, for inspect)
from s3_server import free_port
from storage_builds import (
    assert_same_build,
    build_argv,
    check_killed_commit_and_rerun,
    inspect_output,
    local_and_remote_builds,
    local_tree,
    write_sources,
)

pytestmark = pytest.mark.slow

BUCKET = "lmpairs-gcs"
ANONYMOUS = """
from apache_beam.internal.gcp import auth
auth._Credentials._credentials_init = True  # no ADC lookup: anonymous, as after Beam's 25 s of retries
"""


@dataclass(frozen=True)
class Emulator:
    port: int

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def options(self) -> dict:
        """pyarrow ``GcsFileSystem`` options (``inspect --storage-option``, ``PairStream(filesystem=)``)."""
        return {"anonymous": True, "endpoint_override": f"127.0.0.1:{self.port}", "scheme": "http"}

    def filesystem(self) -> pafs.GcsFileSystem:
        return pafs.GcsFileSystem(**self.options, retry_time_limit=datetime.timedelta(seconds=5))

    def upload_dir(self, local, target: str) -> str:
        """Through Beam (pyarrow's GcsFileSystem stores a ``.gz`` object gzip-wrapped on this emulator)."""
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            with FileSystems.create(f"gs://{target}/{path.relative_to(local).as_posix()}",
                                    compression_type=CompressionTypes.UNCOMPRESSED) as out:
                out.write(path.read_bytes())
        return f"gs://{target}"

    def tree(self, prefix: str) -> dict[str, bytes]:
        fs, root = self.filesystem(), f"{BUCKET}/{prefix}"
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        return {i.path[len(root) + 1:]: fs.open_input_stream(i.path).read() for i in infos
                if i.type == pafs.FileType.File}


@pytest.fixture(scope="module")
def emulator():
    """gcp-storage-emulator in this process (a thread) on 127.0.0.1, in memory; Beam pointed at it."""
    server_module = pytest.importorskip("gcp_storage_emulator.server",
                                        reason="gcp-storage-emulator is not installed (pip install -e .[test])")
    pytest.importorskip("apache_beam.io.gcp.gcsio", reason="Beam's GCS support is not installed (lmpairs[gcp])")
    from apache_beam.internal.gcp import auth

    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    port = free_port()
    server = server_module.create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    emulator = Emulator(port)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
            patch.setattr(auth._Credentials, "_credentials_init", True)
            patch.setattr(auth._Credentials, "_credentials", None)
            yield emulator
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sources(tmp_path_factory, corpus_slices, trained_tokenizer, emulator):
    root = write_sources(tmp_path_factory.mktemp("gcssrc"), corpus_slices, trained_tokenizer.name)
    return root, emulator.upload_dir(root, f"{BUCKET}/src")


@pytest.fixture(scope="module")
def builds(sources, emulator, build, tmp_path_factory):
    root, url = sources
    return local_and_remote_builds(build, root, url, f"gs://{BUCKET}/out", tmp_path_factory.mktemp("local") / "out")


def test_gs_build_equals_the_local_build(builds, sources, emulator):
    local, _ = builds
    root, url = sources
    assert_same_build(emulator.tree("out"), local_tree(local), url=url, root=root)


def test_killed_commit_leaves_no_manifest_and_a_rerun_completes(builds, sources, emulator, repo_root):
    local, _ = builds
    root, url = sources
    check_killed_commit_and_rerun(build_argv(url, f"gs://{BUCKET}/killed"), lambda: emulator.tree("killed"), local,
                                  url=url, root=root, cwd=repo_root, prelude=(ANONYMOUS,))


def test_inspect_reads_the_gs_build_with_the_tokenizer_on_gs(builds, sources, emulator, gcs, capsys,  # noqa: F811
                                                             monkeypatch):
    """On fake-gcs-server (tests/gcs_server.py): pyarrow's ranged Parquet reads hang on gcp-storage-emulator.

    pyarrow's GCS client obeys ``STORAGE_EMULATOR_HOST`` over ``endpoint_override``, so the variable
    the Beam builds need (pointing at gcp-storage-emulator) is cleared for this test.
    """
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    local, _ = builds
    root, src = sources
    staging = local.parent / "from-gs"
    for name, data in {**emulator.tree("out"), **{f"tok/{k}": v for k, v in emulator.tree("src/tok").items()}}.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    url = gcs.upload_dir(staging, "lmpairs-inspect/build")

    want = inspect_output(capsys, local, "--tokenizer", root / "tok" / "spm.model")
    got = inspect_output(capsys, url, "--tokenizer", f"{url}/tok/spm.model",
                         *(f"--storage-option={k}={v}" for k, v in gcs.options.items() if k != "retry_time_limit"))
    assert got.replace(url, "OUT").replace(src, str(root)) == want.replace(str(local), "OUT")
