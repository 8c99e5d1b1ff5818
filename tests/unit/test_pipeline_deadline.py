"""The bound on Beam's storage retries (lmpairs.pipeline.deadline): waits sum to at most the deadline, a
request after one gave up is not retried, and the build's one line names the error and the setting."""
from __future__ import annotations

import pytest
from apache_beam.utils import retry

from lmpairs.pipeline import deadline


@pytest.fixture
def bounded():
    deadline.install(20.0)
    deadline.reset()
    yield
    deadline.install(None)
    deadline.reset()


def test_waits_of_one_request_sum_to_at_most_the_deadline(bounded):
    waits = list(retry.FuzzedExponentialIntervals(5.0, 7, fuzz=0))  # Beam's S3 defaults: 5, 10, 20 … 320 s
    assert waits == [5.0, 10.0] and deadline.gave_up()


def test_after_one_request_gave_up_no_request_waits(bounded):
    assert not deadline.gave_up()
    first = iter(retry.FuzzedExponentialIntervals(1.0, 2, fuzz=0))
    assert next(first) == 1.0 and not deadline.gave_up()  # a request that then succeeds never gives up
    assert list(first) == [2.0] and deadline.gave_up()
    assert list(retry.FuzzedExponentialIntervals(5.0, 7, fuzz=0)) == []


def test_the_decorator_stops_retrying_at_the_deadline(bounded, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(retry.Clock, "sleep", lambda self, s: slept.append(s))
    calls = []

    @retry.with_exponential_backoff(initial_delay_secs=5.0, fuzz=False)
    def request():
        calls.append(1)
        raise ConnectionError("Could not connect to the endpoint URL")

    with pytest.raises(ConnectionError):
        request()
    assert slept == [5.0, 10.0] and len(calls) == 3


def test_uninstalled_is_beams_own_schedule():
    deadline.install(None)
    assert list(retry.FuzzedExponentialIntervals(5.0, 3, fuzz=0)) == [5.0, 10.0, 20.0]
    assert not deadline.gave_up()


def test_the_error_is_one_line_naming_the_store_error_and_the_setting():
    try:
        try:
            raise RuntimeError("('Could not connect to the endpoint URL: \"http://127.0.0.1:9/b/k\"', None)")
        except RuntimeError as inner:
            raise RuntimeError("Traceback (most recent call last):\n  File x\n" + str(inner)) from inner
    except RuntimeError as err:
        message = str(deadline.storage_gave_up("s3://b/out", 60.0, err))
    assert message == ('--output s3://b/out: remote storage stopped answering (Could not connect to the endpoint URL: '
                       '"http://127.0.0.1:9/b/k"); gave up after retrying for --io-deadline-s 60 s. Nothing was '
                       'published; check the endpoint and credentials, then rerun the same command (it resumes the '
                       'finished splits).')
