"""`GET /`: the dashboard. Supervisors and admins see the centre; staff see their own work."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from ivr.calls import notices, presence
from ivr.platform.resources import CLOCK, JOURNAL, READER, SETTINGS, WRITER
from ivr.reporting import dashboard, spike
from models import Staff

from . import charts
from .access import MANAGERS, page, user_of
from .render import language, query_day, render, translator

# The rows of the figures table, in the order a supervisor reads them. Open and overdue
# tickets are a snapshot: shown once, in the tiles, as of now.
FIGURE_ROWS = [
    ("three_ring_rate", "percent"), ("answered_within_20s_rate", "percent"),
    ("abandon_rate", "percent"), ("average_ring_seconds", "seconds"),
    ("average_speed_of_answer", "seconds"), ("inbound_calls", "count"),
    ("outbound_calls", "count"), ("transfers_offered", "count"),
    ("transfers_answered", "count"), ("answered_within_three_rings", "count"),
    ("abandoned_calls", "count"), ("queued_calls", "count"),
    ("average_queue_wait_seconds", "seconds"), ("longest_queue_wait_seconds", "seconds"),
    ("abandoned_in_queue", "count"), ("abandoned_in_queue_waits", "waits"),
    ("tickets_created", "count"),
    ("follow_up_rate", "percent"), ("follow_ups_pending", "count"), ("satisfaction_rate", "percent"),
    ("fee_reminder_coverage", "percent"),
]


# Figures of the long table that name a set of calls: each links to the call log's list
# of them, for the column's dates.
PERIOD_LINKS = {
    "inbound_calls": "/calls?direction=inbound",
    "outbound_calls": "/calls?direction=outbound",
    "abandoned_calls": "/calls?outcome=abandoned",
}


def chosen_day(request: web.Request) -> date:
    settings = request.app[SETTINGS]
    return query_day(request.query.get("date"),
                     request.app[CLOCK]().astimezone(settings.tz).date())


def target_text(name: str) -> str | None:
    if name not in dashboard.TARGETS:
        return None
    direction, value = dashboard.TARGETS[name]
    shown = f"{value * 100:g}%" if isinstance(value, float) else str(value)
    return ("≥ " if direction == ">=" else "≤ ") + shown


@page()
async def home(request: web.Request) -> web.Response:
    user = user_of(request)
    if user.role not in MANAGERS:
        return await my_work(request)
    settings = request.app[SETTINGS]
    day = chosen_day(request)
    now = request.app[CLOCK]()
    async with request.app[READER]() as session:
        board = await dashboard.build(session, settings=settings, today=day, now=now,
                                      store=request.app[WRITER])
        open_notices = await notices.active(session)
        notice_figures = await notices.figures(session, [n.id for n in open_notices])
        alarm = await spike.spike(session, settings=settings, now=now)
        floor = await on_the_floor(session, settings=settings, now=now)
    t = translator(language(request))
    order = [r[0] for r in FIGURE_ROWS] + list(dashboard.SNAPSHOTS)
    missed = {name for f in board.figures.values() for name in f["missed"]}
    missed |= {tile.name for tile in board.tiles if tile.snapshot and tile.missed}
    return render(
        request, "dashboard.html", board=board, day=day, rows=FIGURE_ROWS,
        missed=sorted(missed, key=order.index),
        targets={name: target_text(name) for name in order},
        as_of=now.astimezone(settings.tz).strftime("%H:%M"), period_links=PERIOD_LINKS,
        menu_choices=dashboard.MENU_CHOICES,
        histogram=charts.ring_histogram(board.histogram["bins"],
                                        three_rings=settings.three_rings_seconds, t=t),
        trend=charts.daily_trend(board.trend, t=t),
        heat=charts.heat_map(board.heat, t=t),
        three_rings=settings.three_rings_seconds, floor=floor,
        signed_out_on_shift=[p for p in floor if p["on_shift"] and not p["signed_in"]],
        notices=[{"id": n.id, "where": n.where, "text": n.text,
                  "until": n.until.astimezone(settings.tz) if n.until else None,
                  **notice_figures[n.id]} for n in open_notices],
        spike=alarm,
        notice_error=request.query.get("notice_error"),
        dead_letters=request.app[JOURNAL].dead_letters(),
        dead_letter_file=str(request.app[JOURNAL].dead_letter_path),
    )


async def on_the_floor(session, *, settings, now) -> list[dict]:
    """Who is on shift or signed in, and their state now (值班状态)."""
    return [{"staff_id": s.id, "staff": s.name, "phone": s.phone, "department": s.department,
             "state": p.state, "on_shift": p.on_shift, "signed_in": p.signed_in,
             "since": p.since.astimezone(settings.tz).strftime("%H:%M") if p.since else ""}
            for s, p in await presence.roll_call(session, settings=settings, now=now)]


async def my_work(request: web.Request) -> web.Response:
    """A staff member's own figures (today, week, month) and open tickets."""
    user = user_of(request)
    settings = request.app[SETTINGS]
    day = chosen_day(request)
    now = request.app[CLOCK]()
    rows, own_tickets, person, mine = {}, [], None, None
    async with request.app[READER]() as session:
        if user.staff_id is not None:
            person = await session.get(Staff, user.staff_id)
        if person is not None:
            mine = (await presence.presences(session, settings=settings, now=now,
                                             staff_ids=[person.id]))[person.id]
        for period in dashboard.periods(settings=settings, today=day):
            figures = await dashboard.stats.call_answer_stats(
                session, settings=settings, start=period.start, end=period.end, now=now,
                store=request.app[WRITER])
            rows[period.key] = next((r for r in figures["per_staff"]
                                     if person and r["phone"] == person.phone), None)
        counts = {"open_tickets": 0, "overdue_tickets": 0}
        if person is not None:
            counts = await dashboard.ticket_counts(session, now=now, owner_staff_id=person.id)
            own_tickets = await dashboard.open_tickets_owned(session, settings=settings,
                                                             staff=person)
    return render(request, "my.html", day=day, rows=rows, person=person, counts=counts,
                  presence=mine,
                  tickets=own_tickets, now_iso=now.astimezone(settings.tz).isoformat())
