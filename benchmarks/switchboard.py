"""The switchboard under load, in simulated time: callers arriving at random, 10 staff
with random talk times, the queue and its dispatchers.

The real application (in process, signed webhooks through aiohttp's test client, the
fake Twilio REST API on loopback) on a simulated clock: Twilio's part is played event by
event (arrivals, each staff phone's initiated / ringing / answered / completed callbacks
with their `Timestamp`s, the screening key, dial results, each caller's turns of the
wait loop and hang-ups), and every `IVR_QUEUE_POLL_SECONDS` of simulated time each of
`--dispatchers` dispatchers (each with an engine of its own, as separate processes
would be) makes its pass; every redirect it sends is followed at once, as Twilio would.

Prints, figures only (not a test):
- calls double-rung: a staff phone given a second caller while a leg of theirs still
  rings or talks, or a caller rung to two phones at once (must be 0);
- free → next leg: from the moment a person becomes free (their wrap-up over) to the
  leg that rings them for a caller who was waiting in line (simulated seconds, p50 /
  p99 / max; the dispatcher's passes are `IVR_QUEUE_POLL_SECONDS` apart);
- queue waits (p50 / p90 / p99 / max) and how callers left the line (rung, message on
  1 or past `IVR_QUEUE_MAX_SECONDS`, hung up);
- each dispatcher pass's real (wall-clock) duration, p50 / p99: what it adds in reality;
- the queue's time to connect, in real time: from the start of the dispatchers' pass that
  finds a person free (each process polls every `IVR_QUEUE_POLL_SECONDS`) to the waiting
  caller's `<Dial>` of them, the REST redirect followed; in a real centre add up to one
  poll interval for that pass to come.

    .venv/bin/python benchmarks/switchboard.py                     # SQLite, 2 dispatchers
    .venv/bin/python benchmarks/switchboard.py --postgres           # throwaway PostgreSQL 15
    .venv/bin/python benchmarks/switchboard.py --callers 200 --minutes 10 --staff 10 --seed 1
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from ivr.app import create_app  # noqa: E402
from ivr.calls import dispatcher  # noqa: E402
from ivr.people.imports import import_staff  # noqa: E402
from ivr.platform import twilio_rest  # noqa: E402
from ivr.platform.config import Settings  # noqa: E402
from models import Call, Leg  # noqa: E402
from models.db import make_engine, make_sessionmaker, upgrade  # noqa: E402
from models.writer import LoopWriter  # noqa: E402
from tests.fake_twilio import ACCOUNT_SID, FakeTwilio  # noqa: E402
from tests.twilio_client import AUTH_TOKEN, HOTLINE, PUBLIC_BASE, Caller, StaffPhone, Twilio  # noqa: E402

START = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


class SimClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> datetime:
        return START + timedelta(seconds=self.t)


def at(t: float) -> datetime:
    return START + timedelta(seconds=round(t))


@dataclass
class Sim:
    args: argparse.Namespace
    twilio: Twilio
    fake: FakeTwilio
    clock: SimClock
    rng: random.Random
    events: list = field(default_factory=list)
    seq: itertools.count = field(default_factory=itertools.count)
    callers: dict = field(default_factory=dict)       # sid -> Caller
    generation: dict = field(default_factory=dict)    # sid -> int (a redirect voids old turns)
    waiting: set = field(default_factory=set)         # sids in the wait loop now
    phone_busy: dict = field(default_factory=dict)    # staff phone -> sid ringing/talking it
    caller_leg: dict = field(default_factory=dict)    # sid -> staff phone ringing/talking
    free_at: dict = field(default_factory=dict)       # staff phone -> end of their wrap-up
    line_at_free: dict = field(default_factory=dict)  # staff phone -> callers were waiting then
    double_rung: int = 0
    gaps: list = field(default_factory=list)
    # Real seconds from the start of the dispatchers' pass that found a person free to the
    # waiting caller's <Dial> of them (the REST redirect followed): the time to connect.
    connect: list = field(default_factory=list)
    tick_began: float | None = None  # set while a pass's redirects are followed
    taken_updates: int = 0
    done: int = 0

    def at(self, t: float, kind: str, sid: str, *data) -> None:
        heapq.heappush(self.events, (t, next(self.seq), kind, sid, self.generation.get(sid, 0), data))

    # --- what the caller's current TwiML does next -------------------------------------
    async def handle(self, sid: str, twiml, t: float) -> None:
        caller = self.callers[sid]
        caller.last = twiml
        dial = twiml.find("Dial")
        if dial is not None:
            number = dial.find("Number")
            phone_no = number.text
            if self.phone_busy.get(phone_no) or self.caller_leg.get(sid):
                self.double_rung += 1
            self.phone_busy[phone_no] = sid
            self.caller_leg[sid] = phone_no
            freed = self.free_at.pop(phone_no, None)
            if sid in self.waiting and freed is not None and t >= freed \
                    and self.line_at_free.pop(phone_no, False):
                self.gaps.append(t - freed)  # a waiting caller rung to a person now free
                if self.tick_began is not None:
                    self.connect.append(time.perf_counter() - self.tick_began)
            self.waiting.discard(sid)
            phone = StaffPhone(self.twilio, caller, dial, number)
            await phone.event("initiated", at(t))
            self.at(t + 1, "ringing", sid, phone)
            return
        gather = twiml.find("Gather")
        if gather is not None and gather.get("action", "").endswith("/twilio/queue-key"):
            first = sid not in self.waiting
            self.waiting.add(sid)
            pause = gather.find("Pause")
            turn = 8 + (int(pause.get("length")) if pause is not None else 0) + 1
            self.at(t + turn, "turn", sid)
            if first and self.rng.random() < self.args.impatient:
                self.at(t + self.rng.uniform(15, 110), "give_up", sid)
            return
        if twiml.find("Record") is not None:
            self.waiting.discard(sid)
            self.at(t + 15, "message", sid)
            return
        redirect = twiml.find("Redirect")
        if redirect is not None:  # a moment's hold while a redirect is on its way
            self.at(t + 2, "turn", sid)
            return
        await self.end_call(sid, t)

    async def end_call(self, sid: str, t: float) -> None:
        caller = self.callers[sid]
        self.waiting.discard(sid)
        self.generation[sid] = self.generation.get(sid, 0) + 1  # no more turns after a hang-up
        self.fake.end_call(sid)
        await caller.hangup(at=at(t), duration=int(t))
        self.done += 1

    # --- events ------------------------------------------------------------------------
    async def run_event(self, t: float, kind: str, sid: str, data) -> None:
        caller = self.callers.get(sid)
        if kind == "arrive":
            caller = Caller(self.twilio, from_number=data[0])
            self.callers[caller.sid] = caller
            self.fake.live_call(caller.sid, from_=data[0])
            await caller.dial_in()
            emergency = self.rng.random() < self.args.emergencies
            twiml = await caller.press("1" if emergency else "0")
            if emergency:
                twiml = await caller.press("1")
            await self.handle(caller.sid, twiml, t)
        elif kind == "ringing":
            phone = data[0]
            await phone.event("ringing", at(t))
            if self.rng.random() < self.args.no_answer:
                self.at(t + self.args.dial_timeout, "no_answer", sid, phone)
            else:
                self.at(t + self.rng.uniform(1, 9), "answer", sid, phone)
        elif kind == "answer":
            phone = data[0]
            await phone.event("in-progress", at(t))
            await phone.pick_up_and_screen("1")
            self.at(t + self.rng.uniform(self.args.talk_min, self.args.talk_max), "talk_end", sid, phone)
        elif kind == "no_answer":
            phone = data[0]
            await phone.event("no-answer", at(t))
            self.phone_busy.pop(phone.number.text, None)
            self.caller_leg.pop(sid, None)
            await self.handle(sid, await phone.dial_result("no-answer"), t)
        elif kind == "talk_end":
            phone = data[0]
            await phone.event("completed", at(t))
            await phone.dial_result("completed", bridged=True)
            self.phone_busy.pop(phone.number.text, None)
            self.caller_leg.pop(sid, None)
            await self.end_call(sid, t)
            # Free when the wrap-up after Twilio's (whole-second) completed timestamp ends.
            self.free_at[phone.number.text] = round(t) + self.args.wrap_up
            self.line_at_free.pop(phone.number.text, None)
        elif kind == "turn":
            redirect = caller.last.find("Redirect")
            await self.handle(sid, await self.twilio.follow(redirect.text, caller.params()), t)
        elif kind == "give_up":
            if sid in self.waiting:
                await self.end_call(sid, t)
        elif kind == "message":
            record = caller.last.find("Record")
            await self.twilio.follow(record.get("action"), caller.params(
                RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="10"))
            await self.end_call(sid, t)

    async def follow_redirects(self, t: float) -> None:
        while self.taken_updates < len(self.fake.updates):
            sid, form = self.fake.updates[self.taken_updates]
            self.taken_updates += 1
            self.generation[sid] = self.generation.get(sid, 0) + 1  # the wait loop stops
            caller = self.callers[sid]
            twiml = await self.twilio.follow(form["Url"], caller.params())
            await self.handle(sid, twiml, t)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


async def main(args: argparse.Namespace, database_url: str) -> None:
    rng = random.Random(args.seed)
    await upgrade(database_url)
    async with FakeTwilio(record=False) as fake:
        settings = Settings(
            DATABASE_URL=database_url, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_API_BASE_URL=fake.url, PUBLIC_BASE_URL=PUBLIC_BASE, HOTLINE_NUMBER=HOTLINE,
            COMPANY_NAME="阳光花园", IVR_JOURNAL_DIR=tempfile.mkdtemp(prefix="ivr-sw-journal-"),
            IVR_WRAP_UP_SECONDS=args.wrap_up, IVR_QUEUE_MAX_SECONDS=args.max_wait,
            IVR_LOG_LEVEL="WARNING", _env_file=None)
        args.dial_timeout = settings.dial_timeout
        staff_csv = Path(tempfile.mkdtemp(prefix="ivr-sw-")) / "staff.csv"
        staff_csv.write_text("name,phone,department,shifts\n" + "".join(
            f"客服{n:02d},138000100{n:02d},客服部,00:00-24:00\n" for n in range(args.staff)),
            encoding="utf-8")
        engines = [make_engine(database_url) for _ in range(args.dispatchers + 1)]
        sessions = [make_sessionmaker(e) for e in engines]
        async with sessions[0]() as session, session.begin():
            await import_staff(session, staff_csv, now=START)
        clock = SimClock()
        client = TestClient(TestServer(create_app(settings, clock=clock)))
        await client.start_server()
        rest = twilio_rest.make_client(settings)
        sim = Sim(args, Twilio(client, base=PUBLIC_BASE, token=AUTH_TOKEN), fake, clock, rng)
        span = args.minutes * 60
        for n in range(args.callers):
            sim.at(rng.uniform(0, span), "arrive", f"arrival-{n}", f"+86139{n:08d}")
        writers = [LoopWriter(s) for s in sessions[1:]]
        pass_seconds: list[float] = []
        step = settings.queue_poll_seconds
        next_pass = 0.0
        started = time.perf_counter()
        while sim.events or sim.waiting:
            t_event = sim.events[0][0] if sim.events else float("inf")
            if next_pass <= t_event:
                clock.t = next_pass
                for phone_no, freed in sim.free_at.items():  # the line as the person frees
                    if freed <= next_pass and phone_no not in sim.line_at_free:
                        sim.line_at_free[phone_no] = bool(sim.waiting)
                sim.tick_began = time.perf_counter()
                for writer, reader in zip(writers, sessions[1:]):
                    begun = time.perf_counter()
                    await dispatcher.run_once(writer=writer, reader=reader, client=rest,
                                              settings=settings, clock=clock)
                    pass_seconds.append(time.perf_counter() - begun)
                await sim.follow_redirects(next_pass)
                sim.tick_began = None
                next_pass += step
                continue
            t, _, kind, sid, generation, data = heapq.heappop(sim.events)
            if generation != sim.generation.get(sid, 0) and kind in ("turn",):
                continue  # a turn of a wait loop the redirect ended
            clock.t = t
            await sim.run_event(t, kind, sid, data)
        elapsed = time.perf_counter() - started

        async with sessions[0]() as session:
            calls = (await session.scalars(select(Call).where(Call.queued_at.is_not(None)))).all()
            legs = (await session.execute(
                select(Leg.staff_id, Leg.created_at, Leg.completed_at, Leg.accepted,
                       Call.menu_choice).join(Call, Call.id == Leg.call_id)
                .order_by(Leg.staff_id, Leg.created_at, Leg.id))).all()
        in_wrap_up = []
        last_end: dict = {}
        for leg in legs:
            end = last_end.get(leg.staff_id)
            if end is not None and leg.created_at < end + timedelta(seconds=args.wrap_up):
                in_wrap_up.append(leg.menu_choice)
            if leg.accepted and leg.completed_at is not None:
                last_end[leg.staff_id] = leg.completed_at
        waits = [c.queue_wait_seconds or 0 for c in calls]
        exits: dict[str, int] = {}
        for c in calls:
            exits[c.queue_exit or "?"] = exits.get(c.queue_exit or "?", 0) + 1
        print(f"switchboard: {args.callers} callers over {args.minutes} min (simulated), "
              f"{args.staff} staff, talk {args.talk_min:g}-{args.talk_max:g} s, wrap-up "
              f"{args.wrap_up:g} s, {args.dispatchers} dispatchers, "
              f"{database_url.split(':')[0]}; {elapsed:.1f} s real")
        print(f"  calls double-rung            {sim.double_rung}")
        print(f"  rung in wrap-up              {len(in_wrap_up)} "
              f"({sum(c == 'emergency' for c in in_wrap_up)} emergencies, which may be)")
        print(f"  free -> next leg (sim s)     n={len(sim.gaps)} p50={fmt(percentile(sim.gaps, .5))} "
              f"p99={fmt(percentile(sim.gaps, .99))} max={fmt(max(sim.gaps, default=None))}")
        connect = [1000 * s for s in sim.connect]
        print(f"  time to connect (real ms)    n={len(connect)} p50={fmt(percentile(connect, .5))} "
              f"p99={fmt(percentile(connect, .99))} max={fmt(max(connect, default=None))}  "
              f"(+ up to IVR_QUEUE_POLL_SECONDS={step:g} s for the next pass; limit 2 s)")
        print(f"  queued callers               {len(calls)} of {args.callers}; left the line: "
              + ", ".join(f"{k} {v}" for k, v in sorted(exits.items())))
        for exit_ in sorted(exits):
            these = [c.queue_wait_seconds or 0 for c in calls if (c.queue_exit or "?") == exit_]
            print(f"    {exit_:<26} p50={fmt(percentile(these, .5))} max={fmt(max(these))}")
        print(f"  queue wait (s)               p50={fmt(percentile(waits, .5))} "
              f"p90={fmt(percentile(waits, .9))} p99={fmt(percentile(waits, .99))} "
              f"max={fmt(max(waits, default=None))}")
        print(f"  dispatcher pass (real ms)    n={len(pass_seconds)} "
              f"p50={fmt(1000 * percentile(pass_seconds, .5))} "
              f"p99={fmt(1000 * percentile(pass_seconds, .99))}")
        await twilio_rest.close(rest)
        await client.close()
        for engine in engines:
            await engine.dispose()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--staff", type=int, default=10)
    parser.add_argument("--talk-min", type=float, default=20)
    parser.add_argument("--talk-max", type=float, default=90)
    parser.add_argument("--wrap-up", type=float, default=20)
    parser.add_argument("--max-wait", type=int, default=120)
    parser.add_argument("--no-answer", type=float, default=0.05, help="share of legs not answered")
    parser.add_argument("--impatient", type=float, default=0.2,
                        help="share of queued callers who hang up after 15-110 s")
    parser.add_argument("--emergencies", type=float, default=0.05)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", action="store_true",
                        help="a throwaway PostgreSQL cluster (scripts/postgres.sh)")
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse()
    if args.postgres and not os.environ.get("IVR_TEST_DATABASE_URL"):
        argv = [a for a in sys.argv[1:] if a != "--postgres"]
        sys.exit(subprocess.call(["bash", str(ROOT / "scripts/postgres.sh"), "run", sys.executable,
                                  __file__, "--postgres", *argv]))
    url = args.database_url or os.environ.get("IVR_TEST_DATABASE_URL", "") if args.postgres else args.database_url
    if not url:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='ivr-sw-db-')}/ivr.db"
    asyncio.run(main(args, url))
