"""Tickets (工单): every request recorded and owned until the resident is satisfied.

事事有着落，件件有回音. A ticket gets a per-day number (`20261123-0007`), an owner by the
first-contact rule (首问负责制: whoever took the call, else the customer-service
supervisor), a committed time per category (时效制), and a history row for every change
(who, when, what). The lifecycle is the contract's: open → assigned → in_progress →
resolved → followed_up → closed, with reopened from any finished state.

Plain functions with keyword arguments; the caller owns the transaction. The dashboard,
the API, the call flow and the dialer all change tickets only through them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings, parse_hours
from ivr.platform.refusals import Refusal
from ivr.tickets import contacts, history
from ivr.tickets.labels import CATEGORY_LABELS, STATUS_LABELS, category_label  # noqa: F401 (kept here for callers)
from models import Call, Staff, Ticket, TicketHistory
from models.ticket import CATEGORIES, STATUSES

# Still needing someone's work: these escalate when overdue and count as open.
ACTIVE = ("open", "assigned", "in_progress", "reopened")
FINISHED = ("resolved", "followed_up", "closed")

# Allowed status changes. `resolved` goes through `resolve()` (it schedules the follow-up
# call) and `followed_up` through `survey.record()` (it needs the resident's answer).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"assigned", "in_progress", "resolved", "closed"}),
    "assigned": frozenset({"in_progress", "resolved", "closed"}),
    "in_progress": frozenset({"assigned", "resolved", "closed"}),
    "resolved": frozenset({"followed_up", "reopened", "closed"}),
    "followed_up": frozenset({"reopened", "closed"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"assigned", "in_progress", "resolved", "closed"}),
}

# Menu choices of a call answered by a person that become a ticket by themselves.
CALL_CHOICE_CATEGORIES = {"repair": "repair", "complaint": "complaint", "emergency": "emergency"}
# What a caller nobody answered wanted, by their menu choice: a complaint left as a message
# is still a complaint (followed up, counted). A fee question is an enquiry; no choice (or
# `person`) is a plain callback request.
MESSAGE_CATEGORIES = {**CALL_CHOICE_CATEGORIES, "inquiry": "inquiry", "fees": "inquiry"}


class TicketError(Refusal):
    """A change the lifecycle does not allow, or bad input; the message says why."""


def due_minutes(category: str, *, settings: Settings) -> int:
    """The committed time (时效制) of a category, from `IVR_DUE_MINUTES_<CATEGORY>`."""
    return {
        "emergency": settings.due_minutes_emergency,
        "callback": settings.due_minutes_callback,
        "repair": settings.due_minutes_repair,
        "complaint": settings.due_minutes_complaint,
        "inquiry": settings.due_minutes_inquiry,
    }.get(category, settings.due_minutes_inquiry)


def due_at_for(category: str, *, settings: Settings, now: datetime) -> datetime:
    """When a new ticket is due. Callbacks count from the next office opening."""
    minutes = due_minutes(category, settings=settings)
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


async def default_owner(session: AsyncSession, *, settings: Settings,
                        call: Call | None) -> int | None:
    """首问负责制: the staff member who took the call, else the customer-service supervisor."""
    if call is not None and call.answered_by_staff_id:
        return call.answered_by_staff_id

    for contact in await contacts.at_level(session, settings=settings, level=2):
        if contact.staff_id is not None:
            return contact.staff_id
    return None


async def create_ticket(session: AsyncSession, *, settings: Settings, now: datetime,
                        category: str, actor: str, call: Call | None = None,
                        resident_id: int | None = None, resident_phone: str | None = None,
                        description: str = "", recording_url: str | None = None,
                        owner_staff_id: int | None = None,
                        department: str | None = None) -> Ticket:
    """Open a ticket. The number is unique per day even when two webhooks race."""
    if category not in CATEGORIES:
        raise TicketError(f"unknown category {category!r}: use one of {', '.join(CATEGORIES)}",
                          zh="工单类别不正确")
    if owner_staff_id is None:
        owner_staff_id = await default_owner(session, settings=settings, call=call)
    if session.bind.dialect.name == "postgresql":
        # Numbers are the day's max + 1: on PostgreSQL concurrent webhooks would all pick
        # the same one, so they take turns (released at commit).
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ticket-number'))"))
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
            department=department or None,
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
        history.record(session, ticket, now=now, actor=actor, action="created",
               detail=f"{category}: {description}")
        return ticket
    raise RuntimeError("could not allocate a ticket number")


async def get_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    return await session.get(Ticket, ticket_id)


def check_transition(ticket: Ticket, status: str) -> None:
    if status not in STATUSES:
        raise TicketError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}",
                          zh="工单状态不正确")
    if status not in TRANSITIONS.get(ticket.status, frozenset()):
        raise TicketError(f"ticket {ticket.number} is {ticket.status}: cannot become {status}",
                          zh=f"工单{ticket.number}当前为“{STATUS_LABELS.get(ticket.status)}”，"
                             f"不能改为“{STATUS_LABELS.get(status)}”")


def _set_status(session: AsyncSession, ticket: Ticket, status: str, *, now: datetime,
                actor: str, note: str = "") -> None:
    old = ticket.status
    ticket.status = status
    history.record(session, ticket, now=now, actor=actor, action="status",
           detail=f"{old} → {status}" + (f": {note}" if note else ""))


async def change_status(session: AsyncSession, *, settings: Settings, ticket: Ticket,
                        status: str, actor: str, now: datetime, note: str = "") -> Ticket:
    """Move a ticket along its lifecycle; a change the lifecycle forbids raises TicketError.

    The status it already has changes nothing but records the note: the page's form posts
    the current status when someone only writes a note (saving must not close it)."""
    if status == ticket.status:
        if note:
            await add_note(session, ticket=ticket, actor=actor, now=now, text=note)
        return ticket
    if status == "resolved":
        return await resolve(session, settings=settings, ticket=ticket, actor=actor, now=now,
                             note=note)
    if status == "reopened":
        return await reopen(session, settings=settings, ticket=ticket, actor=actor, now=now,
                            reason=note)
    if status == "followed_up":
        raise TicketError("a follow-up is recorded with the resident's answer "
                          "(satisfied, neutral or dissatisfied), not set by hand",
                          zh="回访结果需记录业主的评价（满意、基本满意或不满意），不能直接设置")
    check_transition(ticket, status)
    _set_status(session, ticket, status, now=now, actor=actor, note=note)
    if status == "closed":
        ticket.closed_at = now
    return ticket


async def assign(session: AsyncSession, *, ticket: Ticket, actor: str, now: datetime,
                 staff_id: int | None = None, department: str | None = None) -> Ticket:
    """Give the ticket an owner and/or dispatch it to a department (派单)."""
    if staff_id is None and not department:
        raise TicketError("assign needs a staff member or a department",
                          zh="请选择负责人或填写部门")
    changes = []
    if staff_id is not None and staff_id != ticket.owner_staff_id:
        staff = await session.get(Staff, staff_id)
        if staff is None:
            raise TicketError(f"unknown staff member {staff_id}", zh="找不到该员工")
        ticket.owner_staff_id = staff.id
        changes.append(f"owner {staff.name}")
    if department and department != ticket.department:
        ticket.department = department
        changes.append(f"department {department}")
    if changes:
        history.record(session, ticket, now=now, actor=actor, action="assigned", detail=", ".join(changes))
    if ticket.status in ("open", "reopened"):
        _set_status(session, ticket, "assigned", now=now, actor=actor)
    return ticket


async def add_note(session: AsyncSession, *, ticket: Ticket, actor: str, now: datetime,
                   text: str) -> Ticket:
    text = (text or "").strip()
    if not text:
        raise TicketError("a note needs some text", zh="请填写备注内容")
    history.record(session, ticket, now=now, actor=actor, action="note", detail=text)
    return ticket


async def resolve(session: AsyncSession, *, settings: Settings, ticket: Ticket, actor: str,
                  now: datetime, note: str = "") -> Ticket:
    """Mark resolved and, for a repair or complaint, schedule its follow-up call (回访).

    Resolving a ticket that is already resolved changes nothing (a retried request)."""
    from ivr.tickets import followup

    if ticket.status == "resolved":
        return ticket
    check_transition(ticket, "resolved")
    _set_status(session, ticket, "resolved", now=now, actor=actor, note=note)
    ticket.resolved_at = now
    ticket.needs_callback = False  # whoever resolved it has dealt with the resident
    if ticket.category in followup.FOLLOW_UP_CATEGORIES:
        await followup.schedule(session, settings=settings, ticket=ticket, now=now, actor=actor)
    return ticket


async def reopen(session: AsyncSession, *, settings: Settings, ticket: Ticket, actor: str,
                 now: datetime, reason: str = "") -> Ticket:
    """Back to work, with a fresh committed time; a follow-up not yet made is cancelled.

    `resolved_at` keeps the last resolution: the follow-up rate counts it."""
    from ivr.tickets import followup

    if ticket.status == "reopened":
        return ticket
    check_transition(ticket, "reopened")
    _set_status(session, ticket, "reopened", now=now, actor=actor, note=reason)
    ticket.closed_at = None
    ticket.due_at = now + timedelta(minutes=due_minutes(ticket.category, settings=settings))
    await followup.cancel(session, ticket=ticket, now=now, actor=actor,
                          reason="工单重新处理，回访取消")
    return ticket


async def owner_names(session: AsyncSession, ids: set[int]) -> dict[int, Staff]:
    if not ids:
        return {}
    rows = (await session.scalars(select(Staff).where(Staff.id.in_(ids)))).all()
    return {s.id: s for s in rows}


def iso(moment: datetime | None, settings: Settings) -> str | None:
    return moment.astimezone(settings.tz).isoformat() if moment else None


def view(ticket: Ticket, *, settings: Settings, owner: Staff | None) -> dict:
    """The contract's `/api/tickets` object (and a few fields beyond it)."""
    follow_up = None
    if ticket.follow_up_status is not None:
        follow_up = {
            "status": ticket.follow_up_status,
            "due_at": iso(ticket.follow_up_due_at, settings),
            "satisfaction": ticket.satisfaction,
            "followed_up_at": iso(ticket.followed_up_at, settings),
        }
    return {
        "id": ticket.id,
        "number": ticket.number,
        "category": ticket.category,
        "status": ticket.status,
        "resident_phone": ticket.resident_phone,
        "call_sid": ticket.call_sid,
        "owner": owner.name if owner else None,
        "owner_phone": owner.phone if owner else None,
        "department": ticket.department,
        "description": ticket.description,
        "recording_url": ticket.recording_url,
        "needs_callback": ticket.needs_callback,
        "created_at": iso(ticket.created_at, settings),
        "due_at": iso(ticket.due_at, settings),
        "resolved_at": iso(ticket.resolved_at, settings),
        "closed_at": iso(ticket.closed_at, settings),
        "escalation_level": ticket.escalation_level,
        "escalated_at": iso(ticket.escalated_at, settings),
        "follow_up": follow_up,
    }


async def ticket_view(session: AsyncSession, ticket: Ticket, *, settings: Settings,
                      with_history: bool = False) -> dict:
    owner = await session.get(Staff, ticket.owner_staff_id) if ticket.owner_staff_id else None
    result = view(ticket, settings=settings, owner=owner)
    if with_history:
        result["history"] = await history_of(session, ticket, settings=settings)
    return result


async def history_of(session: AsyncSession, ticket: Ticket, *, settings: Settings) -> list[dict]:
    rows = (await session.scalars(
        select(TicketHistory).where(TicketHistory.ticket_id == ticket.id)
        .order_by(TicketHistory.at, TicketHistory.id)
    )).all()
    return [{"at": iso(h.at, settings), "actor": h.actor, "action": h.action, "detail": h.detail}
            for h in rows]


async def list_tickets(session: AsyncSession, *, settings: Settings, start: datetime,
                       end: datetime, status: str | None = None,
                       owner_staff_id: int | None = None, limit: int | None = None) -> list[dict]:
    """Tickets created in [start, end), oldest first, as contract objects."""
    if status is not None and status not in STATUSES:
        raise TicketError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    query = (select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
             .order_by(Ticket.created_at, Ticket.id))
    if status is not None:
        query = query.where(Ticket.status == status)
    if owner_staff_id is not None:
        query = query.where(Ticket.owner_staff_id == owner_staff_id)
    if limit:
        query = query.limit(limit)
    rows = list((await session.scalars(query)).all())
    owners = await owner_names(session, {t.owner_staff_id for t in rows if t.owner_staff_id})
    return [view(t, settings=settings, owner=owners.get(t.owner_staff_id)) for t in rows]


async def open_tickets_of(session: AsyncSession, *, resident_id: int | None = None,
                          phone: str | None = None) -> list[Ticket]:
    """A caller's tickets still being worked on (for the staff's screen of the call in hand)."""
    if resident_id is None and not phone:
        return []
    who = Ticket.resident_id == resident_id if resident_id is not None else Ticket.resident_phone == phone
    return list((await session.scalars(
        select(Ticket).where(who, Ticket.status.in_(ACTIVE)).order_by(Ticket.created_at)
    )).all())


async def callback_ticket_for_call(session: AsyncSession, call: Call) -> Ticket | None:
    """The ticket of a call nobody answered (the call flow opens one, and nobody else
    opens one for a call nobody took), whatever its category and whether or not the
    resident has been called back yet."""
    return await session.scalar(
        select(Ticket).where(Ticket.call_id == call.id).order_by(Ticket.id).limit(1)
    )


def message_category(call: Call) -> str:
    """What the caller wanted; `callback` when they chose nothing we can name."""
    if call.direction != "inbound":
        return "callback"
    return MESSAGE_CATEGORIES.get(call.menu_choice or "", "callback")


async def ensure_callback_ticket(session: AsyncSession, *, settings: Settings, now: datetime,
                                 call: Call, reason: str, recording_url: str | None = None,
                                 ) -> Ticket:
    """One ticket per call nobody answered (a message, a missed or an abandoned call): of
    what the caller wanted, and needing a callback (回电).

    Due within the callback's committed time (from the next office opening), or the
    emergency's (and escalated by phone) for the emergency option."""
    ticket = await callback_ticket_for_call(session, call)
    category = message_category(call)
    if ticket is None:
        ticket = await create_ticket(
            session, settings=settings, now=now, category=category, actor="hotline",
            call=call, description=reason, recording_url=recording_url,
        )
        ticket.needs_callback = True
        if category != "emergency":
            ticket.due_at = due_at_for("callback", settings=settings, now=now)
    elif recording_url and not ticket.recording_url:
        ticket.recording_url = recording_url
        ticket.description = reason
        history.record(session, ticket, now=now, actor="hotline", action="recording",
               detail=recording_url)
    return ticket


async def ensure_call_ticket(session: AsyncSession, *, settings: Settings, now: datetime,
                             call: Call) -> Ticket | None:
    """A repair, complaint or emergency call a person took becomes a ticket they own.

    Only when staff did not open one for the call themselves (from the dashboard)."""
    category = CALL_CHOICE_CATEGORIES.get(call.menu_choice or "")
    if category is None or call.direction != "inbound":
        return None
    existing = await session.scalar(select(Ticket).where(Ticket.call_id == call.id).limit(1))
    if existing is not None:
        return None
    return await create_ticket(
        session, settings=settings, now=now, category=category, actor="hotline", call=call,
        description=f"来电{category_label(category)}，由接听人跟进",
    )
