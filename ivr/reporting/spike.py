"""The spike alarm (来电激增): calls in the last minutes against the usual rate for that hour.

When water or power goes off for a building, calls jump long before anyone tells the
centre. The usual rate comes from the stored calls of the same time of day over the past
weeks, never from a counter in memory, so every process and every restart agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from models import Call

WINDOW = timedelta(minutes=10)
HISTORY_DAYS = 28
# The usual rate is read over the hour around the same time of day on each past day.
BAND = timedelta(minutes=30)


@dataclass(frozen=True)
class Spike:
    recent: int       # inbound calls in the last WINDOW
    usual: float      # the same span's average over the past HISTORY_DAYS days
    alarm: bool


async def spike(session: AsyncSession, *, settings: Settings, now: datetime) -> Spike:
    inbound = Call.direction == "inbound"
    recent = int(await session.scalar(
        select(func.count()).select_from(Call)
        .where(inbound, Call.started_at >= now - WINDOW, Call.started_at < now)) or 0)
    bands = [and_(Call.started_at >= now - timedelta(days=d) - BAND,
                  Call.started_at < now - timedelta(days=d) + BAND)
             for d in range(1, HISTORY_DAYS + 1)]
    past = int(await session.scalar(
        select(func.count()).select_from(Call).where(inbound, or_(*bands))) or 0)
    usual = past / HISTORY_DAYS * (WINDOW / (2 * BAND))
    alarm = recent >= max(settings.spike_min_calls, settings.spike_factor * usual)
    return Spike(recent=recent, usual=round(usual, 1), alarm=alarm)
