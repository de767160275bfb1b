"""What is happening now (`GET /api/live`): calls in progress, each staff member's state,
and today's figures a wallboard shows.

Read from the stored calls, legs and sign-ins only (`presence` for the staff), so every
process answers the same.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.calls import presence, queue
from ivr.calls.calllog import iso
from ivr.platform.config import Settings
from ivr.reporting import stats
from models import Call, Leg, Staff

# A call with no end recorded after this long lost its status callback: not shown.
STALE_CALL = timedelta(hours=4)


def call_state(call: Call, legs: list[Leg]) -> tuple[str, datetime | None, Leg | None]:
    """menu, queued, ringing or talking; since when; the leg ringing or talking. `call`
    and `legs` may be ORM objects or rows of the same columns."""
    for leg in legs:
        if leg.accepted and leg.completed_at is None:
            return "talking", leg.accepted_at or leg.answered_at or leg.created_at, leg
    if queue.is_waiting(call):
        return "queued", call.queue_since, None
    for leg in legs:
        if leg.completed_at is None and leg.dial_status is None:
            return "ringing", leg.initiated_at or leg.created_at, leg
    return "menu", call.started_at, None


async def calls_in_progress(session: AsyncSession, *, settings: Settings, now: datetime) -> list[dict]:
    """Plain rows of the columns shown (no ORM object per call or leg): with 500 calls in
    progress, loading whole Call and Leg objects was most of the wallboard's time."""
    in_progress = (Call.direction == "inbound", Call.ended_at.is_(None),
                   Call.started_at >= now - STALE_CALL, Call.started_at <= now)
    calls = (await session.execute(
        select(Call.id, Call.sid, Call.from_number, Call.menu_choice, Call.started_at,
               Call.queue_since, Call.queue_wait_seconds)
        .where(*in_progress).order_by(Call.started_at, Call.id))).all()
    legs: dict[int, list] = {call.id: [] for call in calls}
    if calls:
        for leg in (await session.execute(
                select(Leg.call_id, Leg.accepted, Leg.accepted_at, Leg.answered_at,
                       Leg.created_at, Leg.initiated_at, Leg.completed_at, Leg.dial_status,
                       Leg.staff_name, Leg.phone)
                .where(Leg.call_id.in_(select(Call.id).where(*in_progress)))
                .order_by(Leg.id))).all():
            if leg.call_id in legs:  # a call begun between the two reads waits for the next
                legs[leg.call_id].append(leg)
    views = []
    for call in calls:
        state, since, leg = call_state(call, legs[call.id])
        view = {"sid": call.sid, "from": call.from_number, "state": state,
                "since": iso(since, settings), "menu_choice": call.menu_choice}
        if leg is not None:
            view.update(staff=leg.staff_name, phone=leg.phone)
        if state == "queued":
            view["waited_seconds"] = queue.waited(call, now=now)
        views.append(view)
    return views


async def staff_states(session: AsyncSession, *, settings: Settings, now: datetime) -> list[dict]:
    """Everyone on shift or signed in (on shift but signed out shows as `away`)."""
    staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
    states = await presence.presences(session, settings=settings, now=now)
    return [{"staff": s.name, "phone": s.phone, "department": s.department,
             "state": states[s.id].state, "since": iso(states[s.id].since, settings),
             "on_shift": states[s.id].on_shift, "signed_in": states[s.id].signed_in}
            for s in staff if s.active and (states[s.id].on_shift or states[s.id].signed_in)]


async def today(session: AsyncSession, *, settings: Settings, now: datetime) -> dict:
    """Today (in IVR_TIMEZONE): the three-ring rate, abandoned calls, callers who waited
    in line and the longest wait in line, a caller still waiting counted as they stand.
    Only the figures shown (`stats.headline`), not the whole of `/api/stats`."""
    start = datetime.combine(now.astimezone(settings.tz).date(), time(0), settings.tz)
    figures = await stats.headline(session, settings=settings, start=start, end=now)
    waiting = (await session.execute(
        select(Call.queue_since, Call.queue_wait_seconds)
        .where(Call.queue_since.is_not(None), Call.started_at >= start))).all()
    longest_now = max((queue.waited(c, now=now) for c in waiting), default=None)
    longest_done = figures["longest_queue_wait_seconds"]
    longest = max((w for w in (longest_now, longest_done) if w is not None), default=0)
    return {"three_ring_rate": figures["three_ring_rate"],
            "abandoned_calls": figures["abandoned_calls"],
            "queued_calls": figures["queued_calls"],
            "longest_wait_seconds": longest,
            "waiting_now": len(waiting),
            "answered_within_20s_rate": figures["answered_within_20s_rate"],
            "average_speed_of_answer": figures["average_speed_of_answer"]}


async def live(session: AsyncSession, *, settings: Settings, now: datetime) -> dict:
    return {"at": iso(now, settings),
            "calls": await calls_in_progress(session, settings=settings, now=now),
            "staff": await staff_states(session, settings=settings, now=now),
            "today": await today(session, settings=settings, now=now)}

