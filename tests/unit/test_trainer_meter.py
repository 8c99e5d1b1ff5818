"""Throughput bookkeeping: windows, the run's totals, and what start-up and checkpoint saves leave out."""
import pytest

from lmpairs.trainer import meter as meter_module
from lmpairs.trainer.meter import Meter, Stopwatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(meter_module.time, "perf_counter", fake)
    return fake


def test_window_rates_and_run_totals(clock):
    m = Meter()
    clock.now += 2.0
    m.add(wait_seconds=0.5, tokens=100)
    first = m.close_window()
    assert (first.tokens_per_s, first.data_wait_fraction) == (50.0, 0.25)
    clock.now += 3.0
    m.add(wait_seconds=0.0, tokens=400)
    assert m.close_window().tokens_per_s == pytest.approx(400 / 3)
    overall = m.overall()
    assert overall.tokens_per_s == pytest.approx(500 / 5) and overall.data_wait_fraction == pytest.approx(0.1)


def test_excluded_time_counts_nowhere(clock):
    m = Meter()
    clock.now += 10.0  # start-up: worker launch, first allocation
    m.add(wait_seconds=9.0, tokens=10)
    m.exclude()
    clock.now += 1.0
    m.add(wait_seconds=0.1, tokens=1000)
    assert m.close_window().tokens_per_s == pytest.approx(1000.0)
    assert m.overall().data_wait_fraction == pytest.approx(0.1)


def test_empty_run_has_zero_rates(clock):
    assert Meter().overall().tokens_per_s == 0.0


def test_stopwatch_adds_up(clock):
    watch = Stopwatch()
    for step in (0.25, 0.5):
        with watch:
            clock.now += step
    assert watch.seconds == pytest.approx(0.75)


def test_the_first_step_is_measured_on_its_own_and_left_out_of_the_totals(clock):
    m = Meter()
    clock.now += 8.0  # step 1: start-up included
    m.add(wait_seconds=6.0, tokens=80)
    first = m.close_window(keep=False)
    assert (first.tokens_per_s, first.seconds) == (10.0, 8.0)
    clock.now += 2.0
    assert m.window_seconds == 2.0
    m.add(wait_seconds=0.0, tokens=400)
    m.close_window()
    assert m.overall().tokens_per_s == pytest.approx(200.0) and m.overall().seconds == 2.0
