"""Who is free: each staff member's state, derived from the stored legs, calls and
sign-ins, never from process memory (several processes serve one call, a dialer runs
apart, a restart loses nothing).

- `ringing`: a hotline leg is ringing their phone (or they hear the screening whisper);
- `talking`: they accepted a hotline leg that has not ended, or an outbound callback the
  dialer placed to their phone is in progress;
- `wrap_up` (话后处理): such a call ended less than `IVR_WRAP_UP_SECONDS` ago;
- `away`: signed out (签出), off shift and not signed in, or taken out of the hunt;
- `available`: everyone else.

A phone ringing, talking, in wrap-up or away is never rung; an emergency may ring one in
wrap-up. Choosing whom to ring takes row locks on the candidates (`take_free_staff`),
so two callers never ring one person at once, whichever process serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Collection

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people import roster, sign_ins
from ivr.platform.config import Settings
from models import Attempt, Call, Leg, Staff

STATES = ("available", "ringing", "talking", "wrap_up", "away")
# A hotline call longer than this with no end recorded lost its callbacks: not talking.
STALE_TALK = timedelta(hours=4)
# A leg still "ringing" this long after the Dial timeout lost its callbacks.
STALE_RING = timedelta(seconds=120)
OPEN_ATTEMPT_STATES = ("intent", "unknown", "placed")
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Presence:
    staff_id: int
    state: str            # one of STATES
    since: datetime | None
    # Beyond the state: for `/api/live` (on shift or signed in) and the hunt's order.
    on_shift: bool = False
    signed_in: bool = False
    answered_today: int = 0


@dataclass
class _Activity:
    """What the recent legs and callbacks say about one person."""

    ringing_since: datetime | None = None
    talking_since: datetime | None = None
    last_talk_end: datetime | None = None
    answered_today: int = 0

    def rung(self, at: datetime) -> None:
        self.ringing_since = min(self.ringing_since or at, at)

    def talking(self, at: datetime) -> None:
        self.talking_since = min(self.talking_since or at, at)

    def ended(self, at: datetime) -> None:
        self.last_talk_end = max(self.last_talk_end or at, at)


def _day_start(settings: Settings, now: datetime) -> datetime:
    local = now.astimezone(settings.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _activity(session: AsyncSession, *, settings: Settings, now: datetime,
                    staff_ids: Collection[int]) -> dict[int, _Activity]:
    """Columns, not ORM rows: a re-read after taking the locks must see what other
    transactions committed, not this session's identity map."""
    day_start = _day_start(settings, now)
    since = min(day_start, now - STALE_TALK)
    ring_limit = timedelta(seconds=settings.dial_timeout) + STALE_RING
    found: dict[int, _Activity] = {sid: _Activity() for sid in staff_ids}
    ids = list(staff_ids)
    recent = and_(Leg.staff_id.in_(ids), Leg.created_at >= since)
    # No upper bound on created_at: `now` was read when the webhook arrived, and a leg
    # another process created while this one waited for the lock is a little younger.
    # Legs still open, row by row (a few: those ringing or talking now). Older than
    # STALE_TALK they count for nothing below (ring_limit is shorter), so they are not read.
    open_legs = (await session.execute(
        select(Leg.staff_id, Leg.created_at, Leg.initiated_at, Leg.answered_at, Leg.accepted,
               Leg.accepted_at)
        .join(Call, Call.id == Leg.call_id)
        .where(Leg.staff_id.in_(ids), Leg.created_at > now - STALE_TALK,
               Leg.completed_at.is_(None), Call.ended_at.is_(None),
               Leg.dial_status.is_(None)))).all()
    for leg in open_legs:
        seen = found[leg.staff_id]
        if leg.accepted and now - leg.created_at < STALE_TALK:
            seen.talking(leg.accepted_at or leg.answered_at or leg.created_at)
        elif not leg.accepted and now - leg.created_at < ring_limit:
            seen.rung(leg.initiated_at or leg.created_at)
    # ...and the day's answered legs as two figures a person, counted by the database
    # inside ix_legs_staff_id_created_at (accepted and completed_at in it since 0011): the
    # join to each leg's call, for its end, only for the few legs with no end of their own.
    # Reading the table and the call of every leg of the day was most of `/api/live`.
    talked = Leg.accepted.is_(True)
    totals = (await session.execute(
        select(Leg.staff_id,
               func.count(case((Leg.created_at >= day_start, 1))).label("answered"),
               func.max(Leg.completed_at).label("last_end"))
        .where(recent, talked).group_by(Leg.staff_id))).all()
    unended = (await session.execute(
        select(Leg.staff_id, func.max(Call.ended_at).label("last_end"))
        .join(Call, Call.id == Leg.call_id)
        .where(recent, talked, Leg.completed_at.is_(None)).group_by(Leg.staff_id))).all()
    for total in totals:
        found[total.staff_id].answered_today += total.answered
    for total in (*totals, *unended):
        if total.last_end is not None:  # the later of the legs' ends and their calls'
            found[total.staff_id].ended(min(total.last_end, now))  # Twilio's clock ahead: now
    attempts = (await session.execute(
        select(Attempt.staff_id, Attempt.created_at, Attempt.placed_at, Attempt.state,
               Attempt.result, Attempt.finished_at)
        .where(Attempt.staff_id.in_(ids), Attempt.created_at >= since))).all()
    for attempt in attempts:
        seen = found[attempt.staff_id]
        if attempt.state in OPEN_ATTEMPT_STATES:
            if now - attempt.created_at < STALE_TALK:
                seen.talking(attempt.placed_at or attempt.created_at)
        elif attempt.result == "reached" and attempt.finished_at is not None:
            seen.ended(min(attempt.finished_at, now))
    return found


def _state(staff: Staff, attendance: sign_ins.Attendance, seen: _Activity, *,
           settings: Settings, now: datetime) -> Presence:
    def presence(state: str, since: datetime | None) -> Presence:
        return Presence(staff.id, state, since, on_shift=attendance.on_shift,
                        signed_in=attendance.signed_in, answered_today=seen.answered_today)

    if seen.talking_since is not None:
        return presence("talking", seen.talking_since)
    if seen.ringing_since is not None:
        return presence("ringing", seen.ringing_since)
    if not attendance.signed_in:
        return presence("away", attendance.since)
    wrap = timedelta(seconds=settings.wrap_up_seconds)
    if seen.last_talk_end is not None and now < seen.last_talk_end + wrap:
        return presence("wrap_up", seen.last_talk_end)
    idle = [t for t in (attendance.since,
                        seen.last_talk_end + wrap if seen.last_talk_end else None) if t]
    return presence("available", max(idle) if idle else None)


async def presences(session: AsyncSession, *, settings: Settings, now: datetime,
                    staff_ids: Collection[int] | None = None) -> dict[int, Presence]:
    """Every staff member's state at `now` (or those of `staff_ids`)."""
    query = select(Staff).order_by(Staff.position, Staff.id)
    if staff_ids is not None:
        query = query.where(Staff.id.in_(list(staff_ids)))
    staff = list((await session.scalars(query)).all())
    return await _presences_of(session, staff, settings=settings, now=now)


async def _presences_of(session: AsyncSession, staff: list[Staff], *, settings: Settings,
                        now: datetime) -> dict[int, Presence]:
    if not staff:
        return {}
    ids = [s.id for s in staff]
    last = await sign_ins.latest(session, staff_ids=ids, now=now)
    activity = await _activity(session, settings=settings, now=now, staff_ids=ids)
    return {s.id: _state(s, sign_ins.attendance(s, last.get(s.id), settings=settings, now=now),
                         activity[s.id], settings=settings, now=now) for s in staff}


def _in_department(staff: Staff, department: str, settings: Settings) -> bool:
    """`客服` matches 客服 and 客服部; `值班` (or any duty department) matches every
    department of `IVR_DUTY_DEPARTMENTS`."""
    mine = (staff.department or "").strip().lower()
    wanted = department.strip().lower()
    if wanted in settings.duty_department_names:
        return roster.is_duty_staff(staff, settings)
    return bool(mine) and (mine == wanted or mine.startswith(wanted))


def _hunt_key(settings: Settings, presence: Presence, staff: Staff) -> tuple:
    if settings.hunt_strategy == "longest_idle":
        return (presence.since or _NEVER, staff.position, staff.id)
    if settings.hunt_strategy == "fewest_calls":
        return (presence.answered_today, staff.position, staff.id)
    return (staff.position, staff.id)


def hunt_order(staff: list[Staff], states: dict[int, Presence], *, settings: Settings,
               choice: str | None, duty_only: bool = False) -> list[Staff]:
    """Everyone signed in, in the order to ring them: the choice's departments
    (`IVR_ROUTE_*`) in turn, then everyone else on duty; within each, by
    `IVR_HUNT_STRATEGY`. Busy or not is for the caller to filter."""
    emergency = duty_only or choice == "emergency"
    present = [s for s in staff if s.active and states[s.id].signed_in]
    duty = [s for s in present if roster.is_duty_staff(s, settings)]
    service = [s for s in present if not roster.is_duty_staff(s, settings)]
    # As before the switchboard: the night duty rings when no customer-service staff
    # is on; an emergency rings the duty first, then anyone.
    rest = duty + service if emergency else (service or duty)
    groups = [[s for s in present if _in_department(s, d, settings)]
              for d in settings.route(choice)]
    ordered: list[Staff] = []
    seen: set[int] = set()
    for group in groups + [rest]:
        for s in sorted(group, key=lambda s: _hunt_key(settings, states[s.id], s)):
            if s.id not in seen:
                seen.add(s.id)
                ordered.append(s)
    return ordered


def _free(ordered: list[Staff], states: dict[int, Presence], *, emergency: bool,
          exclude: Collection[int]) -> list[Staff]:
    """Available ones in order; for an emergency, then those in wrap-up."""
    usable = [s for s in ordered if s.id not in exclude]
    free = [s for s in usable if states[s.id].state == "available"]
    if emergency:
        free += [s for s in usable if states[s.id].state == "wrap_up"]
    return free


async def free_staff(session: AsyncSession, *, settings: Settings, now: datetime,
                     choice: str | None, duty_only: bool = False,
                     exclude: Collection[int] = ()) -> list[Staff]:
    """Who may be rung now for this menu choice, first to ring first.

    Never ringing, talking or away; in wrap-up only for an emergency (`choice`
    `emergency` or `duty_only`). Read only: to ring one, use `take_free_staff`."""
    staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
    states = await _presences_of(session, staff, settings=settings, now=now)
    ordered = hunt_order(staff, states, settings=settings, choice=choice, duty_only=duty_only)
    return _free(ordered, states, emergency=duty_only or choice == "emergency", exclude=exclude)


async def take_free_staff(session: AsyncSession, *, settings: Settings, now: datetime,
                          choice: str | None, duty_only: bool = False,
                          exclude: Collection[int] = ()) -> Staff | None:
    """The one person to ring now, chosen under lock: the caller must create the leg
    (or the callback attempt) in this same transaction.

    On PostgreSQL the active staff rows are locked first, in id order (every chooser
    takes them in that order: no deadlock), and only then are the states read: another
    process that rang someone meanwhile has committed its leg by the time the lock is
    granted, so that person is seen ringing and passed over. A hunt holds the lock for
    one short transaction. On SQLite the write transaction's lock (BEGIN IMMEDIATE)
    already serializes every choice."""
    if session.bind.dialect.name != "sqlite":
        # FOR NO KEY UPDATE: exclusive among choosers, yet a leg or a sign-in referring to
        # a staff row (a foreign key's KEY SHARE lock) is never held up by a hunt.
        await session.execute(select(Staff.id).where(Staff.active.is_(True))
                              .order_by(Staff.id).with_for_update(key_share=True))
    candidates = await free_staff(session, settings=settings, now=now, choice=choice,
                                  duty_only=duty_only, exclude=exclude)
    return candidates[0] if candidates else None


async def roll_call(session: AsyncSession, *, settings: Settings,
                    now: datetime) -> list[tuple[Staff, Presence]]:
    """Everyone on shift or signed in, with their state, in the staff file's order: what
    supervisors see (an on-shift person who signed out shows as `away`)."""
    staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
    states = await _presences_of(session, staff, settings=settings, now=now)
    return [(s, states[s.id]) for s in staff
            if s.active and (states[s.id].on_shift or states[s.id].signed_in)]
