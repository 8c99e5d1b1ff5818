"""prefetched(): the same items in order, the producer's errors raised in the consumer, and an early stop
that ends the producer thread and closes what it read from (files held by a reading generator)."""
import threading

import pytest

from lmpairs.pipeline.prefetch import prefetched


def numbers(n, log, *, fail_at=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"item {i} is damaged")
            log.append(("made", i, threading.current_thread().name))
            yield i
    finally:
        log.append(("closed",))


def test_items_arrive_in_order_and_are_made_in_another_thread():
    log = []
    assert list(prefetched(numbers(50, log), name="test-producer")) == list(range(50))
    assert {entry[2] for entry in log if entry[0] == "made"} == {"test-producer"}
    assert log[-1] == ("closed",)


def test_the_producers_error_is_raised_at_its_item():
    got = []
    with pytest.raises(ValueError, match="item 3 is damaged"):
        for item in prefetched(numbers(10, [], fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]


def test_an_early_stop_ends_the_producer_and_closes_its_source():
    log = []
    before = threading.active_count()
    stream = prefetched(numbers(10_000, log), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert threading.active_count() == before
    assert log[-1] == ("closed",)
    assert sum(entry[0] == "made" for entry in log) <= 3 + 2 + 1  # consumed + queued + the one in hand


def test_chained_stages_close_each_other():
    log = []
    before = threading.active_count()

    def doubled(items):
        try:
            for item in items:
                yield 2 * item
        finally:
            items.close()

    stream = prefetched(doubled(prefetched(numbers(10_000, log))))
    assert [next(stream) for _ in range(4)] == [0, 2, 4, 6]
    stream.close()
    assert threading.active_count() == before and log[-1] == ("closed",)


def test_an_error_in_the_consumer_stops_the_producer():
    log = []
    before = threading.active_count()
    with pytest.raises(KeyError):
        for item in prefetched(numbers(10_000, log)):
            if item == 5:
                raise KeyError(item)
    assert threading.active_count() == before and log[-1] == ("closed",)
