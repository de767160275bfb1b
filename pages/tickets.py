"""Tickets: the list, one ticket (status, owner, notes, resolve), and the ticket opened from
the staff's desk (`pages.desk`). Every change goes through `ivr.tickets.lifecycle`, which keeps the history."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy import or_, select

from ivr.people.sessions import audit
from ivr.people.users import own_staff_id
from ivr.platform.resources import CLOCK, READER, SESSIONS, SETTINGS
from ivr.platform.storable import storable
from ivr.tickets import contacts, escalation, lifecycle, search
from models import Call, Leg, Resident, Staff, Ticket
from models.ticket import CATEGORIES, STATUSES

from .access import MANAGERS, forbidden, form_of, page, user_of
from .render import choice_field, language, number_field, path_id, query_day, render, translator

PAGE_SIZE = 50


def ticket_filters(request: web.Request, *, queue_levels: tuple[int, ...] | None
                   ) -> tuple[search.TicketFilter, dict]:
    """The query's filters (see the ticket list's URL agreement in the README); a staff
    user is always narrowed to their own tickets."""
    settings = request.app[SETTINGS]
    q = request.query
    first = query_day(q.get("from"), None)
    last = query_day(q.get("to"), None)
    if first and last and last < first:
        raise web.HTTPBadRequest(text="to is before from")
    overdue = choice_field(q.get("overdue"), "overdue", choices=("1", "0")) == "1"
    owner = number_field(q.get("owner"), "owner")
    user = user_of(request)
    if user.role not in MANAGERS:
        owner = own_staff_id(user)
    text = storable(q.get("q") or "").strip()[:50] or None
    f = search.TicketFilter(
        start=datetime.combine(first, time(0), settings.tz) if first else None,
        end=datetime.combine(last + timedelta(days=1), time(0), settings.tz) if last else None,
        overdue=overdue, status=choice_field(q.get("status"), "status", choices=STATUSES),
        category=choice_field(q.get("category"), "category", choices=CATEGORIES),
        owner_staff_id=owner,
        escalation_level=number_field(q.get("level"), "level", low=1, high=escalation.MAX_LEVEL),
        text=text, queue_levels=queue_levels,
        sort=choice_field(q.get("sort"), "sort", choices=search.SORTS, default="created"))
    shown = {"from": first.isoformat() if first else "", "to": last.isoformat() if last else "",
             "overdue": "1" if f.overdue else "", "status": f.status or "",
             "category": f.category or "",
             "owner": str(owner) if owner is not None and user.role in MANAGERS else "",
             "level": str(f.escalation_level or ""), "q": text or "",
             "sort": f.sort if f.sort != "created" else "",
             "queue": "mine" if queue_levels is not None else ""}
    return f, shown


@page()
async def ticket_list(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    user = user_of(request)
    now = request.app[CLOCK]()
    mine = choice_field(request.query.get("queue"), "queue", choices=("mine",)) is not None
    page_no = number_field(request.query.get("page"), "page", default=1, low=1)
    async with request.app[READER]() as session:
        levels = (await contacts.levels_of(session, settings=settings, staff_id=user.staff_id)
                  if mine else None)
        f, shown = ticket_filters(request, queue_levels=levels)
        total, rows = await search.search_tickets(session, settings=settings, filters=f, now=now,
                                                  limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        people = [{"id": s.id, "name": s.name} for s in
                  (await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all()]
    return render(request, "tickets.html", tickets=rows, total=total, page_no=page_no,
                  pages=max(1, -(-total // PAGE_SIZE)), statuses=STATUSES, categories=CATEGORIES,
                  levels=range(1, escalation.MAX_LEVEL + 1), people=people, shown=shown,
                  query=urlencode({k: v for k, v in shown.items() if v}),
                  queue_nobody=mine and not levels, with_address=True,
                  now_iso=now.astimezone(settings.tz).isoformat())


def countdown(due_at: datetime, *, now: datetime, t) -> str:
    """剩余 2 小时 15 分 / 已超时 40 分钟: the time left to the due time, in whole minutes."""
    minutes = int(abs((due_at - now).total_seconds())) // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if due_at >= now:
        if days:
            return t("due_in_days", d=days, h=hours)
        return t("due_in", h=hours, m=mins)
    if days:
        return t("late_days", d=days, h=hours)
    if hours:
        return t("late_hours", h=hours, m=mins)
    return t("late_minutes", m=mins)


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
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        ticket = await _ticket_for(request, session)
        if isinstance(ticket, web.Response):
            return ticket
        view = await lifecycle.ticket_view(session, ticket, settings=settings, with_history=True)
        audit(session, now=now, user_name=user_of(request).name,
              action="ticket_read", subject=ticket.number)
        people = [{"id": s.id, "name": s.name} for s in
                  (await session.scalars(select(Staff).where(
                      or_(Staff.active, Staff.id == ticket.owner_staff_id))
                      .order_by(Staff.position, Staff.id))).all()]
        resident = await session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    # The current status comes first and is what the form posts unless someone picks
    # another: saving a note keeps it (lifecycle.change_status).
    allowed = [view["status"]] + sorted(
        lifecycle.TRANSITIONS.get(view["status"], frozenset()) - {"followed_up"},
        key=STATUSES.index)
    active = view["status"] in lifecycle.ACTIVE
    return render(request, "ticket.html", ticket=view, people=people, allowed=allowed,
                  owner_id=ticket.owner_staff_id,
                  resident=resident and {"name": resident.name, "address": resident.address},
                  error=request.query.get("error"), saved=request.query.get("saved") == "1",
                  labels=lifecycle.CATEGORY_LABELS, status_labels=lifecycle.STATUS_LABELS,
                  countdown=countdown(ticket.due_at, now=now, t=translator(language(request)))
                  if active else None, late=active and ticket.due_at < now,
                  now_iso=now.astimezone(settings.tz).isoformat(),
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
            error = exc.said(language(request))  # rolled back: nothing changed
    target = f"/tickets/{ticket_id}"
    target += "?error=" + quote(error) if error else "?saved=1"
    raise web.HTTPSeeOther(target)


# --- the staff's screen for the call in hand (`pages.desk`): its form ------------------------

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
