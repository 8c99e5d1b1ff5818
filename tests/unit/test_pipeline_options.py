"""Beam options defaults of lmpairs build."""
from apache_beam.options.pipeline_options import PortableOptions, StandardOptions

from lmpairs.pipeline.options import is_dry_run, pipeline_options


def test_default_runner_is_the_direct_runner_not_prism():
    assert pipeline_options([]).view_as(StandardOptions).runner == "DirectRunner"
    assert pipeline_options(["--runner=PortableRunner"]).view_as(StandardOptions).runner == "PortableRunner"


def test_embedded_job_server_defaults_to_loopback_workers():
    options = pipeline_options(["--runner=PortableRunner", "--job_endpoint=embed"])
    assert options.view_as(PortableOptions).environment_type == "LOOPBACK"
    given = pipeline_options(["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=DOCKER"])
    assert given.view_as(PortableOptions).environment_type == "DOCKER"


def test_dry_run_flag():
    assert is_dry_run(pipeline_options(["--dry_run=True"])) and not is_dry_run(pipeline_options([]))
