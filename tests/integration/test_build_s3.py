"""``lmpairs build`` from and to s3:// against a local S3-compatible server (moto on 127.0.0.1, started here).

Corpus, tokenizer and output all live in the bucket; Beam's S3 filesystem finds the server only
through the flags a user passes for MinIO and the like (``--s3_endpoint_url`` …; no AWS_*
variable is set). The s3 build must write exactly the local build's files (manifests equal but
for ``created_at`` and where the inputs were); a build SIGKILLed in the middle of its commit leaves
no manifest and the rerun (the README's command) completes it; ``lmpairs inspect s3://…`` reads
the build with the tokenizer on s3.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from runners import runner_args
from s3_server import ACCESS_KEY, REGION, SECRET_KEY, s3  # noqa: F401  (fixture)
from storage_builds import (
    OBJECTIVES,
    SEQ_LEN,
    assert_same_build,
    build_argv,
    check_killed_commit_and_rerun,
    inspect_output,
    local_and_remote_builds,
    local_tree,
    without_prefix,
    write_sources,
)

from lmpairs.errors import UserError
from lmpairs.pipeline.commit import TMP_NAME

pytestmark = pytest.mark.slow

BUCKET = "lmpairs-build"


def s3_flags(server) -> list[str]:
    """Beam's flags for an S3-compatible endpoint, as README gives them for MinIO."""
    return [f"--s3_endpoint_url={server.endpoint}", f"--s3_access_key_id={ACCESS_KEY}",
            f"--s3_secret_access_key={SECRET_KEY}", f"--s3_region_name={REGION}"]


def storage_flags(server) -> list[str]:
    """``lmpairs inspect``'s pyarrow options for the same server."""
    return [f"--storage-option={k}={v}" for k, v in server.options.items()]


@pytest.fixture(scope="module", autouse=True)
def no_aws_environment():
    """Only the flags may lead Beam to the server: no AWS_* variable, no ~/.aws file."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


@pytest.fixture(scope="module")
def sources(tmp_path_factory, corpus_slices, trained_tokenizer, s3):  # noqa: F811
    """The same corpus and tokenizer locally (``root/corpus/``, ``root/tok/spm.model``) and in the bucket."""
    root = write_sources(tmp_path_factory.mktemp("s3src"), corpus_slices, trained_tokenizer.name)
    return root, s3.upload_dir(root, f"{BUCKET}/src")


@pytest.fixture(scope="module")
def builds(sources, s3, build, tmp_path_factory):  # noqa: F811
    """The same build locally and s3 -> s3: (local OUT, s3 OUT)."""
    root, url = sources
    return local_and_remote_builds(build, root, url, f"s3://{BUCKET}/out", tmp_path_factory.mktemp("local") / "out",
                                   beam_args=tuple(s3_flags(s3)))


def s3_tree(server, prefix: str) -> dict[str, bytes]:
    """Every object under ``s3://BUCKET/prefix/``, by key relative to it."""
    client, prefix = server.client(), prefix.strip("/") + "/"
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"][len(prefix):]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return out


def test_s3_build_equals_the_local_build(builds, sources, s3):  # noqa: F811
    local, remote = builds
    root, url = sources
    assert_same_build(s3_tree(s3, "out"), local_tree(local), url=url, root=root)


def test_killed_commit_leaves_no_manifest_and_a_rerun_completes(builds, sources, s3, repo_root):  # noqa: F811
    local, _ = builds
    root, url = sources
    check_killed_commit_and_rerun(build_argv(url, f"s3://{BUCKET}/killed", *s3_flags(s3)),
                                  lambda: s3_tree(s3, "killed"), local, url=url, root=root, cwd=repo_root)


def test_inspect_reads_the_s3_build_with_the_tokenizer_on_s3(builds, sources, s3, capsys):  # noqa: F811
    local, remote = builds
    root, url = sources
    want = inspect_output(capsys, local, "--tokenizer", root / "tok" / "spm.model")
    got = inspect_output(capsys, remote, "--tokenizer", f"{url}/tok/spm.model", *storage_flags(s3))
    assert got.replace(remote, "OUT").replace(url, str(root)) == want.replace(str(local), "OUT")
    assert all(f"{name}" in got for name in OBJECTIVES)


def test_unreachable_endpoint_is_one_user_error_naming_the_url(sources, build, tmp_path):
    _, url = sources
    flags = ["--s3_endpoint_url=http://127.0.0.1:9", "--s3_access_key_id=x", "--s3_secret_access_key=y",
             "--s3_region_name=us-east-1"]
    with pytest.raises(UserError) as caught:
        build([f"{url}/corpus/*"], f"s3://{BUCKET}/nowhere", f"{url}/tok/spm.model", beam_args=flags)
    assert f"{url}/tok/spm.model" in str(caught.value) and "--s3_endpoint_url" in str(caught.value)


def test_overwrite_on_s3_leaves_exactly_the_new_dataset(sources, s3, build, tmp_path, monkeypatch):  # noqa: F811
    """No shard is ever copied (each is written once, in place); the old dataset stays whole and readable
    until the new manifest is written; then the replaced objective holds only what its manifest lists."""
    from apache_beam.io.filesystems import FileSystems

    root, url = sources
    output, tokenizer = f"s3://{BUCKET}/replaced", f"{url}/tok/spm.model"
    copies, at_publish = [], []
    for name in ("copy", "rename"):
        real = getattr(FileSystems, name)
        monkeypatch.setattr(FileSystems, name, lambda src, dst, _real=real, _name=name:
                            copies.append((_name, src)) or _real(src, dst))
    build([f"{url}/corpus/*"], output, tokenizer, beam_args=s3_flags(s3), objectives=("clm",), seq_len=SEQ_LEN)
    before = s3_tree(s3, "replaced")
    old = json.loads(before["clm/manifest.json"])
    old_shards = {f"clm/{s['path']}": before[f"clm/{s['path']}"] for v in old["splits"].values() for s in v}
    create = FileSystems.create

    def create_watching(path, *args, **kwargs):
        if path == f"{output}/clm/manifest.json":  # the commit point: a reader of the old manifest still reads
            tree = s3_tree(s3, "replaced")
            at_publish.append(tree["clm/manifest.json"] == before["clm/manifest.json"]
                              and all(tree.get(k) == v for k, v in old_shards.items()))
        return create(path, *args, **kwargs)

    monkeypatch.setattr(FileSystems, "create", create_watching)
    build([f"{url}/corpus/shakespeare.txt"], output, tokenizer, beam_args=s3_flags(s3), objectives=("clm",),
          seq_len=SEQ_LEN, overwrite=True)
    assert at_publish == [True]
    assert not [src for _, src in copies if any(str(p).endswith(".parquet") for p in src)], copies
    build([str(root / "corpus" / "shakespeare.txt")], tmp_path / "out", str(root / "tok" / "spm.model"),
          objectives=("clm",), seq_len=SEQ_LEN)
    after = without_prefix(s3_tree(s3, "replaced"))
    assert len(before) > len(after)  # three inputs' shards, then one's
    want = local_tree(tmp_path / "out")
    assert sorted(after) == sorted(want)
    assert all(after[name] == want[name] for name in want if name.endswith(".parquet"))


@pytest.fixture
def s3_filesystems(s3, monkeypatch):  # noqa: F811
    """Beam's FileSystems pointed at the server (what run_build does first), a short lock settle time."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from lmpairs.pipeline import lock, output

    monkeypatch.setattr(FileSystems, "_pipeline_options", PipelineOptions(s3_flags(s3)))
    monkeypatch.setattr(lock, "SETTLE_SECONDS", 0.05)
    s3.make_bucket(BUCKET)
    return output


def test_the_s3_lock_refuses_a_second_build_and_takes_over_a_dead_ones(s3_filesystems, s3):  # noqa: F811
    output = s3_filesystems
    url = f"s3://{BUCKET}/locked"
    first = output.OutputLock(url).acquire()
    with pytest.raises(UserError, match="another lmpairs build is writing there"):
        output.OutputLock(url).acquire()
    first.release()
    assert output.LOCK_NAME not in s3_tree(s3, "locked")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    s3.client().put_object(Bucket=BUCKET, Key=f"locked/{output.LOCK_NAME}",  # left by a build that was killed
                           Body=json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "token": "x"}))
    taken = output.OutputLock(url).acquire()
    assert json.loads(s3_tree(s3, "locked")[output.LOCK_NAME])["token"] == taken.token
    taken.release()
    assert s3_tree(s3, "locked") == {}


WORKERS = {"two_processes": ("--direct_num_workers=2", "--direct_running_mode=multi_processing"),
           "dask": ("--runner=DaskRunner",)}


@pytest.mark.parametrize("runner", list(WORKERS))
def test_worker_processes_reach_s3_through_the_flags(runner, sources, s3, build, tmp_path):  # noqa: F811
    """Workers in other processes get the --s3_* options too (Dask's get none from Beam, the DirectRunner's
    multi_processing workers empty ones); byte-range splits seek into s3 objects."""
    root, url = sources
    options = dict(objectives=("clm",), seq_len=SEQ_LEN, split_mb=0.005)
    build([str(root / "corpus" / "*")], tmp_path / "out", str(root / "tok" / "spm.model"), **options)
    with runner_args(runner, WORKERS[runner]) as args:
        manifests = build([f"{url}/corpus/*"], f"s3://{BUCKET}/{runner}", f"{url}/tok/spm.model",
                          beam_args=[*s3_flags(s3), *args], **options)
    assert len(manifests["clm"].inputs) > 3  # byte-range splits of shakespeare.txt and arxiv.jsonl
    assert_same_build(s3_tree(s3, runner), local_tree(tmp_path / "out"), url=url, root=root, objectives=("clm",))


def test_a_killed_s3_build_resumes_and_equals_a_clean_build(sources, s3, repo_root):  # noqa: F811
    """SIGKILL after some input splits finished; the rerun reuses them (records on S3, shards in place)."""
    import time

    _, url = sources
    output = f"s3://{BUCKET}/resumed"
    small = ["--objectives", "clm", "--split-mb", "0.05"]  # a few dozen splits, one objective: CI time
    argv = [*build_argv(url, output, *s3_flags(s3)), *small]
    proc = subprocess.Popen([sys.executable, "-m", "lmpairs", *argv], cwd=repo_root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    client = s3.client()
    while len(client.list_objects_v2(Bucket=BUCKET, Prefix=f"resumed/{TMP_NAME}/done/").get("Contents", [])) < 2:
        if proc.poll() is not None:
            pytest.fail(f"the build ended ({proc.returncode}) before it was killed: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run([sys.executable, "-m", "lmpairs", *argv], cwd=repo_root, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert int(rerun.stderr.split(" splits reused")[0].rsplit(" ", 1)[-1]) >= 2, rerun.stderr[-2000:]
    clean_argv = build_argv(url, f"s3://{BUCKET}/clean", *s3_flags(s3))
    clean = subprocess.run([sys.executable, "-m", "lmpairs", *clean_argv, *small], cwd=repo_root, capture_output=True,
                           text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-2000:]
    got, want = without_prefix(s3_tree(s3, "resumed")), without_prefix(s3_tree(s3, "clean"))
    assert sorted(got) == sorted(want)
    for name in want:
        if name.endswith("manifest.json"):
            a, b = json.loads(want[name]), json.loads(got[name])
            a.pop("created_at"), b.pop("created_at")
            assert a == b, name
        else:
            assert got[name] == want[name], name


def test_a_failed_same_config_overwrite_leaves_the_live_dataset_whole(sources, s3, build, monkeypatch):  # noqa: F811
    """The same build again with --overwrite, one split failing after it wrote a shard: the failed split's
    clean-up deletes only the new build's files (its in-place prefix differs from the live dataset's), so
    the old manifest and every shard it names are untouched; a rerun then replaces the dataset."""
    from lmpairs.pipeline.shards import ShardWriter

    _, url = sources
    output, tokenizer = f"s3://{BUCKET}/same", f"{url}/tok/spm.model"
    options = dict(beam_args=s3_flags(s3), objectives=("clm",), seq_len=SEQ_LEN)
    build([f"{url}/corpus/*"], output, tokenizer, **options)
    before = s3_tree(s3, "same")
    close = ShardWriter.close

    def close_then_fail(self):
        infos = close(self)
        if self._index == 1 and infos:
            raise OSError("disk gone")  # after the split's shards were written in place
        return infos

    monkeypatch.setattr(ShardWriter, "close", close_then_fail)
    with pytest.raises(Exception, match="disk gone"):
        build([f"{url}/corpus/*"], output, tokenizer, overwrite=True, **options)
    after = s3_tree(s3, "same")
    assert {k: v for k, v in after.items() if k in before} == before  # the live dataset, byte for byte
    monkeypatch.setattr(ShardWriter, "close", close)
    build([f"{url}/corpus/*"], output, tokenizer, overwrite=True, **options)
    final = s3_tree(s3, "same")
    prefixes = {k.split("/")[1] for k in final if k.endswith(".parquet")}
    assert len(prefixes) == 1 and prefixes != {k.split("/")[1] for k in before if k.endswith(".parquet")}
    final, before = without_prefix(final), without_prefix(before)
    assert sorted(final) == sorted(before)
    assert all(final[k] == before[k] for k in before if k.endswith(".parquet"))
