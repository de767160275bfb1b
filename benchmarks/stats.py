"""How fast `/api/stats` and the dashboard `/` answer for a month as the call log grows.

For each size (10k, 100k, 1M legs by default) a fresh SQLite database is migrated and
filled with a year of calls ending now, in time order: about 1.1 legs per inbound call
(a few hunt to a second phone), 6 staff, realistic ring times, some abandoned calls, a
ticket for one call in ten (the last fortnight's partly open). Rows are bulk-inserted with sqlite3's executemany in one transaction.
Then the real application answers, in process: `GET /api/stats` for this month and
`GET /` (the whole dashboard: the tiles against the day before, today, this week, this
month, the charts over 30 days and the per-staff table) as a signed-in supervisor, and
`GET /?date=` the last day of last month (a whole month in the table, whatever today's
date). Each is timed once cold and then `--repeat` times; the median is printed.
`this month` depends on the date (on the 2nd it is two days), so `/api/stats` is also
timed for the last 31 days, a whole month whatever the date.

Then `--live` calls (500 by default) are put in progress now (ringing, talking, in line,
at the menu, each with its legs) and `GET /api/live` (the wallboard's query) is timed,
with the CPU time of the query itself in process (`ivr.reporting.live.live`, no HTTP).
Limits (issue 20): `/api/stats` < 100 ms and `/` < 200 ms at 1M legs, `/api/live` < 20 ms
with 500 calls in progress. Figures only; not a test.

    .venv/bin/python benchmarks/stats.py
    .venv/bin/python benchmarks/stats.py --sizes 10000 100000 --repeat 5
    .venv/bin/python benchmarks/stats.py --sizes 1000000 --keep /tmp/stats --reuse   # seeded once
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from ivr.app import create_app  # noqa: E402
from ivr.people.users import add_user, create_token  # noqa: E402
from ivr.platform.config import Settings  # noqa: E402
from models.db import make_engine, make_sessionmaker, upgrade  # noqa: E402

STAFF = [("王芳", "+8613800000001"), ("李强", "+8613800000002"), ("张敏", "+8613800000003"),
         ("刘洋", "+8613800000004"), ("陈静", "+8613800000005"), ("赵磊", "+8613800000006")]
MENU = ["person", "repair", "repair", "complaint", "fees", "inquiry", "emergency"]


def stamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite storage format for our UTC columns."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(path: Path, *, legs_wanted: int, now: datetime, seed: int = 7) -> dict:
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    with db:
        db.executemany(
            "INSERT INTO staff (id, name, phone, department, shifts, position, active, "
            "escalation_level) VALUES (?, ?, ?, '客服部', '00:00-24:00', ?, 1, 1)",
            [(i + 1, name, phone, i) for i, (name, phone) in enumerate(STAFF)])
        calls, legs, tickets = [], [], []
        call_id = leg_id = 0
        # Calls in time order, as a live system writes them (ids rise with time).
        span = 365 * 86400
        mean_gap = span / (legs_wanted / 1.1)
        start = now - timedelta(seconds=span)
        while leg_id < legs_wanted:
            call_id += 1
            start += timedelta(seconds=rng.expovariate(1 / mean_gap))
            choice = rng.choice(MENU)
            hunt = 2 if rng.random() < 0.1 else 1
            outcome, answered_by, first_ring = "answered", None, start + timedelta(seconds=25)
            ring_at = first_ring
            for attempt in range(1, hunt + 1):
                leg_id += 1
                staff = rng.randrange(len(STAFF))
                answered = attempt == hunt and rng.random() < 0.93
                ring = min(30, max(1, int(rng.gauss(7, 4)))) if answered else None
                legs.append((
                    leg_id, call_id, f"CL{leg_id:032x}", staff + 1, STAFF[staff][0],
                    STAFF[staff][1], attempt, stamp(ring_at - timedelta(seconds=1)),
                    stamp(ring_at - timedelta(seconds=1)), stamp(ring_at),
                    stamp(ring_at + timedelta(seconds=ring)) if answered else None,
                    int(answered), ring, "completed" if answered else "no-answer",
                    int(answered)))
                if answered:
                    answered_by = staff + 1
                else:
                    ring_at += timedelta(seconds=16)
            if answered_by is None:
                outcome = "abandoned" if rng.random() < 0.5 else "message"
            calls.append((
                call_id, f"CA{call_id:032x}", f"+86139{call_id % 10**8:08d}", stamp(start),
                stamp(start + timedelta(seconds=120)), choice, outcome, answered_by,
                stamp(start + timedelta(seconds=20))))
            if call_id % 10 == 0:
                tickets.append((call_id // 10, f"{start:%Y%m%d}-{call_id:08d}", call_id,
                                stamp(start), stamp(start + timedelta(days=1)),
                                # Older tickets are done; the last fortnight's partly open.
                                "open" if now - start < timedelta(days=14) and rng.random() < 0.3
                                else "closed", answered_by))
        db.executemany(
            "INSERT INTO calls (id, sid, direction, from_number, to_number, language, status, "
            "invalid_inputs, empty_inputs, started_at, ended_at, menu_choice, outcome, "
            "answered_by_staff_id, transfer_requested_at) VALUES (?, ?, 'inbound', ?, "
            "'+862161234567', 'zh', 'completed', 0, 0, ?, ?, ?, ?, ?, ?)", calls)
        db.executemany(
            "INSERT INTO legs (id, call_id, sid, staff_id, staff_name, phone, attempt, created_at, "
            "initiated_at, ringing_at, answered_at, accepted, ring_seconds, status, bridged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", legs)
        db.executemany(
            "INSERT INTO tickets (id, number, category, call_id, created_at, due_at, status, "
            "owner_staff_id, description, escalation_level) "
            "VALUES (?, ?, 'repair', ?, ?, ?, ?, ?, '', 1)", tickets)
    db.execute("ANALYZE")
    db.close()
    return {"calls": call_id, "legs": leg_id, "tickets": len(tickets),
            "seconds": time.perf_counter() - started}


def in_progress(path: Path, *, calls: int, now: datetime, seed: int = 11) -> None:
    """`calls` inbound calls in progress now: a fifth at the menu, a fifth in line, a
    fifth ringing a staff phone, the rest talking (a hunt's missed leg before some)."""
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    with db:
        first_call = db.execute("SELECT coalesce(max(id), 0) + 1 FROM calls").fetchone()[0]
        first_leg = db.execute("SELECT coalesce(max(id), 0) + 1 FROM legs").fetchone()[0]
        rows, legs = [], []
        for i in range(calls):
            call_id = first_call + i
            start = now - timedelta(seconds=rng.randrange(30, 600))
            kind = ("menu", "queued", "ringing", "talking", "talking")[i % 5]
            queued = stamp(start + timedelta(seconds=20)) if kind == "queued" else None
            rows.append((call_id, f"CAlive{call_id:028x}", f"+86138{call_id % 10**8:08d}",
                         stamp(start), rng.choice(MENU), queued, queued))
            if kind in ("ringing", "talking"):
                staff = rng.randrange(len(STAFF))
                ring = start + timedelta(seconds=25)
                talking = kind == "talking"
                legs.append((first_leg + len(legs), call_id, f"CLlive{call_id:028x}", staff + 1,
                             STAFF[staff][0], STAFF[staff][1], 1, stamp(ring), stamp(ring),
                             stamp(ring), stamp(ring + timedelta(seconds=6)) if talking else None,
                             int(talking), 6 if talking else None,
                             "in-progress" if talking else "ringing", int(talking)))
        db.executemany(
            "INSERT INTO calls (id, sid, direction, from_number, to_number, language, status, "
            "invalid_inputs, empty_inputs, started_at, menu_choice, queued_at, queue_since, "
            "queue_priority) VALUES (?, ?, 'inbound', ?, '+862161234567', 'zh', 'in-progress', "
            "0, 0, ?, ?, ?, ?, 0)", rows)
        db.executemany(
            "INSERT INTO legs (id, call_id, sid, staff_id, staff_name, phone, attempt, created_at, "
            "initiated_at, ringing_at, answered_at, accepted, ring_seconds, status, bridged) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", legs)
    db.close()


async def live_cpu(url: str, settings: Settings, repeat: int) -> float:
    """The median CPU time of `live.live` itself (the query and its Python), in process."""
    from ivr.reporting import live

    engine = make_engine(url, read_only=True)
    times = []
    try:
        for _ in range(repeat + 1):
            async with make_sessionmaker(engine)() as session:
                started = time.process_time()
                await live.live(session, settings=settings, now=datetime.now(timezone.utc))
                times.append(time.process_time() - started)
    finally:
        await engine.dispose()
    return statistics.median(times[1:])


async def timed(client: TestClient, path: str, repeat: int, **kwargs) -> tuple[float, float, int]:
    async def once() -> tuple[float, int]:
        t = time.perf_counter()
        resp = await client.get(path, **kwargs)
        await resp.read()
        if resp.status != 200:
            raise SystemExit(f"{path}: HTTP {resp.status}")
        return time.perf_counter() - t, resp.status
    cold, _ = await once()
    times = [(await once())[0] for _ in range(repeat)]
    return cold, statistics.median(times), len(times)


async def run(size: int, repeat: int, workdir: Path, *, reuse: bool, live_calls: int) -> None:
    path = workdir / f"stats-{size}.db"
    url = f"sqlite+aiosqlite:///{path}"
    reused = reuse and path.exists()
    await upgrade(url)
    now = datetime.now(timezone.utc)
    if reused:  # seeded by an earlier run (--keep): a year ending then, which is near enough
        db = sqlite3.connect(path)
        db.execute("DELETE FROM calls WHERE ended_at IS NULL")  # an earlier run's --live calls
        db.execute("DELETE FROM legs WHERE call_id NOT IN (SELECT id FROM calls)")
        db.execute("DELETE FROM api_tokens")
        db.execute("DELETE FROM users")
        db.commit()
        filled = {"calls": db.execute("SELECT count(*) FROM calls").fetchone()[0],
                  "legs": db.execute("SELECT count(*) FROM legs").fetchone()[0], "seconds": 0.0}
        db.execute("ANALYZE")
        db.close()
    else:
        filled = fill(path, legs_wanted=size, now=now)
    if live_calls:
        in_progress(path, calls=live_calls, now=now)
    settings = Settings(DATABASE_URL=url, TWILIO_AUTH_TOKEN="bench", PUBLIC_BASE_URL="http://127.0.0.1",
                        IVR_JOURNAL_DIR=str(workdir / "journal"), _env_file=None)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="benchmark-pass", now=now)
        token = await create_token(session, name="主管", now=now)
    await engine.dispose()
    local = now.astimezone(settings.tz).date()
    first = local.replace(day=1)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        resp = await client.post("/login", data={"username": "主管", "password": "benchmark-pass"},
                                 headers={"Origin": str(client.make_url("/")).rstrip("/")},
                                 allow_redirects=False)
        assert resp.status == 302, resp.status
        bearer = {"Authorization": f"Bearer {token}"}
        api = await timed(client, f"/api/stats?from={first}&to={local}", repeat, headers=bearer)
        whole = await timed(client, f"/api/stats?from={local - timedelta(days=30)}&to={local}",
                            repeat, headers=bearer)
        page = await timed(client, "/", repeat)
        full = await timed(client, f"/?date={first - timedelta(days=1)}", repeat)
        wall = await timed(client, "/api/live", repeat, headers=bearer)
    finally:
        await client.close()
    cpu = await live_cpu(url, settings, repeat)
    print(f"{filled['legs']:>9,} legs {filled['calls']:>9,} calls  (seeded in {filled['seconds']:5.1f} s)"
          f"  /api/stats month: cold {api[0] * 1000:7.1f} ms, median {api[1] * 1000:7.1f} ms"
          f"  |  / dashboard: cold {page[0] * 1000:7.1f} ms, median {page[1] * 1000:7.1f} ms"
          f"  |  /?date={first - timedelta(days=1)}: median {full[1] * 1000:7.1f} ms"
          f"  (n={api[2]})", flush=True)
    print(f"{'':>9}      {'':>9}        /api/stats last 31 days: cold {whole[0] * 1000:7.1f} ms, "
          f"median {whole[1] * 1000:7.1f} ms (limit 100)  |  / limit 200", flush=True)
    print(f"{'':>9}      {'':>9}        /api/live, {live_calls} calls in progress: cold "
          f"{wall[0] * 1000:7.1f} ms, median {wall[1] * 1000:7.1f} ms; live.live CPU median "
          f"{cpu * 1000:6.1f} ms (limit 20)", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", help="directory for the databases (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: use a database seeded by an earlier run")
    parser.add_argument("--live", type=int, default=500, help="calls in progress for /api/live")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"SQLite, a year of calls ending now; timings for this month (in process, "
              f"Python {sys.version.split()[0]})")
        for size in args.sizes:
            await run(size, args.repeat, workdir, reuse=args.reuse, live_calls=args.live)


if __name__ == "__main__":
    asyncio.run(main())
