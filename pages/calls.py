"""The call log with filters, each call's timeline, and the exports (CSV, XLSX)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy import select

from ivr.calls.calllog import STAFF_ROLES, CallFilter, may_see, search_calls, timeline
from ivr.people.users import own_staff_id
from ivr.platform.resources import CLOCK, READER, SETTINGS
from ivr.reporting import exports
from ivr.tickets import reports
from models import Call, Staff

from .access import MANAGERS, forbidden, page, user_of
from .render import choice_field, number_field, query_day, render

PAGE_SIZE = 50
OUTCOMES = ("answered", "message", "abandoned", "missed", "self_service", "ivr")
MENU = ("person", "repair", "emergency", "complaint", "fees", "inquiry", "callback",
        "follow_up")


def filters_from(request: web.Request) -> tuple[CallFilter, dict]:
    """The query's filters; a staff user is always narrowed to their own calls."""
    settings = request.app[SETTINGS]
    q = request.query
    today = request.app[CLOCK]().astimezone(settings.tz).date()
    first = query_day(q.get("from"), today)
    last = query_day(q.get("to"), first)
    if last < first:
        raise web.HTTPBadRequest(text="to is before from")
    staff_id = number_field(q.get("staff"), "staff")
    staff_as = choice_field(q.get("staff_as"), "staff_as", choices=STAFF_ROLES)
    user = user_of(request)
    if user.role not in MANAGERS:
        staff_id = own_staff_id(user)
    elif staff_id is not None:
        staff_as = staff_as or "answered"  # the agreed default: the calls the person took
    f = CallFilter(
        start=datetime.combine(first, time(0), settings.tz),
        end=datetime.combine(last + timedelta(days=1), time(0), settings.tz),
        staff_id=staff_id, menu_choice=q.get("menu") or None, outcome=q.get("outcome") or None,
        resident=(q.get("resident") or "").strip()[:50] or None,
        direction=q.get("direction") if q.get("direction") in ("inbound", "outbound") else None,
        staff_as=staff_as,
    )
    shown = {"from": first.isoformat(), "to": last.isoformat(),
             "staff": str(staff_id) if staff_id and user.role in MANAGERS else "",
             "staff_as": staff_as or "",
             "menu": f.menu_choice or "", "outcome": f.outcome or "",
             "resident": f.resident or "", "direction": f.direction or ""}
    return f, shown


async def staff_choices(session) -> list[dict]:
    return [{"id": s.id, "name": s.name}
            for s in (await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all()]


@page()
async def call_log(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    f, shown = filters_from(request)
    page_no = max(1, number_field(request.query.get("page"), "page", default=1))
    async with request.app[READER]() as session:
        total, calls = await search_calls(session, settings=settings, filters=f,
                                          limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        people = await staff_choices(session)
    query = {k: v for k, v in shown.items() if v}
    return render(request, "calls.html", calls=calls, total=total, page_no=page_no,
                  pages=max(1, -(-total // PAGE_SIZE)), shown=shown, people=people,
                  outcomes=OUTCOMES, menu=MENU, staff_roles=STAFF_ROLES, query=urlencode(query),
                  three_rings=settings.three_rings_seconds)


@page()
async def call_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    user = user_of(request)
    sid = request.match_info["sid"]
    async with request.app[READER]() as session:
        call = await session.scalar(select(Call).where(Call.sid == sid))
        if call is None:
            return render(request, "error.html", status=404, code=404, message_key="not_found")
        if not await may_see(session, user=user, call=call):
            return forbidden(request)
        _, found = await search_calls(session, settings=settings, filters=CallFilter(
            start=call.started_at, end=call.started_at + timedelta(seconds=1), sid=sid))
        view = found[0]
        events = await timeline(session, call=call)
    show_recordings = user.role in MANAGERS
    rows = []
    for event in events:
        params = dict(event.params or {})
        if not show_recordings:
            params = {k: v for k, v in params.items() if not k.startswith("Recording")}
        rows.append({
            "kind": event.kind,
            "twilio_timestamp": event.twilio_timestamp.astimezone(settings.tz).isoformat()
            if event.twilio_timestamp else None,
            "received_at": event.received_at.astimezone(settings.tz).isoformat(),
            "sequence": event.sequence_number,
            "status": params.get("DialCallStatus") or params.get("CallStatus") or "",
            "digits": params.get("Digits") or params.get("SpeechResult", ""),
            "call_sid": event.call_sid,
            "params": sorted(params.items()),
        })
    recordings = view["recording_urls"] if show_recordings else []
    return render(request, "call.html", call=view, events=rows, recordings=recordings,
                  show_recordings=show_recordings, three_rings=settings.three_rings_seconds)


EXPORTS = {
    "reception": ("电话接待记录本", exports.reception_record),
    "calls": ("通话记录", exports.call_log),
}


@page()
async def export(request: web.Request) -> web.Response:
    """`/exports/{what}.{fmt}`: the reception record or the call log, CSV or XLSX."""
    what, fmt = request.match_info["what"], request.match_info["fmt"]
    if what not in EXPORTS or fmt not in ("csv", "xlsx"):
        raise web.HTTPNotFound()
    settings = request.app[SETTINGS]
    f, shown = filters_from(request)
    title, build = EXPORTS[what]
    async with request.app[READER]() as session:
        columns, rows = await build(session, settings=settings, filters=f)
    span = shown["from"] if shown["from"] == shown["to"] else f"{shown['from']}_{shown['to']}"
    name = f"{title}_{span}.{fmt}"
    if fmt == "csv":
        body, mime = exports.to_csv(columns, rows), "text/csv; charset=utf-8"
    else:
        body = exports.to_xlsx(columns, rows, title=title)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ascii_name = f"{what}_{span}.{fmt}"
    return web.Response(body=body, headers={
        "Content-Type": mime,
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store",
    })


@page(*MANAGERS)
async def monthly_report(request: web.Request) -> web.Response:
    """`/reports/monthly.{fmt}?month=YYYY-MM`: the monthly complaint analysis (issue 4's
    report) for the quality department, as a download."""
    settings = request.app[SETTINGS]
    fmt = request.match_info["fmt"]
    now = request.app[CLOCK]()
    month = request.query.get("month") or now.astimezone(settings.tz).strftime("%Y-%m")
    async with request.app[READER]() as session:
        try:
            report = await reports.monthly(session, settings=settings, month=month, now=now)
        except reports.ReportError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    if fmt == "csv":
        body, mime = reports.monthly_csv(report), "text/csv; charset=utf-8"
    else:
        body = reports.monthly_xlsx(report)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = f"月度投诉分析_{month}.{fmt}"
    return web.Response(body=body, headers={
        "Content-Type": mime, "Cache-Control": "no-store",
        "Content-Disposition": f"attachment; filename=\"monthly_{month}.{fmt}\"; "
                               f"filename*=UTF-8''{quote(name)}"})
