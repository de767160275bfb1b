"""The pace of REST requests to Twilio, one for the whole account, kept in the database.

Twilio's limits (calls a second, messages a second) are per account. Each request takes
the next free slot, `1 / rate` after the one before, from a `PaceSlot` row that every
dialer and SMS sender shares, whichever process or machine it runs in; so does a 429's
back-off. Slots are seconds of the wall clock (NTP keeps machines within milliseconds);
the monotonic clock is private to each process and the app's clock is frozen in tests.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import PaceSlot
from models.db import insert_for

# A slot further ahead than this means the wall clock was set back: start again from now.
CLOCK_SET_BACK_SECONDS = 3600.0


# A request may start at most this fraction of an interval after its slot: one sent later
# would land beside (or after) the next slot's request, perhaps another process's. Within
# it, any one second still holds at most `rate` + 1 starts whatever the fraction (a
# request is never later than the next slot), while at 50 calls a second the old fifth of
# an interval (4 ms) was less than the event loop's own latency under load: a tenth to a
# third of the slots were thrown away, and the rate with them.
LATE_FRACTION = 1.0

# Another process's back-off (a 429 it was given) is read from the row at most this
# often: at 50 calls a second, a read before every call was a transaction per call.
HOLD_READ_SECONDS = 0.1


@dataclass
class _Turn:
    """One request's slot while it sleeps towards it; a more urgent one may take it."""

    slot: float
    priority: int


class Pace:
    """At most `rate` requests of kind `name` a second, across every process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, name: str, rate: float,
                 wall: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.name = name
        self.interval = 1.0 / rate
        self.wall = wall
        self._row_exists = False
        # This process's own latest back-off: known at once, before it reaches the row.
        self.held_here = 0.0
        # Slots this process took together (one transaction for the requests waiting at
        # once, at most a second's worth), handed out in order.
        self._taken: list[float] = []
        self._waiting = 0
        self._taking = asyncio.Lock()
        self._sleepers: list[_Turn] = []  # requests of this process waiting for their slot
        self._held_read = (-math.inf, 0.0)  # (when, hold_until) last read from the row
        self.late = 0  # slots given up because the request woke too late (benchmarks show it)
        self.block = max(1, math.ceil(rate))

    async def _slot(self, session: AsyncSession) -> PaceSlot:
        """The row, locked until commit (SQLite: the write transaction's lock)."""
        if not self._row_exists:
            insert = insert_for(session.bind.dialect.name)
            await session.execute(insert(PaceSlot)
                                  .values(name=self.name, next_slot=0.0, hold_until=0.0)
                                  .on_conflict_do_nothing(index_elements=["name"]))
        return await session.get(PaceSlot, self.name, with_for_update=True,
                                 populate_existing=True)

    async def _take(self, count: int) -> list[float]:
        async with self.sessions() as session, session.begin():
            row = await self._slot(session)
            now = self.wall()  # once the row is ours: waiting for it is no part of a slot
            if row.next_slot > now + CLOCK_SET_BACK_SECONDS:
                row.next_slot = now
            start = max(row.next_slot, row.hold_until, self.held_here, now)
            row.next_slot = start + count * self.interval
            self._held_read = (now, row.hold_until)
        self._row_exists = True
        return [start + i * self.interval for i in range(count)]

    async def _next(self) -> float:
        """This request's slot: one already taken, or a new block for all who wait now."""
        self._waiting += 1
        try:
            async with self._taking:
                # a slot left over from a block, whose moment passed unused, is not ours now
                stale = self.wall() - self.interval
                while self._taken and self._taken[0] < stale:
                    self._taken.pop(0)
                if not self._taken:
                    self._taken = await self._take(min(self._waiting, self.block))
                return self._taken.pop(0)
        finally:
            self._waiting -= 1

    async def _held_until(self) -> float:
        """The account's back-off, as last read (at most `HOLD_READ_SECONDS` ago)."""
        read_at, held = self._held_read
        now = self.wall()
        if 0 <= now - read_at < HOLD_READ_SECONDS:
            return held
        async with self.sessions() as session:
            held = await session.scalar(select(PaceSlot.hold_until)
                                        .where(PaceSlot.name == self.name)) or 0.0
        self._held_read = (now, held)
        return held

    def _precede(self, turn: _Turn) -> None:
        """A more urgent request takes the earliest slot a less urgent one of this process
        sleeps towards, which gets the later slot instead: a callback is not queued
        behind the reminders claimed ahead of it."""
        later = [t for t in self._sleepers if t.priority > turn.priority and t.slot < turn.slot]
        if later:
            first = min(later, key=lambda t: t.slot)
            first.slot, turn.slot = turn.slot, first.slot

    async def wait(self, *, priority: int = 0) -> None:
        """Take the next slot and sleep until it (an earlier one taken from a less urgent
        request: lower `priority` is more urgent); a back-off that began meanwhile (here
        or in another process) sends us to a new slot after it."""
        while True:
            turn = _Turn(await self._next(), priority)
            self._precede(turn)
            held_elsewhere = 0.0
            self._sleepers.append(turn)
            try:
                slept = False
                while (delay := turn.slot - self.wall()) > 0:  # a slot may move later
                    slept = True
                    await asyncio.sleep(delay)
            finally:
                self._sleepers.remove(turn)
            if self.wall() - turn.slot > self.interval * LATE_FRACTION:
                self.late += 1
                continue  # woke too late (a starved process): its slot has passed; take another
            if slept:
                held_elsewhere = await self._held_until()
            if self.wall() >= max(self.held_here, held_elsewhere):  # held_here: read last
                return

    async def back_off(self, seconds: float) -> None:
        """Twilio said 429: nobody on the account starts before `seconds` from now, not
        even those already holding a slot."""
        self.held_here = max(self.held_here, self.wall() + seconds)
        self._taken.clear()
        async with self.sessions() as session, session.begin():
            row = await self._slot(session)
            row.hold_until = max(row.hold_until, self.held_here)
            row.next_slot = max(row.next_slot, row.hold_until)
        self._row_exists = True
