"""The ticket desk's background pass: escalate what is overdue, hand unreached follow-ups
to staff, send the daily count (日盘点) once a day.

The pass runs as a task of the server (`scheduler`, a cleanup_ctx). Passes are safe to run
from several processes: on PostgreSQL they take an advisory lock, on SQLite the write
transaction is exclusive.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform import periodic
from ivr.platform.config import Settings
from ivr.platform.passes import Passes
from ivr.tickets import escalation, followup, reports

log = logging.getLogger(__name__)

LOCK_KEY = 4_004_004  # pg_advisory_xact_lock key of the scheduler's pass


async def run_once(session: AsyncSession, *, settings: Settings, now: datetime) -> dict:
    """One pass of the scheduler, in the caller's transaction."""

    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    escalated = await escalation.escalate_overdue(session, settings=settings, now=now)
    expired = await followup.expire(session, now=now)
    daily = await reports.send_daily_count(session, settings=settings, now=now)
    return {
        "escalated": [t.number for t in escalated],
        "follow_ups_unreached": [t.number for t in expired],
        "daily_count_sms": daily,
    }


async def background(app: web.Application):
    """cleanup_ctx: a pass every `IVR_ESCALATION_INTERVAL_SECONDS` (0 turns it off)."""
    from ivr.platform.resources import CLOCK, SCHEDULER_PASSES, SESSIONS, SETTINGS

    settings = app[SETTINGS]
    interval = settings.escalation_interval_seconds
    if interval <= 0:
        yield
        return

    async def one_pass() -> None:
        async with app[SESSIONS]() as session, session.begin():
            done = await run_once(session, settings=settings, now=app[CLOCK]())
        if done["escalated"] or done["follow_ups_unreached"] or done["daily_count_sms"]:
            log.info("scheduler: %s", done)

    passes = app[SCHEDULER_PASSES] = Passes()
    async with periodic.running(periodic.every(interval, one_pass, what="scheduler pass",
                                                log=log, passes=passes),
                                name="ticket-scheduler"):
        yield
