"""Finding tickets for the ticket list: filters, search, sort and one page at a time.

Overdue means still being worked on (`lifecycle.ACTIVE`) and past its due time, whenever
the ticket was created: a ticket from last month that is late today is as late as one
from this morning. A supervisor's own queue is what escalation has put at the level where
they stand (`contacts.levels_of`) and is still waiting for work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.tickets import lifecycle
from models import Resident, Ticket

SORTS = ("created", "due")


@dataclass(frozen=True)
class TicketFilter:
    """What the ticket list is narrowed to; None (or False) = any."""

    start: datetime | None = None  # created at or after
    end: datetime | None = None  # created before
    overdue: bool = False
    status: str | None = None
    category: str | None = None
    owner_staff_id: int | None = None
    escalation_level: int | None = None
    text: str | None = None  # a ticket number, phone or address fragment
    # A supervisor's queue: active tickets at these escalation levels (empty = none at all).
    queue_levels: tuple[int, ...] | None = None
    sort: str = "created"


def _filtered(query, f: TicketFilter, *, now: datetime):
    if f.start is not None:
        query = query.where(Ticket.created_at >= f.start)
    if f.end is not None:
        query = query.where(Ticket.created_at < f.end)
    if f.overdue:
        query = query.where(Ticket.status.in_(lifecycle.ACTIVE), Ticket.due_at < now)
    if f.status is not None:
        query = query.where(Ticket.status == f.status)
    elif f.queue_levels is not None:
        query = query.where(Ticket.status.in_(lifecycle.ACTIVE))
    if f.queue_levels is not None:
        query = query.where(Ticket.escalation_level.in_(f.queue_levels or (-1,)))
    if f.category is not None:
        query = query.where(Ticket.category == f.category)
    if f.owner_staff_id is not None:
        query = query.where(Ticket.owner_staff_id == f.owner_staff_id)
    if f.escalation_level is not None:
        query = query.where(Ticket.escalation_level == f.escalation_level)
    if f.text:
        # A phone typed with spaces or dashes still finds the stored E.164 number.
        digits = "".join(ch for ch in f.text if ch.isdigit())
        phone = digits if len(digits) >= 3 else f.text
        at_address = select(Resident.id).where(Resident.address.contains(f.text, autoescape=True))
        query = query.where(or_(Ticket.number.contains(f.text, autoescape=True),
                                Ticket.resident_phone.contains(phone, autoescape=True),
                                Ticket.resident_id.in_(at_address)))
    return query


async def search_tickets(session: AsyncSession, *, settings: Settings, filters: TicketFilter,
                         now: datetime, limit: int | None = None,
                         offset: int = 0) -> tuple[int, list[dict]]:
    """(how many tickets match, one page of them as contract objects with the resident's
    address), newest first or, sorted by due, the most urgent first."""
    total = await session.scalar(
        _filtered(select(func.count()).select_from(Ticket), filters, now=now))
    order = ((Ticket.due_at, Ticket.id) if filters.sort == "due"
             else (Ticket.created_at.desc(), Ticket.id.desc()))
    query = _filtered(select(Ticket), filters, now=now).order_by(*order).offset(offset)
    if limit:
        query = query.limit(limit)
    tickets = list((await session.scalars(query)).all())
    owners = await lifecycle.owner_names(
        session, {t.owner_staff_id for t in tickets if t.owner_staff_id})
    resident_ids = {t.resident_id for t in tickets if t.resident_id}
    addresses = {}
    if resident_ids:
        addresses = dict((await session.execute(
            select(Resident.id, Resident.address).where(Resident.id.in_(resident_ids)))).all())
    rows = []
    for ticket in tickets:
        row = lifecycle.view(ticket, settings=settings, owner=owners.get(ticket.owner_staff_id))
        row["address"] = addresses.get(ticket.resident_id)
        rows.append(row)
    return total or 0, rows
