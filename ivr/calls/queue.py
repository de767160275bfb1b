"""The queue: where a caller waits when everyone who could take the call is busy.

First in, first out by the moment the caller first joined the line; an emergency
(priority 1) goes to the head. The line is columns of `calls` (`queue_since` is set
while the caller waits), so every process sees one line and a restart loses nothing.

A free person is given to a waiting caller in one transaction under the switchboard
lock (`hold_switchboard`): the leg is created there, so the person is `ringing` for
every other process from that moment, and the call leaves the line in the same
commit, so it is never given to two people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Collection

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.twiml.voice_response import VoiceResponse

from ivr.calls import presence
from ivr.platform.config import Settings
from models import Call, Leg, Staff

if TYPE_CHECKING:
    from ivr.platform.hotline import Hotline

EMERGENCY = 1
LEAVE_KEY = "1"  # 留言请按1: a message and a callback instead of waiting
BUSY_STATES = ("ringing", "talking", "wrap_up")
# An offer whose redirect has not arrived after this long (a server died between its
# commit and the REST request) is taken up by the caller's own wait loop.
STALE_OFFER_SECONDS = 10


async def hold_switchboard(session: AsyncSession) -> None:
    """Decide whom to ring one transaction at a time, across processes: the lock
    `presence.take_free_staff` takes (PostgreSQL: the active staff rows, in id order;
    SQLite's write transactions already begin with `BEGIN IMMEDIATE`, one at a time)."""
    if session.bind.dialect.name != "sqlite":
        await session.execute(select(Staff.id).where(Staff.active.is_(True))
                              .order_by(Staff.id).with_for_update(key_share=True))


def is_waiting(call: Call) -> bool:
    return call.queue_since is not None


def join(call: Call, *, now: datetime) -> None:
    """Put the caller in line; one who comes back (the person rung missed) keeps their place."""
    if call.queue_since is not None or call.ended_at is not None:
        return
    call.queued_at = call.queued_at or now
    call.queue_since = now
    call.queue_priority = EMERGENCY if call.menu_choice == "emergency" else 0
    call.queue_exit = None
    call.queue_leg_id = None


def leave(call: Call, *, now: datetime, exit: str) -> None:
    """Out of line: `rung`, `message`, `timeout` or `abandoned`; the wait is added up."""
    if call.queue_since is None:
        return
    waited = max(0, round((now - call.queue_since).total_seconds()))
    call.queue_wait_seconds = (call.queue_wait_seconds or 0) + waited
    call.queue_since = None
    call.queue_exit = exit


def waited(call: Call, *, now: datetime) -> int:
    """Seconds in line so far, every turn counted."""
    current = (now - call.queue_since).total_seconds() if call.queue_since else 0
    return (call.queue_wait_seconds or 0) + max(0, round(current))


def _ahead_of(call: Call):
    """Waiting calls that come before this one: higher priority, or earlier, or (same
    moment) a lower id."""
    return and_(
        Call.queue_since.is_not(None), Call.ended_at.is_(None), Call.id != call.id,
        or_(Call.queue_priority > call.queue_priority,
            and_(Call.queue_priority == call.queue_priority,
                 or_(Call.queued_at < call.queued_at,
                     and_(Call.queued_at == call.queued_at, Call.id < call.id)))))


async def ahead(session: AsyncSession, call: Call) -> int:
    """How many callers are ahead of this one (您前面还有 N 位业主在等待)."""
    return await session.scalar(select(func.count()).select_from(Call).where(_ahead_of(call))) or 0


async def line_ahead(session: AsyncSession, call: Call) -> int:
    """For a caller not in line: how many waiting callers come before them (those of
    the same or a higher priority; an emergency passes everyone else)."""
    if call.queue_since is not None:
        return await ahead(session, call)
    priority = EMERGENCY if call.menu_choice == "emergency" else 0
    return await session.scalar(select(func.count()).select_from(Call).where(
        Call.queue_since.is_not(None), Call.ended_at.is_(None),
        Call.queue_priority >= priority)) or 0


async def anyone_waiting(session: AsyncSession) -> bool:
    """A cheap look (no lock) before a dispatcher pass."""
    return await session.scalar(select(Call.id).where(Call.queue_since.is_not(None),
                                                      Call.ended_at.is_(None)).limit(1)) is not None


async def waiting_calls(session: AsyncSession) -> list[Call]:
    """The line, head first (a call that has ended is never in it, whatever came late)."""
    return list((await session.scalars(
        select(Call).where(Call.queue_since.is_not(None), Call.ended_at.is_(None))
        .order_by(Call.queue_priority.desc(), Call.queued_at, Call.id))).all())


async def tried_staff(session: AsyncSession, call_ids: Collection[int]) -> dict[int, set[int]]:
    """Who has been rung for each call already (not rung again for it from the line).
    An offer withdrawn before it was dialled (`withdraw`: Twilio refused the redirect)
    leaves no leg: that person is still theirs to take, or the caller would lose their turn."""
    tried: dict[int, set[int]] = {call_id: set() for call_id in call_ids}
    if call_ids:
        rows = await session.execute(select(Leg.call_id, Leg.staff_id)
                                     .where(Leg.call_id.in_(list(call_ids))))
        for call_id, staff_id in rows:
            if staff_id is not None:
                tried[call_id].add(staff_id)
    return tried


async def someone_busy(session: AsyncSession, *, settings: Settings, now: datetime, call: Call,
                       tried: Collection[int]) -> bool:
    """Is anyone who could take this call busy (so worth waiting for), not yet tried?"""
    staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
    states = await presence.presences(session, settings=settings, now=now)
    could = presence.hunt_order(staff, states, settings=settings, choice=call.menu_choice,
                                duty_only=call.menu_choice == "emergency")
    return any(states[s.id].state in BUSY_STATES for s in could if s.id not in tried)


@dataclass(frozen=True)
class Offer:
    """A waiting caller given to a free person: the leg that will ring them."""

    call_id: int
    call_sid: str
    leg_id: int
    staff_id: int


def new_leg(call: Call, staff: Staff, *, attempt: int, now: datetime) -> Leg:
    return Leg(call_id=call.id, staff_id=staff.id, staff_name=staff.name, phone=staff.phone,
               attempt=attempt, created_at=now)


async def offer_free_staff(session: AsyncSession, *, settings: Settings, now: datetime,
                           only: Call | None = None) -> list[Offer]:
    """Give each free person to the longest-waiting caller they may take, head first.

    Under the switchboard lock; each offer's leg is created and its call leaves the line
    in this transaction. `only`: the caller's own wait loop asking for itself; callers
    ahead of it still come first, but only its own offer is made."""
    await hold_switchboard(session)
    line = await waiting_calls(session)
    if not line:
        return []
    tried = await tried_staff(session, [c.id for c in line])
    taken: set[int] = set()
    offers: list[Offer] = []
    # Who is free, in hunt order, read once per kind of call in line (not once per caller).
    free_for: dict[tuple[str | None, bool], list[Staff]] = {}
    for call in line:
        kind = (call.menu_choice, call.queue_priority >= EMERGENCY)
        if kind not in free_for:
            free_for[kind] = await presence.free_staff(session, settings=settings, now=now,
                                                       choice=kind[0], duty_only=kind[1])
        free = [s for s in free_for[kind] if s.id not in taken and s.id not in tried[call.id]]
        if not free:
            continue
        staff = free[0]
        if only is not None and call.id != only.id:
            taken.add(staff.id)
            continue  # theirs to take, by the dispatcher, in turn
        locked = await session.scalar(select(Call).where(Call.id == call.id).with_for_update()
                                      .execution_options(populate_existing=True))
        if locked is None or locked.queue_since is None or locked.ended_at is not None:
            continue  # left meanwhile: the person goes to the next in line
        taken.add(staff.id)
        leg = new_leg(locked, staff, attempt=len(tried[call.id]) + 1, now=now)
        session.add(leg)
        await session.flush()
        leave(locked, now=now, exit="rung")
        locked.queue_leg_id = leg.id
        offers.append(Offer(call_id=locked.id, call_sid=locked.sid, leg_id=leg.id,
                            staff_id=staff.id))
        if only is not None:
            break
    return offers


async def time_out(session: AsyncSession, *, settings: Settings, now: datetime) -> list[str]:
    """Callers past `IVR_QUEUE_MAX_SECONDS` leave the line (`timeout`): the CallSids the
    dispatcher redirects to their wait loop, which then offers the message, on time
    rather than at the end of the announcement under way."""
    sids = []
    for call in await waiting_calls(session):
        if waited(call, now=now) < settings.queue_max_seconds:
            continue
        locked = await session.scalar(select(Call).where(Call.id == call.id).with_for_update()
                                      .execution_options(populate_existing=True))
        if locked is None or locked.queue_since is None or locked.ended_at is not None:
            continue
        leave(locked, now=now, exit="timeout")
        sids.append(locked.sid)
    return sids


async def withdraw(session: AsyncSession, *, offer: Offer, now: datetime, call_ended: bool) -> None:
    """The redirect could not be made: the caller goes back in line (keeping their
    place) unless their call has ended. The reserved leg never rang, so it goes: kept,
    it would count in the statistics, the call log and the exports as a person rung who
    did not answer."""
    leg = await session.get(Leg, offer.leg_id, with_for_update=True)
    if leg is not None and leg.completed_at is None:
        if leg.initiated_at is None and leg.ringing_at is None and leg.answered_at is None:
            await session.delete(leg)
        else:
            leg.status = "canceled"
            leg.dial_status = "canceled"
            leg.completed_at = now
    call = await session.scalar(select(Call).where(Call.id == offer.call_id).with_for_update()
                                .execution_options(populate_existing=True))
    if call is None or call.queue_leg_id != offer.leg_id:
        return
    call.queue_leg_id = None
    if not call_ended and call.ended_at is None:
        call.queue_exit = None
        call.queue_since = now


async def offered_leg(session: AsyncSession, call: Call) -> Leg | None:
    """The leg reserved for this caller and not yet dialled, if any."""
    if call.queue_leg_id is None:
        return None
    return await session.get(Leg, call.queue_leg_id)


async def wait_turn(session: AsyncSession, hotline: "Hotline", *, call: Call,
                    response: VoiceResponse) -> VoiceResponse:
    """One turn of the wait loop: how many are ahead, 1 for a message, then quiet.

    The turn ends in a redirect to `/twilio/queue-wait`, which looks again for a free
    person (the fallback when no server's dispatcher redirected the call) and for the
    longest wait allowed."""
    speaker = hotline.speaker(call.language)
    n = await ahead(session, call)
    remaining = hotline.settings.queue_max_seconds - waited(call, now=hotline.now)
    gather = response.gather(num_digits=1, action=hotline.url("/twilio/queue-key"),
                             method="POST", timeout=1, input="dtmf")
    speaker.say(gather, "queue_position", ahead=n)
    gather.pause(length=max(1, min(hotline.settings.queue_hold_seconds, remaining)))
    response.redirect(hotline.url("/twilio/queue-wait"), method="POST")
    return response
