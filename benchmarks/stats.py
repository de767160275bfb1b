"""How fast `/api/stats` and the dashboard `/` answer for a month as the call log grows.

For each size (10k, 100k, 1M legs by default) a fresh SQLite database is migrated and
filled with a year of calls ending now, in time order: about 1.1 legs per inbound call
(a few hunt to a second phone), 6 staff, realistic ring times, some abandoned calls, a
ticket for one call in ten (the last fortnight's partly open), written by `benchmarks/seed.py`
(SQLAlchemy Core, executemany in batches, one transaction).
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
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from benchmarks import seed  # noqa: E402
from ivr.app import create_app  # noqa: E402
from ivr.people.users import add_user, create_token  # noqa: E402
from ivr.platform.config import Settings  # noqa: E402
from models.db import make_engine, make_sessionmaker, upgrade  # noqa: E402


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
        filled = await seed.reuse_calls(url)
    else:
        filled = await seed.year_of_calls(url, legs_wanted=size, now=now)
    if live_calls:
        await seed.calls_in_progress(url, calls=live_calls, now=now)
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
