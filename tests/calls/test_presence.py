"""Who is free, read from the stored legs, calls and sign-ins (ivr.calls.presence)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ivr.calls import presence
from ivr.people import sign_ins
from models import Attempt, Call, Leg, OutboundJob, Staff
from tests.conftest import local

T0 = local(2026, 11, 23, 10, 0, 0)
STAFF = [("王小明", "13800000001", "客服部", "07:00-21:00"),
         ("李华", "13800000002", "客服部", "07:00-21:00"),
         ("张工", "13800000003", "工程部", "07:00-21:00"),
         ("赵师傅", "13800000009", "值班", "21:00-07:00")]


async def staff_by_name(session) -> dict[str, Staff]:
    return {s.name: s for s in (await session.scalars(select(Staff))).all()}


async def add_leg(session, staff: Staff, *, at, accepted: bool, ended_at=None,
                  call_ended_at=None, n: int = 0) -> Leg:
    call = Call(sid=f"CA{staff.id}{n}{at.timestamp():.0f}", started_at=at,
                transfer_requested_at=at, ended_at=call_ended_at)
    session.add(call)
    await session.flush()
    leg = Leg(call_id=call.id, staff_id=staff.id, staff_name=staff.name, phone=staff.phone,
              created_at=at, initiated_at=at, ringing_at=at + timedelta(seconds=1),
              answered_at=at + timedelta(seconds=5) if accepted else None,
              accepted=accepted, accepted_at=at + timedelta(seconds=7) if accepted else None,
              completed_at=ended_at)
    session.add(leg)
    await session.flush()
    return leg


async def test_states_come_from_legs_and_sign_ins(seed, sessions, settings):
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await add_leg(session, by["王小明"], at=T0 - timedelta(seconds=60), accepted=True)
        await add_leg(session, by["李华"], at=T0 - timedelta(seconds=3), accepted=False)
        await add_leg(session, by["张工"], at=T0 - timedelta(seconds=200), accepted=True,
                      ended_at=T0 - timedelta(seconds=10))
    async with sessions() as session:
        states = await presence.presences(session, settings=settings, now=T0)
    by_state = {by[name].id: state for name, state in
                [("王小明", "talking"), ("李华", "ringing"), ("张工", "wrap_up"), ("赵师傅", "away")]}
    assert {sid: p.state for sid, p in states.items()} == by_state
    assert states[by["张工"].id].since == T0 - timedelta(seconds=10)
    # Wrap-up lasts IVR_WRAP_UP_SECONDS (20) from the end of the call, then available.
    async with sessions() as session:
        later = await presence.presences(session, settings=settings, now=T0 + timedelta(seconds=10))
    assert later[by["张工"].id].state == "available"
    assert later[by["王小明"].id].state == "talking"


async def test_a_call_that_ended_frees_its_leg_even_without_the_leg_callback(seed, sessions, settings):
    await seed.staff(STAFF[:1])
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await add_leg(session, by["王小明"], at=T0 - timedelta(seconds=120), accepted=True,
                      call_ended_at=T0 - timedelta(seconds=30))
    async with sessions() as session:
        states = await presence.presences(session, settings=settings, now=T0)
    assert states[by["王小明"].id].state == "available"


async def test_signed_out_is_away_until_signed_in_and_never_free(seed, sessions, settings):
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await sign_ins.record(session, staff=by["王小明"], signed_in=False,
                              now=T0 - timedelta(minutes=5))
    async with sessions() as session:
        free = await presence.free_staff(session, settings=settings, now=T0, choice="person")
        states = await presence.presences(session, settings=settings, now=T0)
    assert [s.name for s in free] == ["李华", "张工"]
    assert states[by["王小明"].id].state == "away"
    assert not states[by["王小明"].id].signed_in and states[by["王小明"].id].on_shift
    async with sessions() as session, session.begin():
        await sign_ins.record(session, staff=by["王小明"], signed_in=True, now=T0)
    async with sessions() as session:
        free = await presence.free_staff(session, settings=settings, now=T0, choice="person")
    assert "王小明" in [s.name for s in free]


async def test_a_sign_out_does_not_outlast_the_next_shift(seed, sessions, settings):
    """签出 at the end of yesterday's shift: today's shift takes calls without a new 签入."""
    await seed.staff(STAFF[:1])
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await sign_ins.record(session, staff=by["王小明"], signed_in=False,
                              now=T0 - timedelta(hours=14))
    async with sessions() as session:
        states = await presence.presences(session, settings=settings, now=T0)
    assert states[by["王小明"].id].state == "available"


async def test_signed_in_off_shift_rings_and_lasts_at_most_twelve_hours(seed, sessions, settings):
    await seed.staff(STAFF)
    night = local(2026, 11, 23, 22, 0, 0)
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await sign_ins.record(session, staff=by["张工"], signed_in=True, now=night)
        # The night duty stays on after his shift (07:00) and forgets to sign out.
        await sign_ins.record(session, staff=by["赵师傅"], signed_in=True,
                              now=local(2026, 11, 24, 7, 30))
    async with sessions() as session:
        free = await presence.free_staff(session, settings=settings, now=night, choice="emergency")
        noon = await presence.presences(session, settings=settings, now=local(2026, 11, 24, 12))
        evening = await presence.presences(session, settings=settings,
                                           now=local(2026, 11, 24, 19, 31))
    assert [s.name for s in free] == ["赵师傅", "张工"]
    assert noon[by["赵师傅"].id].state == "available"
    assert evening[by["赵师傅"].id].state == "away"


async def test_an_outbound_callback_in_progress_is_talking(seed, sessions, settings):
    await seed.staff(STAFF[:2])
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        job = OutboundJob(kind="callback", phone="+8613900000001", created_at=T0, due_at=T0,
                          next_attempt_at=T0, state="dialing")
        session.add(job)
        await session.flush()
        session.add(Attempt(job_id=job.id, number=1, created_at=T0 - timedelta(seconds=30),
                            placed_at=T0 - timedelta(seconds=29), phone=by["李华"].phone,
                            staff_id=by["李华"].id, state="placed"))
    async with sessions() as session:
        states = await presence.presences(session, settings=settings, now=T0)
        free = await presence.free_staff(session, settings=settings, now=T0, choice="person")
    assert states[by["李华"].id].state == "talking"
    assert [s.name for s in free] == ["王小明"]


async def test_emergency_may_ring_wrap_up_never_talking(seed, sessions, settings):
    await seed.staff(STAFF[:3])
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        await add_leg(session, by["王小明"], at=T0 - timedelta(seconds=60), accepted=True)
        await add_leg(session, by["张工"], at=T0 - timedelta(seconds=90), accepted=True,
                      ended_at=T0 - timedelta(seconds=5))
        await add_leg(session, by["李华"], at=T0 - timedelta(seconds=90), accepted=True,
                      ended_at=T0 - timedelta(seconds=5), n=1)
    async with sessions() as session:
        ordinary = await presence.free_staff(session, settings=settings, now=T0, choice="repair")
        emergency = await presence.free_staff(session, settings=settings, now=T0,
                                              choice="emergency")
    assert ordinary == []
    # Nobody of 值班 on shift in the day: 工程 first (IVR_ROUTE_EMERGENCY), then the rest.
    assert [s.name for s in emergency] == ["张工", "李华"]


async def test_hunt_strategies(seed, sessions, settings):
    await seed.staff(STAFF[:3])
    async with sessions() as session, session.begin():
        by = await staff_by_name(session)
        # 王小明 took two calls this morning, the last ending at 09:50; 李华 one, at 09:00.
        await add_leg(session, by["王小明"], at=T0 - timedelta(hours=2), accepted=True,
                      ended_at=T0 - timedelta(hours=2) + timedelta(minutes=3))
        await add_leg(session, by["王小明"], at=T0 - timedelta(minutes=15), accepted=True,
                      ended_at=T0 - timedelta(minutes=10), n=1)
        await add_leg(session, by["李华"], at=T0 - timedelta(hours=1, minutes=5), accepted=True,
                      ended_at=T0 - timedelta(hours=1))

    async def order(strategy: str, choice: str = "person") -> list[str]:
        tuned = settings.model_copy(update={"hunt_strategy": strategy})
        async with sessions() as session:
            return [s.name for s in await presence.free_staff(session, settings=tuned, now=T0,
                                                               choice=choice)]

    # 张工 (工程部) comes after everyone of 客服 (IVR_ROUTE_PERSON) whatever the strategy.
    assert await order("order") == ["王小明", "李华", "张工"]
    # 张工's shift began at 07:00, before either call ended.
    assert await order("longest_idle") == ["李华", "王小明", "张工"]
    assert await order("fewest_calls") == ["李华", "王小明", "张工"]
    tuned = settings.model_copy(update={"route_repair": "工程,客服"})
    async with sessions() as session:
        repair = await presence.free_staff(session, settings=tuned, now=T0, choice="repair")
    assert [s.name for s in repair] == ["张工", "李华", "王小明"]


async def test_a_route_to_a_missing_department_falls_back_to_everyone_on_duty(seed, sessions, settings):
    await seed.staff(STAFF[:2])
    tuned = settings.model_copy(update={"route_complaint": "品质部"})
    async with sessions() as session:
        free = await presence.free_staff(session, settings=tuned, now=T0, choice="complaint")
    assert [s.name for s in free] == ["王小明", "李华"]
