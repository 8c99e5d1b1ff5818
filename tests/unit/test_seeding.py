"""The keyed hash equals DESIGN's definition, computed here in plain Python integers."""
import subprocess
import sys

import numpy as np

from lmpairs.transforms.seeding import (
    below,
    chain,
    copy_key,
    copy_keys,
    row_keys,
    stable_hash64,
    stream_keys,
    uniform_ints,
    unit_floats,
    word_grid,
    words_at,
)

M64 = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


def ref_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def ref_key(*parts: int) -> int:
    h = 0
    for x in parts:
        h = ref_mix(((h ^ (x & M64)) + G) & M64)
    return h


def ref_word(k: int, position: int) -> int:
    return ref_mix((k + (position + 1) * G) & M64)


def test_mix_matches_splitmix64_reference_outputs():
    # SplitMix64 seeded with 0: its first outputs are well known.
    assert [ref_word(0, i) for i in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert words_at(np.uint64(0), np.arange(3)).tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4,
                                                             0x06C45D188009454F]
    assert chain(5).tolist() == ref_mix((5 + G) & M64)


def test_stream_keys_and_words_equal_the_plain_python_definition():
    keys = np.array([0, 1, 2**63 + 5, M64], dtype=np.uint64)
    got = stream_keys(7, 2, keys, 3, 11)
    want = [ref_key(7, 2, int(k), 3, 11) for k in keys.tolist()]
    assert got.tolist() == want
    grid = word_grid(got, 5)
    assert grid.tolist() == [[ref_word(k, p) for p in range(5)] for k in want]
    # huge seeds reduce modulo 2**64
    assert stream_keys(2**64 + 7, 2, keys, 3, 11).tolist() == want
    # pinned values of the format-2 contract (guard against both implementations drifting together)
    assert ref_key(0, 2, 123, 0, 0) == 0x6A536BCE0FA3822F
    assert word_grid(stream_keys(0, 2, np.array([123], np.uint64), 0, 0), 1).tolist() == [[0x86A5A0012F924A03]]


def test_numbers_from_words():
    words = np.array([0, 2**63, M64, 2**62], dtype=np.uint64)
    assert below(words, 0.5).tolist() == [True, False, False, True]
    assert below(words, 1.0).all() and not below(words, 0.0).any()
    assert uniform_ints(words, 10).tolist() == [0, 5, 9, 2]
    assert uniform_ints(words, np.array([1, 2, 3, 4])).tolist() == [0, 1, 2, 1]
    assert unit_floats(words).tolist() == [0.0, 0.5, (2**53 - 1) / 2**53, 0.25]


def test_uniform_ints_are_uniform():
    words = word_grid(np.array([42], np.uint64), 60000)[0]
    counts = np.bincount(uniform_ints(words, 6), minlength=6)
    assert counts.min() > 9500 and counts.max() < 10500


def test_copy_and_row_keys():
    keys = np.array([99, 7], np.uint64)
    assert copy_keys(keys, 0).tolist() == [99, 7]
    assert copy_keys(keys, 2).tolist() == [ref_key(0xC0, 99, 2), ref_key(0xC0, 7, 2)]
    assert copy_key(99, 1) != copy_key(99, 2) != 99
    assert row_keys(3, keys, np.array([0, 5])).tolist() == [ref_key(3, 99, 0), ref_key(3, 7, 5)]


def test_stable_hash_is_stable_across_processes():
    here = stable_hash64("clm", "doc", "a/b.txt:3", 2)
    code = "from lmpairs.transforms.seeding import stable_hash64; print(stable_hash64('clm','doc','a/b.txt:3',2))"
    there = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert here == there
    assert stable_hash64("ab", "c") != stable_hash64("a", "bc")
    assert stable_hash64(1) != stable_hash64("1")
