"""`GET /wall`: the wallboard page, and `GET /wall/events`, the board pushed as it changes.

The stream is server-sent events (`pages.stream`): the board is read from the database
every `IVR_WALL_POLL_SECONDS` and sent when anything on it changed.
"""

from __future__ import annotations

import json

from aiohttp import web

from ivr.platform.resources import CLOCK, READER, SETTINGS
from ivr.reporting import wall

from .access import MANAGERS, page
from .render import language, render, translator
from .stream import push

# The words wall.js draws with, in the page's language.
WORDS = ("wall_live", "wall_reconnecting", "wall_spike", "spike_alarm", "notices",
         "call_menu", "call_queued", "call_ringing", "call_talking",
         "alarm_three_ring_rate", "alarm_answered_within_20s_rate", "alarm_overdue_tickets",
         "state_available", "state_ringing", "state_talking", "state_wrap_up", "state_away",
         "menu_person", "menu_repair", "menu_emergency", "menu_complaint", "menu_fees",
         "menu_inquiry")


async def snapshot(request: web.Request) -> dict:
    async with request.app[READER]() as session:
        return await wall.board(session, settings=request.app[SETTINGS], now=request.app[CLOCK]())


@page(*MANAGERS)
async def wall_page(request: web.Request) -> web.Response:
    board = await snapshot(request)
    t = translator(language(request))
    return render(request, "wall.html", board=json.dumps(board, ensure_ascii=False),
                  words=json.dumps({key: t(key) for key in WORDS}, ensure_ascii=False))


@page(*MANAGERS)
async def wall_events(request: web.Request) -> web.StreamResponse:
    return await push(request, event="board", snapshot=lambda: snapshot(request))
