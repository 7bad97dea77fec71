"""Progress a user can follow: one log line per epoch, round or chunk of a long job, with the time
spent and an estimate of the time left (`tail -f logs/...` while the job runs)."""
from __future__ import annotations

import logging
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """``progress(done, **values)`` logs "<what> <done>/<total>: values; elapsed, about ... left".
    The estimate assumes the remaining steps cost what the finished ones did on average; a job
    resumed from a checkpoint after ``resumed`` steps counts only the steps it ran itself."""

    def __init__(self, log: logging.Logger, what: str, total: int, resumed: int = 0):
        self.log, self.what, self.total, self.resumed = log, what, total, resumed
        self.start = time.monotonic()

    def __call__(self, done: int, **values) -> None:
        elapsed = time.monotonic() - self.start
        ran = done - self.resumed
        left = (f"about {_clock(elapsed / ran * (self.total - done))} left" if ran > 0
                else "starting")
        shown = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in values.items())
        self.log.info("%s %d/%d: %s; %s elapsed, %s", self.what, done, self.total, shown,
                      _clock(elapsed), left)
