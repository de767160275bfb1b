"""The call log: each call with its legs, as supervisors and their tools read it."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.users import own_staff_id
from ivr.platform.config import Settings
from models import Call, CallEvent, Campaign, Leg, OutboundJob, Resident, Ticket


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
        "queued_at": iso(call.queued_at, settings),
        "queue_wait_seconds": call.queue_wait_seconds,
        "queue_exit": call.queue_exit,
        "language": call.language,
        # What the caller said at the menu, if they spoke instead of pressing a key.
        "speech": ({"text": call.speech_text, "confidence": call.speech_confidence,
                    "choice": call.speech_choice} if call.speech_text else None),
        "ticket_ids": ticket_ids,
        "legs": [leg_view(leg, settings) for leg in legs],
    }


async def list_calls(session: AsyncSession, *, settings: Settings, start: datetime,
                     end: datetime, limit: int | None = None,
                     staff_id: int | None = None) -> list[dict]:
    """Calls started in [start, end), oldest first; with `staff_id`, only that person's."""
    query = _filtered(select(Call), CallFilter(start=start, end=end, staff_id=staff_id))
    query = query.order_by(Call.started_at, Call.id)
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


async def _outbound_purposes(session: AsyncSession,
                             calls: list[Call]) -> dict[int, tuple[str, int | None]]:
    """What the dialer called for and about, by job id: (purpose, ticket id). A campaign's
    call is for its campaign's purpose (催缴), whatever kind of job dialled it."""
    ids = sorted({c.outbound_job_id for c in calls if c.outbound_job_id})
    found = {}
    for chunk in range(0, len(ids), 500):
        for job_id, kind, ticket_id, campaign_kind in (await session.execute(
                select(OutboundJob.id, OutboundJob.kind, OutboundJob.ticket_id, Campaign.kind)
                .outerjoin(Campaign, Campaign.id == OutboundJob.campaign_id)
                .where(OutboundJob.id.in_(ids[chunk:chunk + 500])))).all():
            found[job_id] = (campaign_kind or kind, ticket_id)
    return found


# --- the dashboard's call log: filters, pages, and one call's timeline -------------------

@dataclass
class CallFilter:
    """What the call log and its exports are narrowed to; None = any."""

    start: datetime
    end: datetime
    staff_id: int | None = None
    menu_choice: str | None = None
    outcome: str | None = None
    resident: str | None = None  # a phone number, name or address fragment
    direction: str | None = None
    sid: str | None = None
    # How `staff_id` was involved: "answered" (took the call), "rang" (any leg rang them),
    # "missed" (a leg rang them and they did not answer); None = answered or rang.
    staff_as: str | None = None


STAFF_ROLES = ("answered", "rang", "missed")


def _staff_condition(staff_id: int, staff_as: str | None):
    """The calls a staff member answered, was rung for, or missed (a leg rang them and
    they did not take it: the dashboard's per-staff miss)."""
    rang = select(Leg.call_id).where(Leg.staff_id == staff_id)
    took = select(Leg.call_id).where(Leg.staff_id == staff_id, Leg.accepted.is_(True))
    answered = or_(Call.answered_by_staff_id == staff_id, Call.id.in_(took))
    if staff_as == "answered":
        return answered
    if staff_as == "rang":
        return Call.id.in_(rang)
    if staff_as == "missed":
        return Call.id.in_(select(Leg.call_id).where(Leg.staff_id == staff_id,
                                                     Leg.accepted.is_not(True)))
    return or_(answered, Call.id.in_(rang))


def _filtered(query, f: CallFilter):
    query = query.where(Call.started_at >= f.start, Call.started_at < f.end)
    if f.staff_id is not None:
        query = query.where(_staff_condition(f.staff_id, f.staff_as))
    if f.menu_choice:
        query = query.where(Call.menu_choice == f.menu_choice)
    if f.outcome:
        query = query.where(Call.outcome == f.outcome)
    if f.direction:
        query = query.where(Call.direction == f.direction)
    if f.sid:
        query = query.where(Call.sid == f.sid)
    if f.resident:
        like = f"%{f.resident.strip()}%"
        known = select(Resident.id).where(or_(Resident.name.like(like),
                                              Resident.address.like(like),
                                              Resident.phone.like(like)))
        query = query.where(or_(Call.from_number.like(like), Call.to_number.like(like),
                                Call.resident_id.in_(known)))
    return query


async def search_calls(session: AsyncSession, *, settings: Settings, filters: CallFilter,
                       limit: int | None = None, offset: int = 0,
                       newest_first: bool = True) -> tuple[int, list[dict]]:
    """(how many calls match, one page of them as `call_view`s with the answering staff)."""
    total = await session.scalar(_filtered(select(func.count()).select_from(Call), filters))
    order = (Call.started_at.desc(), Call.id.desc()) if newest_first else (Call.started_at, Call.id)
    query = _filtered(select(Call), filters).order_by(*order).offset(offset)
    if limit:
        query = query.limit(limit)
    calls = list((await session.scalars(query)).all())
    ids = [c.id for c in calls]
    legs: dict[int, list[Leg]] = defaultdict(list)
    tickets: dict[int, list[Ticket]] = defaultdict(list)
    residents: dict[int, Resident] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for leg in (await session.scalars(
                select(Leg).where(Leg.call_id.in_(part)).order_by(Leg.id))).all():
            legs[leg.call_id].append(leg)
        for ticket in (await session.scalars(
                select(Ticket).where(Ticket.call_id.in_(part)).order_by(Ticket.id))).all():
            tickets[ticket.call_id].append(ticket)
    purposes = await _outbound_purposes(session, calls)
    about = sorted({ticket_id for _, ticket_id in purposes.values() if ticket_id})
    job_tickets: dict[int, Ticket] = {}
    for chunk in range(0, len(about), 500):
        job_tickets.update((t.id, t) for t in (await session.scalars(
            select(Ticket).where(Ticket.id.in_(about[chunk:chunk + 500])))).all())
    resident_ids = {c.resident_id for c in calls if c.resident_id}
    if resident_ids:
        residents = {r.id: r for r in (await session.scalars(
            select(Resident).where(Resident.id.in_(resident_ids)))).all()}
    rows = []
    for call in calls:
        purpose, ticket_id = purposes.get(call.outbound_job_id, (None, None))
        linked = job_tickets.get(ticket_id)
        if linked is not None and linked not in tickets[call.id]:
            tickets[call.id].insert(0, linked)  # the ticket the dialer called about
        view = call_view(call, legs[call.id], [t.id for t in tickets[call.id]], settings)
        taker = next((leg for leg in legs[call.id] if leg.accepted), None)
        resident = residents.get(call.resident_id)
        view.update({
            "id": call.id,
            "purpose": purpose,  # what an outbound call was for (the dialer's job), else None
            "answered_by": taker.staff_name if taker else None,
            "resident_name": resident.name if resident else None,
            "resident_address": resident.address if resident else None,
            "ticket_numbers": [t.number for t in tickets[call.id]],
            "ticket_notes": [t.description for t in tickets[call.id] if t.description],
            "recording_urls": [t.recording_url for t in tickets[call.id] if t.recording_url],
        })
        rows.append(view)
    return total or 0, rows


async def may_see(session: AsyncSession, *, user, call: Call) -> bool:
    """One scope for the pages and the API: supervisors and admins see every call, a staff
    member only the calls that rang them (the same rule as the call log's staff filter)."""
    own = own_staff_id(user)
    if own is None:
        return True
    if call.answered_by_staff_id == own:
        return True
    rung = await session.scalar(select(Leg.id).where(Leg.call_id == call.id,
                                                     Leg.staff_id == own).limit(1))
    return rung is not None


async def timeline(session: AsyncSession, *, call: Call) -> list[CallEvent]:
    """Every webhook and status callback of the call and of its legs, in Twilio's order."""
    legs = (await session.scalars(select(Leg.sid).where(Leg.call_id == call.id))).all()
    sids = [call.sid] + [s for s in legs if s]
    events = list((await session.scalars(
        select(CallEvent).where(CallEvent.call_sid.in_(sids)).order_by(CallEvent.id))).all())
    return sorted(events, key=lambda e: (e.twilio_timestamp or e.received_at, e.id))
