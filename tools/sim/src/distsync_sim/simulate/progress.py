"""The progress bar on stderr."""

from __future__ import annotations

import sys
import time


class Progress:
    """A progress bar on stderr (a line every 10% when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0
        self.last_decile = -1
        self.note = ""

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        frac = min(1.0, done / max(1, self.total))
        if self.tty:
            if not force and now - self.last < 0.25:
                return
            self.last = now
            bar = "#" * int(frac * 30)
            rate = done / max(1e-6, now - self.t0)
            sys.stderr.write(
                f"\r[{bar:<30}] {frac:4.0%} {done}/{self.total} {rate:5.0f} ev/s {extra} "
                f"{self.note}"[:160].ljust(100)
            )
            sys.stderr.flush()
        elif int(frac * 10) > self.last_decile or force:
            self.last_decile = int(frac * 10)
            print(f"simulate: {frac:.0%} {done}/{self.total} {extra} {self.note}", file=sys.stderr)

    def status(self, text: str) -> None:
        """A status line while nothing advances (draining): overwritten, or every 30 s."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            sys.stderr.write(f"\r{text}"[:160].ljust(100))
            sys.stderr.flush()
        elif now - self.last >= 30:
            self.last = now
            print(f"simulate: {text}", file=sys.stderr)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\r" + " " * 110 + "\r")
        print(f"simulate: {text}", file=sys.stderr)
