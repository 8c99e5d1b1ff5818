"""PairStream over gs:// against a local fake-gcs-server (127.0.0.1, started here): the same batches
as the local copy with and without workers, and resume from a state_dict."""
import pytest
from gcs_server import gcs  # noqa: F401  (fixture)
from loader_fixtures import clm_rows, epoch_signatures, write_dataset

from lmpairs.loader import PairStream

pytestmark = pytest.mark.fast  # a local server process and small files: the default tier


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, gcs):  # noqa: F811
    local = write_dataset(tmp_path_factory.mktemp("gcsdata") / "clm", "clm",
                          {"train": clm_rows(45, seq_len=8, short_every=5)}, num_shards=3, row_group_rows=6)
    return local, gcs.upload_dir(local, "lmpairs-gcs/out/clm")


def stream(path, **kwargs):
    return PairStream(path, batch_size=4, shuffle_buffer=12, return_keys=True, **kwargs)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_gcs_stream_equals_the_local_copy(datasets, gcs, num_workers):  # noqa: F811
    local, url = datasets
    want = epoch_signatures(stream(local).make_loader(num_workers=num_workers))
    assert epoch_signatures(stream(url, filesystem=gcs.options).make_loader(num_workers=num_workers)) == want
    assert len(want) == 12


def test_resume_on_gcs_from_a_state_dict(datasets, gcs):  # noqa: F811
    _, url = datasets
    full = epoch_signatures(stream(url, filesystem=gcs.filesystem()).make_loader(num_workers=2))
    first = stream(url, filesystem=gcs.filesystem()).make_loader(num_workers=2)
    head = epoch_signatures(first, limit=5)
    resumed = stream(url, filesystem=gcs.filesystem()).make_loader(num_workers=2)
    resumed.load_state_dict(first.state_dict())
    assert head + epoch_signatures(resumed) == full
