"""`GET /reports`: the daily count (日盘点) and the monthly complaint analysis (月度投诉分析).

Both figures come from `ivr.tickets.reports`, the same functions as `ivr report daily|monthly`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from aiohttp import web

from ivr.platform.resources import CLOCK, READER, SETTINGS
from ivr.tickets import lifecycle, reports

from .access import MANAGERS, page
from .render import query_day, render


@page(*MANAGERS)
async def reports_page(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    today = now.astimezone(settings.tz).date()
    month = request.query.get("month") or today.strftime("%Y-%m")
    day = query_day(request.query.get("date"), today)
    at = now if day >= today else datetime.combine(day + timedelta(days=1), time(0), settings.tz)
    async with request.app[READER]() as session:
        try:
            daily = await reports.daily(session, settings=settings, at=min(at, now), day=day)
            monthly = await reports.monthly(session, settings=settings, month=month, now=now)
        except reports.ReportError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
    return render(
        request, "reports.html", daily=daily, monthly=monthly, month=month, day=day.isoformat(),
        summary=reports.summary_rows(monthly), by_category=reports.category_rows(monthly),
        by_department=reports.department_rows(monthly),
        complaints=reports.complaint_rows(monthly), figure_header=reports.FIGURE_HEADER,
        complaint_header=reports.COMPLAINT_HEADER, labels=lifecycle.CATEGORY_LABELS,
    )
