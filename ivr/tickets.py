"""Tickets (工单): creation with a per-day number and a committed due time (时效制)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Call, Ticket, TicketHistory

from .config import Settings, parse_hours

# Committed times per category (时效制), in minutes.
DEFAULT_DUE_MINUTES = {
    "emergency": 30,        # emergency repair: on site within 30 minutes
    "callback": 60,         # messages and missed calls: called back within the hour
    "repair": 24 * 60,
    "complaint": 24 * 60,   # complaint answered within 24 hours
    "inquiry": 24 * 60,
}


def due_at_for(category: str, *, settings: Settings, now: datetime) -> datetime:
    minutes = DEFAULT_DUE_MINUTES.get(category, 24 * 60)
    if category == "callback":
        return next_office_moment(settings=settings, now=now) + timedelta(minutes=minutes)
    return now + timedelta(minutes=minutes)


def next_office_moment(*, settings: Settings, now: datetime) -> datetime:
    """`now` if inside office hours, else the next opening (in `IVR_TIMEZONE`)."""
    start, end = parse_hours(settings.office_hours)
    local = now.astimezone(settings.tz)
    if start <= local.time() < end:
        return now
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if local.time() >= end:
        opening += timedelta(days=1)
    return opening.astimezone(now.tzinfo)


async def next_number(session: AsyncSession, *, settings: Settings, now: datetime) -> str:
    day = now.astimezone(settings.tz).strftime("%Y%m%d")
    last = await session.scalar(
        select(func.max(Ticket.number)).where(Ticket.number.like(f"{day}-%"))
    )
    seq = int(last.split("-")[1]) + 1 if last else 1
    return f"{day}-{seq:04d}"


async def create_ticket(session: AsyncSession, *, settings: Settings, now: datetime,
                        category: str, actor: str, call: Call | None = None,
                        resident_id: int | None = None, resident_phone: str | None = None,
                        description: str = "", recording_url: str | None = None,
                        owner_staff_id: int | None = None,
                        department: str | None = None) -> Ticket:
    for _ in range(10):
        ticket = Ticket(
            number=await next_number(session, settings=settings, now=now),
            category=category,
            status="open",
            resident_id=resident_id if resident_id is not None else (call.resident_id if call else None),
            resident_phone=resident_phone or (call.from_number if call else None),
            call_id=call.id if call else None,
            call_sid=call.sid if call else None,
            description=description,
            recording_url=recording_url,
            owner_staff_id=owner_staff_id,
            department=department,
            created_at=now,
            due_at=due_at_for(category, settings=settings, now=now),
            escalation_level=1,
        )
        try:
            async with session.begin_nested():
                session.add(ticket)
                await session.flush()
        except IntegrityError:
            continue
        session.add(TicketHistory(ticket_id=ticket.id, at=now, actor=actor, action="created",
                                  detail=f"{category}: {description}"[:1000]))
        return ticket
    raise RuntimeError("could not allocate a ticket number")


async def callback_ticket_for_call(session: AsyncSession, call: Call) -> Ticket | None:
    return await session.scalar(
        select(Ticket).where(Ticket.call_id == call.id, Ticket.category == "callback")
    )


async def ensure_callback_ticket(session: AsyncSession, *, settings: Settings, now: datetime,
                                 call: Call, reason: str, recording_url: str | None = None,
                                 ) -> Ticket:
    """One callback ticket (回电) per call: a message, a missed or an abandoned call."""
    ticket = await callback_ticket_for_call(session, call)
    if ticket is None:
        ticket = await create_ticket(
            session, settings=settings, now=now, category="callback", actor="hotline",
            call=call, description=reason, recording_url=recording_url,
        )
    elif recording_url and not ticket.recording_url:
        ticket.recording_url = recording_url
        ticket.description = reason
        session.add(TicketHistory(ticket_id=ticket.id, at=now, actor="hotline",
                                  action="recording", detail=recording_url))
    return ticket
