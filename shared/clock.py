"""When an effect happens: the moment a contact leaves is judged by (design rule 9).

A function takes "now" from the event it handles, so a replay on a simulated clock is repeatable. But an
event can be handled long after its time — a message redelivered after a crash, a queue that backed up —
and a contact judged at the event's time could then leave outside its window. So the moment of an effect
is the later of the event's time and the clock the function runs on: the wall clock in Lambda, the
simulated clock in the local runtime (which sets it), and the event's time alone where neither is known
(a test that invokes a handler directly).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

_clock: Callable[[], datetime] | None = None


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """The local runtime's simulated clock (None: back to the wall clock in Lambda)."""
    global _clock
    _clock = clock


def running_clock() -> datetime | None:
    if _clock is not None:
        return _clock()
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return datetime.now(UTC)
    return None


def effect_time(event_time: datetime) -> datetime:
    """The instant an effect of handling this event happens: never before the clock it runs on."""
    current = running_clock()
    return max(event_time, current) if current is not None else event_time
