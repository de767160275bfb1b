"""`/api/tickets`: list, open and resolve tickets (工单) with a bearer token.

The contract's part: `GET /api/tickets?from&to[&status]` and `POST /api/tickets/{id}/resolve`;
beyond it `POST /api/tickets` opens one. The acting user is the history's "who". Bad input
is a 400 with a message, a change the lifecycle forbids a 409. Staff pages change tickets
through the plain functions of `ivr.tickets.lifecycle` and `ivr.tickets.survey` instead. Users of role
`staff` see and resolve only the tickets they own (403 otherwise), and open tickets only on
the calls that rang them (`calllog.may_see`, the pages' rule).
"""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy import select

from ivr.calls import calllog
from ivr.people.sessions import audit
from ivr.people.users import own_staff_id
from ivr.platform.phones import InvalidPhone, normalise
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS
from ivr.platform.storable import storable_json
from ivr.tickets import followup, lifecycle
from models import Call, Resident, Staff, Ticket

from .auth import api_user, bad_request, date_range

MAX_TEXT = 2000
MAX_ID = 2**31 - 1  # an INTEGER key on every backend


def error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}, ensure_ascii=False),
                  content_type="application/json")


async def body_of(request: web.Request) -> dict:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise bad_request("the body must be JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return storable_json(body)


def text_field(body: dict, name: str, *, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise error(web.HTTPBadRequest, f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise error(web.HTTPBadRequest, f"{name} is required")
    if len(value) > MAX_TEXT:
        raise error(web.HTTPBadRequest, f"{name} is longer than {MAX_TEXT} characters")
    return value


def ticket_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except (KeyError, ValueError):
        raise error(web.HTTPNotFound, "no such ticket") from None
    if not 0 < value <= MAX_ID:
        raise error(web.HTTPNotFound, "no such ticket")
    return value


async def load(session, request: web.Request) -> Ticket:
    ticket = await lifecycle.get_ticket(session, ticket_id(request))
    if ticket is None:
        raise error(web.HTTPNotFound, "no such ticket")
    return ticket


def for_role(view: dict, user) -> dict:
    """Recordings are for supervisors and admins, here as on the pages."""
    if user.role not in ("supervisor", "admin"):
        view = {**view, "recording_url": None}
    return view


def own_only(user) -> int | None:
    """Staff see and resolve their own tickets; supervisors and admins all of them."""
    return own_staff_id(user)


async def list_tickets(request: web.Request) -> web.Response:
    user = await api_user(request)
    start, end = date_range(request)
    status = request.query.get("status") or None
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session, session.begin():
        try:
            rows = await lifecycle.list_tickets(session, settings=settings, start=start, end=end,
                                              status=status, owner_staff_id=own_only(user))
        except lifecycle.TicketError as exc:
            raise error(web.HTTPBadRequest, str(exc)) from None
        audit(session, now=request.app[CLOCK](), user_name=user.name, action="ticket_read",
              subject=" ".join(t["number"] for t in rows)[:2000] or "(none)")
    return web.json_response({"tickets": [for_role(row, user) for row in rows]})


async def create(request: web.Request) -> web.Response:
    """`POST /api/tickets` {category, description?, resident_phone?, call_sid?, department?,
    owner_phone?}: owner by 首问负责制 (the call's answerer, the user's own staff record,
    else the supervisor)."""
    user = await api_user(request)
    body = await body_of(request)
    category = text_field(body, "category", required=True)
    description = text_field(body, "description")
    department = text_field(body, "department") or None
    raw_phone = text_field(body, "resident_phone")
    call_sid = text_field(body, "call_sid")
    owner_phone = text_field(body, "owner_phone")
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    try:
        phone = normalise(raw_phone) if raw_phone else None
        owner_phone = normalise(owner_phone) if owner_phone else ""
    except InvalidPhone as exc:
        raise error(web.HTTPBadRequest, str(exc)) from None
    async with request.app[SESSIONS]() as session, session.begin():
        call = None
        if call_sid:
            call = await session.scalar(select(Call).where(Call.sid == call_sid))
            if call is None:
                raise error(web.HTTPBadRequest, f"unknown call_sid {call_sid}")
            if not await calllog.may_see(session, user=user, call=call):
                # As on the pages: no ticket on a call that never rang them, and so not
                # that caller's number in the reply.
                raise error(web.HTTPForbidden, "staff may open tickets only on calls that rang them")
        owner_id = None
        if owner_phone:
            owner_id = await session.scalar(select(Staff.id).where(Staff.phone == owner_phone))
            if owner_id is None:
                raise error(web.HTTPBadRequest, f"no staff member with phone {owner_phone}")
        elif not (call and call.answered_by_staff_id) and user.staff_id:
            owner_id = user.staff_id
        resident_id = None
        if phone:
            resident_id = await session.scalar(select(Resident.id).where(Resident.phone == phone))
        try:
            ticket = await lifecycle.create_ticket(
                session, settings=settings, now=now, category=category, actor=user.name,
                call=call, resident_id=resident_id, resident_phone=phone,
                description=description, owner_staff_id=owner_id, department=department,
            )
        except lifecycle.TicketError as exc:
            raise error(web.HTTPBadRequest, str(exc)) from None
        result = await lifecycle.ticket_view(session, ticket, settings=settings)
    return web.json_response(for_role(result, user), status=201)


async def change(request: web.Request, work) -> web.Response:
    """Run `work(session, ticket, user, body, now)` in one transaction; answer the ticket."""
    user = await api_user(request)
    body = await body_of(request)
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        ticket = await load(session, request)
        if own_only(user) is not None and ticket.owner_staff_id != own_only(user):
            raise error(web.HTTPForbidden, "staff may change only the tickets they own")
        try:
            await work(session, ticket, user, body, now)
        except (lifecycle.TicketError, followup.FollowUpError) as exc:
            raise error(web.HTTPConflict, str(exc)) from None
        result = await lifecycle.ticket_view(session, ticket, settings=settings)
    return web.json_response(for_role(result, user))


async def resolve(request: web.Request) -> web.Response:
    """`POST /api/tickets/{id}/resolve` {"note": "…"}: resolved, follow-up call scheduled."""
    settings = request.app[SETTINGS]

    async def work(session, ticket, user, body, now):
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor=user.name,
                              now=now, note=text_field(body, "note"))

    return await change(request, work)
