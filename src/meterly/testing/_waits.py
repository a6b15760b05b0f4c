"""Retry waits that take no time: a client's sleeps move a virtual clock instead of the real one."""

from __future__ import annotations

# The clock and sleep a client's pipeline uses are internals of the same package.
# pyright: reportPrivateUsage=false
import time
from typing import List, Union

from meterly.sdk import AsyncMeterly, Meterly


class VirtualTime:
    """A monotonic clock that runs with the real one, plus every wait that was skipped."""

    def __init__(self) -> None:
        self.skipped = 0.0
        """Seconds of retry waits skipped so far."""
        self.waits: List[float] = []
        """Each wait asked for, in seconds, in order."""

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.skipped += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def without_waits(client: Union[Meterly, AsyncMeterly]) -> VirtualTime:
    """Makes `client`'s retry waits return at once; returns the virtual clock it now uses.

    The retry policy is unchanged: the same attempts are made, and `max_elapsed_time` counts the waits
    as if they had been slept, so a test sees the attempts production would make, without the time.
    `.waits` of the clock lists the waits skipped.
    """
    clock = VirtualTime()
    client._pipeline.clock = clock.monotonic
    if isinstance(client, AsyncMeterly):
        client._sleep = clock.async_sleep
    else:
        client._sleep = clock.sleep
    return clock
