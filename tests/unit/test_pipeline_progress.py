"""Progress of a local build: per-split files written by workers, summed and shown by the driver."""
import logging
import time
from collections import Counter

from lmpairs.pipeline import progress
from lmpairs.pipeline.progress import ProgressMonitor, SplitProgress, read_progress


def test_splits_report_tokens_and_bytes_once_done(tmp_path):
    first, second = SplitProgress(str(tmp_path), 0, 1000), SplitProgress(str(tmp_path), 1, 500)
    first.update(Counter(tokens=10))
    first.update(Counter(tokens=20))  # throttled: within a second of the last write
    second.done(Counter(tokens=7))
    workers = set()
    assert read_progress(str(tmp_path), workers) == (1, 500, 17)
    first.done(Counter(tokens=40))
    assert read_progress(str(tmp_path), workers) == (2, 1500, 47) and len(workers) == 1


def test_without_a_terminal_the_monitor_logs_lines(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(progress, "LOG_SECONDS", 0.0)
    caplog.set_level(logging.INFO, logger="lmpairs.pipeline.progress")
    SplitProgress(str(tmp_path), 0, 2 * 2**20).done(Counter(tokens=1234))
    monitor = ProgressMonitor(str(tmp_path), 3, 6 * 2**20, interval=0.01).start()
    time.sleep(0.2)
    monitor.stop()
    assert "progress: 1/3 splits, 2.0/6.0 MB read, 1,234 tokens, " in caplog.text and "tokens/s" in caplog.text
    assert monitor.tokens == 1234 and len(monitor.workers) == 1
