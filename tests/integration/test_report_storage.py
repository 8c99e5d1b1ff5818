"""``lmpairs report`` and ``inspect --json`` on s3://: the same figures as from the local copy."""
import json

import pytest
from loader_fixtures import write_small_clm_build
from s3_server import s3  # noqa: F401  (fixture)

from lmpairs.cli import main

pytestmark = pytest.mark.fast  # one in-process S3 server and small files: the default tier


@pytest.fixture(scope="module")
def out(tmp_path_factory, spm_test_model_path):
    """OUT/clm written directly, its tokenizer beside OUT under the manifest's file name."""
    return write_small_clm_build(tmp_path_factory.mktemp("report") / "out", spm_test_model_path, seed=1,
                                 doc_lengths=[6, 7], num_shards=2)


def test_report_and_json_read_the_build_from_s3(out, s3, tmp_path, capsys):  # noqa: F811
    url = s3.upload_dir(out, "report-bucket/out")
    flags = [f"--storage-option={k}={v}" for k, v in s3.options.items()]
    assert main(["inspect", str(out), "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["inspect", url, "--json", *flags]) == 0
    remote = json.loads(capsys.readouterr().out)
    for figures in (local, remote):
        figures.pop("path")
        for objective in figures["objectives"]:
            objective.pop("path")
    assert remote == local
    assert local["objectives"][0]["recount"]["examples"] == {"train": 6}
    assert local["objectives"][0]["recount"]["document_pieces"] == 12
    page = tmp_path / "r.html"
    assert main(["report", url, "--output", str(page), "-n", "1", *flags]) == 0
    assert 'id="clm-examples"' in page.read_text(encoding="utf-8")
