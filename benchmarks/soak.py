"""Soak: hundreds of concurrent simulated calls for minutes; nothing may fail or be lost.

Each caller runs whole calls back to back (the same ten signed webhooks as
`benchmarks/webhooks.py`: greeting, menu 0, the staff phone's call-progress events,
screening and accept, dial result, call status), pausing like a real caller between
webhooks. At the end every webhook that got a 200 is looked for in the database.

A whole call needs a free person (one phone rings or talks for one caller at a time), so
as many staff as callers are on shift (`--staff`) with no wrap-up after a call
(`--wrap-up`): else most calls wait in line after the menu and the soak never reaches
the staff phone's webhooks.

Prints calls completed (whole: every webhook through to the dial result), errors (must
be 0) and records lost (must be 0).

    .venv/bin/python benchmarks/soak.py                      # 500 calls, 3 minutes, SQLite
    .venv/bin/python benchmarks/soak.py --calls 200 --minutes 1
    .venv/bin/python benchmarks/soak.py --database-url postgresql+asyncpg://…/empty_db
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.webhooks import AUTH_TOKEN, HOTLINE, PUBLIC_BASE, Client, Server, one_call, prepare_database  # noqa: E402  (the same simulated call, one place)
from models import Call, CallEvent  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402


class CountingClient(Client):
    """Remembers how many webhooks of each CallSid were acknowledged with a 200."""

    def __init__(self, http, target) -> None:
        super().__init__(http, target)
        self.recording = True
        self.acknowledged: Counter[str] = Counter()
        self.inbound: set[str] = set()
        self.calls_done = 0

    async def post(self, url, params):
        errors_before = self.errors
        root = await super().post(url, params)
        if self.errors == errors_before and root is not None:
            self.acknowledged[params["CallSid"]] += 1
            if params.get("Direction") == "inbound":
                self.inbound.add(params["CallSid"])
        return root


async def soak(target: str, calls: int, seconds: float, think: float) -> CountingClient:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        client = CountingClient(http, target)
        client.think = think
        numbers = iter(range(10**9))
        deadline = time.monotonic() + seconds

        async def caller() -> None:
            while time.monotonic() < deadline:
                await one_call(client, next(numbers))
                client.calls_done += 1

        await asyncio.gather(*(caller() for _ in range(calls)))
    return client


async def lost_records(database_url: str, client: CountingClient) -> tuple[int, int]:
    """Webhooks acknowledged but not in the database; calls acknowledged but missing."""
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as session:
        stored_calls = set((await session.scalars(select(Call.sid))).all())
        rows = (await session.execute(
            select(CallEvent.call_sid, func.count()).group_by(CallEvent.call_sid))).all()
    await engine.dispose()
    events = Counter({sid: n for sid, n in rows})
    lost_events = sum(max(0, n - events.get(sid, 0)) for sid, n in client.acknowledged.items())
    lost_calls = len(client.inbound - stored_calls)
    return lost_events, lost_calls


async def main(args) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'ivr.db'}"
    env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "PUBLIC_BASE_URL": PUBLIC_BASE, "HOTLINE_NUMBER": HOTLINE, "COMPANY_NAME": "阳光花园",
           "IVR_JOURNAL_DIR": str(workdir / "journal"), "IVR_LOG_LEVEL": "WARNING",
           "IVR_WRAP_UP_SECONDS": str(args.wrap_up)}
    prepare_database(env, workdir, staff=args.staff or args.calls)
    server = await Server([sys.executable, "-m", "ivr.cli", "serve", "--no-dialer",
                           "--host", "127.0.0.1", "--workers", str(args.workers)],
                          env, workdir).start()
    started = time.monotonic()
    try:
        client = await soak(server.url, args.calls, args.minutes * 60, args.think)
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    lost_events, lost_calls = await lost_records(database_url, client)
    journal_left = sum(1 for p in (workdir / "journal").glob("journal-*.jsonl")
                       for line in p.read_text().splitlines() if line.strip())
    print(f"concurrent calls      {args.calls}")
    print(f"duration              {elapsed:.0f} s")
    print(f"staff on shift        {args.staff or args.calls} (wrap-up {args.wrap_up} s)")
    print(f"calls completed       {client.calls_done} ({client.whole} whole, {client.short} "
          f"waited in line or left a message)")
    print(f"webhooks acknowledged {sum(client.acknowledged.values())}")
    print(f"errors                {client.errors}")
    print(f"records lost          {lost_events + lost_calls} "
          f"({lost_events} webhooks, {lost_calls} calls; {journal_left} still journaled)")
    return 0 if client.errors == 0 and lost_events + lost_calls == 0 else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=500, help="concurrent calls (default 500)")
    p.add_argument("--minutes", type=float, default=3, help="how long (default 3)")
    p.add_argument("--think", type=float, default=1.0,
                   help="seconds a caller pauses between webhooks, 0.5-1.5 x (default 1)")
    p.add_argument("--staff", type=int, default=0,
                   help="staff on shift (default: as many as --calls, so no call waits in line)")
    p.add_argument("--wrap-up", type=float, default=0,
                   help="seconds a staff phone rests after each call (default 0)")
    p.add_argument("--workers", type=int, default=1, help="server processes")
    p.add_argument("--database-url", help="an existing, empty database")
    sys.exit(asyncio.run(main(p.parse_args())))
