"""How fast the ticket list `/tickets` answers its filters as the tickets grow.

For each size (10k, 100k tickets by default) a fresh SQLite database is migrated and
filled with a year of tickets ending now, in time order, for 5,000 residents: most are
closed, the last fortnight's partly open (a few of them overdue, some escalated to the
level-2 supervisor). Then the real application answers, in process, as that supervisor
signed in: the list unfiltered (newest first), overdue (no date limit), overdue by due
time, a search by phone and by address fragment, a status and category, the supervisor's
escalation queue, and the last page. Each is timed once cold and then `--repeat` times;
the median is printed. The rows are written by `benchmarks/seed.py`. Figures only; not a
test.

    .venv/bin/python benchmarks/tickets.py
    .venv/bin/python benchmarks/tickets.py --sizes 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from benchmarks import seed  # noqa: E402
from benchmarks.stats import timed  # noqa: E402
from ivr.app import create_app  # noqa: E402
from ivr.people.users import add_user  # noqa: E402
from ivr.platform.config import Settings  # noqa: E402
from models.db import make_engine, make_sessionmaker, upgrade  # noqa: E402


async def run(size: int, repeat: int, workdir: Path) -> None:
    path = workdir / f"tickets-{size}.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    now = datetime.now(timezone.utc)
    seconds = await seed.year_of_tickets(url, tickets_wanted=size, now=now)
    settings = Settings(DATABASE_URL=url, TWILIO_AUTH_TOKEN="bench", PUBLIC_BASE_URL="http://127.0.0.1",
                        IVR_JOURNAL_DIR=str(workdir / "journal"), _env_file=None)
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        user = await add_user(session, name="赵主管", role="supervisor", password="benchmark-pass",
                              now=now)
        user.staff_id = 3
    await engine.dispose()
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    queries = {"all": "", "overdue": "overdue=1", "overdue by due": "overdue=1&sort=due",
               "phone": "q=13900001234", "address": "q=" + seed.address(17)[4:],
               "status+category": "status=open&category=complaint", "queue": "queue=mine",
               "last page": f"page={max(1, -(-size // 50))}"}
    try:
        resp = await client.post("/login", data={"username": "赵主管", "password": "benchmark-pass"},
                                 headers={"Origin": str(client.make_url("/")).rstrip("/")},
                                 allow_redirects=False)
        assert resp.status == 302, resp.status
        figures = []
        for label, query in queries.items():
            cold, median, _ = await timed(client, f"/tickets?{query}", repeat)
            figures.append(f"{label} {cold * 1000:.0f}/{median * 1000:.0f}")
    finally:
        await client.close()
    print(f"{size:>9,} tickets (seeded in {seconds:4.1f} s), cold/median ms: " + ", ".join(figures),
          flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", help="directory for the databases (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"SQLite, a year of tickets ending now; /tickets as the level-2 supervisor "
              f"(in process, Python {sys.version.split()[0]})")
        for size in args.sizes:
            await run(size, args.repeat, workdir)


if __name__ == "__main__":
    asyncio.run(main())
