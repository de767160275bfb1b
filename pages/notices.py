"""Storm mode on the dashboard: post an outage notice, close it (its SMS go out then)."""

from __future__ import annotations

from aiohttp import web

from ivr.calls import notices
from ivr.people import sessions
from ivr.platform.clock import parse_local_moment
from ivr.platform.refusals import Refusal
from ivr.platform.resources import CLOCK, SESSIONS, SETTINGS

from .access import MANAGERS, form_of, page, user_of
from .render import language, path_id


@page(*MANAGERS)
async def post_notice(request: web.Request) -> web.Response:
    """`POST /notices`: where, what, until (`HH:MM` or a `datetime-local` field)."""
    form = await form_of(request)
    settings, now, user = request.app[SETTINGS], request.app[CLOCK](), user_of(request)
    try:
        until_text = str(form.get("until") or "").strip()
        until = parse_local_moment(until_text, tz=settings.tz, now=now) if until_text else None
        async with request.app[SESSIONS]() as session, session.begin():
            notice = await notices.add(session, where=str(form.get("where") or ""),
                                       text=str(form.get("text") or ""), until=until,
                                       actor=user.name, now=now)
            sessions.audit(session, now=now, user_name=user.name, action="notice_posted",
                           subject=f"#{notice.id}: {notice.where} {notice.text}")
    except Refusal as exc:
        raise web.HTTPSeeOther("/?" + _query(notice_error=exc.said(language(request))))
    except ValueError as exc:
        raise web.HTTPSeeOther("/?" + _query(notice_error=str(exc)))
    raise web.HTTPSeeOther("/?" + _query(notice_posted=str(notice.id)))


@page(*MANAGERS)
async def close_notice(request: web.Request) -> web.Response:
    """`POST /notices/{id}/close`: the notice ends; everyone who asked gets one SMS."""
    settings, now, user = request.app[SETTINGS], request.app[CLOCK](), user_of(request)
    notice_id = path_id(request)
    if notice_id is None:
        raise web.HTTPNotFound()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            notice, queued = await notices.close(session, notice_id=notice_id,
                                                 settings=settings, now=now)
            sessions.audit(session, now=now, user_name=user.name, action="notice_closed",
                           subject=f"#{notice.id}: {queued} SMS")
    except notices.NoticeError:
        raise web.HTTPNotFound()
    raise web.HTTPSeeOther("/?" + _query(notice_closed=str(notice.id), sms=str(queued)))


def _query(**fields: str) -> str:
    from urllib.parse import urlencode

    return urlencode(fields)
