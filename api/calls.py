"""`GET /api/calls` and `GET /api/stats`."""

from __future__ import annotations

from aiohttp import web

from ivr import calllog, stats
from ivr.resources import SESSIONS, SETTINGS

from .auth import api_user, date_range


async def calls(request: web.Request) -> web.Response:
    await api_user(request)
    start, end = date_range(request)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        rows = await calllog.list_calls(session, settings=settings, start=start, end=end)
    return web.json_response({"calls": rows})


async def call_stats(request: web.Request) -> web.Response:
    await api_user(request)
    start, end = date_range(request)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        figures = await stats.call_answer_stats(session, settings=settings, start=start, end=end)
    return web.json_response(figures)
