"""Follow-up calls (回访): 相关部门处理完毕后，应在48小时内致电业户.

Resolving a repair, emergency or complaint schedules one: an `OutboundJob` of kind
`follow_up` that the dialer places at the first moment inside `IVR_CALLING_HOURS` at
least `IVR_FOLLOW_UP_DELAY_MINUTES` after resolution, never after 48 hours. The call
thanks the resident, names the ticket and asks: 1 满意 · 2 基本满意 · 3 不满意. The answer
is kept on the ticket (and as the call's `menu_choice`); 3 reopens it and escalates it to
the supervisor (level 2). A follow-up nobody answered (the dialer gave up, or 48 hours
passed) becomes a manual task for staff, listed on the daily count.

`follow_up_status`: `scheduled` → `answered`; or `manual` (staff to call by hand; their
answer is recorded with `survey.record()`); `cancelled` when the ticket is reopened first.
`follow_up_due_at` is the 48-hour deadline, the promise to the resident.

Rates: the follow-up rate (回访率) = follow-ups answered within 48 h ÷ resolved tickets
that need one and whose 48 h have passed (the others are pending, 窗口未到); the
satisfaction rate (满意率) = (满意 + 基本满意) ÷ answers, as the trade counts it, against the
85% target.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.roster import covers
from ivr.platform.config import Settings, parse_hours
from ivr.tickets import history
from ivr.tickets.labels import SATISFACTION_LABELS  # noqa: F401 (kept here for callers)
from models import OutboundJob, Ticket, TicketHistory

if TYPE_CHECKING:
    pass

FOLLOW_UP_CATEGORIES = ("repair", "complaint", "emergency")
WINDOW = timedelta(hours=48)
SATISFACTION_KEYS = {"1": "satisfied", "2": "neutral", "3": "dissatisfied"}
SATISFACTIONS = tuple(SATISFACTION_KEYS.values())
SATISFACTION_TARGET = 0.85
ANSWER_ACTION = "follow_up_answer"
MAX_PROMPTS = 3  # the question is asked at most this many times in one call
ACTOR = "回访电话"


class FollowUpError(ValueError):
    pass


def call_at(*, settings: Settings, resolved_at: datetime) -> datetime:
    """The first moment inside calling hours at least the delay after resolution."""
    earliest = resolved_at + timedelta(minutes=settings.follow_up_delay_minutes)
    hours = parse_hours(settings.calling_hours)
    local = earliest.astimezone(settings.tz)
    if covers(hours, local.time()):
        return earliest
    start = hours[0]
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opening < local:
        opening += timedelta(days=1)
    return opening.astimezone(resolved_at.tzinfo)


async def cancel_jobs(session: AsyncSession, *, ticket: Ticket, now: datetime) -> int:
    jobs = (await session.scalars(
        select(OutboundJob).where(OutboundJob.ticket_id == ticket.id,
                                  OutboundJob.kind == "follow_up",
                                  OutboundJob.state == "queued")
    )).all()
    for job in jobs:
        job.state = "cancelled"
        job.outcome = job.outcome or "cancelled"
        job.updated_at = now
    return len(jobs)


async def schedule(session: AsyncSession, *, settings: Settings, ticket: Ticket, now: datetime,
                   actor: str) -> OutboundJob | None:
    """Queue the follow-up call of a just-resolved ticket (replacing an older one)."""
    resolved_at = ticket.resolved_at or now
    await cancel_jobs(session, ticket=ticket, now=now)
    deadline = resolved_at + WINDOW
    ticket.follow_up_due_at = deadline
    ticket.followed_up_at = None
    ticket.satisfaction = None
    if not ticket.resident_phone:
        ticket.follow_up_status = "manual"
        history.record(session, ticket, now=now, actor=actor, action="follow_up_manual",
                       detail="没有住户电话，请人工回访")
        return None
    ticket.follow_up_status = "scheduled"
    due = min(call_at(settings=settings, resolved_at=resolved_at), deadline)
    job = OutboundJob(kind="follow_up", state="queued", resident_id=ticket.resident_id,
                      phone=ticket.resident_phone, ticket_id=ticket.id, created_at=now,
                      due_at=due, not_after=deadline, next_attempt_at=due, attempts=0)
    session.add(job)
    await session.flush()
    tz = settings.tz
    history.record(session, ticket, now=now, actor=actor, action="follow_up_scheduled",
                   detail=f"回访电话 {due.astimezone(tz):%Y-%m-%d %H:%M} 起拨打，"
                          f"{deadline.astimezone(tz):%Y-%m-%d %H:%M} 前完成（任务 {job.id}）")
    return job


async def cancel(session: AsyncSession, *, ticket: Ticket, now: datetime, actor: str,
                 reason: str) -> None:
    """A follow-up not yet made is no longer wanted (the ticket went back to work)."""
    await cancel_jobs(session, ticket=ticket, now=now)
    if ticket.follow_up_status in ("scheduled", "manual"):
        ticket.follow_up_status = "cancelled"
        history.record(session, ticket, now=now, actor=actor, action="follow_up_cancelled",
                       detail=reason)


async def make_manual(session: AsyncSession, *, ticket: Ticket, now: datetime, actor: str,
                      reason: str) -> bool:
    if ticket.follow_up_status != "scheduled":
        return False
    ticket.follow_up_status = "manual"
    history.record(session, ticket, now=now, actor=actor, action="follow_up_unreached",
                   detail=reason)
    return True


async def unreached(session: AsyncSession, *, job: OutboundJob, now: datetime) -> Ticket | None:
    """The dialer gave up on a follow-up job: staff call the resident by hand."""
    ticket = await session.get(Ticket, job.ticket_id) if job.ticket_id else None
    if ticket is None:
        return None
    await make_manual(session, ticket=ticket, now=now, actor="dialer",
                      reason=f"回访电话未接通（{job.attempts} 次），请人工回访")
    return ticket


async def expire(session: AsyncSession, *, now: datetime) -> list[Ticket]:
    """Follow-ups still not made when their 48 hours run out become manual tasks."""
    due = (await session.scalars(
        select(Ticket).where(Ticket.follow_up_status == "scheduled",
                             Ticket.follow_up_due_at <= now)
    )).all()
    for ticket in due:
        await make_manual(session, ticket=ticket, now=now, actor="scheduler",
                          reason="48 小时内未能回访，请人工回访")
    return list(due)


async def manual_tasks(session: AsyncSession) -> list[Ticket]:
    return list((await session.scalars(
        select(Ticket).where(Ticket.follow_up_status == "manual")
        .order_by(Ticket.follow_up_due_at, Ticket.id)
    )).all())


# --- the survey call -------------------------------------------------------------------


# --- rates -----------------------------------------------------------------------------

async def rates(session: AsyncSession, *, start: datetime, end: datetime,
                now: datetime | None = None) -> dict:
    """回访率 over tickets resolved in [start, end) whose 48-hour window has closed by
    `now` (default: the wall clock); those still inside it are `follow_ups_pending`
    (窗口未到), in neither part of the rate, so a day just ended is not a miss by
    construction. 满意率 over answers given in [start, end)."""
    closed_by = (now or datetime.now(timezone.utc)) - WINDOW
    resolved = (await session.execute(
        select(Ticket.resolved_at, Ticket.followed_up_at, Ticket.resolved_at <= closed_by)
        .where(Ticket.category.in_(FOLLOW_UP_CATEGORIES),
               Ticket.resolved_at >= start, Ticket.resolved_at < end)
    )).all()
    closed = [(r, f) for r, f, window_closed in resolved if window_closed]
    within = sum(1 for r, f in closed if f is not None and f - r <= WINDOW)
    answers = dict((await session.execute(
        select(TicketHistory.detail, func.count())
        .where(TicketHistory.action == ANSWER_ACTION,
               TicketHistory.at >= start, TicketHistory.at < end)
        .group_by(TicketHistory.detail)
    )).all())
    counts = {s: answers.get(s, 0) for s in SATISFACTIONS}
    total = sum(counts.values())
    content = counts["satisfied"] + counts["neutral"]
    return {
        "follow_ups_due": len(closed),
        "followed_up_within_48h": within,
        "follow_up_rate": round(within / len(closed), 4) if closed else None,
        "follow_ups_pending": len(resolved) - len(closed),
        "satisfaction_answers": total,
        "satisfied": counts["satisfied"],
        "neutral": counts["neutral"],
        "dissatisfied": counts["dissatisfied"],
        "satisfaction_rate": round(content / total, 4) if total else None,
        "satisfaction_target": SATISFACTION_TARGET,
    }
