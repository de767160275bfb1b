"""The call log: each call with its legs, as supervisors and their tools read it."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Call, Leg, Ticket

from .config import Settings


def iso(moment: datetime | None, settings: Settings) -> str | None:
    return moment.astimezone(settings.tz).isoformat() if moment else None


def leg_view(leg: Leg, settings: Settings) -> dict:
    limit = settings.three_rings_seconds
    ring = leg.ring_seconds
    return {
        "staff": leg.staff_name,
        "phone": leg.phone,
        "sid": leg.sid,
        "attempt": leg.attempt,
        "status": leg.status,
        "ringing_at": iso(leg.ringing_at or leg.initiated_at, settings),
        "answered_at": iso(leg.answered_at, settings),
        "ring_seconds": ring,
        "rings": math.ceil(ring / settings.ring_seconds) if ring is not None else None,
        "answered": bool(leg.accepted),
        "within_three_rings": bool(leg.accepted and ring is not None and ring <= limit),
    }


def call_view(call: Call, legs: list[Leg], ticket_ids: list[int], settings: Settings) -> dict:
    return {
        "sid": call.sid,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "started_at": iso(call.started_at, settings),
        "ended_at": iso(call.ended_at, settings),
        "duration_seconds": call.duration_seconds,
        "menu_choice": call.menu_choice,
        "status": call.status,
        "outcome": call.outcome,
        "waited_seconds": call.waited_seconds,
        "language": call.language,
        "ticket_ids": ticket_ids,
        "legs": [leg_view(leg, settings) for leg in legs],
    }


async def list_calls(session: AsyncSession, *, settings: Settings, start: datetime,
                     end: datetime, limit: int | None = None) -> list[dict]:
    query = (select(Call).where(Call.started_at >= start, Call.started_at < end)
             .order_by(Call.started_at, Call.id))
    if limit:
        query = query.limit(limit)
    calls = list((await session.scalars(query)).all())
    if not calls:
        return []
    ids = [c.id for c in calls]
    legs: dict[int, list[Leg]] = defaultdict(list)
    tickets: dict[int, list[int]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for leg in (await session.scalars(
                select(Leg).where(Leg.call_id.in_(part)).order_by(Leg.id))).all():
            legs[leg.call_id].append(leg)
        for ticket_id, call_id in (await session.execute(
                select(Ticket.id, Ticket.call_id).where(Ticket.call_id.in_(part))
                .order_by(Ticket.id))).all():
            tickets[call_id].append(ticket_id)
    return [call_view(c, legs[c.id], tickets[c.id], settings) for c in calls]
