"""Who stands at each escalation level (三级处理机制): configured phones, then staff of that level.

Tickets get their default owner here (level 2) and escalation notifies from here, so both
read one list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.platform.phones import normalise_or_none
from models import Staff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    """A person at an escalation level: a staff member, or a configured phone."""

    name: str
    phone: str
    staff_id: int | None = None


def configured_phones(settings: Settings, level: int) -> list[str]:
    raw = {2: settings.escalation_level2_phones, 3: settings.escalation_level3_phones}.get(level, "")
    phones = []
    for part in raw.replace("；", ",").replace(";", ",").split(","):
        phone = normalise_or_none(part.strip()) if part.strip() else None
        if part.strip() and phone is None:
            log.warning("IVR_ESCALATION_LEVEL%s_PHONES: %r is not a phone number", level, part)
        if phone and phone not in phones:
            phones.append(phone)
    return phones


async def at_level(session: AsyncSession, *, settings: Settings, level: int) -> list[Contact]:
    """Who is notified at `level`: configured phones first, then staff of that level."""
    phones = configured_phones(settings, level)
    found: list[Contact] = []
    by_phone = {}
    if phones:
        rows = (await session.scalars(select(Staff).where(Staff.phone.in_(phones)))).all()
        by_phone = {s.phone: s for s in rows}
    for phone in phones:
        staff = by_phone.get(phone)
        found.append(Contact(staff.name if staff else "", phone, staff.id if staff else None))
    rows = (await session.scalars(
        select(Staff).where(Staff.escalation_level == level, Staff.active.is_(True))
        .order_by(Staff.position, Staff.id)
    )).all()
    for staff in rows:
        if staff.phone not in phones:
            found.append(Contact(staff.name, staff.phone, staff.id))
    return found



async def levels_of(session: AsyncSession, *, settings: Settings,
                    staff_id: int | None) -> tuple[int, ...]:
    """The escalation levels (2, 3) at which this staff member is notified: their queue."""
    if staff_id is None:
        return ()
    levels = []
    for level in (2, 3):
        if any(c.staff_id == staff_id for c in await at_level(session, settings=settings,
                                                              level=level)):
            levels.append(level)
    return tuple(levels)
