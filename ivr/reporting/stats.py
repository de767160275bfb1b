"""Call-answer statistics, computed from the durable per-call and per-leg rows."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.reporting import staff_time
from ivr.tickets import followup
from models import Call, Leg, Staff, Ticket


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def call_answer_stats(session: AsyncSession, *, settings: Settings,
                            start: datetime, end: datetime, now: datetime | None = None) -> dict:
    """The contract's `/api/stats` for calls started in [start, end), and per staff the
    switchboard's figures (`staff_time`; time signed in counts up to `now`)."""
    limit = settings.three_rings_seconds
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
    legs = (await session.execute(
        select(func.count(), func.sum(answered), func.sum(within), func.avg(answered_ring))
        .where(in_range)
    )).one()
    tickets_created = await session.scalar(
        select(func.count()).select_from(Ticket)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
    )
    per_staff_rows = (await session.execute(
        select(Leg.staff_name, Leg.phone, func.count(), func.sum(answered), func.sum(within),
               func.avg(answered_ring))
        .where(in_range).group_by(Leg.staff_name, Leg.phone).order_by(Leg.staff_name)
    )).all()

    offered, n_answered, n_within, avg_ring = legs[0], legs[1] or 0, legs[2] or 0, legs[3]
    return {
        "inbound_calls": calls[0],
        "outbound_calls": calls[1],
        "transfers_offered": offered,
        "transfers_answered": n_answered,
        "answered_within_three_rings": n_within,
        "three_ring_rate": rate(n_within, offered),
        "average_ring_seconds": round(float(avg_ring), 2) if avg_ring is not None else None,
        "abandoned_calls": calls[2],
        "tickets_created": tickets_created or 0,
        # 回访率 and 满意率 (satisfied + neutral), see ivr/tickets/followup.py.
        **await followup.rates(session, start=start, end=end),
        "three_rings_seconds": limit,
        "per_staff": await with_staff_time(session, settings=settings, start=start, end=end,
                                           now=now or datetime.now(timezone.utc), rows=[
            {
                "staff": name,
                "phone": phone,
                "offered": n,
                "answered": a or 0,
                "within_three_rings": w or 0,
                "three_ring_rate": rate(w or 0, n),
                "average_ring_seconds": round(float(r), 2) if r is not None else None,
            }
            for name, phone, n, a, w, r in per_staff_rows
        ]),
    }


async def with_staff_time(session: AsyncSession, *, settings: Settings, start: datetime,
                          end: datetime, now: datetime, rows: list[dict]) -> list[dict]:
    """Each row with calls handled, talk time, time signed in and occupancy; and a row
    for whoever was signed in or called back without being offered a hotline call."""
    figures = await staff_time.staff_time(session, settings=settings, start=start, end=end,
                                          now=now)
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
