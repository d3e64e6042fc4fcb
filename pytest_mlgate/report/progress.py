"""What the terminal shows while an evaluation runs: request type, done/total, rate, ETA.

On a terminal the line is rewritten in place (at most every ``TTY_INTERVAL`` seconds); in a CI
log, where every write is a new line, one line per tenth of the work. The clock is injected,
so tests need no sleeping and no timed assertions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

TTY_INTERVAL = 0.2  # seconds between two rewrites of the line on a terminal
STEPS = 10  # lines per request type in a log
QUIET_START = 0.3  # seconds an evaluation runs before it is shown at all (quick ones are not)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class ProgressLine:
    tty: bool
    clock: Callable[[], float] = time.monotonic
    _started: dict[str, float] = field(default_factory=dict)
    _steps_shown: dict[str, int] = field(default_factory=dict)
    _last_write: float = float("-inf")

    def update(self, kind: str, done: int, total: int) -> str | None:
        """The line to show now for ``done`` of ``total`` requests of ``kind``, or None."""
        now = self.clock()
        if done == 0 or kind not in self._started:
            self._started[kind] = now
            self._steps_shown[kind] = 0
            if done == 0:
                return None
        finished = done >= total
        if now - self._started[kind] < QUIET_START:
            return None
        if self.tty:
            if not finished and now - self._last_write < TTY_INTERVAL:
                return None
        else:
            step = STEPS * done // total if total else STEPS
            if step <= self._steps_shown[kind]:
                return None
            self._steps_shown[kind] = step
        self._last_write = now
        return self.text(kind, done, total, now - self._started[kind])

    @staticmethod
    def text(kind: str, done: int, total: int, elapsed: float) -> str:
        share = done / total if total else 1.0
        rate = done / elapsed if elapsed > 0 else 0.0
        line = f"mlgate: {kind} {done}/{total} ({share:.0%})"
        if rate > 0:
            line += f", {rate:.1f} requests/s"
            if done < total:
                line += f", ETA {_duration((total - done) / rate)}"
            else:
                line += f", {_duration(elapsed)}"
        return line
