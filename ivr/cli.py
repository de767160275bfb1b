"""The `ivr` command line (see CONTRACT.md). Errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from ivr.people.users import TOKEN_DAYS
from ivr.platform.clock import utcnow
from ivr.platform.config import Settings
from models.db import make_engine, make_sessionmaker, upgrade


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


async def in_transaction(settings: Settings, work):
    """Run `work(session)` in one transaction on a migrated database."""
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def cmd_serve(args, settings: Settings) -> None:
    from ivr.app import create_app
    from ivr.platform.accesslog import PathOnlyAccessLogger
    from ivr.platform.scripts import ForbiddenPhraseError

    settings.check_startable()
    try:
        app = create_app(settings, run_dialer=not args.no_dialer, run_scheduler=True,
                         run_queue=True)
    except (ForbiddenPhraseError, FileNotFoundError) as exc:
        raise CommandError(f"cannot start: {exc}") from None
    asyncio.run(upgrade(settings.database_url))
    port = args.port or settings.port

    def serve() -> None:
        web.run_app(app, host=args.host, port=port, reuse_port=args.workers > 1,
                    access_log_class=PathOnlyAccessLogger,
                    print=lambda *_: logging.getLogger("ivr").info(
                        "hotline listening on http://%s:%s (pid %d)", args.host, port, os.getpid()))

    if args.workers > 1:  # several processes on one port (ivr/platform/prefork.py)
        from ivr.platform.prefork import check_port, serve_forked

        try:
            check_port(args.host, port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {args.host}:{port}: {exc}") from None
        raise SystemExit(serve_forked(args.workers, serve))
    serve()


def cmd_db_upgrade(args, settings: Settings) -> None:
    asyncio.run(upgrade(settings.database_url, args.revision))
    print(f"database at {args.revision}")


def cmd_import(args, settings: Settings) -> None:
    from ivr.people import imports

    path = Path(args.file)
    work = imports.import_staff if args.kind == "staff" else imports.import_residents

    async def run(session):
        return await work(session, path, now=utcnow())

    try:
        count = asyncio.run(in_transaction(settings, run))
    except imports.RejectedFile as exc:
        raise CommandError(str(exc)) from None
    print(f"imported {count} {args.kind} from {path}")


def cmd_user_add(args, settings: Settings) -> None:
    from ivr.people.users import UserError, add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
    else:
        password = ""
    if not password:
        raise CommandError(f"user {args.name}: a password is required (--password-stdin)")

    async def run(session):
        return await add_user(session, name=args.name, role=args.role, password=password,
                              now=utcnow())

    try:
        user = asyncio.run(in_transaction(settings, run))
    except UserError as exc:
        raise CommandError(str(exc)) from None
    print(f"user {user.name} ({user.role}) saved")


def cmd_token_create(args, settings: Settings) -> None:
    from ivr.people.users import UserError, create_token

    now = utcnow()

    async def run(session):
        return await create_token(session, name=args.name, now=now, days=args.days)

    try:
        token = asyncio.run(in_transaction(settings, run))
    except UserError as exc:
        raise CommandError(str(exc)) from None
    until = (now + timedelta(days=args.days)).astimezone(settings.tz)
    print(f"API token for {args.name}, valid {args.days} days until "
          f"{until:%Y-%m-%d %H:%M} (shown once; send it as 'Authorization: Bearer TOKEN'):")
    print(token)


def cmd_token_list(args, settings: Settings) -> None:
    from ivr.people.users import UserError, list_tokens

    async def run(session):
        return await list_tokens(session, name=args.name)

    try:
        tokens = asyncio.run(in_transaction(settings, run))
    except UserError as exc:
        raise CommandError(str(exc)) from None
    now = utcnow()
    print(f"{'id':>5}  {'user':<16} {'role':<10} {'created':<16}  {'expires':<16}  state")
    for t in tokens:
        state = "expired" if t["expires_at"] <= now else "valid"
        print(f"{t['id']:>5}  {t['user']:<16} {t['role']:<10} "
              f"{t['created_at'].astimezone(settings.tz):%Y-%m-%d %H:%M}  "
              f"{t['expires_at'].astimezone(settings.tz):%Y-%m-%d %H:%M}  {state}")
    if not tokens:
        print("(no API tokens)")


def cmd_token_revoke(args, settings: Settings) -> None:
    """By id (`ivr token list`), or every token of one user (`--user NAME`)."""
    from ivr.people.sessions import audit
    from ivr.people.users import UserError, find_user, revoke_token, revoke_tokens_of

    if (args.id is None) == (args.user is None):
        raise CommandError("token revoke: give a token id or --user NAME")
    now = utcnow()

    async def run(session):
        if args.id is not None:
            owner = await revoke_token(session, token_id=args.id)
            audit(session, now=now, user_name="ivr token revoke", action="token_revoked",
                  subject=f"{args.id} ({owner})")
            return f"API token {args.id} of {owner} revoked"
        user = await find_user(session, args.user)
        if user is None:
            raise UserError(f"unknown user {args.user!r}")
        count = await revoke_tokens_of(session, user_id=user.id)
        audit(session, now=now, user_name="ivr token revoke", action="token_revoked",
              subject=f"all {count} of {user.name}")
        return f"{count} API token(s) of {user.name} revoked"

    try:
        print(asyncio.run(in_transaction(settings, run)))
    except UserError as exc:
        raise CommandError(str(exc)) from None


def cmd_report(args, settings: Settings) -> None:
    from ivr.tickets import reports

    async def run(session):
        return await reports.command(session, settings=settings, args=args, now=utcnow())

    try:
        print(asyncio.run(in_transaction(settings, run)))
    except reports.ReportError as exc:
        raise CommandError(str(exc)) from None


def cmd_notice(args, settings: Settings) -> None:
    """`ivr notice add|close|list`: storm mode's outage notices (ivr/calls/notices.py)."""
    from ivr.calls import notices
    from ivr.platform.clock import parse_local_moment

    now = utcnow()

    async def run(session):
        if args.notice_command == "add":
            until = parse_local_moment(args.until, tz=settings.tz, now=now) if args.until else None
            notice = await notices.add(session, where=args.where, text=args.text, until=until,
                                       actor="ivr notice", now=now)
            return f"notice {notice.id} posted: {notice.where} {notice.text}"
        if args.notice_command == "close":
            notice, queued = await notices.close(session, notice_id=args.id, settings=settings, now=now)
            if not queued and notice.closed_at != now:
                return f"notice {notice.id} was already closed; no SMS queued"
            return f"notice {notice.id} closed; {queued} SMS queued for the callers who asked"
        lines = []
        found = await notices.active(session)
        counts = await notices.figures(session, [n.id for n in found])
        for n in found:
            c = counts[n.id]
            lines.append(f"{n.id}  {n.where}  {n.text}  heard {c['heard']}  "
                         f"deflected {c['deflected']}  SMS asked {c['subscribed']}")
        return "\n".join(lines) or "no open notice"

    try:
        print(asyncio.run(in_transaction(settings, run)))
    except (notices.NoticeError, ValueError) as exc:
        raise CommandError(str(exc)) from None


def cmd_outbound(args, settings: Settings) -> None:
    """`ivr dialer`, `ivr remind-fees`, `ivr campaign show`, `ivr notify` (ivr/outbound_cli.py)."""
    from ivr import outbound_cli

    try:
        print(asyncio.run(args.outbound(settings, args)))
    except outbound_cli.OutboundCommandError as exc:
        raise CommandError(str(exc)) from None


def cmd_demo(args, settings: Settings) -> None:
    from ivr.tools import demo

    async def run(session):
        return await demo.fill(session, settings=settings, now=utcnow(), seed=args.seed,
                               residents=args.residents)

    try:
        summary = asyncio.run(in_transaction(settings, run))
    except demo.NotEmpty as exc:
        if args.if_empty:
            print(f"demo data skipped: {exc}")
            return
        raise CommandError(str(exc)) from None
    print("\n".join(demo.report(summary, settings)))


def cmd_simulate(args, settings: Settings) -> None:
    from ivr.tools.simulator import SimulationError, run_command

    try:
        run_command(args, settings)
    except SimulationError as exc:
        raise CommandError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ivr", description="物业客服中心 24 小时热线 / property hotline")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="the web server (with the outbound dialer)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--no-dialer", action="store_true", help="leave dialing to `ivr dialer`")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="N server processes sharing the port (SO_REUSEPORT); default 1")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)

    imp = sub.add_parser("import", help="import staff or residents from CSV")
    imp.add_argument("kind", choices=["staff", "residents"])
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)

    user = sub.add_parser("user", help="dashboard users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add or update a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["staff", "supervisor", "admin"])
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=cmd_user_add)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="print a new API token for a user")
    create.add_argument("name")
    create.add_argument("--days", type=int, default=TOKEN_DAYS,
                        help=f"the token expires after this many days (default {TOKEN_DAYS})")
    create.set_defaults(func=cmd_token_create)
    listed = token_sub.add_parser("list", help="every API token: user, created, expires")
    listed.add_argument("name", nargs="?", default=None, help="only this user's")
    listed.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="end an API token at once")
    revoke.add_argument("id", nargs="?", type=int, default=None, help="the id `token list` shows")
    revoke.add_argument("--user", default=None, metavar="NAME", help="every token of this user")
    revoke.set_defaults(func=cmd_token_revoke)

    report = sub.add_parser("report", help="ticket reports: 日盘点 daily count, 月度投诉分析 monthly")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    daily = report_sub.add_parser("daily", help="日盘点: open and overdue tickets per owner")
    daily.add_argument("--date", help="YYYY-MM-DD: the count at that day's end (default: now)")
    daily.set_defaults(func=cmd_report)
    monthly = report_sub.add_parser("monthly", help="月度投诉分析: the month's complaint analysis")
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.add_argument("--csv", metavar="FILE", help="also write it as CSV")
    monthly.add_argument("--xlsx", metavar="FILE", help="also write it as an Excel workbook")
    monthly.set_defaults(func=cmd_report)

    notice = sub.add_parser("notice", help="storm mode: outage notices callers hear first (停水停电通知)")
    notice_sub = notice.add_subparsers(dest="notice_command", required=True)
    notice_add = notice_sub.add_parser("add", help="post a notice")
    notice_add.add_argument("--where", required=True, help="buildings or estates, e.g. 阳光花园3栋,翠湖苑")
    notice_add.add_argument("--text", required=True, help="what happened, e.g. 停水检修")
    notice_add.add_argument("--until", help="when it should be fixed: 'YYYY-MM-DD HH:MM' or 'HH:MM'")
    notice_add.set_defaults(func=cmd_notice)
    notice_close = notice_sub.add_parser("close", help="close a notice; SMS to those who asked")
    notice_close.add_argument("id", type=int)
    notice_close.set_defaults(func=cmd_notice)
    notice_sub.add_parser("list", help="open notices and their figures").set_defaults(func=cmd_notice)

    demo = sub.add_parser("demo", help="fill an empty database with demo data (演示数据)")
    demo.add_argument("--seed", type=int, default=2026, help="same seed, same data")
    demo.add_argument("--residents", type=int, default=300)
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing (exit 0) when the database already has data")
    demo.set_defaults(func=cmd_demo)

    sim = sub.add_parser("simulate", help="a terminal phone playing Twilio's part (模拟来电)")
    sim.add_argument("--from", dest="from_number", default="+8613900000001", metavar="PHONE")
    sim.add_argument("--to", dest="to_number", default=None, help="default: HOTLINE_NUMBER")
    sim.add_argument("--url", default=None, help="the running server (http://127.0.0.1:$PORT)")
    sim.add_argument("--token", default=None,
                     help="API token for the record (default $IVR_API_TOKEN, else the database)")
    sim.set_defaults(func=cmd_simulate)

    from ivr import outbound_cli

    outbound_cli.add_commands(sub, cmd_outbound)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's validation error, made one line
        print(f"ivr: configuration error: {str(exc).splitlines()[0]} "
              f"{' '.join(str(exc).splitlines()[1:3])}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        args.func(args, settings)
    except CommandError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
