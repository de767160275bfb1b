"""The additive figures of a stretch of time, counted from the call and leg rows: what a
period's statistics add up from (`stats`), and what a closed day's rollup stores
(`rollups`). Sums and counts only, so days add up to the very figures of the period."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone

from sqlalchemy import Float, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from models import Call, Leg, db

ANSWER_SECONDS_TARGET = 20


@dataclass
class CallSums:
    """The calls' counts and the speed of answer's sums, by the calls' start."""

    inbound_calls: int = 0
    outbound_calls: int = 0
    abandoned_calls: int = 0
    calls_offered_to_person: int = 0
    calls_answered_by_person: int = 0
    answered_within_20s: int = 0
    waits_timed: int = 0
    wait_seconds: float = 0.0

    def add(self, other) -> None:
        """Add another CallSums, or a rollup row with the same columns."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + (getattr(other, f.name) or 0))

    @classmethod
    def of(cls, row) -> CallSums:
        """From a query's row whose columns are labelled with these fields' names: a
        figure cannot land in another's field (an unknown label is a TypeError); the
        fields left out and the NULL sums of no rows stay 0."""
        return cls(**{name: value for name, value in row._mapping.items() if value is not None})


@dataclass
class StaffSums:
    """One staff phone's legs (by the name and phone the leg rang)."""

    staff_name: str
    phone: str
    offered: int = 0
    answered: int = 0
    within_three_rings: int = 0
    ring_seconds: int = 0
    rings_timed: int = 0
    talk_seconds: float = 0.0

    def add(self, other) -> None:
        for f in fields(self)[2:]:
            setattr(self, f.name, getattr(self, f.name) + (getattr(other, f.name) or 0))


async def any_rows(session: AsyncSession, *, start: datetime, end: datetime) -> bool:
    """Whether a call started or a leg was created in [start, end) (two index seeks)."""
    return bool(await session.scalar(select(
        select(Call.id).where(Call.started_at >= start, Call.started_at < end).exists()
        | select(Leg.id).where(Leg.created_at >= start, Leg.created_at < end).exists())))


def seconds_between(session: AsyncSession, earlier, later):
    """`later - earlier` in seconds, in the database's own dialect."""
    return db.seconds_between(session.bind.dialect.name, earlier, later)


async def staff_legs(session: AsyncSession, *, limit: int, start: datetime,
                     end: datetime) -> list[StaffSums]:
    """Per staff phone, the legs created in [start, end): offered, answered, within three
    rings, ring seconds summed and how many were timed, talk seconds. One pass over the
    covering index ix_legs_created_at (three passes before 0010)."""
    within = case((Leg.accepted & (Leg.ring_seconds <= limit), 1), else_=0)
    answered = case((Leg.accepted, 1), else_=0)
    answered_ring = case((Leg.accepted, Leg.ring_seconds), else_=None)
    talk = seconds_between(session, Leg.answered_at, Leg.completed_at)
    return [StaffSums(name, phone, n, a or 0, w or 0, r or 0, k or 0, float(t or 0))
            for name, phone, n, a, w, r, k, t in (await session.execute(
        select(Leg.staff_name, Leg.phone, func.count(), func.sum(answered), func.sum(within),
               func.sum(answered_ring), func.count(answered_ring),
               func.sum(case((Leg.accepted & Leg.completed_at.is_not(None)
                              & Leg.answered_at.is_not(None), talk), else_=0.0)))
        .where(Leg.created_at >= start, Leg.created_at < end)
        .group_by(Leg.staff_name, Leg.phone)
    )).all()]


async def call_counts(session: AsyncSession, *, start: datetime, end: datetime) -> CallSums:
    """Inbound, outbound and abandoned calls started in [start, end)."""
    return CallSums.of((await session.execute(
        select(
            # A staff member's 签入/签出 call (ivr/calls/staff_line.py) is no resident's call.
            func.count().filter(Call.direction == "inbound",
                                func.coalesce(Call.outcome, "") != "staff")
            .label("inbound_calls"),
            func.count().filter(Call.direction == "outbound").label("outbound_calls"),
            func.count().filter(Call.outcome == "abandoned").label("abandoned_calls"),
        ).where(Call.started_at >= start, Call.started_at < end)
    )).one())


async def speed_parts(session: AsyncSession, *, start: datetime, end: datetime) -> CallSums:
    """接听速度: for an inbound call a person took, the accepted leg's `answered` timestamp
    (Twilio's) minus the moment the caller began to wait for a person: the first leg's
    `ringing` (`initiated` without one), or joining the line if that came first. So a
    caller's wait in the queue counts, as well as every ring of the hunt. Calls offered to
    a person: a phone rung for them, or a place in line.

    The sums of the calls started in [start, end): offered, answered, answered within
    20 s, waits timed and their seconds (`speed_figures` makes the figures)."""
    # Index-only at a year of calls: the calls by ix_calls_started_at (queued_at in it
    # since 0010), their legs by ix_legs_call_id.
    first_ring = func.min(func.coalesce(Leg.ringing_at, Leg.initiated_at))
    answered = func.min(case((Leg.accepted, Leg.answered_at), else_=None))
    per_call = (
        select(Call.id, Call.queued_at, first_ring.label("first_ring"),
               answered.label("answered"))
        .select_from(Call).outerjoin(Leg, Leg.call_id == Call.id)
        .where(Call.started_at >= start, Call.started_at < end, Call.direction == "inbound",
               or_(Leg.id.is_not(None), Call.queued_at.is_not(None)))
        .group_by(Call.id, Call.queued_at).subquery()
    )
    queued, ring = per_call.c.queued_at, per_call.c.first_ring
    waiting_from = case((queued.is_not(None) & (ring.is_(None) | (queued < ring)), queued),
                        else_=ring)
    wait = seconds_between(session, waiting_from, per_call.c.answered)
    return CallSums.of((await session.execute(
        select(func.count().label("calls_offered_to_person"),
               func.count(per_call.c.answered).label("calls_answered_by_person"),
               # Timestamps are whole seconds; the margin only absorbs julianday's float error.
               func.sum(case((wait <= ANSWER_SECONDS_TARGET + 0.01, 1), else_=0))
               .label("answered_within_20s"),
               func.count(wait).label("waits_timed"),
               # A float, not PostgreSQL's numeric (a Decimal): type_coerce adds no SQL.
               type_coerce(func.sum(wait), Float).label("wait_seconds"))
    )).one())


HISTOGRAM_MAX = 30  # seconds; longer rings fall in the last bar
UNANSWERED = -1  # `ring_counts`' key of the legs no person answered


async def menu_counts(session: AsyncSession, *, start: datetime, end: datetime) -> dict[str, int]:
    """Inbound calls started in [start, end) by menu choice (`none`: no choice)."""
    rows = (await session.execute(
        select(Call.menu_choice, func.count())
        .where(Call.started_at >= start, Call.started_at < end, Call.direction == "inbound")
        .group_by(Call.menu_choice)
    )).all()
    counts: dict[str, int] = {}
    for choice, n in rows:
        counts[choice or "none"] = counts.get(choice or "none", 0) + n
    return counts


async def speech_counts(session: AsyncSession, *, start: datetime, end: datetime) -> tuple[int, int]:
    """Inbound callers who said what they needed, and how many of them were understood."""
    spoke, understood = (await session.execute(
        select(func.count(Call.speech_text), func.count(Call.speech_choice))
        .where(Call.started_at >= start, Call.started_at < end, Call.direction == "inbound")
    )).one()
    return int(spoke or 0), int(understood or 0)


async def ring_counts(session: AsyncSession, *, start: datetime, end: datetime) -> dict[int, int]:
    """Legs created in [start, end) by whole ring seconds when a person answered (0 …
    HISTOGRAM_MAX, longer in the last), `UNANSWERED` for the others: one grouped pass
    over the legs' covering index."""
    capped = case((Leg.ring_seconds > HISTOGRAM_MAX, HISTOGRAM_MAX), else_=Leg.ring_seconds)
    counts: dict[int, int] = {}
    for accepted, seconds, n in (await session.execute(
            select(Leg.accepted, capped, func.count())
            .where(Leg.created_at >= start, Leg.created_at < end)
            .group_by(Leg.accepted, capped))).all():
        if accepted and seconds is not None:
            key = max(0, min(HISTOGRAM_MAX, int(seconds)))
        elif accepted is not None and not accepted:
            key = UNANSWERED
        else:
            continue
        counts[key] = counts.get(key, 0) + n
    return counts


def utc_hour(session: AsyncSession, column):
    """The UTC hour of a stored moment, cheap to group by: SQLite stores UTC text, whose
    first 13 characters are 'YYYY-MM-DD HH'; PostgreSQL truncates."""
    if session.bind.dialect.name == "sqlite":
        return func.substr(column, 1, 13)
    return func.date_trunc("hour", column)


def hour_start(value: str | datetime) -> datetime:
    if isinstance(value, str):  # fromisoformat is C; strptime would cost more than the query
        return datetime.fromisoformat(value + ":00").replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


async def hour_counts(session: AsyncSession, *, limit: int, start: datetime,
                      end: datetime) -> dict[datetime, list[int]]:
    """Per UTC hour: inbound calls started, legs created, and of those answered within
    three rings, in [start, end). Two grouped queries (legs, calls)."""
    hours: dict[datetime, list[int]] = {}
    leg_hour = utc_hour(session, Leg.created_at)
    for value, n, within in (await session.execute(
            select(leg_hour, func.count(),
                   func.sum(case((Leg.accepted & (Leg.ring_seconds <= limit), 1), else_=0)))
            .where(Leg.created_at >= start, Leg.created_at < end).group_by(leg_hour))).all():
        entry = hours.setdefault(hour_start(value), [0, 0, 0])
        entry[1] += n
        entry[2] += within or 0
    call_hour = utc_hour(session, Call.started_at)
    for value, n in (await session.execute(
            select(call_hour, func.count())
            .where(Call.started_at >= start, Call.started_at < end, Call.direction == "inbound")
            .group_by(call_hour))).all():
        hours.setdefault(hour_start(value), [0, 0, 0])[0] += n
    return hours
