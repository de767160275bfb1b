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
- `+1 insert, sqlite3`: the same row with the standard library's sqlite3 on a thread of
  its own, no SQLAlchemy: what the database itself costs.

Figures only; not a test.

    .venv/bin/python benchmarks/anatomy.py [--concurrency 50] [--seconds 8]
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
        if mode in ("aiosqlite", "writer"):
            await state["writer"].run(lambda sessions: insert_with(sessions, form, request.path))
        elif mode == "sqlite3":
            await asyncio.get_running_loop().run_in_executor(state["thread"], insert_sqlite3,
                                                             form, request.path)
        return web.Response(text=answer(), content_type="text/xml")

    async def database(app: web.Application):
        await upgrade(database_url)
        engine = make_engine(database_url)
        if mode == "aiosqlite":
            state["writer"] = LoopWriter(make_sessionmaker(engine))
        elif mode == "writer":
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
        if mode == "writer":
            await state["writer"].close()
        await engine.dispose()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(database)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{path:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def main(args: argparse.Namespace) -> int:
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
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    ARGS = parser.parse_args()
    if ARGS.serve:
        serve(ARGS.serve, ARGS.port, ARGS.database_url)
    else:
        sys.exit(asyncio.run(main(ARGS)))
