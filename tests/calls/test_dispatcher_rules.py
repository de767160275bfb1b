"""The dispatcher's finer rules (`ivr/calls/dispatcher.py`), written against the mutants
that survived the queue's tests: what is asked of Twilio, and where a caller stands
after Twilio refuses or half-answers a redirect."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from ivr.app import create_app
from ivr.calls import dispatcher
from models import Call, Leg
from models.writer import LoopWriter
from tests.calls.test_queue import (  # noqa: F401 - fixtures
    STAFF,
    WRAP_UP,
    at,
    dispatch,
    hang_up_staff,
    hotline,
    next_turn,
    put_through,
    queue_settings,
    queued,
    rest,
)
from tests.fake_twilio import fake_twilio, outbound_settings  # noqa: F401 - fixtures
from tests.twilio_client import Caller, Twilio


def updates_of(fake, sid: str) -> list:
    """Every request to update this call, answered or refused."""
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith(f"/Calls/{sid}.json")]


async def test_twilio_is_asked_to_post_to_the_person_and_to_the_message(
        hotline, seed, clock, dispatch, fake_twilio, queue_settings):  # noqa: F811
    """`/twilio/queue-connect` and `/twilio/queue-wait` answer POST only: a redirect that
    made Twilio fetch them another way would leave the caller in silence."""
    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    first, second = Caller(hotline, "+8613900000003"), Caller(hotline, "+8613900000004")
    await queued(hotline, first, "0")
    await queued(hotline, second, "0")
    for caller in (first, second):
        fake_twilio.live_call(caller.sid)
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    [offer] = await dispatch()
    clock.set(at(queue_settings.queue_max_seconds))  # the second caller has waited too long
    await dispatch()
    forms = dict(fake_twilio.updates)
    assert "/twilio/queue-connect?leg=" in forms[first.sid]["Url"]
    assert forms[second.sid]["Url"].endswith("/twilio/queue-wait")
    assert forms[first.sid].get("Method", "POST") == "POST"  # POST is Twilio's default
    assert forms[second.sid].get("Method", "POST") == "POST"


async def line_of_three(hotline, seed, clock, fake_twilio, *, live: bool = True):  # noqa: F811
    """王小明 talking, three callers in line; he becomes free (wrap-up over)."""
    await seed.staff(STAFF[:1])
    wang = await put_through(hotline, Caller(hotline, "+8613900000001"))
    line = [Caller(hotline, f"+861390000000{n}") for n in (3, 4, 5)]
    for caller in line:
        await queued(hotline, caller, "0")
        if live:
            fake_twilio.live_call(caller.sid)
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    return line


@pytest.mark.parametrize("gone", ["hung up", "unknown to Twilio"])
async def test_a_caller_whose_call_has_ended_leaves_the_line_when_twilio_refuses(
        hotline, seed, clock, dispatch, fake_twilio, gone):  # noqa: F811
    """Twilio refuses the redirect with 21220 (the call is over) or 404 (no such call):
    the caller is gone, so nobody behind them is told they are still ahead."""
    first, second, third = await line_of_three(hotline, seed, clock, fake_twilio)
    if gone == "hung up":
        fake_twilio.end_call(first.sid)
    else:
        del fake_twilio.calls[first.sid]
    [offer] = await dispatch()
    assert offer.call_sid == first.sid and fake_twilio.updates == []
    [offer] = await dispatch()  # 王小明 goes to the next caller
    assert [sid for sid, _ in fake_twilio.updates] == [second.sid]
    assert "您是下一位" in (await next_turn(hotline, third)).spoken
    assert len(updates_of(fake_twilio, first.sid)) == 1  # never tried again


async def test_a_redirect_twilio_refuses_for_another_reason_keeps_the_callers_place(
        hotline, seed, clock, dispatch, fake_twilio, sessions):  # noqa: F811
    """A 429 (too many requests) says nothing about the caller: they are back at the head
    of the line, and the next pass gives them 王小明, who never rang for them; the call's
    record shows him rung once, not a ring nobody answered before it."""
    first, second, third = await line_of_three(hotline, seed, clock, fake_twilio)
    fake_twilio.fail_next(status=429, code=20429, message="Too Many Requests")
    [offer] = await dispatch()
    assert offer.call_sid == first.sid and fake_twilio.updates == []
    assert "您前面还有 1 位业主在等待" in (await next_turn(hotline, second)).spoken
    clock.advance(1)
    [offer] = await dispatch()
    [(sid, form)] = fake_twilio.updates
    assert sid == first.sid and form["Url"].endswith(f"/twilio/queue-connect?leg={offer.leg_id}")
    first.last = await hotline.follow(form["Url"], first.params())
    assert first.dial()[1].text == "+8613800000001"
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).join(Call, Call.id == Leg.call_id)
                                      .where(Call.sid == first.sid))).all()
    assert [leg.id for leg in legs] == [offer.leg_id]


async def test_after_a_redirect_that_may_have_gone_through_the_person_stays_offered(
        hotline, seed, clock, dispatch, fake_twilio, sessions):  # noqa: F811
    """A 500 may hide a redirect Twilio made: 王小明 stays reserved for that caller (never
    given to the next one, no second redirect), and the caller's own wait loop rings him
    if no redirect came."""
    first, second, third = await line_of_three(hotline, seed, clock, fake_twilio)
    fake_twilio.fail_next(status=500, message="Internal Server Error")
    [offer] = await dispatch()
    assert offer.call_sid == first.sid and fake_twilio.updates == []
    clock.advance(1)
    assert await dispatch() == []
    assert [len(updates_of(fake_twilio, c.sid)) for c in (first, second, third)] == [1, 0, 0]
    clock.advance(10)  # no redirect came: the caller's next turn puts them through
    await next_turn(hotline, first)
    dial, number = first.dial()
    assert number.text == "+8613800000001" and f"leg={offer.leg_id}&" in number.get("url")
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).join(Call, Call.id == Leg.call_id)
                                      .where(Call.sid == first.sid))).all()
    assert [leg.id for leg in legs] == [offer.leg_id]


async def test_without_twilio_credentials_the_server_starts_and_callers_still_get_through(
        aiohttp_client, queue_settings, seed, clock):  # noqa: F811
    """No `TWILIO_ACCOUNT_SID`: no dispatcher (it could not redirect anyone), but `ivr
    serve` starts, and a waiting caller's own turn rings the person who became free."""
    settings = queue_settings.model_copy(update={"twilio_account_sid": ""})
    clock.set(at(0))
    twilio = Twilio(await aiohttp_client(create_app(settings, clock=clock, run_queue=True)))
    await seed.staff(STAFF[:1])
    wang = await put_through(twilio, Caller(twilio, "+8613900000001"))
    waiting = Caller(twilio, "+8613900000003")
    await queued(twilio, waiting, "0")
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    await next_turn(twilio, waiting)
    assert waiting.dial()[1].text == "+8613800000001"


async def running_loop(sessions, rest, queue_settings, clock, **kw):  # noqa: F811
    """The loop `ivr serve` runs (`dispatcher.run`), as a task; stop it with the event."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop, writer=LoopWriter(sessions), reader=sessions,
                                              client=rest, settings=queue_settings, clock=clock,
                                              **kw))
    return stop, task


async def test_the_serving_loop_rings_the_caller_and_reports_no_failure(
        hotline, seed, clock, fake_twilio, sessions, rest, queue_settings, caplog):  # noqa: F811
    """Run as `ivr serve` runs it (nobody watching its passes): the caller is redirected
    and the operator's log holds no "pass failed"."""
    first, _, _ = await line_of_three(hotline, seed, clock, fake_twilio)
    stop, task = await running_loop(sessions, rest, queue_settings, clock)
    try:
        sid, form = await fake_twilio.next_update(timeout=5)
    finally:
        stop.set()
        await task
    assert sid == first.sid and "/twilio/queue-connect?leg=" in form["Url"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_whoever_watches_the_loop_hears_of_each_pass_and_its_offers(
        hotline, seed, clock, fake_twilio, sessions, rest, queue_settings):  # noqa: F811
    """`on_pass` (the benchmark's and tests' way to wait for a pass, never sleeping):
    called after every pass with the offers it made."""
    first, _, _ = await line_of_three(hotline, seed, clock, fake_twilio)
    passes: asyncio.Queue = asyncio.Queue()
    stop, task = await running_loop(sessions, rest, queue_settings, clock, on_pass=passes.put_nowait)
    try:
        [offer] = await asyncio.wait_for(passes.get(), 5)
        assert await asyncio.wait_for(passes.get(), 5) == []  # 王小明 is taken: nothing more
    finally:
        stop.set()
        await task
    assert offer.call_sid == first.sid and fake_twilio.updates[0][0] == first.sid


async def test_a_server_shutting_down_finishes_the_redirect_under_way(
        aiohttp_client, queue_settings, seed, clock, fake_twilio, sessions):  # noqa: F811
    """Stopping `ivr serve` waits for the dispatcher's pass: Twilio's answer to a redirect
    already sent (here: the caller hung up, 21220) is still recorded, so 王小明 is not
    left reserved for a caller who is gone."""
    clock.set(at(0))
    client = await aiohttp_client(create_app(queue_settings, clock=clock, run_queue=True))
    twilio = Twilio(client)
    await seed.staff(STAFF[:1])
    wang = await put_through(twilio, Caller(twilio, "+8613900000001"))
    gone = Caller(twilio, "+8613900000003")
    await queued(twilio, gone, "0")
    fake_twilio.live_call(gone.sid)
    fake_twilio.fail_next(status=400, code=21220, message="Call is not in-progress.", delay=0.5)
    await hang_up_staff(wang, end=30, clock=clock)
    clock.set(at(30 + WRAP_UP))
    await fake_twilio.wait_for_request(f"/Calls/{gone.sid}.json")
    await client.close()  # the server stops while Twilio has not answered yet
    async with sessions() as session:
        legs = (await session.scalars(select(Leg).join(Call, Call.id == Leg.call_id)
                                      .where(Call.sid == gone.sid))).all()
        call = await session.scalar(select(Call).where(Call.sid == gone.sid))
    assert legs == [] and call.queue_leg_id is None  # the reservation, never rung, is gone
