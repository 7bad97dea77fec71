"""Progress lines: each names the step, the values so far and an estimate of the time left."""
import logging

from deepleak.progress import Progress


def test_progress_line_has_step_values_and_time_left(caplog, monkeypatch):
    clock = iter([100.0, 110.0, 120.0])  # start, after step 1, after step 2
    monkeypatch.setattr("deepleak.progress.time.monotonic", lambda: next(clock))
    log = logging.getLogger("test_progress")
    progress = Progress(log, "epoch", 4)
    with caplog.at_level(logging.INFO, logger="test_progress"):
        progress(1, train_acc=0.5)
        progress(2, train_acc=0.75)
    first, second = (r.getMessage() for r in caplog.records)
    assert first == "epoch 1/4: train_acc 0.5000; 0:00:10 elapsed, about 0:00:30 left"
    assert second == "epoch 2/4: train_acc 0.7500; 0:00:20 elapsed, about 0:00:20 left"
