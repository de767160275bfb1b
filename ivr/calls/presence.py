"""STUB (replaced by branch switchboard's presence.py at merge): who is free, from the legs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people import roster
from ivr.platform.config import Settings
from models import Call, Leg, Staff

STATES = ("available", "ringing", "talking", "wrap_up", "away")


@dataclass(frozen=True)
class Presence:
    staff_id: int
    state: str
    since: datetime | None


async def presences(session: AsyncSession, *, settings: Settings, now: datetime,
                    staff_ids=None) -> dict[int, Presence]:
    query = select(Staff)
    if staff_ids is not None:
        query = query.where(Staff.id.in_(list(staff_ids)))
    staff = (await session.scalars(query)).all()
    wrap = timedelta(seconds=getattr(settings, "wrap_up_seconds", 20))
    legs = (await session.scalars(select(Leg).join(Call, Call.id == Leg.call_id).where(
        Leg.staff_id.in_([s.id for s in staff]), Leg.created_at >= now - timedelta(hours=4),
        Call.ended_at.is_(None) | Leg.completed_at.is_not(None)))).all()
    out = {}
    for s in staff:
        state, since = ("available", None) if s.active else ("away", None)
        for leg in legs:
            if leg.staff_id != s.id:
                continue
            if leg.completed_at is None:
                if leg.accepted or leg.bridged:
                    state, since = "talking", leg.answered_at
                elif state != "talking":
                    state, since = "ringing", leg.created_at
            elif (leg.accepted or leg.bridged) and leg.completed_at + wrap > now and state == "available":
                state, since = "wrap_up", leg.completed_at
        out[s.id] = Presence(s.id, state, since)
    return out


async def free_staff(session: AsyncSession, *, settings: Settings, now: datetime,
                     choice: str | None, duty_only: bool = False,
                     exclude: Collection[int] = ()) -> list[Staff]:
    on_duty = await roster.on_duty(session, settings=settings, now=now,
                                   duty_only=duty_only or choice == "emergency")
    states = await presences(session, settings=settings, now=now, staff_ids=[s.id for s in on_duty])
    ok = ("available", "wrap_up") if (duty_only or choice == "emergency") else ("available",)
    return [s for s in on_duty if s.id not in exclude and states[s.id].state in ok]
