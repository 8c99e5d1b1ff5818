"""``lmpairs inspect`` on s3:// (build and tokenizer remote) and on bad manifests: one-line errors, exit 2."""
import json
from pathlib import Path

import pytest
from loader_fixtures import write_small_clm_build
from s3_server import s3  # noqa: F401  (fixture)

from lmpairs.inspection.cli import main
from lmpairs.schemas import FORMAT_VERSION

pytestmark = pytest.mark.fast  # one in-process S3 server and small files: the default tier


@pytest.fixture(scope="module")
def out(tmp_path_factory, spm_test_model_path):
    """OUT/clm written directly, its tokenizer beside OUT under the manifest's file name."""
    return write_small_clm_build(tmp_path_factory.mktemp("inspect") / "out", spm_test_model_path, seed=0,
                                 doc_lengths=[13], num_shards=1)


def run(capsys, *argv):
    code = main([*map(str, argv), "--width", "100"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def storage_flags(server):
    return [f"--storage-option={k}={v}" for k, v in server.options.items()]


def test_inspect_reads_build_and_tokenizer_from_s3(out, s3, capsys):  # noqa: F811
    url = s3.upload_dir(out, "inspect-bucket/out")
    code, local_text, err = run(capsys, out, "-n", 2)
    assert code == 0, err
    code, text, err = run(capsys, url, "-n", 2, *storage_flags(s3))  # tokenizer found beside OUT on s3
    assert code == 0, err
    assert text.replace(url, "OUT") == local_text.replace(str(out), "OUT")
    assert "example 2 of 2" in text
    code, text, err = run(capsys, f"{url}/clm", "-n", 1, "--tokenizer", f"{url}/spm_unigram_1k.model",
                          *storage_flags(s3))
    assert code == 0, err and "example 1 of 1" in text


def test_unreachable_storage_is_one_line_naming_the_url(capsys):
    code, _, err = run(capsys, "s3://nowhere/out", "--storage-option=endpoint_override=127.0.0.1:9",
                       "--storage-option=scheme=http", "--storage-option=access_key=x",
                       "--storage-option=secret_key=y", "--storage-option=connect_timeout=1",
                       "--storage-option=request_timeout=1")
    assert code == 2 and err.count("\n") == 1
    assert "s3://nowhere/out" in err and "cannot reach storage" in err


def copy_out(out, tmp_path):
    target = tmp_path / "out"
    for path in out.rglob("*"):
        if path.is_file():
            (target / path.relative_to(out)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(out)).write_bytes(path.read_bytes())
    return target


def edit(manifest: Path, change):
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, expected", [
    (lambda m: edit(m, lambda d: d.update(format_version=FORMAT_VERSION - 1)), "rebuild the dataset with this lmpairs"),
    (lambda m: m.write_bytes(b"\xff\xfe\x00{"), "not UTF-8"),
    (lambda m: m.write_bytes(b"{" * 100_000), "not valid JSON"),
    (lambda m: edit(m, lambda d: d["splits"]["train"][0].update(path="../../x.parquet")), "leaves the dataset"),
    (lambda m: edit(m, lambda d: d["tokenizer"]["special_ids"].update(pad=99999999)), "outside the vocabulary"),
])
def test_bad_manifests_are_one_line_errors(out, tmp_path, capsys, damage, expected):
    target = copy_out(out, tmp_path)
    damage(target / "clm" / "manifest.json")
    code, _, err = run(capsys, target, "-n", 1)
    assert code == 2 and err.count("\n") == 1, err
    assert "manifest.json" in err and expected in err
