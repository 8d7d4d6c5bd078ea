"""A progress line for long commands: on a terminal only, so pipes and logs stay quiet.

The domain reports progress through a plain callback (rows done so far); this turns it into
one line on stderr, rewritten in place ("\r"), at most a few times a second.
"""

from __future__ import annotations

import sys
import time

from mailer.cli.runtime import cli_language
from mailer.translations import translate

INTERVAL = 0.25  # seconds between redraws


class ProgressLine:
    """Call it with the count done so far; `close()` ends the line. Silent unless stderr is a TTY.

    With several keys, one per pass (an import checks every row, then writes them): when the
    count starts again from a smaller number, the pass's line is ended and the next key's begins.
    So a pass reports its last count when it ends and the next reports 0 when it starts: its
    clock starts then, not at its first batch's end.
    """

    def __init__(self, key: str | tuple[str, ...] = "progress.rows", force: bool | None = None):
        self.stream = sys.stderr
        self.enabled = self.stream.isatty() if force is None else force
        self.keys = (key,) if isinstance(key, str) else key
        self.key, self.started, self.shown_at, self.done, self.width = self.keys[0], time.monotonic(), 0.0, 0, 0

    def __call__(self, done: int) -> None:
        if done < self.done and self.key != self.keys[-1]:  # the next pass
            self.close()
            self.key = self.keys[self.keys.index(self.key) + 1]
            self.started, self.shown_at, self.width = time.monotonic(), 0.0, 0
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self.shown_at >= INTERVAL:
            self.shown_at = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        seconds = max(now - self.started, 1e-6)
        text = translate(
            self.key,
            cli_language(),
            done=f"{self.done:,}".replace(",", " "),
            rate=f"{self.done / seconds:,.0f}".replace(",", " "),
            seconds=f"{seconds:.0f}",
        )
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.enabled and self.done:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
