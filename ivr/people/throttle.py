"""Failed sign-ins per client address: a flood from one address is refused before it
costs an Argon2 check or a database write.

Kept in this process's memory (a flood is refused where it lands, at no cost to the
database); the per-name delays of `ivr.people.sessions` live in the database and hold
across processes. Only failures count, so an office whose staff share one public
address signs in as usual.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

from aiohttp import web

WINDOW = timedelta(minutes=1)
# Addresses remembered at most; the oldest is forgotten first (a spray of addresses
# cannot grow memory without bound).
MAX_ADDRESSES = 10_000


class AddressThrottle:
    def __init__(self, *, failures_per_minute: int) -> None:
        self.limit = failures_per_minute
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def wait(self, address: str, now: datetime) -> float:
        """Seconds before this address may try again (0: now)."""
        times = self._failures.get(address)
        if not times:
            return 0.0
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return max(1.0, (times[0] + WINDOW - now).total_seconds())

    def attempt(self, address: str, now: datetime) -> float:
        """Seconds to wait, or 0 and the try is counted as a failure until `succeeded`
        says otherwise: tries still being checked count too, so a burst sent at once
        cannot slip past the limit while the first ones are hashed (`forgive` takes back
        a try that was right, or cost nothing)."""
        wait = self.wait(address, now)
        if not wait:
            self.failed(address, now)
        return wait

    def forgive(self, address: str, now: datetime) -> None:
        """Take back the try `attempt` counted: the right password, or a try refused
        before any hash or write."""
        times = self._failures.get(address)
        if times and now in times:
            times.remove(now)

    def failed(self, address: str, now: datetime) -> None:
        times = self._failures.pop(address, None) or deque(maxlen=self.limit)
        times.append(now)
        self._failures[address] = times
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)


LOGIN_THROTTLE = web.AppKey("login_throttle", AddressThrottle)
