"""The loader speaks torchdata's Stateful protocol: ``StatefulDataLoader`` over a PairStream or a
PairMixture resumes exactly, as ``make_loader`` does (issue 21)."""
import json

import pytest
from loader_fixtures import clm_rows, write_dataset
from torchdata.stateful_dataloader import Stateful, StatefulDataLoader

from lmpairs.loader import PairMixture, PairStream

EPOCH = 1


@pytest.fixture(scope="module")
def clm_dir(tmp_path_factory):
    keys, columns = clm_rows(90, seq_len=6, short_every=5)
    return write_dataset(tmp_path_factory.mktemp("td") / "clm", "clm", {"train": (keys, columns)},
                         num_shards=2, row_group_rows=8)


def make(kind, path, workers):
    if kind == "mixture":
        dataset = PairMixture([(path, 1)], batch_size=4, shuffle_buffer=10, return_keys=True)
    else:
        dataset = PairStream(path, batch_size=4, shuffle_buffer=10, return_keys=True)
    kwargs = {"multiprocessing_context": "fork"} if workers else {}
    if kind == "make_loader":
        return dataset, dataset.make_loader(num_workers=workers, **kwargs)
    return dataset, StatefulDataLoader(dataset, batch_size=None, num_workers=workers, **kwargs)


def keys(loader, dataset, limit=None):
    dataset.set_epoch(EPOCH)
    out = []
    for batch in loader:
        out.append(batch["example_key"].tolist())
        if len(out) == limit:
            break
    return out


@pytest.mark.parametrize("kind", ["stream", "mixture", "make_loader"])
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_exactly_through_state_dict(clm_dir, kind, workers):
    dataset, loader = make(kind, clm_dir, workers)
    assert isinstance(dataset, Stateful)
    full = keys(loader, dataset)
    for stop in (1, 6, len(full) - 1):
        dataset, loader = make(kind, clm_dir, workers)
        head = keys(loader, dataset, limit=stop)
        state = json.loads(json.dumps(loader.state_dict()))  # plain data, as a checkpoint stores it
        dataset, loader = make(kind, clm_dir, workers)
        loader.load_state_dict(state)
        assert head + keys(loader, dataset) == full, f"{kind}, {workers} workers: resume after {stop} differs"
