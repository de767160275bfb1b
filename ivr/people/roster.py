"""Who is on duty now: shifts in `IVR_TIMEZONE`, crossing midnight allowed.

Customer-service staff on shift ring first, in hunt order. Outside every
customer-service shift the night duty (值班) staff ring.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings, parse_hours
from models import Staff


def parse_shifts(text: str) -> list[tuple[time, time]]:
    """`07:00-14:00;21:00-07:00` -> [(07:00, 14:00), (21:00, 07:00)]. Raises ValueError."""
    parts = [p for p in (text or "").replace("；", ";").split(";") if p.strip()]
    return [parse_hours(p) for p in parts]


def covers(shift: tuple[time, time], moment: time) -> bool:
    start, end = shift
    if start == end:
        return True
    if start < end:
        return start <= moment < end or (end == time(23, 59, 59, 999999) and moment >= start)
    return moment >= start or moment < end


def shift_start(shifts: str, *, settings: Settings, now: datetime) -> datetime | None:
    """When the shift that covers `now` began (a shift crossing midnight began yesterday).

    None when no shift covers `now`, and `datetime.min` (UTC) for a shift that never
    ends (`00:00-24:00`): a sign-out then holds until the next sign-in."""
    local = now.astimezone(settings.tz)
    try:
        shifts_ = parse_shifts(shifts)
    except ValueError:
        return None
    starts = []
    for shift in shifts_:
        if not covers(shift, local.time()):
            continue
        start, end = shift
        if start == end or (start == time(0, 0) and end == time(23, 59, 59, 999999)):
            return datetime.min.replace(tzinfo=timezone.utc)
        began = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
        if began > local:
            began -= timedelta(days=1)
        starts.append(began)
    return min(starts) if starts else None


def on_shift(shifts: str, local_time: time) -> bool:
    try:
        return any(covers(s, local_time) for s in parse_shifts(shifts))
    except ValueError:
        return False


def is_duty_staff(staff: Staff, settings: Settings) -> bool:
    return (staff.department or "").strip().lower() in settings.duty_department_names


def select_on_duty(staff: list[Staff], *, settings: Settings, now: datetime,
                   duty_only: bool = False) -> list[Staff]:
    """The hunt list at `now`: customer-service staff on shift, else night duty."""
    local = now.astimezone(settings.tz).time()
    present = [s for s in staff if s.active and on_shift(s.shifts, local)]
    duty = [s for s in present if is_duty_staff(s, settings)]
    if duty_only:
        return duty or [s for s in present if not is_duty_staff(s, settings)]
    service = [s for s in present if not is_duty_staff(s, settings)]
    return (service or duty)[: settings.max_hunt]


async def on_duty(session: AsyncSession, *, settings: Settings, now: datetime,
                  duty_only: bool = False) -> list[Staff]:
    rows = (await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all()
    return select_on_duty(list(rows), settings=settings, now=now, duty_only=duty_only)


def in_hours(hours: str, *, settings: Settings, now: datetime) -> bool:
    return covers(parse_hours(hours), now.astimezone(settings.tz).time())


@dataclass
class StaffOnFile:
    """A staff row as last read from the database, for when the database is away."""

    id: int
    name: str
    phone: str
    department: str
    shifts: str
    position: int
    active: bool


class RosterCache:
    """The duty roster from the last good read, kept in memory and on local disk.

    Only for the degraded path: with the database unreachable a caller must still reach
    a person. It is refreshed from the database in the background.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.staff: list[StaffOnFile] = []
        try:
            self.staff = [StaffOnFile(**row) for row in json.loads(self.path.read_text("utf-8"))]
        except (FileNotFoundError, ValueError, TypeError):
            self.staff = []

    async def refresh(self, session: AsyncSession) -> None:
        rows = (await session.scalars(select(Staff).order_by(Staff.position, Staff.id))).all()
        staff = [StaffOnFile(s.id, s.name, s.phone, s.department or "", s.shifts or "",
                             s.position, s.active) for s in rows]
        if staff == self.staff and self.path.exists():
            return  # refreshed every few seconds; the disk is written when the roster changes
        self.staff = staff
        await asyncio.to_thread(self._save)

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(s) for s in self.staff], ensure_ascii=False), "utf-8")
        os.replace(tmp, self.path)

    def on_duty(self, *, settings: Settings, now: datetime) -> list[StaffOnFile]:
        return select_on_duty(self.staff, settings=settings, now=now)  # type: ignore[arg-type]


# The running server's cache (webhooks read it when the database does not answer).
ROSTER = web.AppKey("roster", RosterCache)
