"""Pacing a provider: each running function sends at most its share of the account's rate.

SES and the SMS origination identity allow so many sends a second for the whole account; Lambda runs
up to the event source's MaximumConcurrency copies of the function. Each copy keeps to
rate / concurrency, so together they stay within the rate instead of being throttled and retried.
The copy's pacer lives as long as its execution environment, across invocations.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


class Pacer:
    """At most `per_second` units a second (a unit: an email, an SMS part); 0 or less: no pacing."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, units: int = 1) -> float:
        """Block until `units` may be sent; returns the seconds waited."""
        if self.per_second <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            waited = max(0.0, self._next - now)
            if waited:
                self._sleep(waited)
            self._next = max(now, self._next) + units / self.per_second
            return waited


_pacers: dict[str, Pacer] = {}
_pacers_lock = threading.Lock()


def pacer(channel: str) -> Pacer:
    """This execution environment's pacer for `channel` ("email", "sms"), from the template's
    <CHANNEL>_SEND_RATE (the account's rate) and <CHANNEL>_CONCURRENCY (the function's cap)."""
    prefix = channel.upper()
    rate = float(os.environ.get(f"{prefix}_SEND_RATE", "0") or 0)
    concurrency = max(1, int(os.environ.get(f"{prefix}_CONCURRENCY", "1") or 1))
    key = f"{channel}:{rate}:{concurrency}"
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = Pacer(rate / concurrency)
        return _pacers[key]
