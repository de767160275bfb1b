"""Per staff: calls handled, talk time, time signed in and occupancy (占用率).

- *Calls handled*: hotline calls the person accepted (their leg) plus outbound callbacks
  (回电) they made that reached the resident.
- *Talk time*: for a hotline call, the leg's `completed` − `answered` Twilio timestamps;
  for a callback, the call's duration as Twilio reported it.
- *Time signed in*: the part of the range (up to now) the person was signed in: on shift
  and not signed out, or signed in off shift (`ivr.people.sign_ins`), replayed from the
  shifts and the stored sign-ins and sign-outs.
- *Occupancy* = talk time ÷ time signed in (`null` when never signed in).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people import sign_ins
from ivr.people.roster import parse_shifts
from ivr.platform.config import Settings
from models import Attempt, Call, Leg, Staff, StaffSignIn
from models.db import seconds_between

# Sign-ins older than this before the range cannot change it (a shift of up to 24 h, then
# at most `OFF_SHIFT_HOURS` signed in off shift).
LOOK_BACK = timedelta(hours=24 + sign_ins.OFF_SHIFT_HOURS)


def shift_boundaries(shifts: str, *, settings: Settings, start: datetime,
                     end: datetime) -> list[datetime]:
    """Every moment in (start, end) at which one of these shifts begins or ends."""
    try:
        parsed = parse_shifts(shifts)
    except ValueError:
        return []
    moments = []
    day = (start.astimezone(settings.tz) - timedelta(days=1)).date()
    last = end.astimezone(settings.tz).date()
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=settings.tz)
        for begin, finish in parsed:
            for at in (begin, finish):
                moment = midnight + timedelta(hours=at.hour, minutes=at.minute,
                                              seconds=at.second + (1 if at.microsecond else 0))
                if start < moment < end:
                    moments.append(moment)
        day += timedelta(days=1)
    return moments


def signed_in_seconds(staff: Staff, events: list[StaffSignIn], *, settings: Settings,
                      start: datetime, end: datetime) -> float:
    """How long in [start, end) the person was signed in. `events` oldest first."""
    if end <= start:
        return 0.0
    cuts = set(shift_boundaries(staff.shifts or "", settings=settings, start=start, end=end))
    for event in events:
        for moment in (event.at, event.at + timedelta(hours=sign_ins.OFF_SHIFT_HOURS)):
            if start < moment < end:
                cuts.add(moment)
    points = [start, *sorted(cuts), end]
    times = [e.at for e in events]
    total = 0.0
    for a, b in zip(points, points[1:]):
        i = bisect_right(times, a)
        last = events[i - 1] if i else None
        if sign_ins.attendance(staff, last, settings=settings, now=a).signed_in:
            total += (b - a).total_seconds()
    return total


async def staff_time(session: AsyncSession, *, settings: Settings, start: datetime,
                     end: datetime, now: datetime,
                     hotline: dict[str, tuple[int, float]] | None = None) -> dict[str, dict]:
    """The four figures of each staff member, by phone (the key of `per_staff`).
    `hotline`: the accepted legs and their talk seconds by phone, when the caller has
    read the period's legs already (`stats.call_answer_stats`): not read twice."""
    talk = seconds_between(session.bind.dialect.name, Leg.answered_at, Leg.completed_at)
    legs = hotline if hotline is not None else {phone: (n, seconds) for phone, n, seconds in (await session.execute(
        select(Leg.phone, func.count(),
               func.sum(case((Leg.completed_at.is_not(None) & Leg.answered_at.is_not(None),
                              talk), else_=0.0)))
        .where(Leg.created_at >= start, Leg.created_at < end, Leg.accepted.is_(True))
        .group_by(Leg.phone))).all()}
    callbacks = {staff_id: (n, seconds) for staff_id, n, seconds in (await session.execute(
        select(Attempt.staff_id, func.count(), func.sum(func.coalesce(Call.duration_seconds, 0)))
        .outerjoin(Call, Call.sid == Attempt.call_sid)
        .where(Attempt.created_at >= start, Attempt.created_at < end,
               Attempt.staff_id.is_not(None), Attempt.result == "reached")
        .group_by(Attempt.staff_id))).all()}
    staff = list((await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all())
    until = min(end, now)
    events: dict[int, list[StaffSignIn]] = {}
    for event in (await session.scalars(
            select(StaffSignIn).where(StaffSignIn.at >= start - LOOK_BACK,
                                      StaffSignIn.at < until)
            .order_by(StaffSignIn.at, StaffSignIn.id))).all():
        events.setdefault(event.staff_id, []).append(event)
    figures = {}
    for person in staff:
        hotline_n, hotline_s = legs.get(person.phone, (0, 0.0))
        callback_n, callback_s = callbacks.get(person.id, (0, 0))
        talk_seconds = round(float(hotline_s or 0) + float(callback_s or 0))
        signed = round(signed_in_seconds(person, events.get(person.id, []), settings=settings,
                                         start=start, end=until))
        figures[person.phone] = {
            "calls_handled": int(hotline_n) + int(callback_n),
            "talk_seconds": talk_seconds,
            "signed_in_seconds": signed,
            "occupancy": round(min(1.0, talk_seconds / signed), 4) if signed else None,
        }
    return figures
