"""Keys and generators depend only on stable identities, never on the process."""
import subprocess
import sys

import numpy as np

from lmpairs.transforms.seeding import copy_key, example_rng, stable_hash64


def test_stable_hash_is_the_same_in_another_process():
    here = stable_hash64("clm", "doc", "a/b.txt:3", 2)
    code = "from lmpairs.transforms.seeding import stable_hash64; print(stable_hash64('clm','doc','a/b.txt:3',2))"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(there) == here
    assert 0 <= here < 2**64


def test_hash_parts_are_unambiguous():
    assert stable_hash64("ab", "c") != stable_hash64("a", "bc")
    assert stable_hash64(1) != stable_hash64("1")


def test_example_rng_depends_on_every_identity_part():
    base = example_rng(0, "mlm", 123, 0).integers(0, 2**62, 4)
    assert (example_rng(0, "mlm", 123, 0).integers(0, 2**62, 4) == base).all()
    for other in (example_rng(1, "mlm", 123, 0), example_rng(0, "t5", 123, 0),
                  example_rng(0, "mlm", 124, 0), example_rng(0, "mlm", 123, 1)):
        assert not (other.integers(0, 2**62, 4) == base).all()
    assert example_rng(0, "mlm", 2**64 - 1, 0).random() < 1.0


def test_copy_zero_keeps_the_row_key():
    assert copy_key(99, 0) == 99
    assert copy_key(99, 1) != copy_key(99, 2) != 99
    assert isinstance(np.uint64(copy_key(2**64 - 1, 3)), np.uint64)
