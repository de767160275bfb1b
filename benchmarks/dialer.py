"""Benchmark: the outbound dialer at 50 calls a second against the fake Twilio API.

Queues 100,000 fee reminders (a campaign over 100,000 households in arrears), runs the
dialer loop (`Dialer.run`, as `ivr dialer` does) for 60 s against the fake REST API in a
separate process (so its CPU is not counted), and prints the achieved rate, its drift
from the target, duplicate calls (must be 0) and the dialer's CPU seconds per 1,000
calls. Calls are never completed by the fake, so the in-progress cap is lifted.

Halfway through, a resident's message (a complaint that needs a callback) is written
while the campaign runs: the delay from that commit to the callback's create (the staff
phone rung first) is printed, the wait of a person behind a campaign (people before
campaigns: at most a poll and a pace slot).

    .venv/bin/python benchmarks/dialer.py [--jobs 100000] [--cps 50] [--seconds 60]
    DATABASE_URL=postgresql+asyncpg://… .venv/bin/python benchmarks/dialer.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHANGHAI = timezone(timedelta(hours=8))


def serve_fake(port_queue) -> None:
    """The child process: the fake API, keeping counts instead of every request."""
    from aiohttp import web

    from tests.fake_twilio import FakeTwilio

    fake = FakeTwilio(record=False)
    app = fake.app()
    counts = {"creates": 0, "to": {}, "first_at": {}}

    @web.middleware
    async def count(request, handler):
        if request.path == "/_stats":
            return await stats(request)
        response = await handler(request)
        if request.method == "POST" and request.path.endswith("/Calls.json") and response.status == 201:
            counts["creates"] += 1
            to = json.loads(response.text)["to"]
            counts["to"][to] = counts["to"].get(to, 0) + 1
            counts["first_at"].setdefault(to, time.time())
        return response

    app.middlewares.insert(0, count)

    async def stats(_request):
        dupes = sum(n - 1 for n in counts["to"].values() if n > 1)
        return web.json_response({"creates": counts["creates"], "distinct": len(counts["to"]),
                                  "duplicates": dupes, "first_at": counts["first_at"]})


    async def main():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def queue(settings, jobs: int, now: datetime) -> float:
    from sqlalchemy import insert

    from ivr.outbound import campaigns
    from models import Resident
    from models.db import make_engine, make_sessionmaker, upgrade

    started = time.perf_counter()
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            rows = [{"name": f"住户{i}", "phone": f"+86139{i:08d}",
                     "address": f"{i // 1000 + 1}栋{i % 1000 + 1}室", "arrears": Decimal("1280.50"),
                     "updated_at": now} for i in range(jobs)]
            for chunk in range(0, jobs, 5000):
                await session.execute(insert(Resident), rows[chunk:chunk + 5000])
            campaign = await campaigns.start(session, settings=settings, now=now,
                                             created_by="benchmark")
            assert campaign.households == jobs, campaign.households
    finally:
        await engine.dispose()
    return time.perf_counter() - started


STAFF_PHONE = "+8613800000001"


async def leave_message(sessions, settings, now: datetime) -> float:
    """A complaint nobody answered, with a staff member on shift: when it was committed."""
    from ivr.tickets import lifecycle
    from models import Call, Staff

    async with sessions() as session, session.begin():
        if not await session.get(Staff, 1):
            session.add(Staff(id=1, name="王小姐", phone=STAFF_PHONE, department="客服部",
                              shifts="00:00-24:00"))
        call = Call(sid="CA" + "b" * 32, from_number="+8613900000001",
                    to_number=settings.hotline_number, started_at=now, menu_choice="complaint")
        session.add(call)
        await session.flush()
        await lifecycle.ensure_callback_ticket(session, settings=settings, now=now, call=call,
                                               reason="留言 20 秒")
    return time.time()


async def run(args) -> None:
    from aiohttp import ClientSession
    from sqlalchemy import func, select

    from ivr.outbound.dialer import Dialer
    from ivr.platform import twilio_rest
    from ivr.platform.config import Settings
    from models import Attempt
    from models.db import make_engine, make_sessionmaker

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    fake = ctx.Process(target=serve_fake, args=(ports,), daemon=True)
    fake.start()
    port = ports.get(timeout=30)
    tmp = tempfile.mkdtemp(prefix="ivr-bench-")
    url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/bench.db"
    settings = Settings(
        DATABASE_URL=url, TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="test-auth-token-0123456789abcdef",
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{port}", PUBLIC_BASE_URL="https://hotline.example.com",
        HOTLINE_NUMBER="+862161234567", COMPANY_NAME="阳光花园", IVR_DIALER_CPS=args.cps,
        IVR_DIALER_MAX_IN_PROGRESS=10 * args.jobs, IVR_DIALER_POLL_SECONDS=0.5, _env_file=None)
    start_at = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    queued_in = await queue(settings, args.jobs, start_at)
    print(f"queued {args.jobs:,} reminders in {queued_in:.1f} s ({url.split(':')[0]})")

    base = time.monotonic()

    def clock() -> datetime:  # 10:00 in Shanghai, moving with real time
        return start_at + timedelta(seconds=time.monotonic() - base)

    engine = make_engine(url)
    client = twilio_rest.make_client(settings)
    dialer = Dialer(settings=settings, sessions=make_sessionmaker(engine), client=client,
                    clock=clock)
    stop = asyncio.Event()
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    cpu0, wall0 = time.process_time(), time.monotonic()
    task = asyncio.create_task(dialer.run(stop))
    steps, previous = [], 0
    windows = max(1, round(args.seconds / 10))
    left_at = None
    async with ClientSession() as http:
        for window in range(windows):  # the rate in each 10 s
            if window == windows // 2:
                left_at = await leave_message(make_sessionmaker(engine), settings, clock())
            await asyncio.sleep(args.seconds / windows)
            async with http.get(f"http://127.0.0.1:{port}/_stats") as resp:
                in_window = (await resp.json())["creates"]
            steps.append(in_window - previous)
            previous = in_window
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    stop.set()
    await task
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats(args.profile).print_stats(r"ivr/|twilio/rest|aiohttp/client.py", 40)
    async with make_sessionmaker(engine)() as session:
        placed = await session.scalar(select(func.count()).select_from(Attempt)
                                      .where(Attempt.call_sid.is_not(None)))
        per_job = await session.scalar(select(func.count()).select_from(
            select(Attempt.job_id).where(Attempt.state != "void").group_by(Attempt.job_id)
            .having(func.count() > 1).subquery()))
    async with ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/_stats") as resp:
            stats = await resp.json()
    await twilio_rest.close(client)
    await engine.dispose()
    fake.terminate()

    rate = in_window / wall
    print(f"ran {wall:.1f} s at IVR_DIALER_CPS={args.cps:g}")
    print(f"calls placed (fake API): {in_window:,} in the window, {stats['creates']:,} after the "
          f"in-flight ones finished; recorded with a CallSid: {placed:,}")
    print(f"achieved rate: {rate:.2f} calls/s; drift from {args.cps:g}: "
          f"{rate - args.cps:+.2f} calls/s ({(rate - args.cps) / args.cps * 100:+.2f}%)")
    print("calls per 10 s: " + " ".join(str(n) for n in steps))
    print(f"duplicates: {stats['duplicates']} (same number called twice); "
          f"jobs with more than one attempt: {per_job}")
    print(f"pace slots given up (the dialer woke too late for them): {dialer.pacer.late:,}")
    print(f"dialer CPU: {cpu:.1f} s = {cpu / max(1, in_window) * 1000:.2f} CPU s per 1,000 calls")
    called_back = stats["first_at"].get(STAFF_PHONE)
    if called_back is None:
        print("callback behind the running campaign: NOT placed within the run")
    else:
        print(f"callback behind the running campaign: placed {called_back - left_at:.2f} s "
              f"after the message (poll {settings.dialer_poll_seconds:g} s, "
              f"{args.jobs - in_window:,} reminders still queued)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--cps", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--profile", metavar="SORT", help="cProfile the dialer, sorted by "
                        "this key (tottime, cumulative); its CPU figures are then inflated")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
