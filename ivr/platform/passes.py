"""How many passes a background loop (the dialer, the ticket scheduler) has finished.

Tests and benchmarks wait for a pass to end instead of sleeping and hoping it ran.
"""

from __future__ import annotations

import asyncio


class Passes:
    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Condition()

    async def finished(self) -> None:
        async with self._changed:
            self.count += 1
            self._changed.notify_all()

    async def wait_for(self, count: int) -> int:
        """Until at least `count` passes have ended; the number ended."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.count >= count)
            return self.count
