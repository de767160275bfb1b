"""Call-answer statistics, computed from the durable per-call and per-leg rows (whole
closed days through their per-day rollups, `rollups`, which are those rows' sums)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.reporting import rollups, staff_time
from ivr.reporting import sums as counted
from ivr.tickets import followup
from models import Call, Leg, Staff, Ticket

ANSWER_SECONDS_TARGET = counted.ANSWER_SECONDS_TARGET


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def call_answer_stats(session: AsyncSession, *, settings: Settings,
                            start: datetime, end: datetime, now: datetime | None = None,
                            detail: bool = True, store: rollups.Store | None = None,
                            charts: bool = False, memo: dict | None = None) -> dict:
    """The contract's `/api/stats` for calls started in [start, end), and per staff the
    switchboard's figures (`staff_time`; time signed in counts up to `now`).

    The additive figures of whole closed days come from the per-day rollups
    (`rollups.sums`), the rest of the period from the rows; `store` (a writer) keeps
    the closed days it had to compute. `detail=False` leaves out the per-staff rows and
    the queue: the headline rates alone, for a period the dashboard only compares with.
    `charts` adds the dashboard's `menu_choices` and `speech` (not in `/api/stats`);
    `memo`: see `rollups.sums`."""
    limit = settings.three_rings_seconds
    now = now or datetime.now(timezone.utc)
    sums = await rollups.sums(session, settings=settings, start=start, end=end, now=now,
                              store=store, charts=charts, memo=memo)
    tickets_created = await session.scalar(
        select(func.count()).select_from(Ticket)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
    )
    per_staff_rows = sums.staff
    offered = sum(row.offered for row in per_staff_rows)
    n_answered = sum(row.answered for row in per_staff_rows)
    n_within = sum(row.within_three_rings for row in per_staff_rows)
    rings, timed = (sum(row.ring_seconds for row in per_staff_rows),
                    sum(row.rings_timed for row in per_staff_rows))
    avg_ring = rings / timed if timed else None
    hotline: dict[str, tuple[int, float]] = {}
    for row in per_staff_rows:
        n, seconds = hotline.get(row.phone, (0, 0.0))
        hotline[row.phone] = (n + row.answered, seconds + row.talk_seconds)

    return {
        "inbound_calls": sums.calls.inbound_calls,
        "outbound_calls": sums.calls.outbound_calls,
        "transfers_offered": offered,
        "transfers_answered": n_answered,
        "answered_within_three_rings": n_within,
        "three_ring_rate": rate(n_within, offered),
        "average_ring_seconds": round(avg_ring, 2) if avg_ring is not None else None,
        "abandoned_calls": sums.calls.abandoned_calls,
        "tickets_created": tickets_created or 0,
        # 回访率 (windows closed by `now`) and 满意率 (satisfied + neutral), see
        # ivr/tickets/followup.py.
        **await followup.rates(session, start=start, end=end, now=now),
        "three_rings_seconds": limit,
        **speed_figures(sums.calls),
        **(await queue_figures(session, start=start, end=end) if detail else {}),
        "per_staff": await with_staff_time(session, settings=settings, start=start, end=end,
                                           now=now,
                                           hotline=hotline, rows=[
            {
                "staff": row.staff_name,
                "phone": row.phone,
                "offered": row.offered,
                "answered": row.answered,
                "within_three_rings": row.within_three_rings,
                "three_ring_rate": rate(row.within_three_rings, row.offered),
                "average_ring_seconds": (round(row.ring_seconds / row.rings_timed, 2)
                                         if row.rings_timed else None),
            }
            for row in per_staff_rows
        ]) if detail else [],
        **({"menu_choices": sums.menu,
            "speech": {"spoke": sums.speech[0], "understood": sums.speech[1]}} if charts else {}),
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


def speed_figures(sums: counted.CallSums) -> dict:
    """The speed of answer's figures from its sums (`rollups.CallSums`): the average is
    the sum of the waits over the waits timed, whether summed by day or at once."""
    offered, within = sums.calls_offered_to_person, sums.answered_within_20s
    return {
        "calls_offered_to_person": offered,
        "calls_answered_by_person": sums.calls_answered_by_person,
        "answered_within_20s": within,
        "answered_within_20s_rate": rate(within, offered),
        "average_speed_of_answer": (round(sums.wait_seconds / sums.waits_timed, 1)
                                    if sums.waits_timed else None),
    }


async def speed_of_answer(session: AsyncSession, *, start: datetime, end: datetime) -> dict:
    """The speed of answer's figures of the calls started in [start, end), from the rows."""
    return speed_figures(await counted.speed_parts(session, start=start, end=end))


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
