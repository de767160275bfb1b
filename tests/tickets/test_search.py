"""Finding tickets (the ticket list's query): overdue, search, the escalation queue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.tickets import contacts, escalation, lifecycle, search
from models import Staff, Ticket
from tests.conftest import local
from tests.tickets.test_tickets import STAFF, new_ticket, tuned

T0 = local(2026, 11, 23, 10, 0, 0)


async def numbers(sessions, settings, **filters) -> list[str]:
    async with sessions() as session:
        total, rows = await search.search_tickets(
            session, settings=settings, filters=search.TicketFilter(**filters), now=T0)
    assert total == len(rows)
    return [row["description"] for row in rows]


async def test_overdue_is_active_and_past_due_whenever_it_was_created(sessions, settings):
    old = await new_ticket(sessions, settings, now=T0 - timedelta(days=40), description="上月")
    await new_ticket(sessions, settings, now=T0 - timedelta(days=40), description="上月已解决")
    await new_ticket(sessions, settings, now=T0 - timedelta(hours=1), description="今天")
    async with sessions() as session, session.begin():
        done = await session.scalar(select(Ticket).where(Ticket.description == "上月已解决"))
        await lifecycle.resolve(session, settings=settings, ticket=done, actor="王小姐",
                                now=T0 - timedelta(days=39))
        late = await session.get(Ticket, old)
        late.due_at = T0 - timedelta(minutes=1)
    assert await numbers(sessions, settings, overdue=True) == ["上月"]
    # Due this very moment is not late yet (the dashboard counts the same way).
    async with sessions() as session, session.begin():
        (await session.get(Ticket, old)).due_at = T0
    assert await numbers(sessions, settings, overdue=True) == []


async def test_search_text_is_matched_literally(sessions, settings):
    await new_ticket(sessions, settings, resident_phone="+8613900000001", description="一")
    await new_ticket(sessions, settings, resident_phone="+8613900000002", description="二")
    assert await numbers(sessions, settings, text="139-0000-0002") == ["二"]
    assert await numbers(sessions, settings, text="20261123-0001") == ["一"]
    for wildcard in ("%", "_", "\\"):
        assert await numbers(sessions, settings, text=wildcard) == []


async def test_a_supervisors_queue_is_the_active_tickets_at_their_level(sessions, settings, seed):
    """张主管 is level 2 by IVR_ESCALATION_LEVEL2_PHONES (not by the staff file)."""
    await seed.staff(STAFF)
    settings = tuned(settings)
    for text in ("升到二级", "升到二级已解决", "升到三级", "未升级"):
        await new_ticket(sessions, settings, description=text)
    async with sessions() as session, session.begin():
        tickets = {t.description: t for t in (await session.scalars(select(Ticket))).all()}
        for text, level in (("升到二级", 2), ("升到二级已解决", 2), ("升到三级", 3)):
            await escalation.escalate(session, settings=settings, ticket=tickets[text], now=T0,
                                      level=level, actor="scheduler", reason="超时未处理")
        await lifecycle.resolve(session, settings=settings, ticket=tickets["升到二级已解决"],
                                actor="王小姐", now=T0)
        supervisor = await session.scalar(select(Staff.id).where(Staff.name == "张主管"))
        clerk = await session.scalar(select(Staff.id).where(Staff.name == "王小姐"))
        assert await contacts.levels_of(session, settings=settings, staff_id=supervisor) == (2,)
        assert await contacts.levels_of(session, settings=settings, staff_id=clerk) == ()
    assert await numbers(sessions, settings, queue_levels=(2,)) == ["升到二级"]
    # Asked for explicitly, the finished ones at that level show too.
    assert await numbers(sessions, settings, queue_levels=(2,), status="resolved") == ["升到二级已解决"]
    assert await numbers(sessions, settings, queue_levels=()) == []
