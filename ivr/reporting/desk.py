"""The staff member's own board (`/desk`): the caller ringing or talking with them now, with
the caller's address, arrears and open tickets, so they greet the resident by their house
and know what is already being worked on before they speak.

The same stored calls and legs as the wallboard (`live.call_state`), narrowed to the legs
of one staff member, so every process shows the same desk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.calls.calllog import iso
from ivr.platform.config import Settings
from ivr.reporting import live
from ivr.tickets import lifecycle
from models import Call, Leg, Resident

# What the desk shows: a caller whose leg to this person is ringing or talking.
SHOWN = ("ringing", "talking")


async def call_state(session: AsyncSession, call: Call):
    """The wallboard's state of one call (menu, queued, ringing, talking), since when, and
    the leg ringing or talking."""
    legs = list((await session.scalars(
        select(Leg).where(Leg.call_id == call.id).order_by(Leg.id))).all())
    return live.call_state(call, legs)


async def caller_view(session: AsyncSession, call: Call, *, settings: Settings) -> dict:
    """A call as the desk shows it: who, from where, and their tickets still open."""
    resident = await session.get(Resident, call.resident_id) if call.resident_id else None
    tickets = await lifecycle.open_tickets_of(session, resident_id=call.resident_id,
                                              phone=call.from_number)
    return {"sid": call.sid, "from": call.from_number, "menu_choice": call.menu_choice,
            "started_at": iso(call.started_at, settings),
            "resident": resident and {"name": resident.name, "address": resident.address,
                                      "arrears": f"{resident.arrears:.2f}"},
            "open_tickets": [{"id": t.id, "number": t.number, "category": t.category,
                              "status": t.status, "description": t.description,
                              "due_at": iso(t.due_at, settings)} for t in tickets]}


async def board(session: AsyncSession, *, settings: Settings, staff_id: int | None,
                now: datetime) -> dict:
    """The calls ringing or talking with this staff member now (none for a user who is
    not on the staff file)."""
    views: list[dict] = []
    if staff_id is not None:
        calls = list((await session.scalars(
            select(Call)
            .where(Call.id.in_(select(Leg.call_id).where(Leg.staff_id == staff_id,
                                                         Leg.completed_at.is_(None))),
                   Call.direction == "inbound", Call.ended_at.is_(None),
                   Call.started_at >= now - live.STALE_CALL, Call.started_at <= now)
            .order_by(Call.started_at, Call.id))).all())
        for call in calls:
            state, since, leg = await call_state(session, call)
            if state in SHOWN and leg is not None and leg.staff_id == staff_id:
                views.append({**await caller_view(session, call, settings=settings),
                              "state": state, "since": iso(since, settings)})
    return {"at": iso(now, settings), "calls": views}


async def one_call(session: AsyncSession, *, settings: Settings, sid: str, now: datetime) -> dict:
    """A supervisor's look at any call's desk (`/desk?call=SID`), as it stands now."""
    call = await session.scalar(select(Call).where(Call.sid == sid))
    views = []
    if call is not None:
        state, since, _ = await call_state(session, call)
        if call.ended_at is not None:
            state, since = "ended", call.ended_at
        views.append({**await caller_view(session, call, settings=settings),
                      "state": state, "since": iso(since, settings)})
    return {"at": iso(now, settings), "calls": views}
