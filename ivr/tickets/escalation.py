"""Escalation (三级处理机制): an overdue ticket goes up one level at a time.

接待人 (1, the owner) → 客服主管 (2) → 主管副总经理 (3). Who is at levels 2 and 3 is
configured: the phones in `IVR_ESCALATION_LEVEL2_PHONES` / `IVR_ESCALATION_LEVEL3_PHONES`
(comma-separated) and every active staff member whose `escalation_level` is that level.
Each step is logged on the ticket, notifies that level by SMS (an `SmsMessage` queued for
the sender) and, for an emergency, by a phone call (an `OutboundJob` of kind
`escalation` for the dialer). Each level gets the category's committed time again before
the next step.

The scheduler is a background task of the server (`scheduler`, a cleanup_ctx). One pass
(`run_once`) escalates, turns follow-ups that ran out of time into manual tasks, and
sends the daily count once a day. Passes are safe to run from several processes: on
PostgreSQL they take an advisory lock, on SQLite the write transaction is exclusive.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform.config import Settings
from ivr.tickets import contacts, history, lifecycle
from models import OutboundJob, SmsMessage, Ticket

log = logging.getLogger(__name__)

MAX_LEVEL = 3
LEVEL_LABELS = {1: "接待人", 2: "客服主管", 3: "主管副总经理"}
SMS_PURPOSE = "escalation"
SCHEDULER = "scheduler"  # the history's "who" of an escalation for lateness


def is_urgent(ticket: Ticket) -> bool:
    """An emergency repair (taken by a person or left as a message): escalate by phone."""
    return ticket.category == "emergency"


def sms_body(ticket: Ticket, *, settings: Settings, level: int, reason: str) -> str:
    company = settings.company_name
    where = f"住户{ticket.resident_phone}，" if ticket.resident_phone else ""
    what = (ticket.description or "").strip().replace("\n", " ")[:60]
    due = ticket.due_at.astimezone(settings.tz).strftime("%m-%d %H:%M")
    return (f"【{company}物业客服中心】工单{ticket.number}（{lifecycle.category_label(ticket.category)}）"
            f"{reason}，已升级至{LEVEL_LABELS.get(level, level)}。{where}{what}"
            f"。请于{due}前跟进处理。")


async def escalate(session: AsyncSession, *, settings: Settings, ticket: Ticket, now: datetime,
                   level: int, actor: str, reason: str) -> list[contacts.Contact]:
    """Raise the ticket to `level` (never lower it), give it a new due time, notify the
    level it is at by SMS (and by phone if urgent), and log the step. Returns who was
    notified.

    A ticket already above `level` (a 不满意 answer asks for the supervisor, level 2, on
    a ticket the deputy general manager holds) stays where it is, and it is that level
    that is told. The raise is one UPDATE, so a writer holding an older copy of the
    ticket cannot bring the level back down."""
    old = ticket.escalation_level
    level = max(1, min(MAX_LEVEL, level), old)
    await session.execute(update(Ticket).where(Ticket.id == ticket.id,
                                               Ticket.escalation_level < level)
                          .values(escalation_level=level))
    await session.refresh(ticket, ["escalation_level"])
    level = ticket.escalation_level
    ticket.escalated_at = now
    ticket.due_at = now + timedelta(minutes=lifecycle.due_minutes(ticket.category, settings=settings))
    people = await contacts.at_level(session, settings=settings, level=level)
    urgent = is_urgent(ticket)
    body = sms_body(ticket, settings=settings, level=level, reason=reason)
    for person in people:
        session.add(SmsMessage(to=person.phone, body=body, purpose=SMS_PURPOSE,
                               ticket_id=ticket.id, status="queued", created_at=now))
        if urgent:
            session.add(OutboundJob(kind="escalation", state="queued", phone=person.phone,
                                    ticket_id=ticket.id, resident_id=ticket.resident_id,
                                    created_at=now, due_at=now, next_attempt_at=now,
                                    not_after=ticket.due_at, attempts=0))
    who = "、".join(f"{p.name or p.phone}" for p in people) or "无人（未配置该级联系人）"
    how = "短信+电话" if urgent else "短信"
    history.record(session, ticket, now=now, actor=actor, action="escalated",
                   detail=f"{reason}：{LEVEL_LABELS.get(old, old)}({old}) → "
                          f"{LEVEL_LABELS.get(level, level)}({ticket.escalation_level})，"
                          f"通知 {who}（{how}）")
    if not people:
        log.warning("ticket %s escalated to level %s but nobody is configured there "
                    "(IVR_ESCALATION_LEVEL%s_PHONES)", ticket.number, level, level)
    return people


async def escalate_overdue(session: AsyncSession, *, settings: Settings,
                           now: datetime) -> list[Ticket]:
    """Every ticket still being worked on, past its due time, below level 3: one level up."""
    query = (select(Ticket)
             .where(Ticket.status.in_(lifecycle.ACTIVE), Ticket.due_at <= now,
                    Ticket.escalation_level < MAX_LEVEL)
             .order_by(Ticket.due_at, Ticket.id))
    if (await session.connection()).dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    overdue = list((await session.scalars(query)).all())
    for ticket in overdue:
        await escalate(session, settings=settings, ticket=ticket, now=now,
                       level=ticket.escalation_level + 1, actor=SCHEDULER, reason="超时未处理")
    return overdue


