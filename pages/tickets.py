"""Tickets: the list, one ticket (status, owner, notes, resolve), and the staff's screen for
the call in hand. Every change goes through `ivr.tickets.lifecycle`, which keeps the history."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from ivr.people.sessions import audit
from ivr.people.users import own_staff_id
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS
from ivr.tickets import lifecycle
from models import Call, Leg, Resident, Staff, Ticket
from models.ticket import CATEGORIES, STATUSES

from .access import MANAGERS, forbidden, form_of, page, user_of
from .render import number_field, path_id, query_day, render


@page()
async def ticket_list(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    user = user_of(request)
    today = request.app[CLOCK]().astimezone(settings.tz).date()
    q = request.query
    first = query_day(q.get("from"), today.replace(day=1))
    last = query_day(q.get("to"), today)
    status = q.get("status") if q.get("status") in STATUSES else None
    owner = number_field(q.get("owner"), "owner")
    if user.role not in MANAGERS:
        owner = own_staff_id(user)
    async with request.app[SESSIONS]() as session:
        rows = await lifecycle.list_tickets(
            session, settings=settings, start=datetime.combine(first, time(0), settings.tz),
            end=datetime.combine(last + timedelta(days=1), time(0), settings.tz),
            status=status, owner_staff_id=owner, limit=1000)
        people = [{"id": s.id, "name": s.name} for s in
                  (await session.scalars(select(Staff).order_by(Staff.position))).all()]
    now_iso = request.app[CLOCK]().astimezone(settings.tz).isoformat()
    rows.reverse()  # newest first
    return render(request, "tickets.html", tickets=rows, statuses=STATUSES, people=people,
                  shown={"from": first.isoformat(), "to": last.isoformat(),
                         "status": status or "", "owner": str(owner or "")},
                  now_iso=now_iso, labels=lifecycle.CATEGORY_LABELS, status_labels=lifecycle.STATUS_LABELS)


async def _ticket_for(request: web.Request, session) -> Ticket | web.Response:
    ticket_id = path_id(request)
    ticket = await lifecycle.get_ticket(session, ticket_id) if ticket_id else None
    if ticket is None:
        return render(request, "error.html", status=404, code=404, message_key="not_found")
    user = user_of(request)
    own = own_staff_id(user)
    if own is not None and ticket.owner_staff_id != own:
        return forbidden(request)
    return ticket


@page()
async def ticket_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session, session.begin():
        ticket = await _ticket_for(request, session)
        if isinstance(ticket, web.Response):
            return ticket
        view = await lifecycle.ticket_view(session, ticket, settings=settings, with_history=True)
        audit(session, now=request.app[CLOCK](), user_name=user_of(request).name,
              action="ticket_read", subject=ticket.number)
        people = [{"id": s.id, "name": s.name} for s in
                  (await session.scalars(select(Staff).where(Staff.active)
                                         .order_by(Staff.position))).all()]
        resident = await session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    allowed = sorted(lifecycle.TRANSITIONS.get(view["status"], frozenset()) - {"followed_up"},
                     key=STATUSES.index)
    return render(request, "ticket.html", ticket=view, people=people, allowed=allowed,
                  resident=resident and {"name": resident.name, "address": resident.address},
                  error=request.query.get("error"), labels=lifecycle.CATEGORY_LABELS,
                  status_labels=lifecycle.STATUS_LABELS,
                  may_assign=user_of(request).role in MANAGERS)


@page()
async def ticket_change(request: web.Request) -> web.Response:
    """`POST /tickets/{id}/{action}`: status, owner, note or resolve."""
    settings = request.app[SETTINGS]
    action = request.match_info["action"]
    form = await form_of(request)
    user = user_of(request)
    now = request.app[CLOCK]()
    error = None
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                ticket = await _ticket_for(request, session)
                if isinstance(ticket, web.Response):
                    return ticket
                ticket_id = ticket.id
                if action == "status":
                    await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                                status=str(form.get("status", "")),
                                                actor=user.name, now=now,
                                                note=str(form.get("note", "")).strip())
                elif action == "owner":
                    if user.role not in MANAGERS:
                        return forbidden(request)
                    await lifecycle.assign(session, ticket=ticket, actor=user.name, now=now,
                                         staff_id=number_field(str(form.get("staff_id", "")), "staff_id"),
                                         department=str(form.get("department", "")).strip() or None)
                elif action == "note":
                    await lifecycle.add_note(session, ticket=ticket, actor=user.name, now=now,
                                           text=str(form.get("text", "")))
                elif action == "resolve":
                    await lifecycle.resolve(session, settings=settings, ticket=ticket,
                                          actor=user.name, now=now,
                                          note=str(form.get("note", "")).strip())
                else:
                    raise web.HTTPNotFound()
        except lifecycle.TicketError as exc:
            error = str(exc)  # the transaction was rolled back: nothing changed
    target = f"/tickets/{ticket_id}"
    if error:
        target += "?error=" + quote(error)
    raise web.HTTPSeeOther(target)


# --- the staff's screen for the call in hand ------------------------------------------------

async def call_in_hand(session, *, staff_id: int | None, now: datetime) -> Call | None:
    """The newest call this person accepted that has not ended (within the last 4 hours)."""
    if staff_id is None:
        return None
    return await session.scalar(
        select(Call).join(Leg, Leg.call_id == Call.id)
        .where(Leg.staff_id == staff_id, Leg.accepted, Call.ended_at.is_(None),
               Leg.completed_at.is_(None), Call.started_at > now - timedelta(hours=4))
        .order_by(Call.started_at.desc()).limit(1))


@page()
async def desk(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    user = user_of(request)
    now = request.app[CLOCK]()
    sid = request.query.get("call")
    async with request.app[SESSIONS]() as session:
        if sid and user.role in MANAGERS:
            call = await session.scalar(select(Call).where(Call.sid == sid))
        else:
            call = await call_in_hand(session, staff_id=user.staff_id, now=now)
        resident = open_list = None
        if call is not None:
            resident = await session.get(Resident, call.resident_id) if call.resident_id else None
            open_list = [lifecycle.view(t, settings=settings, owner=None) for t in
                         await lifecycle.open_tickets_of(session, resident_id=call.resident_id,
                                                       phone=call.from_number)]
    return render(
        request, "desk.html", call=call and {
            "sid": call.sid, "from": call.from_number, "menu_choice": call.menu_choice,
            "started_at": call.started_at.astimezone(settings.tz).isoformat()},
        resident=resident and {"name": resident.name, "address": resident.address,
                               "arrears": f"{resident.arrears:.2f}", "phone": resident.phone},
        open_tickets=open_list or [], categories=CATEGORIES, labels=lifecycle.CATEGORY_LABELS,
        status_labels=lifecycle.STATUS_LABELS, created=request.query.get("created"))


@page()
async def desk_ticket(request: web.Request) -> web.Response:
    """`POST /desk/tickets`: open a ticket for the call in hand; the taker owns it (首问负责制)."""
    settings = request.app[SETTINGS]
    user = user_of(request)
    form = await form_of(request)
    now = request.app[CLOCK]()
    category = str(form.get("category", ""))
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            call = await session.scalar(select(Call).where(Call.sid == str(form.get("call", ""))))
            if call is None:
                raise web.HTTPBadRequest(text="no such call")
            if user.role not in MANAGERS and not await session.scalar(
                    select(Leg.id).where(Leg.call_id == call.id, Leg.staff_id == user.staff_id)
                    .limit(1)):
                return forbidden(request)
            try:
                ticket = await lifecycle.create_ticket(
                    session, settings=settings, now=now, category=category, actor=user.name,
                    call=call, description=str(form.get("description", "")).strip()[:2000],
                    owner_staff_id=user.staff_id or call.answered_by_staff_id)
            except lifecycle.TicketError as exc:
                raise web.HTTPBadRequest(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/desk?created={ticket.number}"
                           + (f"&call={call.sid}" if user.role in MANAGERS else ""))
