"""Admins manage dashboard users and staff."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from ivr.people import sessions
from ivr.people.users import UserError, add_user, find_user
from ivr.platform.resources import CLOCK, SESSIONS
from models import Staff, User
from models.user import ROLES

from .access import ADMIN, form_of, page, user_of
from .render import number_field, path_id, render


@page(ADMIN)
async def admin(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
        names = {s.id: s.name for s in staff}
        users = [{"name": u.name, "role": u.role, "staff": names.get(u.staff_id)}
                 for u in (await session.scalars(select(User).order_by(User.name))).all()]
    return render(request, "admin.html", users=users, roles=ROLES,
                  staff=[{"id": s.id, "name": s.name, "phone": s.phone,
                          "department": s.department, "shifts": s.shifts, "active": s.active}
                         for s in staff],
                  error=request.query.get("error"), saved=request.query.get("saved"))


@page(ADMIN)
async def save_user(request: web.Request) -> web.Response:
    """Add a user or change one's role, password or staff link; they are signed out."""
    form = await form_of(request)
    name = str(form.get("name", "")).strip()
    staff_id = number_field(str(form.get("staff_id", "")), "staff_id")
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        try:
            async with session.begin():
                existing = await find_user(session, name)
                password = str(form.get("password", ""))
                if existing is None and len(password) < 8:
                    raise UserError("password_short")
                if password and len(password) < 8:
                    raise UserError("password_short")
                user = await add_user(session, name=name, role=str(form.get("role", "")),
                                      password=password or None, now=now)
                if staff_id is not None and await session.get(Staff, staff_id) is None:
                    raise web.HTTPBadRequest(text=f"staff_id: no staff member {staff_id}")
                user.staff_id = staff_id
                if existing is not None:
                    await sessions.end_sessions_of(session, user_id=user.id)
                sessions.audit(session, now=now, user_name=user_of(request).name,
                               action="user_saved", subject=f"{user.name} ({user.role})")
        except UserError as exc:
            raise web.HTTPSeeOther("/admin?error=" + quote(str(exc))) from None
    raise web.HTTPSeeOther("/admin?saved=" + name)


@page(ADMIN)
async def toggle_staff(request: web.Request) -> web.Response:
    """An inactive staff phone is never rung; the history stays."""
    staff_id = path_id(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        person = await session.get(Staff, staff_id) if staff_id else None
        if person is None:
            raise web.HTTPNotFound()
        person.active = not person.active
        person.updated_at = now
        sessions.audit(session, now=now, user_name=user_of(request).name,
                       action="staff_active" if person.active else "staff_inactive",
                       subject=f"{person.name} {person.phone}")
    raise web.HTTPSeeOther("/admin")
