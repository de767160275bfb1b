"""Per-day rollups of closed days (models/rollup.py): a period's additive figures read
from one row per whole local day that has ended, the rest (today, partial days at the
edges) counted from the rows as before. The result is the same as counting every row.

A closed day missing from the rollup (never computed, dropped by a late callback, or
computed with another three-ring limit) is computed on read and stored, when the reader
has a writer (`store`); the scheduler fills yesterday soon after midnight (`fill_closed`).

Storing a day is two transactions: the day's row is claimed first (unfilled), then, in a
transaction of its own, the day is computed from the rows and stored only if no write has
dropped the day since the claim (`generation` unchanged). On SQLite the second runs under
the write lock, so no webhook writes meanwhile. On PostgreSQL a webhook that marked the
days before the claim committed but commits itself after the day was computed would go
unnoticed: the scheduler claims today's row in advance, so only days never claimed while
open (history before this table) are exposed to that, for a moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Awaitable, Callable, Protocol

from aiohttp import web
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.platform import periodic
from ivr.platform.config import Settings
from ivr.platform.resources import CLOCK, READER, SETTINGS, WRITER
from ivr.reporting import sums as counted
from ivr.reporting.sums import CallSums, StaffSums
from models import Call, Leg, StatsDay, StatsHourDay, StatsMenuDay, StatsRingDay, StatsStaffDay
from models.db import insert_for
from models.rollup import DETAIL_TABLES

log = logging.getLogger(__name__)

PAGE = 1  # models.writer.PAGE: after the webhooks waiting for the writer
# Days computed and kept by one request at most (two months): each is a short write of
# its own, and a year's report is filled over a few requests, not in one.
FILL_AT_ONCE = 62


class Store(Protocol):
    """Where a computed day is written (models.writer.Writer)."""

    async def run(self, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable],
                  *, priority: int = ..., together: bool = ...): ...


@dataclass
class Sums:
    """A period's additive figures: the calls' and, per staff phone, the legs'; with
    `charts`, the dashboard's too (menu choices, speech, UTC hours, ring seconds)."""

    calls: CallSums = field(default_factory=CallSums)
    staff: list[StaffSums] = field(default_factory=list)
    menu: dict[str, int] = field(default_factory=dict)
    speech: list[int] = field(default_factory=lambda: [0, 0])  # spoke, understood
    hours: dict[datetime, list[int]] = field(default_factory=dict)  # calls, offered, within
    rings: dict[int, int] = field(default_factory=dict)

    def add_charts(self, figures: "DayFigures") -> None:
        for choice, n in figures.menu.items():
            self.menu[choice] = self.menu.get(choice, 0) + n
        self.speech[0] += figures.speech[0]
        self.speech[1] += figures.speech[1]
        for hour, counts in figures.hours.items():
            entry = self.hours.setdefault(hour, [0, 0, 0])
            for i, n in enumerate(counts):
                entry[i] += n
        for ring, n in figures.rings.items():
            self.rings[ring] = self.rings.get(ring, 0) + n


@dataclass
class Day:
    day: date
    start: datetime
    end: datetime


def closed_days(*, settings: Settings, start: datetime, end: datetime, now: datetime) -> list[Day]:
    """The local days wholly inside [start, end) that have ended by `now`."""
    tz = settings.tz
    day = start.astimezone(tz).date()
    days = []
    while True:
        begins = datetime.combine(day, time(0), tz)
        ends = datetime.combine(day + timedelta(days=1), time(0), tz)
        if ends > end or ends > now:
            break
        if begins >= start:
            days.append(Day(day, begins, ends))
        day += timedelta(days=1)
    return days


async def first_moment(session: AsyncSession) -> datetime | None:
    """The earliest call's start or leg's creation (both indexed); None with neither."""
    moments = [m for m in (await session.execute(
        select(select(func.min(Call.started_at)).scalar_subquery(),
               select(func.min(Leg.created_at)).scalar_subquery()))).one() if m is not None]
    if not moments:
        return None
    return min(m if m.tzinfo else m.replace(tzinfo=timezone.utc) for m in moments)


def local_midnight(moment: datetime, *, settings: Settings) -> datetime:
    """The start of `moment`'s local day in the centre's timezone."""
    return datetime.combine(moment.astimezone(settings.tz).date(), time(0), settings.tz)


def uncovered(start: datetime, end: datetime, days: list[Day]) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) outside `days` (consecutive, in order)."""
    parts, at = [], start
    for d in days:
        if d.start > at:
            parts.append((at, d.start))
        at = max(at, d.end)
    if at < end:
        parts.append((at, end))
    return parts


def pieces(parts: list[tuple[datetime, datetime]], *, settings: Settings,
           now: datetime) -> list[tuple[datetime, datetime]]:
    """The parts cut at today's local midnight and tomorrow's, so that periods sharing
    today ask for the very same piece (`memo`)."""
    today = now.astimezone(settings.tz).date()
    cuts = [datetime.combine(today, time(0), settings.tz),
            datetime.combine(today + timedelta(days=1), time(0), settings.tz)]
    out = []
    for a, b in parts:
        for cut in cuts:
            if a < cut < b:
                out.append((a, cut))
                a = cut
        out.append((a, b))
    return out


@dataclass
class DayFigures:
    """One day's additive figures as stored."""

    calls: CallSums
    staff: list[StaffSums]
    # The dashboard's: None when not computed (`charts=False`).
    menu: dict[str, int] | None = None
    speech: tuple[int, int] = (0, 0)
    hours: dict[datetime, list[int]] | None = None
    rings: dict[int, int] | None = None


async def compute_day(session: AsyncSession, *, limit: int, start: datetime,
                      end: datetime, charts: bool = False) -> DayFigures:
    """The additive figures of [start, end), from the rows (`charts`: the dashboard's too).
    A stretch with no call and no leg (the rest of a week or month, ahead of now) costs
    one query, not eight."""
    if not await counted.any_rows(session, start=start, end=end):
        return DayFigures(CallSums(), [], **({"menu": {}, "hours": {}, "rings": {}} if charts else {}))
    calls = await counted.call_counts(session, start=start, end=end)
    calls.add(await counted.speed_parts(session, start=start, end=end))
    figures = DayFigures(calls, await counted.staff_legs(session, limit=limit, start=start,
                                                         end=end))
    if charts:
        figures.menu = await counted.menu_counts(session, start=start, end=end)
        figures.speech = await counted.speech_counts(session, start=start, end=end)
        figures.hours = await counted.hour_counts(session, limit=limit, start=start, end=end)
        figures.rings = await counted.ring_counts(session, start=start, end=end)
    return figures


async def claim(session: AsyncSession, *, days: list[Day]) -> None:
    """The days' rows, unfilled, where there are none: from here on a write to those
    days marks them (models.rollup.drop_days)."""
    if not days:
        return
    statement = insert_for(session.bind.dialect.name)(StatsDay).on_conflict_do_nothing(
        index_elements=["day"])
    await session.execute(statement, [
        {"day": d.day, "starts_at": d.start, "ends_at": d.end, "generation": 0, "filled": False,
         "inbound_calls": 0, "outbound_calls": 0, "abandoned_calls": 0,
         "calls_offered_to_person": 0, "calls_answered_by_person": 0, "answered_within_20s": 0,
         "waits_timed": 0, "wait_seconds": 0.0, "spoke": 0, "understood": 0} for d in days])


async def fill_day(session: AsyncSession, *, settings: Settings, day: Day) -> DayFigures:
    """Compute one claimed day from the rows and store it, unless a write dropped it
    since it was read here (then the figures are returned, not kept)."""
    limit = settings.three_rings_seconds
    generation = await session.scalar(select(StatsDay.generation).where(StatsDay.day == day.day))
    figures = await compute_day(session, limit=limit, start=day.start, end=day.end, charts=True)
    if generation is None:
        return figures
    kept = await session.execute(
        update(StatsDay).where(StatsDay.day == day.day, StatsDay.generation == generation)
        .values(filled=True, three_rings_seconds=limit, spoke=figures.speech[0],
                understood=figures.speech[1],
                **{name: getattr(figures.calls, name) for name in CallSums.__dataclass_fields__})
        .execution_options(synchronize_session=False))
    if kept.rowcount != 1:
        return figures
    for table in DETAIL_TABLES:
        await session.execute(delete(table).where(table.day == day.day)
                              .execution_options(synchronize_session=False))
    if figures.staff:
        await session.execute(insert(StatsStaffDay), [
            {"day": day.day, **{name: getattr(row, name) for name in StaffSums.__dataclass_fields__}}
            for row in figures.staff])
    if figures.menu:
        await session.execute(insert(StatsMenuDay), [
            {"day": day.day, "menu_choice": choice, "calls": n}
            for choice, n in figures.menu.items()])
    if figures.hours:
        await session.execute(insert(StatsHourDay), [
            {"day": day.day, "hour": hour, "calls": c, "offered": o, "within": w}
            for hour, (c, o, w) in figures.hours.items()])
    if figures.rings:
        await session.execute(insert(StatsRingDay), [
            {"day": day.day, "ring": ring, "legs": n} for ring, n in figures.rings.items()])
    return figures


async def store_days(store: Store, *, settings: Settings, days: list[Day]) -> dict[date, DayFigures]:
    """Claim the days, then compute and keep each in a transaction of its own (a
    webhook waiting for the writer goes between two days)."""

    async def claiming(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await claim(session, days=days)

    await store.run(claiming, priority=PAGE)
    figures = {}
    for day in days:
        async def filling(sessions: async_sessionmaker[AsyncSession], day: Day = day) -> DayFigures:
            async with sessions() as session, session.begin():
                return await fill_day(session, settings=settings, day=day)

        figures[day.day] = await store.run(filling, priority=PAGE)
    return figures


async def sums(session: AsyncSession, *, settings: Settings, start: datetime, end: datetime,
               now: datetime, store: Store | None = None, charts: bool = False,
               memo: dict | None = None) -> Sums:
    """The additive figures of [start, end): whole closed days from the rollup (computed
    and stored through `store` when missing), the rest from the rows. `charts`: the
    dashboard's figures as well. `memo`: a dict kept by the caller across periods that
    share today (the dashboard's today, week, month and charts count it once)."""
    limit = settings.three_rings_seconds
    # Days before the first call or leg are empty: no rollup to read or store for them,
    # they are one cheap range of the rows (a report from 1970 costs what one from the
    # first call costs).
    first = await first_moment(session)
    days = [] if first is None else closed_days(
        settings=settings, start=max(start, local_midnight(first, settings=settings)),
        end=end, now=now)
    total = Sums()
    staff: dict[tuple[str, str], StaffSums] = {}

    def add_staff(rows) -> None:
        for row in rows:
            key = (row.staff_name, row.phone)
            if key not in staff:
                staff[key] = StaffSums(row.staff_name, row.phone)
            staff[key].add(row)

    covered: list[Day] = []
    if days:
        wanted = {d.day: d for d in days}
        good = set()
        span = (days[0].day, days[-1].day)  # a range, not a list: a decade is 3,650 days
        for row in (await session.execute(
                select(StatsDay.__table__).where(StatsDay.day.between(*span),
                                                 StatsDay.filled.is_(True),
                                                 StatsDay.three_rings_seconds == limit))).all():
            if row.day in wanted:
                good.add(row.day)
                total.calls.add(row)
        if good:
            add_staff(row for row in (await session.execute(
                select(StatsStaffDay.__table__).where(StatsStaffDay.day.between(*span)))).all()
                if row.day in good)
            if charts:
                await add_stored_charts(session, total, days=sorted(good))
        missing = [d for d in days if d.day not in good]
        stored: dict[date, DayFigures] = {}
        if missing and store is not None:
            try:
                # At most FILL_AT_ONCE days kept per request, so one wide report cannot
                # hold the writer for long; the others are counted from the rows this
                # time and kept by the next requests.
                stored = await store_days(store, settings=settings,
                                          days=missing[:FILL_AT_ONCE])
            except (SQLAlchemyError, OSError) as exc:  # the figures are read all the same
                log.warning("could not store the rollup of %d days: %s", len(missing), exc)
        for figures in stored.values():
            total.calls.add(figures.calls)
            add_staff(figures.staff)
            if charts:
                total.add_charts(figures)
        covered = [d for d in days if d.day in good or d.day in stored]
    for part_start, part_end in pieces(uncovered(start, end, covered), settings=settings, now=now):
        key = (part_start, part_end, limit)
        figures = memo.get(key) if memo is not None else None
        if figures is None or (charts and figures.hours is None):
            figures = await compute_day(session, limit=limit, start=part_start, end=part_end,
                                        charts=charts)
            if memo is not None:
                memo[key] = figures
        total.calls.add(figures.calls)
        add_staff(figures.staff)
        if charts:
            total.add_charts(figures)
    total.staff = [staff[key] for key in sorted(staff)]
    return total


async def add_stored_charts(session: AsyncSession, total: Sums, *, days: list[date]) -> None:
    """The dashboard's figures of stored days, added to `total`."""
    spoke, understood = (await session.execute(
        select(func.coalesce(func.sum(StatsDay.spoke), 0),
               func.coalesce(func.sum(StatsDay.understood), 0))
        .where(StatsDay.day.in_(days)))).one()
    hours: dict[datetime, list[int]] = {}
    for hour, c, o, w in (await session.execute(
            select(StatsHourDay.hour, StatsHourDay.calls, StatsHourDay.offered,
                   StatsHourDay.within).where(StatsHourDay.day.in_(days)))).all():
        entry = hours.setdefault(hour, [0, 0, 0])  # a half-hour zone's hour spans two days
        entry[0], entry[1], entry[2] = entry[0] + c, entry[1] + o, entry[2] + w
    total.add_charts(DayFigures(
        CallSums(), [],
        menu=dict((await session.execute(
            select(StatsMenuDay.menu_choice, func.sum(StatsMenuDay.calls))
            .where(StatsMenuDay.day.in_(days)).group_by(StatsMenuDay.menu_choice))).all()),
        speech=(int(spoke), int(understood)),
        hours=hours,
        rings=dict((await session.execute(
            select(StatsRingDay.ring, func.sum(StatsRingDay.legs))
            .where(StatsRingDay.day.in_(days)).group_by(StatsRingDay.ring))).all())))


async def fill_closed(store: Store, session: AsyncSession, *, settings: Settings,
                      now: datetime, days: int = 2) -> list[date]:
    """The scheduler's part: the last `days` closed days stored if they are not, and
    today's row claimed in advance (a late write to today, once closed, then always
    finds its row to mark). The days filled."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    first = datetime.combine(today - timedelta(days=days), time(0), tz)
    wanted = closed_days(settings=settings, start=first, end=now, now=now)
    rows = {row.day: row for row in (await session.execute(
        select(StatsDay.day, StatsDay.filled, StatsDay.three_rings_seconds)
        .where(StatsDay.day.in_([d.day for d in wanted] + [today])))).all()}
    missing = [d for d in wanted if d.day not in rows or not rows[d.day].filled
               or rows[d.day].three_rings_seconds != settings.three_rings_seconds]
    if today not in rows:
        today_row = Day(today, datetime.combine(today, time(0), tz),
                        datetime.combine(today + timedelta(days=1), time(0), tz))

        async def claiming(sessions: async_sessionmaker[AsyncSession]) -> None:
            async with sessions() as s, s.begin():
                await claim(s, days=[today_row])

        await store.run(claiming, priority=PAGE)
    if missing:
        await store_days(store, settings=settings, days=missing)
    return [d.day for d in missing]


async def background(app: web.Application):
    """cleanup_ctx (with the scheduler): yesterday rolled up soon after midnight, and
    today's row claimed, every `IVR_ESCALATION_INTERVAL_SECONDS`."""
    settings = app[SETTINGS]
    interval = settings.escalation_interval_seconds
    if interval <= 0:
        yield
        return

    async def one_pass() -> None:
        async with app[READER]() as session:
            filled = await fill_closed(app[WRITER], session, settings=settings, now=app[CLOCK]())
        if filled:
            log.info("statistics rolled up for %s", ", ".join(map(str, filled)))

    async with periodic.running(periodic.every(interval, one_pass, what="statistics rollup",
                                                log=log),
                                name="stats-rollups"):
        yield
