"""The staff desk's board (`ivr.reporting.desk`): only the person whose phone rings or who
talks sees the caller, with the address and open tickets; late callbacks bring nobody back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.reporting import desk
from ivr.tickets import lifecycle
from models import Resident, Staff
from tests.calls.test_three_rings import DAY, T0
from tests.twilio_client import Caller, StaffPhone

RESIDENT = ("陈静", "13933334444", "阳光花园5栋1单元302", "0")


async def boards(sessions, settings, clock) -> dict[str, list[dict]]:
    """Each staff member's desk: name -> the calls on it."""
    async with sessions() as session:
        staff = (await session.scalars(select(Staff))).all()
        return {s.name: (await desk.board(session, settings=settings, staff_id=s.id,
                                          now=clock()))["calls"] for s in staff}


async def test_the_caller_follows_the_hunt_from_desk_to_desk(twilio, seed, sessions, settings,
                                                             clock):
    clock.set(T0)
    await seed.staff(DAY)
    await seed.residents([RESIDENT])
    async with sessions() as session, session.begin():
        chen = await session.scalar(select(Resident))
        await lifecycle.create_ticket(session, settings=settings, now=T0 - timedelta(days=2),
                                      category="repair", actor="test", resident_id=chen.id,
                                      resident_phone=chen.phone, description="楼道灯不亮")
    caller = Caller(twilio, from_number="+8613933334444")
    await caller.dial_in()
    await caller.press("0")
    dial, number = caller.dial()
    first = StaffPhone(twilio, caller, dial, number)
    await first.event("initiated", clock())
    await first.event("ringing", clock())

    shown = await boards(sessions, settings, clock)
    [rung] = [name for name, calls in shown.items() if calls]  # one desk only
    [call] = shown[rung]
    assert (call["sid"], call["state"]) == (caller.sid, "ringing")
    assert call["resident"] == {"name": "陈静", "address": "阳光花园5栋1单元302", "arrears": "0.00"}
    assert [t["description"] for t in call["open_tickets"]] == ["楼道灯不亮"]

    # Nobody picks up: the next phone rings, and the caller moves to that desk, even
    # before the first phone's own no-answer callback has arrived.
    clock.advance(18)
    await first.dial_result("no-answer")
    dial, number = caller.dial()
    second = StaffPhone(twilio, caller, dial, number)
    await second.event("ringing", clock())
    shown = await boards(sessions, settings, clock)
    assert shown[rung] == []
    [other] = [name for name, calls in shown.items() if calls]
    assert other != rung and shown[other][0]["state"] == "ringing"

    clock.advance(5)
    await second.event("answered", clock())
    await second.pick_up_and_screen("1")
    # The first phone's callbacks, late and out of order: it stays off the desk.
    await first.event("no-answer", T0 + timedelta(seconds=18), seq=3)
    await first.event("ringing", T0 + timedelta(seconds=1), seq=2)
    shown = await boards(sessions, settings, clock)
    assert shown[rung] == [] and shown[other][0]["state"] == "talking"

    clock.advance(60)
    await caller.hangup(at=clock(), duration=90)
    assert all(calls == [] for calls in (await boards(sessions, settings, clock)).values())


async def test_a_user_off_the_staff_file_has_an_empty_desk(sessions, settings, clock):
    async with sessions() as session:
        board = await desk.board(session, settings=settings, staff_id=None, now=clock())
    assert board["calls"] == []
