"""`GET /desk`: the staff member's screen for the caller ringing or talking with them, and
`GET /desk/events`, the same pushed as it changes (the wallboard's stream, `pages.stream`,
scoped to the signed-in person's own legs), so the caller's address and open tickets are
on screen while the phone still rings, with no reload.

A supervisor may open any call's desk with `?call=SID` (a still picture, not pushed).
"""

from __future__ import annotations

import json

from aiohttp import web

from ivr.platform.resources import CLOCK, READER, SETTINGS
from ivr.reporting import desk
from ivr.tickets import lifecycle
from models.ticket import CATEGORIES, STATUSES

from .access import MANAGERS, page, user_of
from .render import language, render, translator
from .stream import push

# The words desk.js draws with, in the page's language.
WORDS = ("wall_live", "wall_reconnecting", "call_menu", "call_queued", "call_ringing",
         "call_talking", "call_ended", "resident_name", "caller_address", "arrears",
         "menu_choice", "started_at", "unknown_caller", "timeline", "open_tickets_of_caller",
         "number", "category", "status", "due_at", "description", "none",
         "menu_person", "menu_repair", "menu_emergency", "menu_complaint", "menu_fees",
         "menu_inquiry")


async def own_board(request: web.Request) -> dict:
    async with request.app[READER]() as session:
        return await desk.board(session, settings=request.app[SETTINGS],
                                staff_id=user_of(request).staff_id, now=request.app[CLOCK]())


@page()
async def desk_page(request: web.Request) -> web.Response:
    sid = request.query.get("call")
    one_call = bool(sid) and user_of(request).role in MANAGERS
    if one_call:
        async with request.app[READER]() as session:
            board = await desk.one_call(session, settings=request.app[SETTINGS], sid=sid,
                                        now=request.app[CLOCK]())
    else:
        board = await own_board(request)
    lang = language(request)
    t = translator(lang)
    words = {key: t(key) for key in WORDS}
    words.update({f"category_{c}": lifecycle.category_label(c, lang) for c in CATEGORIES})
    words.update({f"status_{s}": lifecycle.STATUS_LABELS.get(s, s) if lang == "zh" else s
                  for s in STATUSES})
    return render(request, "desk.html", board=json.dumps(board, ensure_ascii=False),
                  words=json.dumps(words, ensure_ascii=False),
                  events="" if one_call else "/desk/events", categories=CATEGORIES,
                  created=request.query.get("created"))


@page()
async def desk_events(request: web.Request) -> web.StreamResponse:
    return await push(request, event="desk", snapshot=lambda: own_board(request))
