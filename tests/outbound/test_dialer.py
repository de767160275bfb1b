"""The outbound dialer against the fake Twilio REST API: what is placed, when, how often."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from ivr.outbound import campaigns, jobs
from ivr.outbound import dialer as dialing
from ivr.outbound.pace import Pace
from ivr.platform.resources import DIALER_PASSES
from models import Attempt, Call, OutboundJob
from tests.conftest import local
from tests.fake_twilio import fake_twilio, outbound, outbound_settings, second_sessions  # noqa: F401
from tests.twilio_client import HOTLINE

LI = ("李阿姨", "13900000001", "3栋2单元501", "1280.50")
WANG = ("王先生", "13900000002", "5栋1单元202", "300")
ZHAO = ("赵女士", "13900000003", "6栋3单元101", "0")


async def start_campaign(outbound) -> int:
    async with outbound.sessions() as session, session.begin():
        campaign = await campaigns.start(session, settings=outbound.settings,
                                         now=outbound.clock(), created_by="test")
        return campaign.id


async def report(outbound, campaign_id: int) -> dict:
    async with outbound.sessions() as session:
        return await campaigns.report(session, campaign_id=campaign_id)


async def all_jobs(outbound) -> list[OutboundJob]:
    async with outbound.sessions() as session:
        return list((await session.scalars(select(OutboundJob).order_by(OutboundJob.id))).all())


async def attempts(outbound) -> list[Attempt]:
    async with outbound.sessions() as session:
        return list((await session.scalars(select(Attempt).order_by(Attempt.id))).all())


async def queue_reminders(outbound, count: int) -> None:
    async with outbound.sessions() as session, session.begin():
        for i in range(count):
            await jobs.queue_job(session, kind="escalation", phone=f"+86139{i:08d}",
                                    now=outbound.clock())


async def test_a_reminder_is_placed_with_absolute_urls_every_event_and_amd(outbound, seed):
    await seed.residents([LI, ZHAO])
    campaign_id = await start_campaign(outbound)
    assert await outbound.dialer().run_once() == 1
    [create] = outbound.fake.creates()
    form = create.form
    job = (await all_jobs(outbound))[0]
    assert form["To"] == "+8613900000001" and form["From"] == HOTLINE
    assert form["Url"] == f"https://hotline.example.com/twilio/outbound?job={job.id}&n=1"
    assert form["StatusCallback"] == f"https://hotline.example.com/twilio/status?job={job.id}&n=1"
    assert create.lists["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == "DetectMessageEnd"
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == next(iter(outbound.fake.calls)) and attempt.state == "placed"
    async with outbound.sessions() as session:
        call = await session.scalar(select(Call).where(Call.sid == attempt.call_sid))
    assert call.direction == "outbound" and call.outbound_job_id == job.id
    assert (await report(outbound, campaign_id))["households"] == 1  # 赵女士 owes nothing


async def test_pacing_never_exceeds_the_configured_calls_per_second(outbound):
    await queue_reminders(outbound, 7)
    dialer = outbound.dialer(dialer_cps=2)
    assert await dialer.run_until_idle() == 7
    times = sorted(r.at for r in outbound.fake.creates())
    assert len(times) == 7
    # any window of one second holds at most 2 starts: the 3rd is ~1 s after the 1st
    # (0.8: requests reach the fake with some scheduling jitter; 3/s would give 0.67)
    for first, third in zip(times, times[2:]):
        assert third - first >= 0.8, times
    assert times[-1] - times[0] >= 2.8               # 7 calls at 2/s span 3 s


async def test_calls_wait_for_calling_hours_in_the_centres_zone(outbound, seed):
    await seed.residents([LI])
    outbound.clock.set(local(2026, 11, 23, 20, 30))
    await start_campaign(outbound)
    dialer = outbound.dialer()
    assert await dialer.run_once() == 0
    outbound.clock.set(local(2026, 11, 24, 8, 59))
    assert await dialer.run_once() == 0
    assert outbound.fake.creates() == []
    outbound.clock.set(local(2026, 11, 24, 9, 0))
    assert await dialer.run_once() == 1
    assert len(outbound.fake.creates()) == 1


async def test_busy_and_no_answer_are_retried_with_spacing_and_daily_and_total_limits(outbound, seed):
    await seed.residents([LI])
    campaign_id = await start_campaign(outbound)
    dialer = outbound.dialer(dialer_attempts_per_day=2, dialer_max_attempts=3,
                             dialer_retry_minutes=30)
    outbound.settings.__dict__.update(dialer_attempts_per_day=2, dialer_max_attempts=3)
    clock = outbound.clock

    async def place_and_end(status: str) -> None:
        assert await dialer.run_once() == 1
        call = outbound.calls()[-1]
        await call.event("initiated", clock())
        await call.end(status, clock())

    await place_and_end("busy")
    assert await dialer.run_once() == 0          # not again at once
    clock.advance(29 * 60)
    assert await dialer.run_once() == 0
    clock.advance(60)                             # 30 minutes later
    await place_and_end("no-answer")
    clock.advance(31 * 60)
    assert await dialer.run_once() == 0           # two today: the day's limit
    clock.set(local(2026, 11, 24, 9, 0))          # next morning, calling hours open
    await place_and_end("no-answer")
    [job] = await all_jobs(outbound)
    assert job.state == "exhausted"
    clock.advance(3600)
    assert await dialer.run_once() == 0
    assert len(outbound.fake.creates()) == 3
    data = await report(outbound, campaign_id)
    assert [h["phone"] for h in data["not_reached"]] == ["+8613900000001"]
    assert data["not_reached"][0]["attempts"] == 3
    assert data["coverage"] == 0


async def test_a_household_that_paid_meanwhile_is_never_called(outbound, seed):
    await seed.residents([LI, WANG])
    campaign_id = await start_campaign(outbound)
    await seed.residents([(WANG[0], WANG[1], WANG[2], "0")])  # 王先生 paid at the desk
    assert await outbound.dialer().run_until_idle() == 1
    assert [r.form["To"] for r in outbound.fake.creates()] == ["+8613900000001"]
    data = await report(outbound, campaign_id)
    assert data["paid_meanwhile"] == 1 and data["households_in_arrears"] == 1


async def test_twilio_429_backs_off_and_the_call_is_placed_once(outbound, seed):
    await seed.residents([LI])
    outbound.fake.fail_next(2, status=429, code=20429, message="Too Many Requests")
    await start_campaign(outbound)
    assert await outbound.dialer().run_once() == 1
    creates = outbound.fake.creates()
    assert [r.status for r in creates] == [429, 429, 201]
    assert creates[2].at - creates[1].at >= 0.01
    assert len(outbound.fake.calls) == 1
    [attempt] = await attempts(outbound)
    assert attempt.call_sid in outbound.fake.calls


async def test_a_500_without_a_call_is_looked_up_then_retried(outbound, seed):
    await seed.residents([LI])
    outbound.fake.fail_next(1, status=500)
    await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_once()
    assert [r.status for r in outbound.fake.creates()] == [500, 201]
    assert any(r.method == "GET" and r.path.endswith("/Calls.json") for r in outbound.fake.requests)
    outbound.clock.advance(3600)                   # nothing is left to place again
    await dialer.run_until_idle()
    assert len(outbound.fake.calls) == 1
    [attempt] = await attempts(outbound)
    assert attempt.state == "placed" and attempt.call_sid in outbound.fake.calls
    assert (await all_jobs(outbound))[0].state == "dialing"


async def test_a_500_after_twilio_created_the_call_does_not_call_twice(outbound, seed):
    await seed.residents([LI])
    outbound.fake.fail_next(1, status=500, create_first=True)
    await start_campaign(outbound)
    await outbound.dialer().run_once()
    assert len(outbound.fake.creates()) == 1
    [sid] = outbound.fake.calls
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == sid and attempt.state == "placed"


async def test_a_timeout_is_settled_from_twilios_call_list(outbound, seed):
    await seed.residents([LI])
    outbound.fake.fail_next(1, status=500, delay=1.0, create_first=True)
    await start_campaign(outbound)
    await outbound.dialer(dialer_rest_timeout_seconds=0.2).run_once()
    assert len(outbound.fake.creates()) == 1 and len(outbound.fake.calls) == 1
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == next(iter(outbound.fake.calls))


async def test_an_invalid_number_is_recorded_and_reported_not_retried(outbound, seed):
    await seed.residents([LI, WANG])
    outbound.fake.invalid_numbers.add("+8613900000002")
    campaign_id = await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_until_idle()
    outbound.clock.advance(6 * 3600)
    await dialer.run_until_idle()
    to_wang = [r for r in outbound.fake.creates() if r.form["To"] == "+8613900000002"]
    assert len(to_wang) == 1 and to_wang[0].status == 400
    data = await report(outbound, campaign_id)
    [bad] = data["invalid_number"]
    assert bad["phone"] == "+8613900000002" and "21211" in bad["error"]


async def test_a_dialer_that_crashed_before_the_request_is_recovered_with_one_call(outbound, seed):
    await seed.residents([LI])
    await start_campaign(outbound)
    crashed = outbound.dialer()
    claimed = await crashed.claim_batch(now=outbound.clock())
    assert len(claimed) == 1                      # intent written ... then the process died
    survivor = outbound.dialer()
    assert await survivor.run_once() == 0         # too recent to judge: maybe still in flight
    assert outbound.fake.creates() == []
    outbound.clock.advance(10 * 60)
    await survivor.run_until_idle()
    assert len(outbound.fake.creates()) == 1
    states = sorted(a.state for a in await attempts(outbound))
    assert states == ["placed", "void"]


async def test_a_dialer_that_crashed_mid_request_is_recovered_without_a_second_call(outbound, seed):
    await seed.residents([LI])
    await start_campaign(outbound)
    outbound.fake.fail_next(1, status=500, delay=30, create_first=True)
    crashed = outbound.dialer()
    [claimed] = await crashed.claim_batch(now=outbound.clock())
    task = asyncio.create_task(crashed.place(claimed))
    await outbound.fake.wait_for_call(count=1, timeout=10)
    task.cancel()                                  # Twilio created the call; we never heard
    [attempt] = await attempts(outbound)
    assert attempt.call_sid is None and attempt.state == "intent"
    outbound.clock.advance(10 * 60)
    survivor = outbound.dialer()
    await survivor.run_until_idle()
    assert len(outbound.fake.creates()) == 1
    [attempt] = await attempts(outbound)
    assert attempt.call_sid == next(iter(outbound.fake.calls)) and attempt.state == "placed"


async def test_two_dialers_on_one_database_place_each_call_exactly_once(outbound, second_sessions):
    await queue_reminders(outbound, 40)
    one = outbound.dialer(dialer_cps=10, dialer_max_in_progress=1000)
    two = outbound.dialer(sessions=second_sessions, dialer_cps=10, dialer_max_in_progress=1000)
    placed = await asyncio.gather(one.run_until_idle(), two.run_until_idle())
    assert sum(placed) == 40 and all(placed)      # both took part
    numbers = [r.form["To"] for r in outbound.fake.creates()]
    assert len(numbers) == 40 and len(set(numbers)) == 40
    async with outbound.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Attempt)) == 40


async def test_two_dialers_share_one_pace_for_the_account(outbound, second_sessions):
    """Twilio's calls-per-second limit is the account's: a second dialer process adds
    none to it."""
    await queue_reminders(outbound, 8)
    one = outbound.dialer(dialer_cps=2)
    two = outbound.dialer(sessions=second_sessions, dialer_cps=2)
    for dialer in (one, two):  # a client's first request sets up its connection: not timed
        await dialer.client.calls.list_async(limit=1)
    placed = await asyncio.gather(one.run_until_idle(), two.run_until_idle())
    assert sum(placed) == 8 and all(placed)
    times = sorted(r.at for r in outbound.fake.creates())
    for first, third in zip(times, times[2:]):       # as from one dialer: 2 in any second
        assert third - first >= 0.8, times
    assert times[-1] - times[0] >= 2.8               # 8 calls at 2/s span 3.5 s


async def test_a_429_holds_back_the_other_dialers_too(outbound, second_sessions):
    await queue_reminders(outbound, 1)
    outbound.fake.fail_next(1, status=429, code=20429, message="Too Many Requests")
    refused_here = outbound.dialer(dialer_backoff_seconds=1)
    backed_off = asyncio.Event()
    back_off = refused_here.pacer.back_off

    async def noted_back_off(seconds: float) -> None:
        await back_off(seconds)
        backed_off.set()

    refused_here.pacer.back_off = noted_back_off
    first = asyncio.create_task(refused_here.run_until_idle())
    await asyncio.wait_for(backed_off.wait(), 10)    # the refusal is in; its back-off runs
    async with outbound.sessions() as session, session.begin():
        for i in range(3):
            await jobs.queue_job(session, kind="escalation", phone=f"+86137{i:08d}",
                                    now=outbound.clock())
    await outbound.dialer(sessions=second_sessions).run_until_idle()
    await first
    refused, *placed = outbound.fake.creates()
    assert refused.status == 429 and [r.status for r in placed] == [201] * 4
    assert all(r.at - refused.at >= 0.9 for r in placed), [r.at - refused.at for r in placed]


async def test_a_wall_clock_set_back_does_not_stop_the_dialing(sessions):
    """Slots are wall-clock seconds kept in the database; a clock put back an hour (a
    machine's time corrected) must not leave every call waiting for that hour."""
    wall = [1_000_000.0]
    pace = Pace(sessions, name="calls", rate=1, wall=lambda: wall[0])
    for _ in range(3):
        await pace.wait()                            # slots at +0 (now), +1, +2 s ahead
        wall[0] += 1
    wall[0] -= 7200
    await asyncio.wait_for(pace.wait(), 2)


async def test_the_cap_on_calls_in_progress_holds_until_calls_end(outbound):
    await queue_reminders(outbound, 5)
    dialer = outbound.dialer(dialer_max_in_progress=2)
    outbound.settings.__dict__.update(dialer_max_in_progress=2)
    await dialer.run_until_idle()
    assert len(outbound.fake.creates()) == 2
    for call in outbound.calls():
        await call.answer(outbound.clock())
        await call.end("completed", outbound.clock(), duration=20)
    await dialer.run_until_idle()
    assert len(outbound.fake.creates()) == 4


async def test_status_callbacks_twice_and_out_of_order_settle_an_attempt_once(outbound, seed):
    await seed.residents([LI])
    await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_once()
    [call] = outbound.calls()
    now = outbound.clock()
    await call.event("busy", now, seq=3)
    await call.event("busy", now, seq=3)           # Twilio's retry
    await call.event("ringing", now, seq=1)        # late
    await call.event("initiated", now, seq=0)
    [job] = await all_jobs(outbound)
    assert job.state == "queued" and job.outcome == "busy"
    assert job.next_attempt_at == now + timedelta(minutes=outbound.settings.dialer_retry_minutes)
    [attempt] = await attempts(outbound)
    assert attempt.result == "busy" and attempt.state == "done"
    async with outbound.sessions() as session:
        row = await session.scalar(select(Call).where(Call.sid == call.sid))
    assert row.status == "busy" and row.direction == "outbound"


async def test_outbound_calls_are_counted_in_the_statistics(outbound):
    from ivr.reporting import stats

    await queue_reminders(outbound, 2)
    await outbound.dialer().run_once()
    async with outbound.sessions() as session:
        numbers = await stats.call_answer_stats(
            session, settings=outbound.settings, start=outbound.clock() - timedelta(hours=1),
            end=outbound.clock() + timedelta(hours=1))
    assert numbers["outbound_calls"] == 2 and numbers["inbound_calls"] == 0


async def test_the_server_runs_the_dialer_unless_told_not_to(aiohttp_client, outbound_settings,
                                                             fake_twilio, sessions, clock):
    from ivr.app import create_app

    settings = outbound_settings.model_copy(update={"dialer_poll_seconds": 0.05})
    async with sessions() as session, session.begin():
        await jobs.queue_job(session, kind="escalation", phone="+8613700000001", now=clock())
    quiet = await aiohttp_client(create_app(settings, clock=clock))
    assert DIALER_PASSES not in quiet.app            # tests and --no-dialer: no loop
    await quiet.close()
    assert fake_twilio.requests == []
    server = await aiohttp_client(create_app(settings, clock=clock, run_dialer=True))
    await asyncio.wait_for(server.app[DIALER_PASSES].wait_for(1), 30)
    await fake_twilio.wait_for_call("+8613700000001")  # placed by the loop's first pass
    assert [r.form["To"] for r in fake_twilio.creates()] == ["+8613700000001"]
    await server.close()                              # the loop stops with the server


async def test_a_call_whose_end_never_reached_us_is_settled_from_twilio(outbound, seed):
    await seed.residents([LI])
    await start_campaign(outbound)
    dialer = outbound.dialer()
    await dialer.run_once()
    [sid] = outbound.fake.calls
    outbound.fake.calls[sid]["status"] = "no-answer"    # Twilio knows; its callbacks were lost
    outbound.clock.advance(outbound.settings.dialer_stale_call_minutes * 60 + 60)
    await dialer.run_once()
    assert any(r.method == "GET" and r.path.endswith(f"/Calls/{sid}.json")
               for r in outbound.fake.requests)
    [attempt] = await attempts(outbound)
    assert attempt.result == "no-answer" and attempt.state == "done"
    outbound.clock.advance(outbound.settings.dialer_retry_minutes * 60)
    assert await dialer.run_once() == 1                  # and it is tried again


async def test_ivr_dialer_runs_alone_until_sigterm(outbound, tmp_path):
    import os
    import signal
    import sys

    async with outbound.sessions() as session, session.begin():
        await jobs.queue_job(session, kind="escalation", phone="+8613700000001",
                                now=datetime.now(timezone.utc))
    s = outbound.settings
    env = {**os.environ, "DATABASE_URL": s.database_url, "TWILIO_ACCOUNT_SID": s.twilio_account_sid,
           "TWILIO_AUTH_TOKEN": s.twilio_auth_token, "TWILIO_API_BASE_URL": outbound.fake.url,
           "PUBLIC_BASE_URL": s.public_base_url, "HOTLINE_NUMBER": s.hotline_number,
           "IVR_DIALER_POLL_SECONDS": "0.1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr.cli", "dialer", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await outbound.fake.wait_for_call(count=1, timeout=30)
        assert [r.form["To"] for r in outbound.fake.creates()] == ["+8613700000001"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "1 calls placed" in out.decode()


async def test_without_twilio_credentials_the_server_runs_and_dials_nothing(
        aiohttp_client, outbound_settings, fake_twilio, sessions, clock, caplog):
    """`make run` on a laptop: the hotline answers, and a job that is due is not dialled
    (the REST API, here the fake, hears nothing) until credentials are set."""
    from ivr.app import create_app

    async with sessions() as session, session.begin():
        await jobs.queue_job(session, kind="escalation", phone="+8613700000001", now=clock())
    bare = outbound_settings.model_copy(update={"twilio_account_sid": "",
                                                "dialer_poll_seconds": 0.05})
    with caplog.at_level("WARNING", logger="ivr.outbound.dialer"):
        server = await aiohttp_client(create_app(bare, clock=clock, run_dialer=True))
    assert "not started: TWILIO_ACCOUNT_SID not set" in caplog.text
    assert (await server.get("/healthz")).status == 200
    assert DIALER_PASSES not in server.app           # no loop that could dial
    # the same server with credentials: its first pass dials the job; the bare one none
    dialling = await aiohttp_client(create_app(bare.model_copy(update={
        "twilio_account_sid": outbound_settings.twilio_account_sid}), clock=clock, run_dialer=True))
    await asyncio.wait_for(dialling.app[DIALER_PASSES].wait_for(1), 30)
    await fake_twilio.wait_for_call(count=1)
    assert {r.path for r in fake_twilio.requests} <= {
        f"/2010-04-01/Accounts/{outbound_settings.twilio_account_sid}/Calls.json"}
    await dialling.close()
    await server.close()


async def test_a_429_holds_back_every_call_not_only_the_refused_one(outbound):
    await queue_reminders(outbound, 4)
    outbound.fake.fail_next(1, status=429, code=20429, message="Too Many Requests")
    # 5 a second: the next slot comes after the 429 is known (a request already on its
    # way when the 429 arrives cannot be held back)
    await outbound.dialer(dialer_cps=5, dialer_backoff_seconds=0.5).run_once()
    creates = outbound.fake.creates()
    assert [r.status for r in creates] == [429, 201, 201, 201, 201]
    refused = creates[0].at
    assert all(r.at - refused >= 0.45 for r in creates[1:]), [r.at - refused for r in creates]
