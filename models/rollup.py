"""Per-day rollups of closed days: the additive statistics of each local day that has
ended, so a month of figures reads thirty rows instead of a month of legs.

A day's rows are only a cache of what its calls and legs say. A day is *filled* when its
figures were computed from the rows (with the three-ring limit stored beside them); any
write to a call or a leg of a closed day marks the day unfilled in the same transaction
(`drop_days`), and the next read computes it again. `generation` counts those marks, so a
fill computed from rows that changed meanwhile is refused (`ivr/reporting/rollups.py`).

Every ORM write of a `Call` or a `Leg` is caught at flush (`_before_flush`); the few Core
statements that write legs or calls call `drop_days` themselves.
"""

from __future__ import annotations

from datetime import date, datetime, timezone, tzinfo

from sqlalchemy import Boolean, Date, Float, Integer, String, event, inspect, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base
from .call import Call, Leg

# The session's `info` keys holding the centre's timezone and the application's clock
# (`make_sessionmaker(tz=, clock=)`): with them a write to today's calls costs no
# statement; without them every such write marks the days (correct, a statement dearer).
TIMEZONE = "ivr_timezone"
CLOCK = "ivr_clock"


class StatsDay(Base):
    """One local day: the calls' counts and the speed of answer's sums."""

    __tablename__ = "stats_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column(index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    filled: Mapped[bool] = mapped_column(Boolean, default=False)
    three_rings_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    inbound_calls: Mapped[int] = mapped_column(Integer, default=0)
    outbound_calls: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_calls: Mapped[int] = mapped_column(Integer, default=0)
    calls_offered_to_person: Mapped[int] = mapped_column(Integer, default=0)
    calls_answered_by_person: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_20s: Mapped[int] = mapped_column(Integer, default=0)
    waits_timed: Mapped[int] = mapped_column(Integer, default=0)
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    spoke: Mapped[int] = mapped_column(Integer, default=0)
    understood: Mapped[int] = mapped_column(Integer, default=0)


class StatsStaffDay(Base):
    """One local day of one staff phone's legs (by the name and phone the leg rang)."""

    __tablename__ = "stats_staff_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    staff_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    within_three_rings: Mapped[int] = mapped_column(Integer, default=0)
    ring_seconds: Mapped[int] = mapped_column(Integer, default=0)
    rings_timed: Mapped[int] = mapped_column(Integer, default=0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class StatsMenuDay(Base):
    """One local day's inbound calls by menu choice (`none` for no choice)."""

    __tablename__ = "stats_menu_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    menu_choice: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class StatsHourDay(Base):
    """One UTC hour of a local day: inbound calls, legs offered, within three rings."""

    __tablename__ = "stats_hour_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    within: Mapped[int] = mapped_column(Integer, default=0)


class StatsRingDay(Base):
    """One local day's legs by ring seconds as the histogram bins them (-1: unanswered)."""

    __tablename__ = "stats_ring_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ring: Mapped[int] = mapped_column(Integer, primary_key=True)
    legs: Mapped[int] = mapped_column(Integer, default=0)


DETAIL_TABLES = (StatsStaffDay, StatsMenuDay, StatsHourDay, StatsRingDay)


def today_start(tz: tzinfo, now: datetime) -> datetime:
    """Local midnight of `now`'s day: rows older than this belong to closed days."""
    local = now.astimezone(tz)
    return datetime.combine(local.date(), datetime.min.time(), tz)


def _drop_statement(since: datetime):
    """Mark unfilled every rolled-up day from the one holding `since` on."""
    return (update(StatsDay).where(StatsDay.ends_at > since)
            .values(filled=False, generation=StatsDay.generation + 1)
            .execution_options(synchronize_session=False))


def _of_today(since: datetime, info: dict) -> bool:
    """True when `since` is today (no closed day touched), by the session's clock."""
    tz, clock = info.get(TIMEZONE), info.get(CLOCK)
    if tz is None or clock is None:
        return False
    return since >= today_start(tz, clock())


async def drop_days(session, *, since: datetime | None) -> None:
    """For a Core write to a call or leg dated `since` (the call's start, or the leg's
    creation when earlier): mark its closed days for recomputing, in the caller's
    transaction. Nothing to do for a call of today."""
    if since is None or _of_today(since, session.info):
        return
    await session.execute(_drop_statement(since))


def _moments(session: Session) -> list[datetime]:
    """The dates the pending writes touch: each call's start (before and after the
    change) and each leg's creation and its call's start."""
    moments: list[datetime] = []
    leg_calls: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Call):
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            state = inspect(obj)
            moments.extend(m for m in (obj.started_at,
                                       *state.attrs.started_at.history.deleted) if m)
        elif isinstance(obj, Leg):
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            if obj.created_at is not None:
                moments.append(obj.created_at)
            if obj.call_id is not None:
                call = session.identity_map.get(inspect(Call).identity_key_from_primary_key(
                    (obj.call_id,)))
                if call is not None and call.started_at is not None:
                    moments.append(call.started_at)
                else:
                    leg_calls.add(obj.call_id)
    if leg_calls:
        with session.no_autoflush:
            moments.extend(m for m in session.scalars(
                select(Call.started_at).where(Call.id.in_(sorted(leg_calls)))) if m)
    return moments


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    """Any ORM write of a call or a leg: its closed days are computed again."""
    if not any(isinstance(obj, (Call, Leg))
               for obj in (*session.new, *session.dirty, *session.deleted)):
        return
    moments = _moments(session)
    if not moments:
        return
    since = min(m if m.tzinfo else m.replace(tzinfo=timezone.utc) for m in moments)
    if not _of_today(since, session.info):
        session.execute(_drop_statement(since))
