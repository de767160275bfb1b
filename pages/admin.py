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

from .access import ADMIN, page, user_of
from .render import render


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
    form = await request.post()
    name = str(form.get("name", "")).strip()
    staff_text = str(form.get("staff_id", "")).strip()
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
                user.staff_id = int(staff_text) if staff_text.isdigit() else None
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
    staff_id = request.match_info["id"]
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        person = await session.get(Staff, int(staff_id)) if staff_id.isdigit() else None
        if person is None:
            raise web.HTTPNotFound()
        person.active = not person.active
        person.updated_at = now
        sessions.audit(session, now=now, user_name=user_of(request).name,
                       action="staff_active" if person.active else "staff_inactive",
                       subject=f"{person.name} {person.phone}")
    raise web.HTTPSeeOther("/admin")
