"""The supervisors' dashboard figures: today, this week and this month against targets.

The call-answer figures are `stats.call_answer_stats` itself (the same numbers as
`/api/stats`); this module adds what a supervisor reads beside them:

- **Speed of answer** (接听速度), `stats.speed_of_answer`: the caller's wait for a
  person, in line and across every phone of the hunt. *Answered within 20 s* = such
  calls with a speed of answer ≤ 20 s ÷ inbound calls offered to a person (a phone rung
  or a place in line): a caller nobody answered counts against it.
- **Abandoned** (放弃率) = calls whose caller hung up while waiting for a person ÷ inbound
  calls offered to a person.
- Calls by menu choice; open and overdue tickets (now); the follow-up and satisfaction
  rates of `followup.rates` (inside `stats.call_answer_stats`); fee-reminder coverage of
  the campaigns started in the period, as `campaigns.report` defines it (households that heard the reminder or got a
  message ÷ households still in arrears).

Headline tiles (`tiles`) read the chosen day at a glance: each figure with its target,
its base (n: the calls, tickets or answers it is computed over) and its change from the
day before. Open and overdue tickets are a snapshot, counted once, as of now.

Charts (ring-time histogram, daily trend, hour × weekday heat map) cover the rolling
`ROLLING_DAYS` ending on the chosen day: the closed days' counts from the per-day
rollup (`rollups`), today's from three grouped SQL queries (legs by ring time; calls and
legs by UTC hour), placed in local days and weekday × hour in Python; `pages/charts.py`
draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.outbound import campaigns
from ivr.platform.config import Settings
from ivr.reporting import rollups, stats, sums
from ivr.tickets import lifecycle
from models import Campaign, Staff, Ticket

ANSWER_SECONDS_TARGET = stats.ANSWER_SECONDS_TARGET
# name: (direction, target). ">=" a rate must reach it; "<=" must stay under it.
TARGETS: dict[str, tuple[str, float]] = {
    "three_ring_rate": (">=", 1.0),
    "answered_within_20s_rate": (">=", 0.80),
    "abandon_rate": ("<=", 0.10),
    "follow_up_rate": (">=", 1.0),
    "satisfaction_rate": (">=", 0.85),
    "fee_reminder_coverage": (">=", 1.0),
    "overdue_tickets": ("<=", 0),
}
MENU_CHOICES = ("person", "repair", "emergency", "complaint", "fees", "inquiry")
HISTOGRAM_MAX = sums.HISTOGRAM_MAX  # seconds; longer rings fall in the last bar
ROLLING_DAYS = 30  # the charts' window, ending on the chosen day
# The headline tiles, in reading order: each figure and the figure that is its base (n).
TILE_BASES = {
    "three_ring_rate": "transfers_offered",
    "answered_within_20s_rate": "calls_offered_to_person",
    "abandon_rate": "calls_offered_to_person",
    "overdue_tickets": "open_tickets",
    "follow_up_rate": "follow_ups_due",
    "satisfaction_rate": "satisfaction_answers",
}
SNAPSHOTS = ("open_tickets", "overdue_tickets")  # as of now, not per period


@dataclass
class Period:
    key: str  # today | week | month
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def span(*, settings: Settings, key: str, first: date, last: date) -> Period:
    """The local days first … last, in IVR_TIMEZONE, as a UTC range."""
    tz = settings.tz
    return Period(key, datetime.combine(first, time(0), tz),
                  datetime.combine(last + timedelta(days=1), time(0), tz), first, last)


def periods(*, settings: Settings, today: date) -> list[Period]:
    """Today, this week (from Monday) and this month, in IVR_TIMEZONE, as UTC ranges."""
    monday = today - timedelta(days=today.weekday())
    month_first = today.replace(day=1)
    next_month = (month_first + timedelta(days=32)).replace(day=1)
    return [span(settings=settings, key="today", first=today, last=today),
            span(settings=settings, key="week", first=monday, last=monday + timedelta(days=6)),
            span(settings=settings, key="month", first=month_first,
                 last=next_month - timedelta(days=1))]


def day_before(*, settings: Settings, today: date) -> Period:
    """The period a day view is compared with."""
    yesterday = today - timedelta(days=1)
    return span(settings=settings, key="previous", first=yesterday, last=yesterday)


def rolling(*, settings: Settings, today: date) -> Period:
    """The charts' window: the `ROLLING_DAYS` days ending on `today`, whatever the month."""
    return span(settings=settings, key="rolling", first=today - timedelta(days=ROLLING_DAYS - 1),
                last=today)


def misses(name: str, value: float | int | None) -> bool:
    """True when a figure with a target misses it (a figure with no data misses nothing)."""
    if name not in TARGETS or value is None:
        return False
    direction, target = TARGETS[name]
    return value < target if direction == ">=" else value > target


# The speed-of-answer figures are `/api/stats`'s own (`stats.speed_of_answer`).
speed_of_answer = stats.speed_of_answer


async def fee_reminder_coverage(session: AsyncSession, *, start: datetime, end: datetime) -> dict:
    """Coverage over the campaigns started in the period, as `campaigns.report` counts it."""
    ids = (await session.scalars(
        select(Campaign.id).where(Campaign.kind == "fee_reminder", Campaign.created_at >= start,
                                  Campaign.created_at < end).order_by(Campaign.id))).all()
    covered = in_arrears = 0
    for campaign_id in ids:
        report = await campaigns.report(session, campaign_id=campaign_id)
        covered += report["covered"]
        in_arrears += report["households_in_arrears"]
    return {"fee_reminder_campaigns": len(ids), "fee_reminder_households": in_arrears,
            "fee_reminder_called": covered,
            "fee_reminder_coverage": stats.rate(covered, in_arrears)}


async def ticket_counts(session: AsyncSession, *, now: datetime,
                        owner_staff_id: int | None = None) -> dict:
    # The active tickets only, by ix_tickets_status_due_at: a count over every ticket
    # ever made read the whole table (46 ms at a year of calls).
    query = (select(func.count(), func.count().filter(Ticket.due_at < now)).select_from(Ticket)
             .where(Ticket.status.in_(lifecycle.ACTIVE)))
    if owner_staff_id is not None:
        query = query.where(Ticket.owner_staff_id == owner_staff_id)
    open_n, overdue = (await session.execute(query)).one()
    return {"open_tickets": open_n, "overdue_tickets": overdue}


async def open_by_status(session: AsyncSession) -> dict[str, int]:
    """Tickets still being worked on, by status: each count links to its own list."""
    rows = dict((await session.execute(
        select(Ticket.status, func.count()).where(Ticket.status.in_(lifecycle.ACTIVE))
        .group_by(Ticket.status))).all())
    return {status: rows.get(status, 0) for status in lifecycle.ACTIVE}


async def period_figures(session: AsyncSession, *, settings: Settings, period: Period,
                         now: datetime | None = None, store: rollups.Store | None = None,
                         memo: dict | None = None) -> dict:
    """Every figure of one period; `missed` lists those that miss their target."""
    figures = await stats.call_answer_stats(session, settings=settings, start=period.start,
                                            end=period.end, now=now, store=store, charts=True,
                                            memo=memo)
    offered = figures["calls_offered_to_person"]
    figures["abandon_rate"] = stats.rate(figures["abandoned_calls"], offered)
    figures.update(await fee_reminder_coverage(session, start=period.start, end=period.end))
    figures["missed"] = sorted(name for name in TARGETS if misses(name, figures.get(name)))
    return figures


async def compared_figures(session: AsyncSession, *, settings: Settings, period: Period,
                           now: datetime, store: rollups.Store | None = None,
                           memo: dict | None = None) -> dict:
    """The rates of a period the tiles only compare with: no per-staff rows, no queue."""
    figures = await stats.call_answer_stats(session, settings=settings, start=period.start,
                                            end=period.end, now=now, detail=False, store=store,
                                            memo=memo)
    figures["abandon_rate"] = stats.rate(figures["abandoned_calls"],
                                         figures["calls_offered_to_person"])
    return figures


# --- headline tiles -----------------------------------------------------------------------

@dataclass
class Tile:
    """One headline figure of the day, read at a glance."""
    name: str
    value: float | int | None
    base: int  # n: what the figure is computed over
    target: tuple[str, float]  # (">=" or "<=", target)
    missed: bool
    change: float | None = None  # vs the day before: points for a rate, a count otherwise
    pending: int | None = None  # follow-ups whose 48 h window is still open
    snapshot: bool = False  # as of now, not of the day


def change(name: str, value: float | int | None, previous: float | int | None) -> float | None:
    """The change from the previous period: percentage points for a rate (one decimal),
    the difference for a count; None when either side has no figure."""
    if value is None or previous is None:
        return None
    if name.endswith("_rate"):
        return round((value - previous) * 100, 1)
    return value - previous


def tiles(*, day: dict, previous: dict, snapshot: dict) -> list[Tile]:
    """The headline tiles for a day's figures, against the day before; the ticket figures
    from the `snapshot` (now)."""
    shown = []
    for name, base in TILE_BASES.items():
        if name in SNAPSHOTS:
            shown.append(Tile(name, snapshot[name], snapshot[base], TARGETS[name],
                              misses(name, snapshot[name]), snapshot=True))
            continue
        shown.append(Tile(name, day[name], day[base] or 0, TARGETS[name], misses(name, day[name]),
                          change=change(name, day[name], previous.get(name)),
                          pending=day.get("follow_ups_pending") if name == "follow_up_rate"
                          else None))
    return shown


# --- charts -----------------------------------------------------------------------------

def ring_histogram(rings: dict[int, int]) -> dict:
    """Answered legs by ring seconds (0 … HISTOGRAM_MAX+), and the legs never answered,
    from `sums.ring_counts` (per day in the rollup)."""
    bins = [rings.get(seconds, 0) for seconds in range(HISTOGRAM_MAX + 1)]
    return {"bins": bins, "unanswered": rings.get(sums.UNANSWERED, 0)}


def hourly(hours: dict[datetime, list[int]], *, settings: Settings) -> dict[datetime, dict[str, int]]:
    """Per local hour: inbound calls, legs offered and answered within three rings.

    The UTC hours of `sums.hour_counts` (two grouped queries, or the rollup's hours of
    closed days), each placed in local time here: one pass serves both the daily trend
    and the weekday × hour map, whatever the number of days. Exact for zones whose offset
    is a whole number of hours (daylight saving included); a half-hour zone's calls fall
    in the local hour they began in."""
    local: dict[datetime, dict[str, int]] = {}
    for hour, (calls, offered, within) in hours.items():
        entry = local.setdefault(hour.astimezone(settings.tz),
                                 {"calls": 0, "offered": 0, "within": 0})
        entry["calls"] += calls
        entry["offered"] += offered
        entry["within"] += within
    return local


def daily_trend(hours: dict[datetime, dict[str, int]], *, first_day: date,
                last_day: date) -> list[dict]:
    """Per day: inbound calls, legs offered, answered within three rings, the rate."""
    days = {first_day + timedelta(days=i): {"calls": 0, "offered": 0, "within": 0}
            for i in range((last_day - first_day).days + 1)}
    for moment, counts in hours.items():
        day = days.get(moment.date())
        if day is not None:
            for key, n in counts.items():
                day[key] += n
    return [{"day": d, **c, "three_ring_rate": stats.rate(c["within"], c["offered"])}
            for d, c in days.items()]


def hour_weekday(hours: dict[datetime, dict[str, int]]) -> list[list[int]]:
    """Inbound calls by weekday (Monday = 0) and local hour: a 7 × 24 grid."""
    grid = [[0] * 24 for _ in range(7)]
    for moment, counts in hours.items():
        grid[moment.weekday()][moment.hour] += counts["calls"]
    return grid


# --- per staff ----------------------------------------------------------------------------

async def staff_table(session: AsyncSession, *, figures: dict, now: datetime) -> list[dict]:
    """The period's per-staff answer figures, with each person's open and overdue tickets."""
    staff = {s.phone: s for s in (await session.scalars(select(Staff))).all()}
    active = Ticket.status.in_(lifecycle.ACTIVE)
    owned = {sid: (n, o) for sid, n, o in (await session.execute(
        select(Ticket.owner_staff_id, func.count(),
               func.count().filter(Ticket.due_at < now))
        .where(active, Ticket.owner_staff_id.is_not(None)).group_by(Ticket.owner_staff_id)
    )).all()}
    rows, seen = [], set()
    for row in figures["per_staff"]:
        person = staff.get(row["phone"])
        n, overdue = owned.get(person.id, (0, 0)) if person else (0, 0)
        seen.add(person.id if person else None)
        rows.append({**row, "staff_id": person.id if person else None,
                     "missed": row["offered"] - row["answered"],
                     "tickets_open": n, "tickets_overdue": overdue})
    for person in staff.values():
        if person.id not in seen and person.id in owned:
            n, overdue = owned[person.id]
            rows.append({"staff": person.name, "phone": person.phone, "staff_id": person.id,
                         "offered": 0, "answered": 0, "within_three_rings": 0,
                         "three_ring_rate": None, "average_ring_seconds": None, "missed": 0,
                         "calls_handled": 0, "talk_seconds": 0, "signed_in_seconds": 0,
                         "occupancy": None, "tickets_open": n, "tickets_overdue": overdue})
    return rows


async def open_tickets_owned(session: AsyncSession, *, settings: Settings,
                             staff: Staff) -> list[dict]:
    """A staff member's tickets still being worked on, the most urgent first."""
    rows = (await session.scalars(
        select(Ticket).where(Ticket.owner_staff_id == staff.id, Ticket.status.in_(lifecycle.ACTIVE))
        .order_by(Ticket.due_at))).all()
    return [lifecycle.view(t, settings=settings, owner=staff) for t in rows]


@dataclass
class Dashboard:
    today: date
    periods: list[Period]
    figures: dict[str, dict]
    tickets: dict  # the snapshot: open and overdue tickets as of `now`
    histogram: dict
    trend: list[dict]
    heat: list[list[int]]
    now: datetime | None = None
    tiles: list[Tile] = field(default_factory=list)
    charts: Period | None = None  # the rolling window the charts cover
    previous: Period | None = None  # the day the tiles are compared with
    staff: list[dict] = field(default_factory=list)


async def build(session: AsyncSession, *, settings: Settings, today: date,
                now: datetime, store: rollups.Store | None = None) -> Dashboard:
    """`store`: a writer for the closed days missing from the rollup (computed anyway)."""
    spans = periods(settings=settings, today=today)
    memo: dict = {}  # today (or the chosen day) counted once for every period holding it
    figures = {p.key: await period_figures(session, settings=settings, period=p, now=now,
                                           store=store, memo=memo)
               for p in spans}
    before = day_before(settings=settings, today=today)
    previous = await compared_figures(session, settings=settings, period=before, now=now,
                                      store=store, memo=memo)
    window = rolling(settings=settings, today=today)
    counts = await ticket_counts(session, now=now)
    counts["open_by_status"] = await open_by_status(session)
    chart_sums = await rollups.sums(session, settings=settings, start=window.start,
                                    end=window.end, now=now, store=store, charts=True,
                                    memo=memo)
    hours = hourly(chart_sums.hours, settings=settings)
    return Dashboard(
        today=today, periods=spans, figures=figures, tickets=counts, now=now,
        tiles=tiles(day=figures["today"], previous=previous, snapshot=counts),
        charts=window, previous=before,
        histogram=ring_histogram(chart_sums.rings),
        trend=daily_trend(hours, first_day=window.first_day, last_day=window.last_day),
        heat=hour_weekday(hours),
        staff=await staff_table(session, figures=figures["month"], now=now),
    )
