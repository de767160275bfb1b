"""The wallboard (大屏): what the service centre's TV shows, read from across the room.

`/api/live` (calls in progress, each staff member's state, today's figures) with what a
supervisor acts on beside it: open and overdue tickets, open outage notices, the spike
alarm, and which of today's figures have slipped past their target. All of it from the
stored rows, so every server process shows the same board.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ivr.calls import notices
from ivr.platform.config import Settings
from ivr.reporting import dashboard, live, spike

# Today's figures the board watches, with the way each must go (dashboard.TARGETS).
WATCHED = ("three_ring_rate", "answered_within_20s_rate")


def slipped(today: dict, overdue: int) -> list[str]:
    """The names of today's figures that miss their target: shown red on the board."""
    alarms = []
    for name in WATCHED:
        value = today.get(name)
        direction, target = dashboard.TARGETS[name]
        if value is not None and (value < target if direction == ">=" else value > target):
            alarms.append(name)
    if overdue > dashboard.TARGETS["overdue_tickets"][1]:
        alarms.append("overdue_tickets")
    return alarms


async def board(session: AsyncSession, *, settings: Settings, now: datetime) -> dict:
    state = await live.live(session, settings=settings, now=now)
    tickets = await dashboard.ticket_counts(session, now=now)
    surge = await spike.spike(session, settings=settings, now=now)
    posted = await notices.active(session)
    state["today"].update(tickets)
    state["alarms"] = slipped(state["today"], tickets["overdue_tickets"])
    state["spike"] = {"alarm": surge.alarm, "recent": surge.recent, "usual": surge.usual}
    state["notices"] = [{"where": n.where, "text": n.text} for n in posted]
    return state
