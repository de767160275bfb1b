"""Where a webhook's time goes: the bare limit, then one layer added at a time.

The same client and calls as `benchmarks/webhooks.py` (whose helpers this reuses), each
row against a small aiohttp server in a separate process that adds one thing to the row
above it:

- `bare`: one fixed TwiML document (the limit of `webhooks.py`).
- `signed`: + the form read, `RequestValidator` on every request and the answer built
  with twilio's `VoiceResponse`: everything of a webhook but its database work.
- `+1 insert, aiosqlite`: + one transaction storing the event row through the
  application's engine (SQLAlchemy async over aiosqlite): each statement a thread hop.
- `+1 insert, writer`: the same transaction on `models/writer.py`'s thread, one hop.
- `+1 insert, grouped`: the same, as webhooks run it: inserts that queue while one
  commits share the next transaction (group commit, a savepoint each).
- `+1 insert, sqlite3`: the same row with the standard library's sqlite3 on a thread of
  its own, no SQLAlchemy: what the database itself costs.

`--statements N` instead runs N whole calls one after another through the real
application in process (no second process, no concurrency) and prints, per webhook of
the call, the SQL statements it ran on the writer's connection (a `before_cursor_execute`
listener, BEGIN and SAVEPOINTs included, COMMIT not) and the CPU time of the event
loop's thread and of the writer's thread per call; `--profile` adds the writer
thread's cProfile top functions.

Figures only; not a test.

    .venv/bin/python benchmarks/anatomy.py [--concurrency 50] [--seconds 8]
    .venv/bin/python benchmarks/anatomy.py --statements 200 [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import importlib.util
import json
import shutil
import sqlite3
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_webhooks", Path(__file__).with_name("webhooks.py"))
bench = sys.modules["bench_webhooks"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MODES = {
    "bare": "bare aiohttp (limit)",
    "signed": "signed",
    "aiosqlite": "+1 insert, aiosqlite",
    "writer": "+1 insert, writer",
    "grouped": "+1 insert, grouped",
    "sqlite3": "+1 insert, sqlite3",
}


def answer() -> str:
    """The bare limit's document, built as a webhook builds its answer."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    base = bench.PUBLIC_BASE
    response = VoiceResponse()
    gather = response.gather(action=f"{base}/twilio/menu", method="POST", num_digits=1)
    gather.say("您好，请按键。", language="cmn-CN", voice="Polly.Zhiyu")
    dial = Dial(action=f"{base}/twilio/dial-result?leg=1&n=1", method="POST", timeout=10)
    dial.number("+8613800000001", url=f"{base}/twilio/screen?leg=1&n=1", method="POST",
                status_callback=f"{base}/twilio/leg-status?leg=1&n=1",
                status_callback_event="initiated ringing answered completed",
                status_callback_method="POST")
    response.append(dial)
    return str(response)


def serve(mode: str, port: int, database_url: str) -> None:
    from twilio.request_validator import RequestValidator

    from ivr.calls.records import record_event
    from models.db import make_engine, make_sessionmaker, upgrade
    from models.writer import LoopWriter, ThreadWriter

    validator = RequestValidator(bench.AUTH_TOKEN)
    state: dict = {}

    async def insert_with(sessions, form: dict[str, str], path: str) -> None:
        async with sessions() as session, session.begin():
            await record_event(session, call_sid=form["CallSid"], kind=path, form=form,
                               now=datetime.now(timezone.utc))

    def insert_sqlite3(form: dict[str, str], path: str) -> None:
        db = state["sqlite3"]
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO call_events (call_sid, kind, received_at, params) VALUES (?, ?, ?, ?)",
                   (form["CallSid"], path, datetime.now(timezone.utc).isoformat(), json.dumps(form)))
        db.execute("COMMIT")

    fixed = answer()

    async def handler(request: web.Request) -> web.Response:
        if mode == "bare":
            return web.Response(text=fixed, content_type="text/xml")
        form = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(bench.PUBLIC_BASE + request.path_qs, form, signature):
            raise web.HTTPForbidden()
        if mode in ("aiosqlite", "writer", "grouped"):
            await state["writer"].run(lambda sessions: insert_with(sessions, form, request.path),
                                      together=mode == "grouped")
        elif mode == "sqlite3":
            await asyncio.get_running_loop().run_in_executor(state["thread"], insert_sqlite3,
                                                             form, request.path)
        return web.Response(text=answer(), content_type="text/xml")

    async def database(app: web.Application):
        await upgrade(database_url)
        engine = make_engine(database_url)
        if mode == "aiosqlite":
            state["writer"] = LoopWriter(make_sessionmaker(engine))
        elif mode in ("writer", "grouped"):
            state["writer"] = await ThreadWriter(database_url).start()
        elif mode == "sqlite3":
            state["thread"] = concurrent.futures.ThreadPoolExecutor(1)
            path = database_url.split("///", 1)[1]

            def connect() -> sqlite3.Connection:  # as models/db.py sets up its connections
                db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA synchronous=NORMAL")
                return db

            state["sqlite3"] = state["thread"].submit(connect).result()
        yield
        if mode in ("writer", "grouped"):
            await state["writer"].close()
        await engine.dispose()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(database)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{path:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def statements(args: argparse.Namespace) -> int:
    """Statements and CPU per webhook of whole calls, through the real app in process."""
    import cProfile
    import pstats
    import time
    from collections import Counter, defaultdict

    import aiohttp
    from aiohttp.test_utils import TestServer
    from sqlalchemy import event

    from ivr.app import create_app
    from ivr.platform.config import Settings
    from ivr.platform.resources import WRITER

    work = Path(tempfile.mkdtemp(prefix="ivr-anatomy-"))
    try:
        url = f"sqlite+aiosqlite:///{work / 'ivr.db'}"
        env = {"DATABASE_URL": url, "TWILIO_AUTH_TOKEN": bench.AUTH_TOKEN,
               "PUBLIC_BASE_URL": bench.PUBLIC_BASE, "COMPANY_NAME": "阳光花园",
               "HOTLINE_NUMBER": bench.HOTLINE, "IVR_JOURNAL_DIR": str(work / "journal"),
               "IVR_WRAP_UP_SECONDS": "0", "PYTHONPATH": str(ROOT)}
        bench.prepare_database(env, work, staff=args.staff)
        settings = Settings(_env_file=None, **env)
        server = TestServer(create_app(settings))
        await server.start_server()
        writer = server.app[WRITER]
        count = [0]
        kinds: Counter = Counter()

        @event.listens_for(writer.engine.sync_engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, *_args):
            count[0] += 1
            kinds[statement.split(None, 1)[0].upper()] += 1
            if args.show:
                print(f"    {statement[:160]!r}")

        per_path: dict[str, list[int]] = defaultdict(list)
        profile = cProfile.Profile(time.thread_time) if args.profile else None  # CPU, not waits

        async def on_writer(function) -> float:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
                _call(function), writer.loop))

        async def _call(function):
            return function()

        async with aiohttp.ClientSession() as http:
            client = bench.Client(http, str(server.make_url("")).rstrip("/"))
            post = client.post

            async def counted(url: str, params: dict[str, str]):
                if args.show:
                    print(url)
                before = count[0]
                result = await post(url, params)
                path = urlsplit(url).path.removeprefix("/twilio/")
                per_path[path].append(count[0] - before)
                return result

            client.post = counted  # type: ignore[method-assign]
            for n in range(5):  # warm-up: caches, first statements compiled
                await bench.one_call(client, 10**6 + n)
            per_path.clear()
            kinds.clear()
            if profile is not None:
                await on_writer(profile.enable)
            loop_cpu = time.thread_time()
            writer_cpu = await on_writer(time.thread_time)
            wall = time.perf_counter()
            for n in range(args.statements):
                await bench.one_call(client, n)
            wall = time.perf_counter() - wall
            loop_cpu = time.thread_time() - loop_cpu
            writer_cpu = await on_writer(time.thread_time) - writer_cpu
            if profile is not None:
                await on_writer(profile.disable)
        await server.close()
        calls = args.statements
        print(f"# {calls} whole calls one at a time through the real app in process (SQLite)")
        print(f"{'webhook':<14} {'statements':>10}")
        total = 0.0
        for path, counts in per_path.items():
            mean = sum(counts) / len(counts)
            total += mean * len(counts) / calls
            print(f"{path:<14} {mean:>10.1f}")
        print(f"{'whole call':<14} {total:>10.1f}   ({', '.join(f'{k} {v / calls:.1f}' for k, v in kinds.most_common())})")
        print(f"CPU per call: event loop {loop_cpu / calls * 1000:.2f} ms, writer {writer_cpu / calls * 1000:.2f} ms; "
              f"wall {wall / calls * 1000:.2f} ms")
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(r"wt/speed-calls/(ivr|webhooks|models)", 40)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


async def main(args: argparse.Namespace) -> int:
    if args.statements:
        return await statements(args)
    work = Path(tempfile.mkdtemp(prefix="ivr-anatomy-"))
    limit = None
    try:
        print(f"# 2 cores; {args.concurrency} saturated callers, {args.seconds:g} s per row; "
              f"SQLite (WAL) in {work}", flush=True)
        print(f"{'server':<22} {'mode':<13} {'calls':>5} {'webhooks/s':>11} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'errors':>6} {'degraded':>8} {'ratio':>6}", flush=True)
        for mode, label in MODES.items():
            url = f"sqlite+aiosqlite:///{work / mode}.db"
            server = bench.Server([sys.executable, str(Path(__file__).resolve()), "--serve", mode,
                                   "--database-url", url], {"PYTHONPATH": str(ROOT)}, work)
            await server.start()
            try:
                result = await bench.drive(server.url, args.concurrency, args.seconds,
                                           args.warmup, 0)
            finally:
                server.stop()
            bench.print_row(label, result, limit)
            limit = limit or result
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--statements", type=int, default=0,
                        help="count statements and CPU per webhook over this many whole calls")
    parser.add_argument("--staff", type=int, default=2,
                        help="with --statements: staff on shift (every menu reads who is free)")
    parser.add_argument("--show", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true",
                        help="with --statements: the writer thread's cProfile")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    ARGS = parser.parse_args()
    if ARGS.serve:
        serve(ARGS.serve, ARGS.port, ARGS.database_url)
    else:
        sys.exit(asyncio.run(main(ARGS)))
