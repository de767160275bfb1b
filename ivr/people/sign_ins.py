"""签入/签出: staff say whether they are taking hotline calls.

A staff member on shift who never signed out is signed in, so a centre that never uses
the button rings whom it always rang. A sign-out holds until the next sign-in or until
a new shift of theirs begins (yesterday's 签出 does not keep today's shift away). Signed
in off shift (covering for someone) lasts until the sign-out, at most `OFF_SHIFT_HOURS`,
so a forgotten sign-out does not ring a phone all night.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.roster import shift_start
from ivr.platform.config import Settings
from models import Staff, StaffSignIn

OFF_SHIFT_HOURS = 12


@dataclass(frozen=True)
class Attendance:
    """Whether a staff member takes calls now, and since when (None: since ever)."""

    signed_in: bool
    on_shift: bool
    since: datetime | None


async def record(session: AsyncSession, *, staff: Staff, signed_in: bool, now: datetime,
                 source: str = "page", actor: str = "") -> StaffSignIn:
    """Store a sign-in or sign-out (every one is kept: time signed in is summed from them)."""
    row = StaffSignIn(staff_id=staff.id, at=now, signed_in=signed_in, source=source,
                      actor=actor or staff.name)
    session.add(row)
    await session.flush()
    return row


async def latest(session: AsyncSession, *, staff_ids: Collection[int] | None = None,
                 now: datetime) -> dict[int, StaffSignIn]:
    """Each staff member's last sign-in or sign-out up to `now`."""
    newest = (select(StaffSignIn.staff_id, func.max(StaffSignIn.id).label("id"))
              .where(StaffSignIn.at <= now).group_by(StaffSignIn.staff_id))
    if staff_ids is not None:
        newest = newest.where(StaffSignIn.staff_id.in_(list(staff_ids)))
    sub = newest.subquery()
    rows = (await session.execute(
        select(StaffSignIn.staff_id, StaffSignIn.id, StaffSignIn.at, StaffSignIn.signed_in,
               StaffSignIn.source, StaffSignIn.actor)
        .join(sub, sub.c.id == StaffSignIn.id))).all()
    return {row.staff_id: StaffSignIn(id=row.id, staff_id=row.staff_id, at=row.at,
                                      signed_in=row.signed_in, source=row.source,
                                      actor=row.actor) for row in rows}


def attendance(staff: Staff, last: StaffSignIn | None, *, settings: Settings,
               now: datetime) -> Attendance:
    """Signed in or not at `now`, from the shifts and the last sign-in/out."""
    began = shift_start(staff.shifts or "", settings=settings, now=now)
    on_shift = began is not None
    if not staff.active:
        return Attendance(False, on_shift, None)
    if on_shift:
        if last is not None and last.at >= began:
            return Attendance(last.signed_in, True, last.at)
        return Attendance(True, True, None if began == datetime.min.replace(tzinfo=began.tzinfo)
                          else began)
    if (last is not None and last.signed_in
            and now - last.at <= timedelta(hours=OFF_SHIFT_HOURS)):
        return Attendance(True, False, last.at)
    return Attendance(False, False, last.at if last is not None and not last.signed_in else None)
