"""PairMixture over shards written directly: proportions, exactly-once epochs, equal rank batches,
exact resume, and refusal of sources that do not mix."""
import collections

import numpy as np
import pytest
import torch
from loader_fixtures import clm_rows, seq2seq_rows, toy_tokenizer_entry, write_dataset

from lmpairs.loader import StateError
from lmpairs.loader.mixture import MixtureError, PairMixture, parse_source

pytestmark = pytest.mark.fast  # shards written directly, no workers: the default tier (workers and DDP are slow)

SIZES = {"web": 1200, "code": 700, "books": 40}  # books must repeat to give 10% of the epoch
FIRST_KEY = {"web": 1_000, "code": 100_000, "books": 200_000}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixture")
    paths = {}
    for i, (name, n) in enumerate(SIZES.items()):
        keys, columns = clm_rows(n, seq_len=6, first_key=FIRST_KEY[name], short_every=7, seed=i)
        paths[name] = write_dataset(root / name / "clm", "clm", {"train": (keys, columns)}, num_shards=2,
                                    row_group_rows=50)
    keys, columns = seq2seq_rows(30)
    paths["bart"] = write_dataset(root / "bart", "bart", {"train": (keys, columns)}, num_shards=1, row_group_rows=10)
    paths["t5"] = write_dataset(root / "t5", "t5", {"train": (keys + 5000, columns)}, num_shards=1, row_group_rows=10)
    keys, columns = clm_rows(30, seq_len=6)
    paths["other_tokenizer"] = write_dataset(root / "other" / "clm", "clm", {"train": (keys, columns)}, num_shards=1,
                                             row_group_rows=10, tokenizer=toy_tokenizer_entry("cd" * 32))
    return paths


def mixture(paths, **kwargs):
    weights = kwargs.pop("weights", (0.6, 0.3, 0.1))
    kwargs.setdefault("batch_size", 16)
    kwargs.setdefault("shuffle_buffer", 64)
    return PairMixture([(paths[n], w) for n, w in zip(SIZES, weights)], return_source=True, return_keys=True,
                       verify="size", **kwargs)


def keys_of(batches):
    return [(int(s), int(k)) for b in batches for s, k in zip(b["source"], b["example_key"])]


@pytest.mark.parametrize("per_source", [False, True])
def test_proportions_within_one_percent_with_the_small_source_repeated(sources, per_source):
    mix = mixture(sources, per_source=per_source)
    batches = list(mix)
    counts = collections.Counter(int(s) for b in batches for s in b["source"])
    total = sum(counts.values())
    assert total == sum(SIZES.values())  # an epoch is the sources' rows together by default
    for i, share in enumerate((0.6, 0.3, 0.1)):
        assert abs(counts[i] / total - share) <= 0.01
    books = collections.Counter(k for s, k in keys_of(batches) if s == 2)
    assert set(books) == set(range(FIRST_KEY["books"], FIRST_KEY["books"] + SIZES["books"]))
    assert set(books.values()) <= {4, 5}  # 194 draws of 40 rows: every row 4 or 5 times
    assert [c["examples"] for c in mix.source_counts()] == [counts[0], counts[1], counts[2]]
    if per_source:
        assert all(len(set(b["source"].tolist())) == 1 for b in batches)
    else:
        assert any(len(set(b["source"].tolist())) > 1 for b in batches)


def test_counts_equal_to_the_rows_read_every_example_exactly_once(sources):
    mix = mixture(sources, mode="count", weights=tuple(SIZES.values()))
    for epoch in (0, 1):
        mix.set_epoch(epoch)
        keys = [k for _, k in keys_of(mix)]
        assert len(keys) == len(set(keys)) == sum(SIZES.values())
    mix.set_epoch(0)
    first = keys_of(mix)
    mix.set_epoch(1)
    assert keys_of(mix) != first  # another order per epoch ...
    mix.set_epoch(0)
    assert keys_of(mix) == first  # ... and the same for the same (seed, epoch)


def test_count_mode_subsamples_a_large_source(sources):
    mix = mixture(sources, mode="count", weights=(100, 50, 40))
    got = collections.Counter(s for s, _ in keys_of(mix))
    assert got == {0: 100, 1: 50, 2: 40}
    assert len(set(keys_of(mix))) == 190  # fewer draws than rows: no repeats


@pytest.mark.parametrize("world_size", [2, 3])
def test_every_rank_yields_the_same_number_of_batches(sources, world_size):
    per_rank = [list(mixture(sources, rank=r, world_size=world_size)) for r in range(world_size)]
    assert len({len(b) for b in per_rank}) == 1
    assert len(per_rank[0]) == len(mixture(sources, rank=0, world_size=world_size))
    mix = mixture(sources, mode="count", weights=tuple(SIZES.values()), rank=0, world_size=world_size)
    everyone = [k for r in range(world_size) for k in keys_of(
        mixture(sources, mode="count", weights=tuple(SIZES.values()), rank=r, world_size=world_size))]
    assert len(everyone) == len(set(everyone)) == sum(c["examples"] for c in mix.source_counts())


@pytest.mark.parametrize("per_source", [False, True])
def test_resume_at_random_points_without_workers(sources, per_source):
    full = [keys_of([b]) for b in mixture(sources, per_source=per_source)]
    rng = np.random.default_rng(7)
    for stop in sorted(rng.choice(len(full), size=4, replace=False).tolist()):
        mix = mixture(sources, per_source=per_source)
        it = iter(mix)
        for _ in range(stop):
            next(it)
        state = mix.state_dict()
        again = mixture(sources, per_source=per_source)
        again.load_state_dict(state)
        assert [keys_of([b]) for b in again] == full[stop:]


@pytest.mark.slow
def test_resume_with_workers_across_an_epoch_boundary(sources):
    kwargs = {"num_workers": 2, "multiprocessing_context": "fork"}
    loader = mixture(sources).make_loader(**kwargs)
    full = []
    for epoch in (0, 1):
        loader.set_epoch(epoch)
        full += [(epoch, keys_of([b])) for b in loader]
    for stop in (5, len(full) // 2 + 3):
        loader = mixture(sources).make_loader(**kwargs)
        got, state = [], None
        for epoch in (0, 1):
            loader.set_epoch(epoch)
            for b in loader:
                got.append((epoch, keys_of([b])))
                if len(got) == stop:
                    state = loader.state_dict()
                    break
            if state is not None:
                break
        resumed = mixture(sources).make_loader(**kwargs)
        resumed.load_state_dict(state)
        rest = []
        for epoch in range(resumed.epoch, 2):
            resumed.set_epoch(epoch)
            rest += [(epoch, keys_of([b])) for b in resumed]
        assert got + rest == full


def test_a_state_of_another_mixture_is_refused(sources):
    mix = mixture(sources)
    state = mix.state_dict()
    with pytest.raises(StateError):
        mixture(sources, weights=(0.5, 0.4, 0.1)).load_state_dict(state)


def test_sources_with_other_tokenizer_or_objective_are_refused(sources):
    with pytest.raises(MixtureError, match="tokenizer sha256"):
        PairMixture([(sources["web"], 1), (sources["other_tokenizer"], 1)], batch_size=4, verify="size")
    with pytest.raises(MixtureError, match="batch format"):
        PairMixture([(sources["web"], 1), (sources["bart"], 1)], batch_size=4, verify="size")
    with pytest.raises(MixtureError, match="per_source=True"):
        PairMixture([(sources["t5"], 1), (sources["bart"], 1)], batch_size=4, verify="size")
    with pytest.raises(MixtureError, match="mode="):
        PairMixture([(sources["web"], 1)], batch_size=4, mode="ratio", verify="size")
    with pytest.raises(MixtureError, match="max_tokens"):
        PairMixture([(sources["web"], 1)], batch_size=4, max_tokens=64, verify="size")
    with pytest.raises(MixtureError, match="whole example counts"):
        PairMixture([(sources["web"], 0.5)], batch_size=4, mode="count", verify="size")


def test_document_attention_passes_through_to_the_sources(sources):
    mix = PairMixture([(sources["web"], 1), (sources["books"], 1)], batch_size=8, verify="size",
                      document_attention="cu_seqlens")
    batch = next(iter(mix))
    assert batch["cu_seqlens"].dtype == torch.int32
    assert int(batch["cu_seqlens"][-1]) == int(batch["attention_mask"].sum())


def test_t5_and_bart_mix_batch_by_batch_with_their_own_decoder_starts(sources):
    mix = PairMixture([(sources["t5"], 1), (sources["bart"], 1)], batch_size=5, per_source=True, verify="size",
                      return_source=True)
    pad, eos = mix.streams[0].spec.pad_id, mix.streams[0].spec.eos_id
    starts = {int(b["source"][0]): set(b["decoder_input_ids"][:, 0].tolist()) for b in mix}
    assert starts == {0: {pad}, 1: {eos}}
    assert mix.path == f"{sources['t5']}+{sources['bart']}" and mix.examples_per_rank == 60


def test_parse_source():
    assert parse_source("out/web/clm:0.7") == ("out/web/clm", 0.7)
    assert parse_source("s3://bucket/clm:3") == ("s3://bucket/clm", 3.0)
    assert parse_source("s3://bucket/clm") == ("s3://bucket/clm", 1.0)
    assert parse_source("out/web/clm") == ("out/web/clm", 1.0)
    with pytest.raises(MixtureError):
        parse_source("out/web/clm:lots")


# -- real DDP: 2 gloo ranks x 2 DataLoader workers ---------------------------------------------------------

def ddp_rank(rank, world_size, init_file, out_dir, paths):
    """One spawned rank: iterate two mixtures for two epochs and save what it saw."""
    import datetime

    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    workers = {"num_workers": 2, "multiprocessing_context": "fork"}
    try:
        seen = {}
        for name, kwargs in {"proportion": {}, "count": {"mode": "count", "weights": tuple(SIZES.values())},
                             "per_source": {"per_source": True}}.items():
            loader = mixture(paths, **kwargs).make_loader(**workers)
            seen[name, "len"] = len(loader)
            for epoch in (0, 1):
                loader.set_epoch(epoch)
                seen[name, epoch] = [keys_of([b]) for b in loader]
        torch.save(seen, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_seen(sources, tmp_path_factory):
    import torch.multiprocessing as mp

    root = tmp_path_factory.mktemp("ddp")
    mp.spawn(ddp_rank, args=(2, str(root / "init"), str(root), sources), nprocs=2, join=True)
    return [torch.load(root / f"rank{r}.pt") for r in range(2)]


@pytest.mark.slow
def test_ddp_ranks_with_workers_yield_equal_batches_and_their_plan(sources, ddp_seen):
    for name in ("proportion", "count", "per_source"):
        for epoch in (0, 1):
            counts = [len(seen[name, epoch]) for seen in ddp_seen]
            assert counts[0] == counts[1] == ddp_seen[0][name, "len"] == ddp_seen[1][name, "len"]
            for rank, seen in enumerate(ddp_seen):  # the examples of each rank are its in-process plan's
                kwargs = {"proportion": {}, "count": {"mode": "count", "weights": tuple(SIZES.values())},
                          "per_source": {"per_source": True}}[name]
                alone = mixture(sources, rank=rank, world_size=2, **kwargs)
                alone.set_epoch(epoch)
                assert sorted(k for b in seen[name, epoch] for k in b) == sorted(keys_of(alone))
    everyone = [k for seen in ddp_seen for b in seen["count", 0] for k in b]
    assert len(everyone) == len(set(everyone)) == sum(SIZES.values()) - sum(SIZES.values()) % 2
