"""The Dataflow job is built offline (``--dry_run=True``): graph, staging of ./setup.py, job file, no GCS access.

Project and bucket names must pass Beam's own validation (a project id of 6+ characters, a bucket
name of 3+), which is why they are not ``p`` and ``gs://b``. In a dry run the pre-flight checks
skip remote paths (the gs:// output here), and the local input and tokenizer are still checked.
"""
from __future__ import annotations

import apache_beam as beam
import pytest

from lmpairs.config import BuildConfig
from lmpairs.pipeline import run_build

pytestmark = pytest.mark.slow


def test_dataflow_dry_run_builds_the_job_offline(corpus_slices, trained_tokenizer, tmp_path, repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)  # --setup_file ./setup.py is relative to the repository root
    results = []
    run = beam.Pipeline.run
    monkeypatch.setattr(beam.Pipeline, "run", lambda self, *a, **k: results.append(run(self, *a, **k)) or results[-1])
    config = BuildConfig(inputs=(str(corpus_slices / "en" / "*"),), output="gs://lmpairs-bucket/out",
                         tokenizer=trained_tokenizer.name)
    beam_args = ["--runner=DataflowRunner", "--dry_run=True", "--project=lmpairs-project", "--region=us-central1",
                 "--temp_location=gs://lmpairs-bucket/tmp", "--setup_file", "./setup.py"]
    assert run_build(config, beam_args) == {}
    result = results[-1]  # Pipeline.run re-enters itself once for the runner API round trip
    # The job a real run would submit: its pipeline holds every step of the build.
    names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
    for step in ("Build/Splits", "Build/Redistribute", "Build/BuildSplits", "Build/Commit/Gather",
                 "Build/Commit/Publish"):
        assert step in names, step
    assert result.job.options.get_all_options()["setup_file"] == "./setup.py"
