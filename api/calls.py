"""`GET /api/calls`, `GET /api/stats` and `GET /api/live`."""

from __future__ import annotations

from aiohttp import web

from ivr.calls import calllog
from ivr.people.users import own_staff_id
from ivr.platform.resources import CLOCK, READER, SETTINGS, WRITER
from ivr.reporting import live, stats

from .auth import api_user, date_range, forbidden

SUPERVISORS = ("supervisor", "admin")


async def calls(request: web.Request) -> web.Response:
    """Supervisors see every call; a staff member's token, the calls that rang them."""
    user = await api_user(request)
    start, end = date_range(request)
    own = own_staff_id(user)
    settings = request.app[SETTINGS]
    async with request.app[READER]() as session:
        rows = await calllog.list_calls(session, settings=settings, start=start, end=end,
                                        staff_id=own)
    return web.json_response({"calls": rows})


async def call_stats(request: web.Request) -> web.Response:
    """The centre's figures: supervisors and admins only."""
    user = await api_user(request)
    if user.role not in SUPERVISORS:
        raise forbidden("the statistics are for supervisors")
    start, end = date_range(request)
    settings = request.app[SETTINGS]
    async with request.app[READER]() as session:
        figures = await stats.call_answer_stats(session, settings=settings, start=start, end=end,
                                                now=request.app[CLOCK](),
                                                store=request.app[WRITER])
    return web.json_response(figures)


async def live_view(request: web.Request) -> web.Response:
    """Now: calls in progress, who is free, today's figures (supervisors and admins)."""
    user = await api_user(request)
    if user.role not in SUPERVISORS:
        raise forbidden("the live view is for supervisors")
    settings = request.app[SETTINGS]
    async with request.app[READER]() as session:
        view = await live.live(session, settings=settings, now=request.app[CLOCK]())
    return web.json_response(view)
