"""Call-answer statistics, computed from the durable per-call and per-leg rows."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.reporting import staff_time
from ivr.tickets import followup
from models import Call, Leg, Staff, Ticket, db

ANSWER_SECONDS_TARGET = 20


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def call_answer_stats(session: AsyncSession, *, settings: Settings,
                            start: datetime, end: datetime, now: datetime | None = None,
                            detail: bool = True) -> dict:
    """The contract's `/api/stats` for calls started in [start, end), and per staff the
    switchboard's figures (`staff_time`; time signed in counts up to `now`).

    `detail=False` leaves out the per-staff rows and the queue: the headline rates
    alone, for a period the dashboard only compares with."""
    limit = settings.three_rings_seconds
    now = now or datetime.now(timezone.utc)
    within = case((Leg.accepted & (Leg.ring_seconds <= limit), 1), else_=0)
    answered = case((Leg.accepted, 1), else_=0)
    answered_ring = case((Leg.accepted, Leg.ring_seconds), else_=None)
    in_range = (Leg.created_at >= start) & (Leg.created_at < end)

    calls = (await session.execute(
        select(
            # A staff member's 签入/签出 call (ivr/calls/staff_line.py) is no resident's call.
            func.count().filter(Call.direction == "inbound",
                                func.coalesce(Call.outcome, "") != "staff"),
            func.count().filter(Call.direction == "outbound"),
            func.count().filter(Call.outcome == "abandoned"),
        ).where(Call.started_at >= start, Call.started_at < end)
    )).one()
    tickets_created = await session.scalar(
        select(func.count()).select_from(Ticket)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
    )
    # One pass over the period's legs (inside ix_legs_created_at) for the totals, each
    # staff member's row and their talk time: at a year of calls each pass is most of
    # the cost, and there were three.
    talk = seconds_between(session, Leg.answered_at, Leg.completed_at)
    per_staff_rows = (await session.execute(
        select(Leg.staff_name, Leg.phone, func.count(), func.sum(answered), func.sum(within),
               func.sum(answered_ring), func.count(answered_ring),
               func.sum(case((Leg.accepted & Leg.completed_at.is_not(None)
                              & Leg.answered_at.is_not(None), talk), else_=0.0)))
        .where(in_range).group_by(Leg.staff_name, Leg.phone).order_by(Leg.staff_name)
    )).all()
    offered = sum(row[2] for row in per_staff_rows)
    n_answered = sum(row[3] or 0 for row in per_staff_rows)
    n_within = sum(row[4] or 0 for row in per_staff_rows)
    rings, timed = (sum(row[5] or 0 for row in per_staff_rows),
                    sum(row[6] or 0 for row in per_staff_rows))
    avg_ring = rings / timed if timed else None
    hotline: dict[str, tuple[int, float]] = {}
    for row in per_staff_rows:
        n, seconds = hotline.get(row[1], (0, 0.0))
        hotline[row[1]] = (n + (row[3] or 0), seconds + float(row[7] or 0))

    return {
        "inbound_calls": calls[0],
        "outbound_calls": calls[1],
        "transfers_offered": offered,
        "transfers_answered": n_answered,
        "answered_within_three_rings": n_within,
        "three_ring_rate": rate(n_within, offered),
        "average_ring_seconds": round(avg_ring, 2) if avg_ring is not None else None,
        "abandoned_calls": calls[2],
        "tickets_created": tickets_created or 0,
        # 回访率 (windows closed by `now`) and 满意率 (satisfied + neutral), see
        # ivr/tickets/followup.py.
        **await followup.rates(session, start=start, end=end, now=now),
        "three_rings_seconds": limit,
        **await speed_of_answer(session, start=start, end=end),
        **(await queue_figures(session, start=start, end=end) if detail else {}),
        "per_staff": await with_staff_time(session, settings=settings, start=start, end=end,
                                           now=now,
                                           hotline=hotline, rows=[
            {
                "staff": name,
                "phone": phone,
                "offered": n,
                "answered": a or 0,
                "within_three_rings": w or 0,
                "three_ring_rate": rate(w or 0, n),
                "average_ring_seconds": round(r / k, 2) if k else None,
            }
            for name, phone, n, a, w, r, k, _talk in per_staff_rows
        ]) if detail else [],
    }


async def headline(session: AsyncSession, *, settings: Settings, start: datetime,
                   end: datetime) -> dict:
    """The figures a wallboard shows, as `call_answer_stats` gives them, without the
    per-staff rows, tickets and follow-ups it does not show."""
    limit = settings.three_rings_seconds
    offered, within = (await session.execute(
        select(func.count(), func.sum(case((Leg.accepted & (Leg.ring_seconds <= limit), 1),
                                           else_=0)))
        .where(Leg.created_at >= start, Leg.created_at < end))).one()
    abandoned = await session.scalar(
        select(func.count()).select_from(Call)
        .where(Call.started_at >= start, Call.started_at < end, Call.outcome == "abandoned"))
    return {"three_ring_rate": rate(within or 0, offered), "abandoned_calls": abandoned,
            **await speed_of_answer(session, start=start, end=end),
            **await queue_figures(session, start=start, end=end)}


def seconds_between(session: AsyncSession, earlier, later):
    """`later - earlier` in seconds, in the database's own dialect."""
    return db.seconds_between(session.bind.dialect.name, earlier, later)


async def speed_of_answer(session: AsyncSession, *, start: datetime, end: datetime) -> dict:
    """接听速度: for an inbound call a person took, the accepted leg's `answered` timestamp
    (Twilio's) minus the moment the caller began to wait for a person: the first leg's
    `ringing` (`initiated` without one), or joining the line if that came first. So a
    caller's wait in the queue counts, as well as every ring of the hunt. Calls offered to
    a person: a phone rung for them, or a place in line."""
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
    row = (await session.execute(
        select(func.count(),
               func.count(per_call.c.answered),
               # Timestamps are whole seconds; the margin only absorbs julianday's float error.
               func.sum(case((wait <= ANSWER_SECONDS_TARGET + 0.01, 1), else_=0)),
               func.avg(wait))
    )).one()
    offered, answered_n, within, avg_wait = row[0], row[1], row[2] or 0, row[3]
    return {
        "calls_offered_to_person": offered,
        "calls_answered_by_person": answered_n,
        "answered_within_20s": within,
        "answered_within_20s_rate": rate(within, offered),
        "average_speed_of_answer": round(float(avg_wait), 1) if avg_wait is not None else None,
    }


async def queue_figures(session: AsyncSession, *, start: datetime, end: datetime) -> dict:
    """The queue: callers who waited in line, how long, and those who hung up there
    (each abandoned caller's wait, longest first)."""
    in_range = (Call.started_at >= start, Call.started_at < end, Call.queued_at.is_not(None))
    queued, avg_wait, longest = (await session.execute(
        select(func.count(), func.avg(Call.queue_wait_seconds), func.max(Call.queue_wait_seconds))
        .where(*in_range))).one()
    abandoned_waits = (await session.scalars(
        select(func.coalesce(Call.queue_wait_seconds, 0))
        .where(*in_range, Call.queue_exit == "abandoned")
        .order_by(Call.queue_wait_seconds.desc(), Call.started_at))).all()
    return {
        "queued_calls": queued,
        "average_queue_wait_seconds": round(float(avg_wait), 1) if avg_wait is not None else None,
        "longest_queue_wait_seconds": longest,
        "abandoned_in_queue": len(abandoned_waits),
        "abandoned_in_queue_waits": list(abandoned_waits),
    }


async def with_staff_time(session: AsyncSession, *, settings: Settings, start: datetime,
                          end: datetime, now: datetime, rows: list[dict],
                          hotline: dict[str, tuple[int, float]] | None = None) -> list[dict]:
    """Each row with calls handled, talk time, time signed in and occupancy; and a row
    for whoever was signed in or called back without being offered a hotline call.
    `hotline`: the legs' figures by phone when the caller has read them already."""
    figures = await staff_time.staff_time(session, settings=settings, start=start, end=end,
                                          now=now, hotline=hotline)
    empty = {"calls_handled": 0, "talk_seconds": 0, "signed_in_seconds": 0, "occupancy": None}
    merged = [{**row, **figures.get(row["phone"], empty)} for row in rows]
    listed = {row["phone"] for row in rows}
    names = dict((await session.execute(select(Staff.phone, Staff.name))).all())
    for phone, extra in figures.items():
        if phone not in listed and (extra["calls_handled"] or extra["signed_in_seconds"]):
            merged.append({"staff": names.get(phone, ""), "phone": phone, "offered": 0,
                           "answered": 0, "within_three_rings": 0, "three_ring_rate": None,
                           "average_ring_seconds": None, **extra})
    return merged
