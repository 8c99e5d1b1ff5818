"""A local S3-compatible server for tests: moto's ThreadedMotoServer on 127.0.0.1, a free port.

Usage in a test module::

    from s3_server import s3  # noqa: F401  (the fixture)

    def test_x(s3):
        s3.upload_dir(local_dir, "bucket/prefix")
        PairStream("s3://bucket/prefix", filesystem=s3.options)

The server runs in this process (a thread), listens on 127.0.0.1 only, holds everything in memory
and is stopped by the fixture. ``s3.options`` are pyarrow ``S3FileSystem`` keyword arguments
(what ``filesystem=`` and ``--storage-option`` take); ``s3.env`` the AWS_* variables that make
pyarrow and boto3 find the server without options. Skips when ``moto[server]`` is not installed
(the ``test`` extra installs it).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY, SECRET_KEY, REGION = "testing", "testing", "us-east-1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint, pyarrow options, AWS_* environment and a boto3 client."""

    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def options(self) -> dict:
        return {"endpoint_override": f"{self.host}:{self.port}", "scheme": "http", "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY, "region": REGION}

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint, "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def make_bucket(self, name: str) -> None:
        client = self.client()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)

    def upload_dir(self, local: str | os.PathLike, target: str) -> str:
        """Copy every file under ``local`` to ``s3://target/...``; returns the ``s3://`` URL."""
        bucket, _, prefix = target.partition("/")
        self.make_bucket(bucket)
        client = self.client()
        root = Path(local)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = "/".join(filter(None, [prefix.strip("/"), path.relative_to(root).as_posix()]))
            client.upload_file(str(path), bucket, key)
        return f"s3://{target.rstrip('/')}"


@pytest.fixture(scope="session")
def s3():
    """A moto S3 server on 127.0.0.1 for the whole session, stopped at its end."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e .[test])")
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install -e .[test])")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server("127.0.0.1", port)
    finally:
        server.stop()
