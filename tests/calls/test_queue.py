"""When everyone is busy: callers wait in line, hear their place, and are rung through to
whoever becomes free first (the dispatcher redirects them with the REST API); a message
instead on 1 or past `IVR_QUEUE_MAX_SECONDS`; a hang-up in line is an abandoned call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.calls import dispatcher
from ivr.people.users import add_user, create_token
from ivr.platform import twilio_rest
from models import Call, Leg, Ticket
from models.writer import LoopWriter
from tests.conftest import local
from tests.fake_twilio import fake_twilio, outbound_settings  # noqa: F401 - fixtures
from tests.twilio_client import Caller, StaffPhone, Twilio

T0 = local(2026, 11, 23, 10, 0, 0)
WRAP_UP = 20
STAFF = [("王小明", "13800000001", "客服部", "00:00-24:00"),
         ("李华", "13800000002", "客服部", "00:00-24:00")]
NIGHT = [("王小明", "13800000001", "客服部", "00:00-24:00"),
         ("赵师傅", "13800000009", "值班", "00:00-24:00")]


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def queue_settings(outbound_settings):  # noqa: F811
    return outbound_settings.model_copy(update={"wrap_up_seconds": WRAP_UP})


@pytest.fixture
async def hotline(aiohttp_client, queue_settings, clock):
    clock.set(T0)
    return Twilio(await aiohttp_client(create_app(queue_settings, clock=clock)))


@pytest.fixture
async def rest(queue_settings):
    client = twilio_rest.make_client(queue_settings)
    yield client
    await twilio_rest.close(client)


@pytest.fixture
def dispatch(sessions, rest, queue_settings, clock):
    """One dispatcher pass, as `ivr serve` runs every `IVR_QUEUE_POLL_SECONDS`."""
    writer = LoopWriter(sessions)

    async def run_once():
        return await dispatcher.run_once(writer=writer, reader=sessions, client=rest,
                                         settings=queue_settings, clock=clock)
    return run_once


async def put_through(twilio: Twilio, caller: Caller, *, key: str = "0", start: float = 0,
                      then: str | None = None) -> StaffPhone:
    """A caller who reaches a person: the phone rings, is answered and accepted (talking)."""
    await caller.dial_in()
    await caller.press(key)
    if then:
        await caller.press(then)
    phone = StaffPhone(twilio, caller, *caller.dial())
    await phone.event("initiated", at(start))
    await phone.event("ringing", at(start + 1))
    await phone.event("in-progress", at(start + 4))
    await phone.pick_up_and_screen("1")
    return phone


async def hang_up_staff(phone: StaffPhone, *, end: float, clock) -> None:
    """The staff member's call ends at `end` (the server's clock with it)."""
    clock.set(at(end))
    await phone.event("completed", at(end))
    await phone.dial_result("completed", bridged=True)
    await phone.caller.hangup(at=at(end), duration=int(end))


async def queued(twilio: Twilio, caller: Caller, *keys: str):
    await caller.dial_in()
    for key in keys:
        twiml = await caller.press(key)
    assert twiml.find("Dial") is None, twiml.text
    gather = twiml.find("Gather")
    assert gather is not None and gather.get("action").endswith("/twilio/queue-key"), twiml.text
    assert twiml.find("Redirect").text.endswith("/twilio/queue-wait")
    return twiml


async def next_turn(twilio: Twilio, caller: Caller):
    caller.last = await twilio.follow(caller.last.find("Redirect").text, caller.params())
    return caller.last


async def test_all_talking_the_caller_waits_hears_the_place_and_is_rung_to_the_first_free(
        hotline, seed, clock, dispatch, fake_twilio, sessions):  # noqa: F811
    await seed.staff(STAFF)
    first, second = Caller(hotline, "+8613900000001"), Caller(hotline, "+8613900000002")
    wang = await put_through(hotline, first)
    li = await put_through(hotline, second)
    assert (wang.number.text, li.number.text) == ("+8613800000001", "+8613800000002")

    third, fourth = Caller(hotline, "+8613900000003"), Caller(hotline, "+8613900000004")
    twiml = await queued(hotline, third, "0")
    assert "您是下一位" in twiml.spoken and "请按1" in twiml.spoken
    twiml = await queued(hotline, fourth, "2")
    assert "您前面还有 1 位业主在等待" in twiml.spoken
    for caller in (third, fourth):
        fake_twilio.live_call(caller.sid)
    assert await dispatch() == []  # both still talking: nobody is rung

    await hang_up_staff(wang, end=60, clock=clock)  # 王小明 is in wrap-up until 60 + 20 s
    clock.set(at(60 + WRAP_UP - 1))
    assert await dispatch() == []
    assert "您是下一位" in (await next_turn(hotline, third)).spoken  # still waiting, still first

    clock.set(at(60 + WRAP_UP))
    [offer] = await dispatch()
    sid, form = fake_twilio.updates[0]
    assert sid == third.sid and len(fake_twilio.updates) == 1  # the longest-waiting caller
    assert form["Url"] == f"https://hotline.example.com/twilio/queue-connect?leg={offer.leg_id}"
    third.last = await hotline.follow(form["Url"], third.params())
    dial, number = third.dial()
    assert number.text == "+8613800000001"  # rung to 王小明, screened and timed like any leg
    assert f"/twilio/screen?leg={offer.leg_id}&" in number.get("url")
    async with sessions() as session:
        leg = await session.get(Leg, offer.leg_id)
        call = await session.scalar(select(Call).where(Call.sid == third.sid))
    assert leg.created_at == at(60 + WRAP_UP)  # the moment 王小明 became free
    assert call.queue_since is None and call.queue_exit == "rung"
    assert call.queue_wait_seconds == 60 + WRAP_UP
    # The fourth caller moves up, and nobody else is offered 王小明.
    assert await dispatch() == []
    assert "您是下一位" in (await next_turn(hotline, fourth)).spoken

    # The third caller's turn, had no redirect come, would not ring 王小明 a second time.
    phone = StaffPhone(hotline, third, dial, number)
    await phone.event("initiated", at(81))
    await phone.event("ringing", at(82))
    await phone.event("in-progress", at(87))
    await phone.pick_up_and_screen("1")
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).where(Leg.staff_id.is_not(None))
                                      .order_by(Leg.id))).all()
    assert [(leg.staff_name, leg.ring_seconds) for leg in legs] == [
        ("王小明", 3), ("李华", 3), ("王小明", 5)]

    # The third caller waited 87 s for a person (80 in line, 2 + 5 ringing): not within
    # 20 s; the fourth, still in line, was offered to a person and not yet answered.
    token = await supervisor_token(sessions, clock)
    resp = await hotline.client.get("/api/stats?from=2026-11-23&to=2026-11-23",
                                    headers={"Authorization": f"Bearer {token}"})
    stats = await resp.json()
    assert stats["calls_offered_to_person"] == 4 and stats["answered_within_20s"] == 2
    assert stats["calls_answered_by_person"] == 3
    assert stats["answered_within_20s_rate"] == 0.5
    assert stats["average_speed_of_answer"] == 31.0  # (3 + 3 + 87) / 3
    assert stats["queued_calls"] == 2 and stats["longest_queue_wait_seconds"] == 80


async def test_the_dispatcher_in_the_server_rings_within_two_seconds_of_wrap_up_ending(
        aiohttp_client, queue_settings, clock, seed, fake_twilio):  # noqa: F811
    """`ivr serve`'s own dispatcher (default `IVR_QUEUE_POLL_SECONDS`), on a frozen clock:
    the redirect comes within 2 s (real time) of the moment the wrap-up ends."""
    await seed.staff(STAFF[:1])
    clock.set(T0)
    twilio = Twilio(await aiohttp_client(create_app(queue_settings, clock=clock, run_queue=True)))
    wang = await put_through(twilio, Caller(twilio, "+8613900000001"))
    waiting = Caller(twilio, "+8613900000003")
    await queued(twilio, waiting, "0")
    fake_twilio.live_call(waiting.sid)
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP - 0.5))
    with pytest.raises(TimeoutError):  # two passes and more: nobody is free yet
        await fake_twilio.next_update(timeout=1.2)
    clock.set(at(30 + WRAP_UP))
    sid, form = await fake_twilio.next_update(timeout=2)
    assert sid == waiting.sid and "/twilio/queue-connect?leg=" in form["Url"]


async def test_an_emergency_goes_to_the_head_of_the_line(hotline, seed, clock, dispatch,
                                                          fake_twilio, sessions):  # noqa: F811
    await seed.staff(NIGHT)
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    zhao = await put_through(hotline, Caller(hotline, "+8613900000002"), key="1", then="1")
    assert (wang.number.text, zhao.number.text) == ("+8613800000001", "+8613800000009")

    ordinary = Caller(hotline, "+8613900000003")
    await queued(hotline, ordinary, "0")
    clock.advance(30)
    burst_pipe = Caller(hotline, "+8613900000004")
    twiml = await queued(hotline, burst_pipe, "1", "1")  # 停水、漏水: an emergency repair
    assert "您是下一位" in twiml.spoken  # ahead of the caller who came 30 s earlier
    assert "您前面还有 1 位业主在等待" in (await next_turn(hotline, ordinary)).spoken
    for caller in (ordinary, burst_pipe):
        fake_twilio.live_call(caller.sid)

    await hang_up_staff(wang, end=60, clock=clock)
    await hang_up_staff(zhao, end=60, clock=clock)
    clock.set(at(60 + WRAP_UP + 1))
    offers = await dispatch()
    rung = {sid: form["Url"] for sid, form in fake_twilio.updates}
    assert set(rung) == {burst_pipe.sid, ordinary.sid} and len(offers) == 2
    burst_pipe.last = await hotline.follow(rung[burst_pipe.sid], burst_pipe.params())
    assert burst_pipe.dial()[1].text == "+8613800000009"  # the duty phone, first
    ordinary.last = await hotline.follow(rung[ordinary.sid], ordinary.params())
    assert ordinary.dial()[1].text == "+8613800000001"


async def test_an_emergency_may_ring_a_person_in_wrap_up_before_an_earlier_caller(
        hotline, seed, clock, dispatch, fake_twilio):  # noqa: F811
    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    ordinary, burst_pipe = Caller(hotline, "+8613900000003"), Caller(hotline, "+8613900000004")
    await queued(hotline, ordinary, "0")
    await queued(hotline, burst_pipe, "1", "1")
    for caller in (ordinary, burst_pipe):
        fake_twilio.live_call(caller.sid)
    await hang_up_staff(wang, end=60, clock=clock)
    clock.set(at(61))  # 王小明 is in wrap-up: only an emergency may ring him
    [offer] = await dispatch()
    assert fake_twilio.updates[0][0] == burst_pipe.sid


async def test_a_caller_who_hangs_up_in_line_is_abandoned_with_the_wait(
        hotline, seed, clock, sessions, fake_twilio):  # noqa: F811
    await seed.staff(STAFF[:1])
    await put_through(hotline, Caller(hotline, "+8613900000001"))
    clock.set(at(10))
    leaver = Caller(hotline, "+8613900000003")
    await queued(hotline, leaver, "0")
    clock.set(at(55))
    await leaver.hangup(at=at(55), duration=55)
    token = await supervisor_token(sessions, clock)
    headers = {"Authorization": f"Bearer {token}"}
    resp = await hotline.client.get("/api/calls?from=2026-11-23&to=2026-11-23", headers=headers)
    calls = {c["sid"]: c for c in (await resp.json())["calls"]}
    call = calls[leaver.sid]
    assert call["outcome"] == "abandoned" and call["legs"] == []
    assert call["queue_wait_seconds"] == 45 and call["waited_seconds"] == 45
    resp = await hotline.client.get("/api/stats?from=2026-11-23&to=2026-11-23", headers=headers)
    stats = await resp.json()
    assert stats["abandoned_calls"] == 1
    assert stats["abandoned_in_queue"] == 1 and stats["abandoned_in_queue_waits"] == [45]
    assert stats["queued_calls"] == 1
    async with sessions() as session:
        ticket = await session.scalar(select(Ticket).join(Call, Call.id == Ticket.call_id)
                                      .where(Call.sid == leaver.sid))
    assert ticket.category == "callback" and "45 秒" in ticket.description


async def test_pressing_1_in_line_leaves_a_message_for_a_callback(hotline, seed, clock,
                                                                   sessions):
    await seed.staff(STAFF[:1])
    await put_through(hotline, Caller(hotline, "+8613900000001"))
    caller = Caller(hotline, "+8613900000003")
    await queued(hotline, caller, "0")
    clock.advance(20)
    twiml = await caller.press("1")
    assert "请在提示音后留下" in twiml.spoken
    record = twiml.find("Record")
    assert record is not None and record.get("action").endswith("/twilio/message")
    twiml = await hotline.follow(record.get("action"), caller.params(
        RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="12"))
    assert twiml.find("Hangup") is not None
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        ticket = await session.scalar(select(Ticket).where(Ticket.call_id == call.id))
    assert call.outcome == "message" and call.queue_exit == "message"
    assert call.queue_wait_seconds == 20
    assert ticket.category == "callback" and "留言 12 秒" in ticket.description


async def test_past_the_longest_wait_the_caller_is_offered_a_message(hotline, seed, clock,
                                                                      sessions, queue_settings):
    await seed.staff(STAFF[:1])
    await put_through(hotline, Caller(hotline, "+8613900000001"))
    caller = Caller(hotline, "+8613900000003")
    twiml = await queued(hotline, caller, "0")
    assert int(twiml.find("Gather").find("Pause").get("length")) <= 120
    clock.advance(queue_settings.queue_max_seconds - 1)
    twiml = await next_turn(hotline, caller)
    assert twiml.find("Record") is None and "您是下一位" in twiml.spoken
    assert twiml.find("Gather").find("Pause").get("length") == "1"  # the turn ends on time
    clock.advance(1)
    twiml = await next_turn(hotline, caller)
    assert "请在提示音后留下" in twiml.spoken and twiml.find("Record") is not None
    await hotline.follow(twiml.find("Redirect").text, caller.params())  # silence: no message
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        ticket = await session.scalar(select(Ticket).where(Ticket.call_id == call.id))
    assert call.queue_exit == "timeout" and call.queue_wait_seconds == 120
    assert ticket.category == "callback"


async def test_a_redirect_refused_because_the_caller_hung_up_frees_the_person(
        hotline, seed, clock, dispatch, fake_twilio, sessions):  # noqa: F811
    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    gone, next_caller = Caller(hotline, "+8613900000003"), Caller(hotline, "+8613900000004")
    await queued(hotline, gone, "0")
    await queued(hotline, next_caller, "0")
    fake_twilio.live_call(gone.sid)
    fake_twilio.end_call(gone.sid)  # hung up; Twilio's status callback not here yet
    fake_twilio.live_call(next_caller.sid)
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    [offer] = await dispatch()
    assert offer.call_sid == gone.sid and fake_twilio.updates == []
    [offer] = await dispatch()  # 王小明 is free again at once: the next caller
    assert offer.call_sid == next_caller.sid
    assert [sid for sid, _ in fake_twilio.updates] == [next_caller.sid]


async def supervisor_token(sessions, clock) -> str:
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


async def test_two_dispatchers_at_once_give_a_free_person_to_one_caller_only(
        hotline, seed, clock, sessions, queue_settings, fake_twilio):  # noqa: F811
    """Two processes' passes at the same moment: the second waits for the first's commit
    (the switchboard lock), then sees 王小明 ringing for the first caller."""
    import asyncio

    from ivr.calls import queue
    from models.db import make_engine, make_sessionmaker

    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    for n in (3, 4):
        await queued(hotline, Caller(hotline, f"+861390000000{n}"), "0")
    await hang_up_staff(wang, end=30, clock=clock)
    now = at(30 + WRAP_UP)
    engine = make_engine(queue_settings.database_url)
    other = make_sessionmaker(engine)

    async def second_pass():
        async with other() as session, session.begin():
            return await queue.offer_free_staff(session, settings=queue_settings, now=now)

    try:
        async with sessions() as session, session.begin():
            first = await queue.offer_free_staff(session, settings=queue_settings, now=now)
            assert len(first) == 1
            second = asyncio.create_task(second_pass())
            done, _ = await asyncio.wait({second}, timeout=1)
            assert not done  # held until the first pass commits
        assert await second == []
    finally:
        await engine.dispose()
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).where(Leg.staff_name == "王小明"))).all()
    assert len(legs) == 2  # the first call's, and one offer: never two at once


async def test_a_new_call_waits_for_a_dispatcher_pass_and_never_rings_the_person_it_gave(
        hotline, seed, clock, sessions, queue_settings):
    """A dispatcher gives 王小明 to the caller in line; an emergency call's hunt at the
    same moment (another process) waits for that commit (the switchboard lock), then sees
    him ringing: it waits at the head of the line instead of ringing him too."""
    import asyncio

    from ivr.calls import queue

    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    waiting = Caller(hotline, "+8613900000003")
    await queued(hotline, waiting, "0")
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    burst_pipe = Caller(hotline, "+8613900000004")
    await burst_pipe.dial_in()
    await burst_pipe.press("1")
    async with sessions() as session, session.begin():
        [offer] = await queue.offer_free_staff(session, settings=queue_settings, now=clock())
        hunt = asyncio.create_task(burst_pipe.press("1"))  # 停水: an emergency, rings at once
        done, _ = await asyncio.wait({hunt}, timeout=1)
        assert not done  # the hunt is held until the pass commits
    twiml = await hunt
    assert twiml.find("Dial") is None and "您是下一位" in twiml.spoken
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).where(Leg.staff_name == "王小明"))).all()
    assert [leg.call_id for leg in legs][-1] == offer.call_id and len(legs) == 2


async def test_the_dispatcher_offers_the_message_when_the_longest_wait_is_reached(
        hotline, seed, clock, dispatch, fake_twilio, sessions, queue_settings):  # noqa: F811
    """On time, not at the end of the announcement under way: the dispatcher redirects
    the caller whose wait has reached `IVR_QUEUE_MAX_SECONDS` to the message."""
    await seed.staff(STAFF[:1])
    await put_through(hotline, Caller(hotline, "+8613900000001"))
    caller = Caller(hotline, "+8613900000003")
    await queued(hotline, caller, "0")
    fake_twilio.live_call(caller.sid)
    clock.advance(queue_settings.queue_max_seconds - 1)
    await dispatch()
    assert fake_twilio.updates == []
    clock.advance(1)
    await dispatch()
    [(sid, form)] = fake_twilio.updates
    assert sid == caller.sid and form["Url"] == "https://hotline.example.com/twilio/queue-wait"
    twiml = await hotline.follow(form["Url"], caller.params())
    assert "请在提示音后留下" in twiml.spoken and twiml.find("Record") is not None
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
    assert call.queue_exit == "timeout" and call.queue_wait_seconds == 120
    await dispatch()
    assert len(fake_twilio.updates) == 1  # once


async def test_a_late_turn_of_a_caller_who_hung_up_neither_rejoins_nor_holds_up_the_line(
        hotline, seed, clock, dispatch, fake_twilio, sessions):  # noqa: F811
    """Twilio's hang-up and the wait loop's next request can cross: the late turn gets an
    empty answer, the call stays out of line, and the next caller still gets the person."""
    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    gone, next_caller = Caller(hotline, "+8613900000003"), Caller(hotline, "+8613900000004")
    await queued(hotline, gone, "0")
    await queued(hotline, next_caller, "0")
    fake_twilio.live_call(next_caller.sid)
    clock.advance(20)
    await gone.hangup(at=clock(), duration=20)
    late = await hotline.follow(gone.last.find("Redirect").text, gone.params())
    assert late.find("Gather") is None and late.find("Dial") is None
    assert "您是下一位" in (await next_turn(hotline, next_caller)).spoken
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == gone.sid))
    assert call.queue_since is None and call.queue_exit == "abandoned" and call.outcome == "abandoned"
    await hang_up_staff(wang, end=40, clock=clock)
    clock.set(at(40 + WRAP_UP))
    [offer] = await dispatch()
    assert offer.call_sid == next_caller.sid
