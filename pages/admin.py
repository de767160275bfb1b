"""Admins manage dashboard users and staff; supervisors start a fee-reminder campaign."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from ivr.outbound import campaigns
from ivr.people import sessions
from ivr.people.users import UserError, add_user, find_user
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS
from models import Staff, User
from models.user import ROLES

from .access import ADMIN, MANAGERS, form_of, page, user_of
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


@page(*MANAGERS)
async def start_fee_campaign(request: web.Request) -> web.Response:
    """`POST /campaigns/fee-reminder`: every household in arrears queued for a call (issue 5)."""
    user = user_of(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            campaign = await campaigns.start(session, settings=request.app[SETTINGS], now=now,
                                             created_by=user.name)
            sessions.audit(session, now=now, user_name=user.name, action="fee_campaign",
                           subject=f"#{campaign.id}: {campaign.households}")
    raise web.HTTPSeeOther(f"/campaigns/{campaign.id}")


@page(*MANAGERS)
async def campaign_page(request: web.Request) -> web.Response:
    campaign_id = path_id(request)
    async with request.app[SESSIONS]() as session:
        try:
            if campaign_id is None:
                raise campaigns.CampaignError("no such campaign")
            report = await campaigns.report(session, campaign_id=campaign_id)
        except campaigns.CampaignError:
            return render(request, "error.html", status=404, code=404, message_key="not_found")
    return render(request, "campaign.html", report=report)
