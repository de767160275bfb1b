"""The outbound commands: `ivr dialer`, `ivr remind-fees`, `ivr campaign show`, `ivr notify`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from ivr.outbound import campaigns, sms
from ivr.platform import twilio_rest
from ivr.platform.clock import utcnow
from ivr.platform.config import Settings
from models.db import make_engine, make_sessionmaker, upgrade

log = logging.getLogger("ivr.dialer")


class OutboundCommandError(Exception):
    pass


def require_twilio(settings: Settings) -> None:
    missing = twilio_rest.missing_settings(settings)
    if missing:
        raise OutboundCommandError(f"cannot place calls or send SMS: {', '.join(missing)} not set")


async def dialer_command(settings: Settings, args) -> str:
    """`ivr dialer`: the dialer and the SMS sender until SIGTERM/SIGINT."""
    from ivr.outbound.dialer import Dialer

    require_twilio(settings)
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    client = twilio_rest.make_client(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        sessions = make_sessionmaker(engine, tz=settings.tz, clock=utcnow)
        dialer = Dialer(settings=settings, sessions=sessions, client=client, clock=utcnow)
        sender = sms.Sender(settings=settings, sessions=sessions, client=client, clock=utcnow)
        await asyncio.gather(dialer.run(stop), sender.run(stop))
    finally:
        await twilio_rest.close(client)
        await engine.dispose()
    return f"dialer stopped ({dialer.placed} calls placed, {sender.sent} SMS sent)"


async def remind_fees_command(settings: Settings, args) -> str:
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            try:
                campaign = await campaigns.start(session, settings=settings, now=utcnow(),
                                                 created_by=args.created_by or "cli")
            except campaigns.CampaignError as exc:
                raise OutboundCommandError(str(exc)) from None
    finally:
        await engine.dispose()
    return (f"催缴活动 #{campaign.id}: {campaign.households} households in arrears queued; "
            f"the dialer calls them within IVR_CALLING_HOURS ({settings.calling_hours}). "
            f"Report: ivr campaign show {campaign.id}")


async def campaign_show_command(settings: Settings, args) -> str:
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            campaign_id = args.id
            if campaign_id is None:
                last = await campaigns.latest(session)
                if last is None:
                    raise OutboundCommandError("no campaign yet (start one with ivr remind-fees)")
                campaign_id = last.id
            try:
                data = await campaigns.report(session, campaign_id=campaign_id)
            except campaigns.CampaignError as exc:
                raise OutboundCommandError(str(exc)) from None
    finally:
        await engine.dispose()
    if args.json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return campaigns.format_report(data, settings=settings)


async def notify_command(settings: Settings, args) -> str:
    """`ivr notify`: queue one SMS per matched resident, send them all (paced), report."""
    require_twilio(settings)
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    client = None
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            try:
                messages = await sms.enqueue_notice(session, body=args.message, now=utcnow(),
                                                    address_prefix=args.address_prefix)
            except sms.NoticeError as exc:
                raise OutboundCommandError(str(exc)) from None
            if not messages:
                who = f"address prefix {args.address_prefix!r}" if args.address_prefix else "the database"
                raise OutboundCommandError(f"no resident matches {who}; nothing sent")
            ids = [m.id for m in messages]
        client = twilio_rest.make_client(settings)
        sender = sms.Sender(settings=settings, sessions=sessions, client=client, clock=utcnow)
        while await sender.run_once(ids=ids):
            pass
        async with sessions() as session:
            result = await sms.summary(session, ids)
    finally:
        if client is not None:
            await twilio_rest.close(client)
        await engine.dispose()
    lines = [f"短信通知 SMS notice: {result['total']} residents; "
             + ", ".join(f"{k} {v}" for k, v in sorted(result["by_status"].items()))]
    lines += [f"  failed: {f['to']}  {f['error']}" for f in result["failed"]]
    return "\n".join(lines)


def add_commands(sub, handler) -> None:
    dialer = sub.add_parser("dialer", help="the outbound dialer and SMS sender alone (Procfile worker)")
    dialer.set_defaults(func=handler, outbound=dialer_command)

    remind = sub.add_parser("remind-fees", help="催缴: queue a reminder call to every household in arrears")
    remind.add_argument("--created-by", default="", help="who started it (for the report)")
    remind.set_defaults(func=handler, outbound=remind_fees_command)

    campaign = sub.add_parser("campaign", help="fee-reminder campaigns")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True)
    show = campaign_sub.add_parser("show", help="a campaign's report (the latest without ID)")
    show.add_argument("id", nargs="?", type=int, default=None)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=handler, outbound=campaign_show_command)

    notify = sub.add_parser("notify", help="短信通知: an SMS to every resident matched (outage notices)")
    notify.add_argument("--address-prefix", default=None, help="e.g. 3栋 (default: every resident)")
    notify.add_argument("--message", required=True)
    notify.set_defaults(func=handler, outbound=notify_command)
