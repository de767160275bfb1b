"""签入/签出 on the pages: a staff member for themself, a supervisor for anyone."""

from __future__ import annotations

from aiohttp import web

from ivr.people import sessions, sign_ins
from ivr.platform.resources import CLOCK, SESSIONS
from models import Staff

from .access import MANAGERS, forbidden, form_of, page, user_of
from .render import path_id


@page()
async def sign_in_out(request: web.Request) -> web.Response:
    """`POST /staff/{id}/sign-in` with `signed_in` 1 (签入) or 0 (签出), then back."""
    user = user_of(request)
    staff_id = path_id(request)
    if staff_id is None:
        raise web.HTTPNotFound()
    if user.role not in MANAGERS and user.staff_id != staff_id:
        return forbidden(request)  # staff sign only themselves in and out
    form = await form_of(request)
    signed_in = str(form.get("signed_in", "")) == "1"
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        person = await session.get(Staff, staff_id)
        if person is None:
            raise web.HTTPNotFound()
        await sign_ins.record(session, staff=person, signed_in=signed_in, now=now,
                              source="page", actor=user.name)
        sessions.audit(session, now=now, user_name=user.name,
                       action="staff_sign_in" if signed_in else "staff_sign_out",
                       subject=f"{person.name} {person.phone}")
    raise web.HTTPSeeOther("/")
