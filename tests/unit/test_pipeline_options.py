"""Beam options defaults of lmpairs build."""
import pytest
from apache_beam.options.pipeline_options import PortableOptions, StandardOptions

from lmpairs.pipeline.errors import BuildError
from lmpairs.pipeline.options import DASK_RUNNER, check_staging_files, is_dry_run, pipeline_options, runner_name


def test_default_runner_is_the_direct_runners_engine_never_prism():
    assert pipeline_options([]).view_as(StandardOptions).runner == "FnApiRunner"
    assert pipeline_options(["--runner=DirectRunner"]).view_as(StandardOptions).runner == "FnApiRunner"
    assert runner_name(pipeline_options([])) == "DirectRunner (FnApiRunner)"
    assert pipeline_options(["--runner=PortableRunner"]).view_as(StandardOptions).runner == "PortableRunner"


def test_embedded_job_server_defaults_to_loopback_workers():
    options = pipeline_options(["--runner=PortableRunner", "--job_endpoint=embed"])
    assert options.view_as(PortableOptions).environment_type == "LOOPBACK"
    given = pipeline_options(["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=DOCKER"])
    assert given.view_as(PortableOptions).environment_type == "DOCKER"


def test_dry_run_flag():
    assert is_dry_run(pipeline_options(["--dry_run=True"])) and not is_dry_run(pipeline_options([]))


def test_a_missing_setup_file_is_named_before_beam_tries_to_stage_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BuildError, match=r"--setup_file ./setup.py: no such file .*run from the repository root"):
        check_staging_files(pipeline_options(["--setup_file", "./setup.py"]))
    (tmp_path / "setup.py").write_text("")
    check_staging_files(pipeline_options(["--setup_file", "./setup.py"]))


def test_dask_runner_short_name_and_one_partition_per_split():
    pytest.importorskip("dask.distributed")
    options = pipeline_options(["--runner=DaskRunner", "--dask_client_address=tcp://127.0.0.1:8786"])
    assert options.view_as(StandardOptions).runner == DASK_RUNNER and runner_name(options) == "DaskRunner"
    assert options.get_all_options()["partition_size"] == 1
    assert options.get_all_options()["address"] == "tcp://127.0.0.1:8786"
    chosen = pipeline_options(["--runner=DaskRunner", "--dask_npartitions=4"]).get_all_options()
    assert chosen["npartitions"] == 4 and chosen["partition_size"] is None
