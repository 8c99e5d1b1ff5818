"""Path helpers over Beam's FileSystems that behave the same on local disks and object stores.

Every file the build writes or reads under ``--output`` (shards, manifests, journal, lock, temp
dir) goes through here or through Beam's ``FileSystems`` directly, never through pyarrow's
``FileSystem.from_uri`` (which ignores ``--s3_endpoint_url`` and the other storage options):
:func:`apply_storage_options` hands the job's pipeline options to ``FileSystems`` on the driver
before any URL is touched, and on every worker whose runner did not.
"""
from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Iterable
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, S3Options

from lmpairs.pipeline.errors import BuildError
from lmpairs.schemas.storage import is_remote

S3_FLAGS = ("--s3_endpoint_url (MinIO and other S3-compatible stores), --s3_access_key_id, --s3_secret_access_key "
            "and --s3_region_name, or the AWS_* environment")


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def ensure_dir(path: str) -> None:
    """Create ``path`` and its parents where the filesystem has directories (object stores have none)."""
    if is_remote(path):
        return
    os.makedirs(path, exist_ok=True)


def delete_tree(path: str) -> None:
    """Remove ``path`` and everything under it; nothing there is fine."""
    if not is_remote(path):
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        return
    files = [m.path for m in FileSystems.match([path.rstrip("/") + "/**"])[0].metadata_list]
    if files:
        FileSystems.delete(files)


def storage_options(options: PipelineOptions) -> dict[str, Any]:
    """The options a worker needs to reach storage (``--s3_*``, GCS project/credentials, HDFS…): all the
    flags given, as a small picklable dict (see :func:`apply_storage_options`)."""
    return dict(options.get_all_options(drop_default=True))


def apply_storage_options(options: PipelineOptions | dict[str, Any] | None, *, force: bool = True) -> None:
    """Hand pipeline options to Beam's ``FileSystems`` (S3's endpoint and keys, GCS's project…).

    The driver calls it before any check touches a URL. Workers call it with ``force=False`` from
    ``setup()`` with the job's options as a dict: the options a worker already has are kept and the
    job's are added where missing. Runners differ here: Dataflow's harness has the job's options,
    Dask's workers have none ("Must provide one of client or options" on ``s3://``), and the
    DirectRunner's multi_processing workers have empty ones ("Unable to locate credentials").
    """
    if options is None:
        return
    current = FileSystems._pipeline_options
    if not force and current is not None:
        have = current.get_all_options(drop_default=True)
        wanted = options if isinstance(options, dict) else options.get_all_options(drop_default=True)
        if all(have.get(k) == v for k, v in wanted.items()):
            return
        options = {**wanted, **have}
    if isinstance(options, dict):
        options = PipelineOptions.from_dictionary(options)
    FileSystems.set_options(options)


def read_bytes(path: str) -> bytes:
    """The whole file at ``path`` (local or URL), never decompressed."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def write_bytes(path: str, data: bytes) -> None:
    """Write ``path`` so that readers see all of ``data`` or nothing: a local file is written beside it
    and renamed over it (after an fsync); an object store's single upload is visible only once complete."""
    if is_remote(path):
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as out:
            out.write(data)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".part", "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(path + ".part", path)



def check_s3_buckets(urls: Iterable[tuple[str, str]]) -> None:
    """One quick request per ``s3://`` bucket among ``(flag, url)`` pairs, before Beam touches them.

    Beam's S3 filesystem retries a failed request with exponential backoff for many minutes, so an
    unreachable endpoint or a wrong key would look like a hang; this check fails in seconds with
    the URL and the flags to fix. It reads the same ``--s3_*`` options Beam's own client does.
    """
    buckets = {}
    for flag, url in urls:
        if url.startswith("s3://"):
            buckets.setdefault(url[len("s3://"):].split("/", 1)[0], (flag, url))
    if not buckets:
        return
    try:
        import boto3
        from botocore.config import Config
    except ImportError as err:
        flag, url = next(iter(buckets.values()))
        raise BuildError(f"{flag} {url}: Beam's S3 support is not installed ({err}); "
                         "pip install 'lmpairs[aws]'.") from err
    s3 = (FileSystems._pipeline_options or PipelineOptions([])).view_as(S3Options)
    client = boto3.session.Session().client(
        "s3", region_name=s3.s3_region_name, api_version=s3.s3_api_version, use_ssl=not s3.s3_disable_ssl,
        verify=s3.s3_verify, endpoint_url=s3.s3_endpoint_url, aws_access_key_id=s3.s3_access_key_id,
        aws_secret_access_key=s3.s3_secret_access_key, aws_session_token=s3.s3_session_token,
        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2}))
    for bucket, (flag, url) in buckets.items():
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as err:  # noqa: BLE001 - botocore's errors share no base worth naming; all mean "fix the setup"
            detail = " ".join(str(err).split())[:300]
            code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
            what = (f"no bucket {bucket!r} there; create it first or fix the URL" if code in ("404", "NoSuchBucket")
                    else f"check {S3_FLAGS}")
            raise BuildError(f"{flag} {url}: cannot reach S3 bucket {bucket!r} ({detail}); {what}.") from None
