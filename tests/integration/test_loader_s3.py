"""PairStream over s3:// against a local S3-compatible server (moto on 127.0.0.1, started here).

The dataset is written locally with the schemas and copied into the bucket, so the s3 stream must
give exactly the local stream's batches, with and without DataLoader workers, and resume from a
state_dict (states bind to the manifest's identity, not its location: a local state resumes the
s3 copy). Unreachable storage is one line naming the URL and the fix. All but the dynamic case
(which trains a tokenizer) run in the default tier: the server is one in-process thread.
"""
import pyarrow.fs as pafs
import pytest
from loader_fixtures import clm_rows, epoch_signatures, mlm_rows, write_dataset
from s3_server import s3  # noqa: F401  (fixture)

from lmpairs.errors import UserError
from lmpairs.loader import PairStream
from lmpairs.schemas.storage import StorageError


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, s3):  # noqa: F811
    root = tmp_path_factory.mktemp("s3data")
    local = write_dataset(root / "clm", "clm", {"train": clm_rows(61, seq_len=8, short_every=5)},
                          num_shards=3, row_group_rows=6)
    return local, s3.upload_dir(local, "lmpairs-test/out/clm")


def stream(path, **kwargs):
    return PairStream(path, batch_size=4, shuffle_buffer=12, return_keys=True, **kwargs)


@pytest.mark.fast
@pytest.mark.parametrize("num_workers", [0, 2])
def test_s3_stream_equals_the_local_copy(datasets, s3, num_workers):  # noqa: F811
    local, url = datasets
    want = epoch_signatures(stream(local).make_loader(num_workers=num_workers))
    got = epoch_signatures(stream(url, filesystem=s3.options).make_loader(num_workers=num_workers))
    assert got == want and len(want) == 16


@pytest.mark.fast
def test_a_pyarrow_filesystem_object_works_too(datasets, s3):  # noqa: F811
    local, url = datasets
    fs = pafs.S3FileSystem(**s3.options)
    assert epoch_signatures(stream(url, filesystem=fs)) == epoch_signatures(stream(local))


@pytest.mark.fast
def test_resume_on_s3_from_a_state_dict(datasets, s3):  # noqa: F811
    local, url = datasets
    full = epoch_signatures(stream(url, filesystem=s3.options).make_loader(num_workers=2))
    first = stream(url, filesystem=s3.options).make_loader(num_workers=2)
    head = epoch_signatures(first, limit=6)
    state = first.state_dict()
    resumed = stream(url, filesystem=s3.options).make_loader(num_workers=2)
    resumed.load_state_dict(state)
    assert head + epoch_signatures(resumed) == full
    moved = stream(local).make_loader(num_workers=2)  # the same dataset, read from another place
    moved.load_state_dict(state)
    assert head + epoch_signatures(moved) == full


def test_dynamic_corruption_takes_the_tokenizer_from_s3(tmp_path, s3, spm_test_model_path):  # noqa: F811
    from lmpairs.tokenizers import Tokenizer

    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes(spm_test_model_path.read_bytes())
    tokenizer_url = s3.upload_dir(folder, "lmpairs-test/tok") + "/tokenizer.model"
    entry = Tokenizer.load(spm_test_model_path).describe()
    local = write_dataset(tmp_path / "mlm", "mlm", {"train": mlm_rows(24, seq_len=16)}, tokenizer=entry,
                          num_shards=1)
    url = s3.upload_dir(local, "lmpairs-test/dyn/mlm")
    ds = PairStream(url, batch_size=4, dynamic=True, tokenizer=tokenizer_url, filesystem=s3.options)
    assert ds.dynamic is not None


@pytest.mark.fast
def test_unreachable_storage_names_the_url_and_the_fix(datasets):
    _, url = datasets
    closed = {"endpoint_override": "127.0.0.1:9", "scheme": "http", "access_key": "x", "secret_key": "y",
              "region": "us-east-1", "connect_timeout": 1, "request_timeout": 1,
              "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=1)}
    with pytest.raises(StorageError) as excinfo:
        stream(url, filesystem=closed)
    text = str(excinfo.value)
    assert "\n" not in text and url in text and "cannot reach storage" in text and "endpoint" in text


@pytest.mark.fast
def test_missing_tokenizer_on_s3_is_one_line(datasets, s3):  # noqa: F811
    _, url = datasets
    with pytest.raises(UserError, match=r"s3://lmpairs-test/nothing\.model: no such file"):
        stream(url, filesystem=s3.options, dynamic=True, tokenizer="s3://lmpairs-test/nothing.model")
