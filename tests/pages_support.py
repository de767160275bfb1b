"""For the page tests: a headless Chromium (Debian's, via Playwright) and a month of calls.

The seeded calls are written through the models with Twilio-style timestamps, so every
figure the tests expect can be worked out by hand from the table in `seed_month`.
"""

from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from ivr.people.users import add_user, create_token
from ivr.tickets import lifecycle
from models import Call, Leg, Resident, Staff
from tests.server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHANGHAI = timezone(timedelta(hours=8))


def chromium_or_skip() -> str:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (`apt-get install -y chromium`)")
    return CHROMIUM


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A moment in November 2026, Shanghai time."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@dataclass
class Seeded:
    staff: dict[str, Staff]
    calls: dict[str, str]  # label -> CallSid
    token: str
    overdue_ticket_id: int


async def _call(session, sid: str, *, start: datetime, menu: str | None, outcome: str | None,
                direction: str = "inbound", resident: Resident | None = None,
                legs: list[tuple[Staff, int, int | None]] = (), waited: int | None = None,
                ended: bool = True) -> Call:
    """`legs`: (staff, seconds after the call started that it began ringing, ring seconds
    until answered or None when never answered)."""
    call = Call(sid=sid, direction=direction, from_number=resident.phone if resident else "+8613900000000",
                to_number="+862161234567", resident_id=resident.id if resident else None,
                menu_choice=menu, outcome=outcome, status="completed" if ended else "in-progress",
                started_at=start, ended_at=start + timedelta(minutes=3) if ended else None,
                duration_seconds=180 if ended else None, waited_seconds=waited,
                transfer_requested_at=start + timedelta(seconds=20) if legs else None)
    session.add(call)
    await session.flush()
    for n, (person, offset, ring) in enumerate(legs, 1):
        ringing = start + timedelta(seconds=offset)
        answered = ringing + timedelta(seconds=ring) if ring is not None else None
        session.add(Leg(
            call_id=call.id, sid=f"{sid}L{n}", staff_id=person.id, staff_name=person.name,
            phone=person.phone, attempt=n, created_at=ringing - timedelta(seconds=1),
            initiated_at=ringing - timedelta(seconds=1), ringing_at=ringing,
            answered_at=answered, accepted=answered is not None,
            accepted_at=answered + timedelta(seconds=2) if answered else None,
            completed_at=(answered or ringing) + timedelta(seconds=60 if answered else 10)
            if ended else None,
            status="completed" if ended else "in-progress", ring_seconds=ring,
            bridged=answered is not None))
        if answered is not None:
            call.answered_by_staff_id = person.id
    return call


async def seed_month(sessions, settings) -> Seeded:
    """Staff 王芳 and 李强, two residents, and these calls (Shanghai time):

    | label | when | menu | legs (offset s → ring s) | outcome |
    |---|---|---|---|---|
    | quick | 23 Nov 08:00 | repair | 王芳 20 → 8 | answered |
    | hunt | 23 Nov 08:30 | complaint | 王芳 20 → none, 李强 32 → 18 | answered |
    | gone | 23 Nov 09:00 | person | 王芳 20 → none | abandoned, waited 25 s |
    | fees | 23 Nov 09:10 | fees | – | self_service |
    | out | 23 Nov 09:20 | (outbound) | – | answered |
    | early | 5 Nov 14:00 | inquiry | 李强 20 → 4 | answered |
    | early2 | 5 Nov 15:00 | repair | 王芳 20 → 12 | answered |
    | live | 23 Nov 09:58 | repair | 李强 20 → 5, still talking | (none) |
    """
    async with sessions() as session, session.begin():
        wang = Staff(name="王芳", phone="+8613800000001", department="客服部",
                     shifts="00:00-24:00", position=1)
        li = Staff(name="李强", phone="+8613800000002", department="客服部",
                   shifts="00:00-24:00", position=2)
        session.add_all([wang, li])
        zhang = Resident(name="张伟", phone="+8613911112222", address="3栋2单元501",
                         arrears=Decimal("1280.50"))
        chen = Resident(name="陈静", phone="+8613933334444", address="5栋1单元302",
                        arrears=Decimal("0"))
        session.add_all([zhang, chen])
        await session.flush()
        calls = {}
        specs = [
            ("quick", at(23, 8, 0), "repair", "answered", "inbound", zhang, [(wang, 20, 8)], None, True),
            ("hunt", at(23, 8, 30), "complaint", "answered", "inbound", chen,
             [(wang, 20, None), (li, 32, 18)], None, True),
            ("gone", at(23, 9, 0), "person", "abandoned", "inbound", None, [(wang, 20, None)], 25, True),
            ("fees", at(23, 9, 10), "fees", "self_service", "inbound", zhang, [], None, True),
            ("out", at(23, 9, 20), None, "answered", "outbound", chen, [], None, True),
            ("early", at(5, 14, 0), "inquiry", "answered", "inbound", chen, [(li, 20, 4)], None, True),
            ("early2", at(5, 15, 0), "repair", "answered", "inbound", zhang, [(wang, 20, 12)], None, True),
            ("live", at(23, 9, 58), "repair", None, "inbound", zhang, [(li, 20, 5)], None, False),
        ]
        for n, (label, start, menu, outcome, direction, resident, legs, waited, ended) in enumerate(specs):
            sid = f"CA{n:032x}"
            calls[label] = sid
            await _call(session, sid, start=start, menu=menu, outcome=outcome,
                        direction=direction, resident=resident, legs=legs, waited=waited,
                        ended=ended)
        hunt = await session.scalar(select(Call).where(Call.sid == calls["hunt"]))
        overdue = await lifecycle.create_ticket(
            session, settings=settings, now=at(21, 9, 0), category="complaint", actor="hotline",
            resident_id=chen.id, resident_phone=chen.phone, description="楼道灯不亮，多次反映",
            owner_staff_id=wang.id)
        await lifecycle.create_ticket(
            session, settings=settings, now=at(23, 8, 35), category="complaint", actor="hotline",
            call=hunt, description="噪音投诉", owner_staff_id=li.id)
        now = datetime.now(timezone.utc)
        await add_user(session, name="主管", role="supervisor", password="supervisor-pass", now=now)
        await add_user(session, name="管理员", role="admin", password="admin-pass-1", now=now)
        staff_user = await add_user(session, name="wangfang", role="staff",
                                    password="staff-pass-1", now=now)
        staff_user.staff_id = wang.id
        li_user = await add_user(session, name="liqiang", role="staff", password="staff-pass-2",
                                 now=now)
        li_user.staff_id = li.id
        token = await create_token(session, name="主管", now=now)
    return Seeded(staff={"王芳": wang, "李强": li}, calls=calls, token=token,
                  overdue_ticket_id=overdue.id)


def hotline_process(settings, tmp_path) -> ServerProcess:
    """The real server (`ivr serve`) in a child process on the test's database, in development
    mode (unsigned webhooks), for tests that kill and restart it; not started yet."""
    hotline = ServerProcess({"DATABASE_URL": settings.database_url, "IVR_INSECURE_DEV": "1",
                             "TWILIO_AUTH_TOKEN": "", "COMPANY_NAME": "阳光花园",
                             "IVR_JOURNAL_DIR": str(tmp_path / "journal")}, cwd=tmp_path)
    hotline.env.pop("PUBLIC_BASE_URL", None)
    return hotline


async def signed_in_client(aiohttp_client, settings, clock, *, name: str, password: str):
    """A plain-HTTP test client of a fresh app, signed in as `name` (no browser)."""
    from ivr.app import create_app

    # The session cookie is Secure behind https; the test client speaks plain http.
    plain = settings.model_copy(update={"public_base_url": "http://hotline.example.com"})
    client = await aiohttp_client(create_app(plain, clock=clock))
    resp = await client.post("/login", data={"username": name, "password": password},
                             headers={"Origin": str(client.make_url("/")).rstrip("/")},
                             allow_redirects=False)
    assert resp.status == 302
    return client


async def signed_in_at(browser, base: str, name: str, password: str, next_path: str):
    """A new browser context signed in through the login form, on `next_path`."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("input[name=username]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    return context, page


@asynccontextmanager
async def page_across_a_restart(browser, settings, tmp_path, *, name: str, password: str, path: str,
                                link: str):
    """A page on `path` of the real server, signed in as `name`, that saw its live link
    (`link`, e.g. `#desk-link`) go `ok`, then `lost` when the server was killed, and the
    server started again: the test then shows what the page does by itself."""
    hotline = hotline_process(settings, tmp_path)
    hotline.start()
    try:
        await hotline.wait_ready()
        context, page = await signed_in_at(browser, hotline.url, name, password, path)
        try:
            await page.wait_for_selector(f"{link}.ok")
            hotline.kill()
            await page.wait_for_selector(f"{link}.lost", timeout=10000)
            hotline.start()
            await hotline.wait_ready()
            yield page
        finally:
            await context.close()
    finally:
        hotline.stop()


async def seed_outbound(sessions, settings, seeded: Seeded) -> dict[str, str]:
    """The dialer's answered calls of 23 Nov to 陈静: a follow-up (回访) about the overdue
    complaint at 09:30, a callback (回电) about it at 09:40 and a fee-reminder campaign's
    call (催缴) at 09:50, each with its job. No menu choice on them, as the demo makes
    them: the purpose comes from the job. Returns label -> CallSid."""
    from models import Campaign, OutboundJob

    made = {}
    async with sessions() as session, session.begin():
        chen = await session.scalar(select(Resident).where(Resident.name == "陈静"))
        campaign = Campaign(kind="fee_reminder", created_at=at(23, 9, 0), created_by="主管",
                            households=1)
        session.add(campaign)
        await session.flush()
        specs = [("follow_up", "follow_up", at(23, 9, 30), seeded.overdue_ticket_id, None),
                 ("callback", "callback", at(23, 9, 40), seeded.overdue_ticket_id, None),
                 ("campaign", "fee_reminder", at(23, 9, 50), None, campaign.id)]
        for n, (label, kind, start, ticket_id, campaign_id) in enumerate(specs):
            job = OutboundJob(kind=kind, state="done", resident_id=chen.id, phone=chen.phone,
                              ticket_id=ticket_id, campaign_id=campaign_id, created_at=start,
                              due_at=start, next_attempt_at=start, attempts=1, outcome="reached")
            session.add(job)
            await session.flush()
            sid = f"CA{0xF0 + n:032x}"
            session.add(Call(sid=sid, direction="outbound", from_number=settings.hotline_number,
                             to_number=chen.phone, resident_id=chen.id, status="completed",
                             outcome="answered", started_at=start,
                             ended_at=start + timedelta(seconds=60), duration_seconds=60,
                             outbound_job_id=job.id))
            made[label] = sid
    return made
