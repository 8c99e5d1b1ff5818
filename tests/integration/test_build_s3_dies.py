"""An S3 server that dies in the middle of ``lmpairs build``: one line, exit status 2, within the I/O deadline.

Beam's S3 client retries every failed request with growing waits (5, 10, 20 … s, seven times), so
without a bound a dead endpoint kept a build alive for many minutes. The server here is moto in its
own process; the build (a subprocess) kills it right after the first input split is recorded.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server, free_port
from storage_builds import cli_script, write_sources

pytestmark = pytest.mark.slow

BUCKET = "lmpairs-dies"
SERVER = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
time.sleep(3600)
"""
KILL_SERVER_AFTER_FIRST_SPLIT = """
import lmpairs.pipeline.build as _build
_record = _build.record_split
def record_then_kill(*args, **kwargs):
    _record(*args, **kwargs)
    os.kill(int(os.environ["LMPAIRS_TEST_SERVER_PID"]), signal.SIGKILL)
_build.record_split = record_then_kill
"""


@pytest.fixture
def dying_server():
    """moto in a child process (so the build can kill it): (S3Server, Popen)."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e .[test])")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield S3Server("127.0.0.1", port), proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_server_dying_mid_build_ends_it_with_one_line(dying_server, tmp_path, corpus_slices, trained_tokenizer,
                                                        repo_root):
    server, proc = dying_server
    url = server.upload_dir(write_sources(tmp_path / "src", corpus_slices, trained_tokenizer.name), f"{BUCKET}/src")
    argv = ["build", "--input", f"{url}/corpus/*", "--output", f"s3://{BUCKET}/out", "--tokenizer",
            f"{url}/tok/spm.model", "--objectives", "clm", "--seq-len", "64", "--split-mb", "0.05",
            "--io-deadline-s", "20", f"--s3_endpoint_url={server.endpoint}", f"--s3_access_key_id={ACCESS_KEY}",
            f"--s3_secret_access_key={SECRET_KEY}", f"--s3_region_name={REGION}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LMPAIRS_TEST_SERVER_PID=str(proc.pid), AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", cli_script(KILL_SERVER_AFTER_FIRST_SPLIT), *argv], cwd=repo_root,
                          env=env, capture_output=True, text=True, timeout=85)
    seconds = time.monotonic() - start
    assert proc.poll() is not None, "the build never killed the server"
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("lmpairs build: error:")]
    assert len(errors) == 1 and errors == lines[-1:], done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert server.endpoint in errors[0] and "--io-deadline-s" in errors[0], errors[0]
    assert seconds < 80, seconds
