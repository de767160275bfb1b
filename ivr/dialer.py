"""The outbound dialer: every outbound call (回电, 回访, 催缴, 紧急升级) from one durable queue.

Jobs (`OutboundJob`) live in the database; any number of dialer processes may run.

Exactly once:
1. *Claim.* In one transaction a due job goes `queued` → `dialing` and an `Attempt` row
   (the intent: number, phone, no CallSid yet) is written. PostgreSQL takes the rows with
   `SELECT … FOR UPDATE SKIP LOCKED`; SQLite's write transactions begin IMMEDIATE, so a
   second dialer waits for the lock and then sees the job already taken.
2. *Place.* The REST create, paced; the CallSid is written on the attempt. Twilio's
   status callbacks carry `?job=&n=`, so they fill a CallSid we failed to write, too.
3. *Reconcile.* An intent still without a CallSid after
   `IVR_DIALER_RECONCILE_AFTER_SECONDS` (its dialer crashed mid-request) or whose create
   ended ambiguously (5xx, timeout) is looked up on Twilio: a parentless call from
   `HOTLINE_NUMBER` to that phone whose SID no attempt knows is ours and is adopted; no
   such call means none was placed, the attempt is void and the job is queued again. If
   the lookup itself fails, nothing is decided and it is tried again later: a call may be
   late, never doubled.

Pacing is for the whole account (`IVR_DIALER_CPS`, slots shared through the database by
every dialer: `ivr/pace.py`) with a cap on calls in progress across all processes
(`IVR_DIALER_MAX_IN_PROGRESS`). Times written to the database come from the app's
clock, so tests freeze them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.rest import Client

from models import Attempt, Call, OutboundJob, Resident, Ticket, TicketHistory

from . import roster, twilio_rest
from .calls import get_or_create_call
from .clock import Clock
from .config import Settings, parse_hours
from .pace import Pace
from .phones import mask

log = logging.getLogger(__name__)

# Attempt.state: intent (written before the REST call), unknown (the create may or may not
# have happened), placed (Twilio has the call), done (settled), void (never placed).
OPEN_ATTEMPT_STATES = ("intent", "unknown", "placed")
# Call results that are tried again later (within the attempt limits).
RETRY_RESULTS = {"busy", "no-answer", "failed", "canceled", "machine", "unanswered", "error"}
# Results that end the job successfully.
DONE_RESULTS = {"reached", "message_left"}
# A callback where no staff member took the call is not the resident's attempt.
STAFF_MISS = "staff_unavailable"
STAFF_RETRY_MINUTES = 5
CALLBACK_LOCK_KEY = 0x1B_CA_11_BA  # pg advisory lock: queueing callback jobs


# --- windows ---------------------------------------------------------------------------

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


# --- queueing --------------------------------------------------------------------------

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
    """The callback (回电) of a callback ticket: one job per ticket, due at once (it
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
    """Every open callback ticket (message, missed or abandoned call) of the last day
    that has no callback job yet gets one. Done by the dialer, not at ticket creation,
    so tickets from any path (a replayed journal too) are called back."""
    if (await session.connection()).dialect.name == "postgresql":
        # one dialer at a time (SQLite's write lock does this there); the others skip a pass
        if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                    {"key": CALLBACK_LOCK_KEY}):
            return []
    has_job = select(OutboundJob.id).where(OutboundJob.ticket_id == Ticket.id,
                                           OutboundJob.kind == "callback").exists()
    rows = (await session.scalars(select(Ticket).where(
        Ticket.category == "callback", Ticket.status.in_(("open", "assigned", "reopened")),
        Ticket.created_at >= now - within, Ticket.resident_phone.is_not(None),
        ~has_job).order_by(Ticket.id).limit(200))).all()
    jobs = []
    for ticket in rows:
        job = await queue_callback(session, settings=settings, now=now, ticket=ticket)
        if job is not None:
            jobs.append(job)
    return jobs


# --- claiming --------------------------------------------------------------------------

@dataclass
class Claimed:
    """What placing a claimed job needs, read in the claiming transaction."""

    job_id: int
    attempt_id: int
    number: int
    kind: str
    phone: str


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


async def _lock(query, session: AsyncSession):
    if (await session.connection()).dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


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
        from . import followup  # the tickets engineer's module (issue 4)

        await followup.unreached(session, job=job, now=now)


async def prepare(session: AsyncSession, job: OutboundJob, *, settings: Settings,
                  now: datetime) -> tuple[str, int | None] | None:
    """Right before dialling: the phone to ring (and the staff member), or None when the
    job must not be dialled now (paid meanwhile, expired, the day's attempts used up)."""
    if job.not_after is not None and now > job.not_after:
        await finish_job(session, job, state="exhausted", outcome="expired", now=now)
        return None
    if job.attempts:  # a job never tried has nothing to count
        if await counted_attempts(session, job) >= settings.dialer_max_attempts:
            await finish_job(session, job, state="exhausted", outcome="exhausted", now=now,
                             detail=f"（共 {settings.dialer_max_attempts} 次）")
            return None
        today = await counted_attempts(session, job, local_day_start(settings=settings, now=now))
        if today >= settings.dialer_attempts_per_day:
            job.next_attempt_at = next_day_window(job.kind, settings=settings, now=now)
            return None
    if job.kind == "fee_reminder":
        resident = await session.get(Resident, job.resident_id) if job.resident_id else None
        if resident is None or resident.arrears <= 0:
            job.state, job.outcome, job.updated_at = "skipped", "paid", now
            return None
        job.phone = resident.phone
    if job.kind == "callback":
        staff = await roster.on_duty(session, settings=settings, now=now)
        if not staff:
            job.next_attempt_at = now + timedelta(minutes=STAFF_RETRY_MINUTES)
            return None
        misses = int(await session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.job_id == job.id, Attempt.state != "void")) or 0)
        person = staff[misses % len(staff)]
        return person.phone, person.id
    return job.phone, None


async def claim(session: AsyncSession, *, settings: Settings, now: datetime, limit: int,
                name: str) -> list[Claimed]:
    """Take up to `limit` due jobs whose window is open and write their intents."""
    kinds = [k for k in ("callback", "follow_up", "fee_reminder", "escalation")
             if in_window(k, settings=settings, now=now)]
    if not kinds or limit <= 0:
        return []
    query = (select(OutboundJob)
             .where(OutboundJob.state == "queued", OutboundJob.next_attempt_at <= now,
                    OutboundJob.kind.in_(kinds))
             .order_by(OutboundJob.next_attempt_at)  # the (state, next_attempt_at) index
             .limit(limit))
    jobs = list((await session.scalars(await _lock(query, session))).all())
    residents = {job.resident_id for job in jobs if job.kind == "fee_reminder" and job.resident_id}
    if residents:  # into the identity map at once: `prepare` re-reads each from there
        await session.execute(select(Resident).where(Resident.id.in_(residents))
                              .execution_options(populate_existing=True))
    taken: list[tuple[OutboundJob, Attempt]] = []
    for job in jobs:
        target = await prepare(session, job, settings=settings, now=now)
        if target is None:
            continue
        phone, staff_id = target
        job.attempts += 1
        attempt = Attempt(job_id=job.id, number=job.attempts, created_at=now, phone=phone,
                          staff_id=staff_id, state="intent")
        session.add(attempt)
        job.state, job.claimed_by, job.claimed_at, job.updated_at = "dialing", name, now, now
        taken.append((job, attempt))
    await session.flush()
    return [Claimed(job.id, attempt.id, attempt.number, job.kind, attempt.phone)
            for job, attempt in taken]


# --- placing ---------------------------------------------------------------------------

def call_params(settings: Settings, claimed: Claimed) -> dict:
    """The REST create: absolute URLs on PUBLIC_BASE_URL, every progress event, AMD.

    A reminder waits for the beep (DetectMessageEnd) so the message it leaves is whole;
    a staff phone (callback) or an escalation only needs to know a person answered.
    """
    query = f"?job={claimed.job_id}&n={claimed.number}"
    return dict(
        to=claimed.phone,
        from_=settings.hotline_number,
        url=settings.public_url(f"/twilio/outbound{query}"),
        method="POST",
        status_callback=settings.public_url(f"/twilio/status{query}"),  # CONTRACT.md
        status_callback_method="POST",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
        machine_detection="DetectMessageEnd" if claimed.kind == "fee_reminder" else "Enable",
        timeout=settings.dialer_ring_timeout_seconds,
    )


async def record_placed(session: AsyncSession, *, settings: Settings, attempt: Attempt,
                        job: OutboundJob, sid: str, status: str, now: datetime) -> None:
    """The CallSid on the attempt and the outbound Call row (for /api/calls and stats)."""
    if attempt.call_sid is None:
        attempt.call_sid = sid
    if attempt.state in ("intent", "unknown"):
        attempt.state = "placed"
    attempt.placed_at = attempt.placed_at or now
    call = await get_or_create_call(session, now=now, form={
        "CallSid": sid, "Direction": "outbound-api", "From": settings.hotline_number,
        "To": attempt.phone, "CallStatus": status or "queued"})
    link_call(call, job)


def link_call(call: Call, job: OutboundJob) -> None:
    call.direction = "outbound"
    call.outbound_job_id = job.id
    if job.kind != "callback" and job.resident_id is not None:
        call.resident_id = call.resident_id or job.resident_id
    call.menu_choice = call.menu_choice or {"fee_reminder": "fees", "callback": "callback",
                                            "follow_up": "follow_up",
                                            "escalation": "emergency"}.get(job.kind)


async def requeue(session: AsyncSession, *, job: OutboundJob, attempt: Attempt,
                  at: datetime, now: datetime, error: str) -> None:
    """The attempt never reached Twilio: void it, give the job back to the queue."""
    attempt.state, attempt.error, attempt.finished_at = "void", error, now
    if job.state == "dialing":
        job.state, job.next_attempt_at = "queued", at
    job.last_error, job.updated_at = error, now


@dataclass
class Dialer:
    """One dialer process: its pacer, its name, the REST client and the database."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    client: Client
    clock: Clock
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{id(object())}")
    pacer: Pace | None = None
    waiting: int = 0  # claimed here, not yet started (their arrears were read ≤ ~2 s ago)
    placed: int = 0

    def __post_init__(self) -> None:
        self.pacer = self.pacer or Pace(self.sessions, name="calls", rate=self.settings.dialer_cps)

    @property
    def batch(self) -> int:
        return max(1, math.ceil(self.settings.dialer_cps))

    async def claim_batch(self, *, now: datetime, limit: int | None = None,
                          callbacks: bool = True) -> list[Claimed]:
        async with self.sessions() as session, session.begin():
            if callbacks:
                await queue_callbacks(session, settings=self.settings, now=now)
            room = self.settings.dialer_max_in_progress - await in_progress(session)
            want = min(room, 2 * self.batch - self.waiting if limit is None else limit)
            return await claim(session, settings=self.settings, now=now, limit=want,
                               name=self.name)

    async def place(self, claimed: Claimed) -> None:
        """Pace, create the call, write its SID; back off on 429, look up before
        retrying after an ambiguous failure, stop on an error that will never pass."""
        settings = self.settings
        delay = settings.dialer_backoff_seconds
        params = call_params(settings, claimed)
        self.waiting += 1
        try:
            await self.pacer.wait()
        finally:
            self.waiting -= 1
        for _try in range(settings.dialer_rest_tries):
            try:
                call = await twilio_rest.with_timeout(self.client.calls.create_async(**params),
                                                      settings)
            except Exception as exc:  # noqa: BLE001 - every failure is classified
                failure = twilio_rest.classify(exc)
                error = twilio_rest.describe(exc)
                log.warning("dialer: job %s attempt %s to %s: %s (%s)", claimed.job_id,
                            claimed.number, mask(claimed.phone), error, failure)
                if failure == "permanent":
                    await self.fail(claimed, exc)
                    return
                if failure == "ambiguous":
                    await self.mark(claimed, state="unknown", error=error)
                    await asyncio.sleep(delay)  # let a create still in Twilio's hands land
                    found = await self.reconcile_attempt(claimed.attempt_id, requeue=False)
                    if found is not False:  # adopted, or undecidable: never call twice
                        return
                else:
                    await self.pacer.back_off(delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                await self.pacer.wait()
                if not await self.still_open(claimed):  # settled meanwhile (a callback came)
                    return
                continue
            self.placed += 1
            await self.placed_ok(claimed, call.sid, call.status)
            return
        now = self.clock()
        async with self.sessions() as session, session.begin():
            attempt = await session.get(Attempt, claimed.attempt_id)
            job = await session.get(OutboundJob, claimed.job_id)
            if attempt.state in ("intent", "unknown") and attempt.call_sid is None:
                await requeue(session, job=job, attempt=attempt, now=now,
                              at=now + timedelta(seconds=delay * 10),
                              error="Twilio REST unavailable; tried again later")

    async def placed_ok(self, claimed: Claimed, sid: str, status) -> None:
        async with self.sessions() as session, session.begin():
            attempt = await session.get(Attempt, claimed.attempt_id)
            job = await session.get(OutboundJob, claimed.job_id)
            await record_placed(session, settings=self.settings, attempt=attempt, job=job,
                                sid=sid, status=str(status or "queued"), now=self.clock())

    async def still_open(self, claimed: Claimed) -> bool:
        async with self.sessions() as session:
            attempt = await session.get(Attempt, claimed.attempt_id)
            return attempt.call_sid is None and attempt.state in ("intent", "unknown")

    async def mark(self, claimed: Claimed, *, state: str, error: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(Attempt).where(
                Attempt.id == claimed.attempt_id, Attempt.call_sid.is_(None),
                Attempt.state.in_(("intent", "unknown"))).values(state=state, error=error))

    async def fail(self, claimed: Claimed, exc: BaseException) -> None:
        """A 4xx that no retry fixes (21211 invalid number ...): recorded, reported, done."""
        now = self.clock()
        code = twilio_rest.error_code(exc)
        outcome = "invalid_number" if code in (21211, 21214, 21217, 13223, 13224) else "rest_error"
        async with self.sessions() as session, session.begin():
            attempt = await session.get(Attempt, claimed.attempt_id)
            job = await session.get(OutboundJob, claimed.job_id)
            attempt.state, attempt.result = "done", outcome
            attempt.error, attempt.finished_at = twilio_rest.describe(exc), now
            job.last_error = attempt.error
            if job.kind == "callback":  # a staff phone is wrong: the next person on duty
                log.error("dialer: staff phone %s cannot be called: %s", mask(attempt.phone),
                          attempt.error)
                attempt.result = STAFF_MISS
                job.state, job.updated_at = "queued", now
                job.next_attempt_at = now + timedelta(minutes=STAFF_RETRY_MINUTES)
                return
            await finish_job(session, job, state="failed", outcome=outcome, now=now,
                             detail=attempt.error or "")

    # --- reconciling ---

    async def reconcile_attempt(self, attempt_id: int, *, requeue: bool = True) -> bool | None:
        """Was this SID-less attempt placed? True: adopted its call. False: it was not
        (with `requeue`, the attempt is void and the job queued again; without, the
        caller, still holding the claim, may place it). None: cannot tell yet."""
        settings = self.settings
        async with self.sessions() as session:
            attempt = await session.get(Attempt, attempt_id)
            if attempt is None or attempt.call_sid is not None or attempt.state not in ("intent", "unknown"):
                return True
            phone = attempt.phone
        try:
            calls = await twilio_rest.with_timeout(self.client.calls.list_async(
                to=phone, from_=settings.hotline_number, limit=50), settings)
        except Exception as exc:  # noqa: BLE001
            log.warning("dialer: cannot look up calls to %s: %s", mask(phone),
                        twilio_rest.describe(exc))
            return None
        candidates = [c.sid for c in calls if not getattr(c, "parent_call_sid", None)]
        now = self.clock()
        async with self.sessions() as session, session.begin():
            attempt = await session.get(Attempt, attempt_id, with_for_update=True)
            if attempt.call_sid is not None or attempt.state not in ("intent", "unknown"):
                return True
            known = set((await session.scalars(select(Attempt.call_sid).where(
                Attempt.call_sid.in_(candidates)))).all()) if candidates else set()
            unknown = [sid for sid in candidates if sid not in known]
            job = await session.get(OutboundJob, attempt.job_id)
            if unknown:
                log.info("dialer: job %s attempt %s was placed after all (%s): adopted",
                         job.id, attempt.number, unknown[0])
                status = next((c.status for c in calls if c.sid == unknown[0]), "queued")
                await record_placed(session, settings=settings, attempt=attempt, job=job,
                                    sid=unknown[0], status=str(status or "queued"), now=now)
                return True
            if not requeue:
                return False
            attempt.state, attempt.finished_at = "void", now
            attempt.error = (attempt.error or "") + " (not placed, per Twilio's call list)"
            job.state, job.next_attempt_at, job.updated_at = "queued", now, now
            return False

    async def reconcile(self, *, now: datetime) -> int:
        """Intents left by a crashed or timed-out dialer, and calls whose end never
        reached us (a lost status callback), settled from Twilio's own records."""
        cutoff = now - timedelta(seconds=self.settings.dialer_reconcile_after_seconds)
        stale = now - timedelta(minutes=self.settings.dialer_stale_call_minutes)
        async with self.sessions() as session:
            orphans = list((await session.scalars(select(Attempt.id).where(
                Attempt.state.in_(("intent", "unknown")), Attempt.call_sid.is_(None),
                Attempt.created_at <= cutoff).limit(100))).all())
            lost = list((await session.execute(select(Attempt.id, Attempt.call_sid).where(
                Attempt.state == "placed", Attempt.created_at <= stale).limit(100))).all())
        for attempt_id in orphans:
            await self.reconcile_attempt(attempt_id)
        for attempt_id, sid in lost:
            try:
                call = await twilio_rest.with_timeout(self.client.calls(sid).fetch_async(),
                                                      self.settings)
            except Exception as exc:  # noqa: BLE001
                log.warning("dialer: cannot fetch call %s: %s", sid, twilio_rest.describe(exc))
                continue
            status = str(call.status or "")
            if status in ("completed", "busy", "no-answer", "failed", "canceled"):
                from .outbound import settle_attempt

                async with self.sessions() as session, session.begin():
                    attempt = await session.get(Attempt, attempt_id)
                    job = await session.get(OutboundJob, attempt.job_id)
                    await settle_attempt(session, settings=self.settings, job=job,
                                         attempt=attempt, status=status,
                                         answered_by=getattr(call, "answered_by", None),
                                         now=self.clock())
        return len(orphans) + len(lost)

    # --- running ---

    async def run_once(self, *, now: datetime | None = None) -> int:
        """One pass for tests and scripts: reconcile, claim what may be dialled now,
        place it (paced), and wait for the REST calls. The number of jobs claimed."""
        now = now or self.clock()
        await self.reconcile(now=now)
        claimed = await self.claim_batch(now=now)
        await asyncio.gather(*(self.place(c) for c in claimed))
        return len(claimed)

    async def run_until_idle(self, *, max_passes: int = 1000) -> int:
        total = 0
        for _ in range(max_passes):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """The loop of `ivr serve` and `ivr dialer`: claims about a second's worth of
        calls at a time and places them in the background, paced."""
        tasks: set[asyncio.Task] = set()
        last_reconcile = 0.0
        last_callbacks = 0.0
        poll = self.settings.dialer_poll_seconds
        log.info("dialer %s: %s calls/s, at most %s in progress", self.name,
                 self.settings.dialer_cps, self.settings.dialer_max_in_progress)
        while not stop.is_set():
            claimed: list[Claimed] = []
            try:
                now = self.clock()
                if time.monotonic() - last_reconcile >= min(30.0, self.settings.dialer_reconcile_after_seconds / 2):
                    last_reconcile = time.monotonic()
                    await self.reconcile(now=now)
                if self.waiting < 2 * self.batch:  # up to ~2 s of calls claimed ahead
                    due = time.monotonic() - last_callbacks >= poll
                    if due:
                        last_callbacks = time.monotonic()
                    claimed = await self.claim_batch(now=now, callbacks=due)
                for c in claimed:
                    task = asyncio.create_task(self.place(c))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dialer pass failed; next pass in %ss", poll)
            pause = min(poll, max(0.02, self.pacer.interval * max(1, self.batch // 4))) if claimed else poll
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except asyncio.TimeoutError:
                pass
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def background(app):
    """cleanup_ctx of `ivr serve`: the dialer and the SMS sender beside the web server."""
    from . import sms
    from .resources import CLOCK, SESSIONS, SETTINGS, TWILIO

    missing = twilio_rest.missing_settings(app[SETTINGS])
    if missing:  # e.g. `make run` on a laptop: the hotline works, nothing is dialled
        log.warning("outbound dialer and SMS sender not started: %s not set", ", ".join(missing))
        yield
        return
    dialer = Dialer(settings=app[SETTINGS], sessions=app[SESSIONS], client=app[TWILIO],
                    clock=app[CLOCK])
    sender = sms.Sender(settings=app[SETTINGS], sessions=app[SESSIONS], client=app[TWILIO],
                        clock=app[CLOCK])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(dialer.run(stop), name="dialer"),
             asyncio.create_task(sender.run(stop), name="sms-sender")]
    yield
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
