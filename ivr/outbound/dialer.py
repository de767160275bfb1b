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
every dialer: `ivr/outbound/pace.py`) with a cap on calls in progress across all processes
(`IVR_DIALER_MAX_IN_PROGRESS`). People before campaigns (`jobs.PRIORITY`): jobs are
claimed class by class, a higher class takes the next pace slot from a lower one already
waiting, and part of the cap (`IVR_DIALER_RESERVED_IN_PROGRESS`) is kept for the higher
classes; campaigns share what is left in turn. Times written to the database come from the app's
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
from itertools import zip_longest

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.rest import Client

from ivr.calls import presence
from ivr.calls.records import get_or_create_call
from ivr.outbound import jobs
from ivr.outbound.pace import Pace
from ivr.platform import twilio_rest
from ivr.platform.clock import Clock
from ivr.platform.config import Settings
from ivr.platform.passes import Passes
from ivr.platform.phones import as_stored, mask
from models import Attempt, Call, Campaign, OutboundJob, Resident, rollup
from models.db import insert_for

log = logging.getLogger(__name__)

# Attempt.state: intent (written before the REST call), unknown (the create may or may not
# have happened), placed (Twilio has the call), done (settled), void (never placed).
# Call results that are tried again later (within the attempt limits).
# Results that end the job successfully.
# A callback where no staff member took the call is not the resident's attempt.


# --- windows ---------------------------------------------------------------------------


# --- queueing --------------------------------------------------------------------------


# --- claiming --------------------------------------------------------------------------

@dataclass
class Claimed:
    """What placing a claimed job needs, read in the claiming transaction."""

    job_id: int
    attempt_id: int
    number: int
    kind: str
    phone: str
    resident_id: int | None = None


JOBS, ATTEMPTS, CALLS, RESIDENTS = (OutboundJob.__table__, Attempt.__table__, Call.__table__,
                                    Resident.__table__)

# A fee reminder's first attempt, claimed in bulk (Core, one executemany for all): the
# bulk of a campaign, where an ORM object per job cost more CPU than the REST call.
CLAIM_JOB = (update(JOBS).where(JOBS.c.id == bindparam("b_id"), JOBS.c.state == "queued")
             .values(state="dialing", attempts=JOBS.c.attempts + 1, phone=bindparam("b_phone"),
                     claimed_by=bindparam("b_name"), claimed_at=bindparam("b_now"),
                     updated_at=bindparam("b_now")))
WRITE_INTENT = insert(ATTEMPTS).returning(ATTEMPTS.c.id, sort_by_parameter_order=True)
PAID = (update(JOBS).where(JOBS.c.id.in_(bindparam("b_ids", expanding=True)))
        .values(state="skipped", outcome="paid", updated_at=bindparam("b_now")))
# The CallSid on an attempt, as `record_placed` writes it: a SID a status callback wrote
# first stays, the state goes on from intent/unknown only, the first placing time stays.
PLACED = (update(ATTEMPTS).where(ATTEMPTS.c.id == bindparam("b_id"))
          .values(call_sid=func.coalesce(ATTEMPTS.c.call_sid, bindparam("b_sid")),
                  state=case((or_(ATTEMPTS.c.state == "intent", ATTEMPTS.c.state == "unknown"),
                              "placed"),
                             else_=ATTEMPTS.c.state),
                  placed_at=func.coalesce(ATTEMPTS.c.placed_at, bindparam("b_now"))))
# The wait for more calls to write together, at a pace of 10 calls a second or more.
RECORD_LINGER_SECONDS = 0.1


async def _lock(query, session: AsyncSession):
    if (await session.connection()).dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


async def prepare(session: AsyncSession, job: OutboundJob, *, settings: Settings,
                  now: datetime) -> tuple[str, int | None] | None:
    """Right before dialling: the phone to ring (and the staff member), or None when the
    job must not be dialled now (paid meanwhile, expired, the day's attempts used up)."""
    if job.not_after is not None and now > job.not_after:
        await jobs.finish_job(session, job, state="exhausted", outcome="expired", now=now)
        return None
    if job.attempts:  # a job never tried has nothing to count
        if await jobs.counted_attempts(session, job) >= settings.dialer_max_attempts:
            await jobs.finish_job(session, job, state="exhausted", outcome="exhausted", now=now,
                             detail=f"（共 {settings.dialer_max_attempts} 次）")
            return None
        today = await jobs.counted_attempts(session, job, jobs.local_day_start(settings=settings, now=now))
        if today >= settings.dialer_attempts_per_day:
            job.next_attempt_at = jobs.next_day_window(job.kind, settings=settings, now=now)
            return None
    if job.kind == "fee_reminder":
        resident = await session.get(Resident, job.resident_id) if job.resident_id else None
        if resident is None or resident.arrears <= 0:
            job.state, job.outcome, job.updated_at = "skipped", jobs.PAID, now
            return None
        job.phone = resident.phone
    if job.kind == "callback":
        # A free person (never one talking, ringing or signed out: ivr.calls.presence), not
        # yet tried for this job; when everyone free was tried, round again.
        tried = set((await session.scalars(select(Attempt.staff_id).where(
            Attempt.job_id == job.id, Attempt.staff_id.is_not(None)))).all())
        person = await presence.take_free_staff(session, settings=settings, now=now,
                                                choice="person", exclude=tried)
        if person is None and tried:
            person = await presence.take_free_staff(session, settings=settings, now=now,
                                                    choice="person")
        if person is None:
            job.next_attempt_at = now + timedelta(minutes=jobs.STAFF_RETRY_MINUTES)
            return None
        return person.phone, person.id
    return job.phone, None


async def due_jobs(session: AsyncSession, *, kind: str, now: datetime,
                   limit: int) -> list[OutboundJob]:
    """Up to `limit` queued jobs of one kind that are due, longest due first (fee
    reminders are claimed in bulk through `due_reminders` instead)."""
    base = (select(OutboundJob)
            .where(OutboundJob.state == "queued", OutboundJob.kind == kind,
                   OutboundJob.next_attempt_at <= now)
            .order_by(OutboundJob.next_attempt_at, OutboundJob.id))  # the (state, kind, next) index
    return list((await session.scalars(await _lock(base.limit(limit), session))).all())


async def due_reminders(session: AsyncSession, *, now: datetime, limit: int) -> list:
    """Up to `limit` due fee reminders as plain rows, with the resident's phone and arrears
    read in the same statement (no ORM object per reminder), dealt in turn from every
    campaign with reminders due, so campaigns share fairly."""
    base = (select(JOBS.c.id, JOBS.c.attempts, JOBS.c.not_after, JOBS.c.resident_id,
                   RESIDENTS.c.phone.label("resident_phone"), RESIDENTS.c.arrears)
            .select_from(JOBS.outerjoin(RESIDENTS, RESIDENTS.c.id == JOBS.c.resident_id))
            .where(JOBS.c.state == "queued", JOBS.c.kind == "fee_reminder",
                   JOBS.c.next_attempt_at <= now)
            .order_by(JOBS.c.next_attempt_at, JOBS.c.id))
    return await _in_turn(session, base, kind="fee_reminder", now=now, limit=limit)


async def _in_turn(session: AsyncSession, base, *, kind: str, now: datetime, limit: int) -> list:
    """Fee reminders dealt in turn from every campaign with reminders due (the rows `base`
    selects), each campaign's locked on PostgreSQL."""
    due = (JOBS.c.state == "queued", JOBS.c.kind == kind, JOBS.c.next_attempt_at <= now)
    # Which campaigns have reminders due: a seek per campaign (the campaigns table is
    # small), not a scan of every queued reminder at every pass. Reminders of no campaign
    # come first.
    campaigns = list((await session.scalars(select(Campaign.id).where(
        select(JOBS.c.id).where(*due, JOBS.c.campaign_id == Campaign.id).exists())
        .order_by(Campaign.id))).all())
    if await session.scalar(select(JOBS.c.id).where(*due, JOBS.c.campaign_id.is_(None)).limit(1)):
        campaigns.insert(0, None)
    share = -(-limit // max(1, len(campaigns)))
    dealt: list[list] = []
    for campaign_id in campaigns:
        of_campaign = base.where(JOBS.c.campaign_id.is_(None) if campaign_id is None
                                 else JOBS.c.campaign_id == campaign_id).limit(share)
        if (await session.connection()).dialect.name == "postgresql":
            of_campaign = of_campaign.with_for_update(skip_locked=True, of=JOBS)
        dealt.append(list((await session.execute(of_campaign)).all()))
    in_turn = [job for round_ in zip_longest(*dealt) for job in round_ if job is not None]
    return in_turn[:limit]


async def claim(session: AsyncSession, *, settings: Settings, now: datetime, limit: int,
                name: str, in_progress: int = 0, campaigns: bool = True) -> list[Claimed]:
    """Take up to `limit` due jobs whose window is open and write their intents: people
    before campaigns (`jobs.PRIORITY`), each class only while the calls in progress are
    below its share of the cap (`jobs.in_progress_cap`); fee reminders only if
    `campaigns`."""
    taken: list[tuple[OutboundJob, Attempt] | Claimed] = []
    for kind in jobs.PRIORITY:
        if not jobs.in_window(kind, settings=settings, now=now):
            continue
        if kind == "fee_reminder" and not campaigns:
            continue
        room = min(limit - len(taken),
                   jobs.in_progress_cap(kind, settings) - in_progress - len(taken))
        if room <= 0:
            continue
        if kind == "fee_reminder":
            taken.extend(await claim_reminders(session, settings=settings, now=now,
                                               limit=room, name=name))
            continue
        for job in await due_jobs(session, kind=kind, now=now, limit=room):
            claimed = await claim_job(session, job, settings=settings, now=now, name=name)
            if claimed is not None:
                taken.append(claimed)
    await session.flush()
    return [c if isinstance(c, Claimed) else
            Claimed(c[0].id, c[1].id, c[1].number, c[0].kind, c[1].phone, c[0].resident_id)
            for c in taken]


async def claim_job(session: AsyncSession, job: OutboundJob, *, settings: Settings,
                    now: datetime, name: str) -> tuple[OutboundJob, Attempt] | None:
    """One job through `prepare` and its intent, as ORM objects (flushed by the caller):
    the classes above reminders, and reminders being retried or past their time."""
    target = await prepare(session, job, settings=settings, now=now)
    if target is None:
        return None
    phone, staff_id = target
    job.attempts += 1
    attempt = Attempt(job_id=job.id, number=job.attempts, created_at=now, phone=phone,
                      staff_id=staff_id, state="intent")
    session.add(attempt)
    job.state, job.claimed_by, job.claimed_at, job.updated_at = "dialing", name, now, now
    return job, attempt


async def claim_reminders(session: AsyncSession, *, settings: Settings, now: datetime,
                          limit: int, name: str) -> list[Claimed]:
    """Up to `limit` fee reminders, dealt in turn across campaigns. A first attempt (nearly
    every reminder of a campaign) is claimed in bulk: one UPDATE of the jobs and one INSERT
    of the intents for all of them; a household that paid meanwhile is skipped in one
    statement; a retry or a reminder past its time goes through `claim_job` as before."""
    rows = await due_reminders(session, now=now, limit=limit)
    first, paid, claimed = [], [], []
    for row in rows:
        if row.attempts or (row.not_after is not None and now > row.not_after):
            job = await session.get(OutboundJob, row.id)
            taken = await claim_job(session, job, settings=settings, now=now, name=name)
            if taken is not None:
                await session.flush()
                claimed.append(Claimed(job.id, taken[1].id, taken[1].number, job.kind,
                                       taken[1].phone, job.resident_id))
        elif row.resident_phone is None or row.arrears <= 0:
            paid.append(row.id)
        else:
            first.append(row)
    if paid:
        await session.execute(PAID, {"b_ids": paid, "b_now": now})
    if not first:
        return claimed
    await session.execute(CLAIM_JOB, [{"b_id": row.id, "b_phone": row.resident_phone,
                                       "b_name": name, "b_now": now} for row in first])
    ids = (await session.scalars(WRITE_INTENT, [
        {"job_id": row.id, "number": 1, "created_at": now, "phone": row.resident_phone,
         "staff_id": None, "state": "intent"} for row in first])).all()
    return claimed + [Claimed(row.id, attempt_id, 1, "fee_reminder", row.resident_phone,
                              row.resident_id) for row, attempt_id in zip(first, ids)]


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
    jobs.link_call(call, job)


async def record_placed_many(session: AsyncSession, *, settings: Settings, now: datetime,
                             placed: list[tuple[Claimed, str, str]]) -> None:
    """`record_placed` for many calls in three statements: the SIDs on the attempts, and
    the outbound Call rows inserted together; a row a status callback created first (it
    carries `?job=`) is linked to its job the ORM way."""
    if not placed:
        return
    await session.execute(PLACED, [{"b_id": c.attempt_id, "b_sid": sid, "b_now": now}
                                   for c, sid, _status in placed])
    hotline = as_stored(settings.hotline_number)
    rows = [{"sid": sid, "direction": "outbound", "from_number": hotline,
             "to_number": as_stored(c.phone), "started_at": now,
             "status": status or "queued", "outbound_job_id": c.job_id,
             "resident_id": c.resident_id if c.kind != "callback" else None,
             "menu_choice": jobs.MENU_CHOICE.get(c.kind)} for c, sid, status in placed]
    insert_call = (insert_for(session.bind.dialect.name)(CALLS)
                   .on_conflict_do_nothing(index_elements=["sid"]).returning(CALLS.c.sid))
    created = set((await session.scalars(insert_call, rows)).all())
    await rollup.drop_days(session, since=now)  # today's, unless the clock is behind
    for c, sid, status in placed:
        if sid not in created:  # a callback was first: its row, linked as record_placed does
            call = await get_or_create_call(session, now=now, form={
                "CallSid": sid, "Direction": "outbound-api", "From": settings.hotline_number,
                "To": c.phone, "CallStatus": status or "queued"})
            jobs.link_call(call, await session.get(OutboundJob, c.job_id))


def requeue(*, job: OutboundJob, attempt: Attempt, at: datetime, now: datetime,
            error: str) -> None:
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
    # Calls placed and not yet written (claimed, sid, status, written), and the writer.
    _placed: list = field(default_factory=list, init=False, repr=False)
    _recording: asyncio.Task | None = field(default=None, init=False, repr=False)
    passes: Passes = field(default_factory=Passes)  # the loop's passes ended (`run`)

    def __post_init__(self) -> None:
        self.pacer = self.pacer or Pace(self.sessions, name="calls", rate=self.settings.dialer_cps)

    @property
    def batch(self) -> int:
        return max(1, math.ceil(self.settings.dialer_cps))

    async def claim_batch(self, *, now: datetime, limit: int | None = None,
                          callbacks: bool = True) -> list[Claimed]:
        """Up to ~2 s of calls claimed ahead. With that many already waiting for the pace,
        one job above fee reminders may still be claimed: it takes the next slot."""
        async with self.sessions() as session, session.begin():
            if callbacks:
                await jobs.queue_callbacks(session, settings=self.settings, now=now)
            want = 2 * self.batch - self.waiting if limit is None else limit
            return await claim(session, settings=self.settings, now=now, limit=max(1, want),
                               name=self.name, in_progress=await jobs.in_progress(session),
                               campaigns=want > 0)

    async def place(self, claimed: Claimed) -> None:
        """Pace, create the call, write its SID; back off on 429, look up before
        retrying after an ambiguous failure, stop on an error that will never pass."""
        settings = self.settings
        delay = settings.dialer_backoff_seconds
        params = call_params(settings, claimed)
        self.waiting += 1
        try:
            await self.pacer.wait(priority=jobs.rank(claimed.kind))
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
                await self.pacer.wait(priority=jobs.rank(claimed.kind))
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
                requeue(job=job, attempt=attempt, now=now, at=now + timedelta(seconds=delay * 10),
                        error="Twilio REST unavailable; tried again later")

    async def placed_ok(self, claimed: Claimed, sid: str, status) -> None:
        """The call's SID and row written with every other call placed meanwhile, in one
        transaction (group commit): returns once this one is written."""
        done = asyncio.get_running_loop().create_future()
        self._placed.append((claimed, sid, str(status or "queued"), done))
        if self._recording is None or self._recording.done():
            self._recording = asyncio.create_task(self._record_placed())
        await done

    async def _record_placed(self) -> None:
        """Writes the calls placed so far, again while more come: at a fast pace, after
        a short wait (`RECORD_LINGER_SECONDS`) so the next few pace slots' calls join."""
        while self._placed:
            if self.batch >= 10:
                await asyncio.sleep(RECORD_LINGER_SECONDS)
            batch, self._placed = self._placed, []
            try:
                async with self.sessions() as session, session.begin():
                    await record_placed_many(session, settings=self.settings, now=self.clock(),
                                             placed=[(c, sid, status) for c, sid, status, _ in batch])
            except Exception:  # noqa: BLE001 - one bad row must not lose the others
                log.exception("dialer: recording %s placed calls together failed; one by one",
                              len(batch))
                for claimed, sid, status, done in batch:
                    try:
                        await self._record_one(claimed, sid, status)
                    except Exception as exc:  # noqa: BLE001 - the placing task reports it
                        if not done.done():
                            done.set_exception(exc)
                        continue
                    if not done.done():
                        done.set_result(None)
                continue
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _record_one(self, claimed: Claimed, sid: str, status: str) -> None:
        async with self.sessions() as session, session.begin():
            attempt = await session.get(Attempt, claimed.attempt_id)
            job = await session.get(OutboundJob, claimed.job_id)
            await record_placed(session, settings=self.settings, attempt=attempt, job=job,
                                sid=sid, status=status, now=self.clock())

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
                attempt.result = jobs.STAFF_MISS
                job.state, job.updated_at = "queued", now
                job.next_attempt_at = now + timedelta(minutes=jobs.STAFF_RETRY_MINUTES)
                return
            await jobs.finish_job(session, job, state="failed", outcome=outcome, now=now,
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
                from ivr.outbound.answered import settle_attempt

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
                # every pass: a message left now is called back at the next pace slot
                claimed = await self.claim_batch(now=now)
                for c in claimed:
                    task = asyncio.create_task(self.place(c))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dialer pass failed; next pass in %ss", poll)
            await self.passes.finished()
            busy = claimed or self.waiting  # calls waiting for the pace: look again soon
            pause = min(poll, max(0.02, self.pacer.interval * max(1, self.batch // 4))) if busy else poll
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except asyncio.TimeoutError:
                pass
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def background(app):
    """cleanup_ctx of `ivr serve`: the dialer and the SMS sender beside the web server."""
    from ivr.outbound import sms
    from ivr.platform.resources import CLOCK, DIALER_PASSES, SESSIONS, SETTINGS, TWILIO

    missing = twilio_rest.missing_settings(app[SETTINGS])
    if missing:  # e.g. `make run` on a laptop: the hotline works, nothing is dialled
        log.warning("outbound dialer and SMS sender not started: %s not set", ", ".join(missing))
        yield
        return
    dialer = Dialer(settings=app[SETTINGS], sessions=app[SESSIONS], client=app[TWILIO],
                    clock=app[CLOCK])
    sender = sms.Sender(settings=app[SETTINGS], sessions=app[SESSIONS], client=app[TWILIO],
                        clock=app[CLOCK])
    app[DIALER_PASSES] = dialer.passes
    stop = asyncio.Event()
    tasks = [asyncio.create_task(dialer.run(stop), name="dialer"),
             asyncio.create_task(sender.run(stop), name="sms-sender")]
    yield
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
