"""Outbound jobs (`OutboundJob`): what may be dialled when, queued, counted and finished.

The dialer places them and `answered` settles them; both write a job's state through
here, so neither imports the other's workings.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people import roster
from ivr.platform.config import Settings, parse_hours
from models import Attempt, Call, OutboundJob, Ticket, TicketHistory

OPEN_ATTEMPT_STATES = ("intent", "unknown", "placed")


RETRY_RESULTS = {"busy", "no-answer", "failed", "canceled", "machine", "unanswered", "error"}


DONE_RESULTS = {"reached", "message_left"}


PAID = "paid"  # a fee reminder's household owes nothing now: the job ends, thanked or not called


STAFF_MISS = "staff_unavailable"


STAFF_RETRY_MINUTES = 5


CALLBACK_LOCK_KEY = 0x1B_CA_11_BA  # pg advisory lock: queueing callback jobs

# People before campaigns: an emergency escalation to a supervisor, then a resident waiting
# for our callback, then a follow-up, then fee reminders. A higher class is claimed (and
# paced) before anything below it, whatever is due longer.
PRIORITY = ("escalation", "callback", "follow_up", "fee_reminder")


def rank(kind: str) -> int:
    """0 for the most urgent class; unknown kinds go last."""
    return PRIORITY.index(kind) if kind in PRIORITY else len(PRIORITY)


def in_progress_cap(kind: str, settings: Settings) -> int:
    """How many calls may be in progress when a job of `kind` is claimed: the whole cap for
    escalations, less a growing part of `IVR_DIALER_RESERVED_IN_PROGRESS` for each class
    below (all of it below fee reminders), so unanswered reminders never fill the lines
    a callback needs. At least 1."""
    cap = settings.dialer_max_in_progress
    reserved = min(settings.dialer_reserved_in_progress, cap - 1)
    return max(1, cap - reserved * rank(kind) // (len(PRIORITY) - 1))


def window_for(kind: str, settings: Settings) -> str | None:
    """When a kind of call may be placed: callbacks in office hours, an emergency
    escalation at any time, reminders and follow-ups in calling hours."""
    if kind == "callback":
        return settings.office_hours
    if kind == "escalation":
        return None
    return settings.calling_hours


def in_window(kind: str, *, settings: Settings, now: datetime) -> bool:
    hours = window_for(kind, settings)
    return hours is None or roster.in_hours(hours, settings=settings, now=now)


def next_window(kind: str, *, settings: Settings, now: datetime) -> datetime:
    """`now` if the kind's window is open, else the moment it next opens."""
    if in_window(kind, settings=settings, now=now):
        return now
    start, _end = parse_hours(window_for(kind, settings) or "00:00-24:00")
    local = now.astimezone(settings.tz)
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening.astimezone(now.tzinfo)


def next_day_window(kind: str, *, settings: Settings, now: datetime) -> datetime:
    """The window's opening on the next local day (the day's attempts are used up)."""
    start, _end = parse_hours(window_for(kind, settings) or "00:00-24:00")
    local = now.astimezone(settings.tz) + timedelta(days=1)
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return opening.astimezone(now.tzinfo)


def local_day_start(*, settings: Settings, now: datetime) -> datetime:
    local = now.astimezone(settings.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def new_job(*, kind: str, phone: str, now: datetime, due_at: datetime | None = None,
            resident_id: int | None = None, ticket_id: int | None = None,
            campaign_id: int | None = None, arrears=None,
            not_after: datetime | None = None) -> OutboundJob:
    due = due_at or now
    return OutboundJob(kind=kind, state="queued", phone=phone, resident_id=resident_id,
                       ticket_id=ticket_id, campaign_id=campaign_id, arrears_at_queue=arrears,
                       created_at=now, due_at=due, next_attempt_at=due, not_after=not_after,
                       attempts=0)


async def queue_job(session: AsyncSession, **fields) -> OutboundJob:
    """Queue one outbound call (`new_job`'s fields); the dialer places it when due."""
    job = new_job(**fields)
    session.add(job)
    await session.flush()
    return job


async def queue_callback(session: AsyncSession, *, settings: Settings, now: datetime,
                         ticket: Ticket) -> OutboundJob | None:
    """The callback (回电) of a ticket that needs one: one job per ticket, due at once (it
    waits for office hours like every callback)."""
    existing = await session.scalar(select(OutboundJob).where(
        OutboundJob.ticket_id == ticket.id, OutboundJob.kind == "callback"))
    phone = ticket.resident_phone
    if phone and phone == settings.hotline_number and ticket.call_id is not None:
        # a message left on one of our own outbound calls: the resident is the callee
        call = await session.get(Call, ticket.call_id)
        phone = call.to_number if call is not None and call.direction == "outbound" else None
    if existing is not None or not phone:
        return existing
    job = await queue_job(session, kind="callback", phone=phone, now=now,
                          resident_id=ticket.resident_id, ticket_id=ticket.id)
    session.add(TicketHistory(ticket_id=ticket.id, at=now, actor="dialer",
                              action="callback_queued",
                              detail=f"回电已排队（办公时间 {settings.office_hours} 内拨出）"))
    return job


async def queue_callbacks(session: AsyncSession, *, settings: Settings, now: datetime,
                          within: timedelta = timedelta(hours=24)) -> list[OutboundJob]:
    """Every open ticket still needing a callback (message, missed or abandoned call, of
    any category) of the last day that has no callback job yet gets one. Done by the
    dialer, not at ticket creation, so tickets from any path (a replayed journal too)
    are called back."""
    if (await session.connection()).dialect.name == "postgresql":
        # one dialer at a time (SQLite's write lock does this there); the others skip a pass
        if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                    {"key": CALLBACK_LOCK_KEY}):
            return []
    has_job = select(OutboundJob.id).where(OutboundJob.ticket_id == Ticket.id,
                                           OutboundJob.kind == "callback").exists()
    rows = (await session.scalars(select(Ticket).where(
        Ticket.needs_callback.is_(True), Ticket.status.in_(("open", "assigned", "reopened")),
        Ticket.created_at >= now - within, Ticket.resident_phone.is_not(None),
        ~has_job).order_by(Ticket.id).limit(200))).all()
    jobs = []
    for ticket in rows:
        job = await queue_callback(session, settings=settings, now=now, ticket=ticket)
        if job is not None:
            jobs.append(job)
    return jobs


async def counted_attempts(session: AsyncSession, job: OutboundJob,
                           since: datetime | None = None) -> int:
    """Attempts that rang (or may have rung) the job's phone: void ones and callback
    attempts where no staff member was free do not count."""
    query = select(func.count()).select_from(Attempt).where(
        Attempt.job_id == job.id, Attempt.state != "void",
        (Attempt.result.is_(None)) | (Attempt.result != STAFF_MISS))
    if job.kind == "callback":  # the resident was dialled only once a staff member accepted
        query = query.where(Attempt.result.is_not(None))
    if since is not None:
        query = query.where(Attempt.created_at >= since)
    return int(await session.scalar(query) or 0)


async def in_progress(session: AsyncSession) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(OutboundJob).where(OutboundJob.state == "dialing")) or 0)


async def finish_job(session: AsyncSession, job: OutboundJob, *, state: str, outcome: str,
                     now: datetime, detail: str = "") -> None:
    """A job's last word: on its ticket for callbacks, and the follow-up's for 回访."""
    job.state = state
    job.outcome = outcome
    job.updated_at = now
    if detail:
        job.last_error = detail[:1000] if state == "failed" else job.last_error
    if job.ticket_id is not None and job.kind in ("callback", "escalation"):
        words = {"reached": "已接通", "exhausted": "多次未接通",
                 "invalid_number": "号码无效，无法拨出", "expired": "超过时限未接通",
                 "cancelled": "已取消"}
        label = "回电" if job.kind == "callback" else "紧急电话通知"
        session.add(TicketHistory(ticket_id=job.ticket_id, at=now, actor="dialer",
                                  action=f"{job.kind}_{outcome}",
                                  detail=f"{label}{words.get(outcome, outcome)} {detail}".strip()))
    if job.kind == "follow_up" and state in ("exhausted", "failed"):
        from ivr.tickets import followup  # the tickets engineer's module (issue 4)

        await followup.unreached(session, job=job, now=now)


# An outbound call's menu choice, by the kind of job that placed it (for the statistics).
MENU_CHOICE = {"fee_reminder": "fees", "callback": "callback", "follow_up": "follow_up",
               "escalation": "emergency"}


def link_call(call: Call, job: OutboundJob) -> None:
    call.direction = "outbound"
    call.outbound_job_id = job.id
    if job.kind != "callback" and job.resident_id is not None:
        call.resident_id = call.resident_id or job.resident_id
    call.menu_choice = call.menu_choice or MENU_CHOICE.get(job.kind)

