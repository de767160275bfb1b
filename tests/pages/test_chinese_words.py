"""Chinese pages and exports speak a supervisor's words: no English system word shows.

Every GET route of the running router is walked (a page added later is walked too, or
must be listed in NOT_PAGES with the reason), as an admin and as a staff member, over
data that holds every ticket status, category and history step, every leg state, every
timeline event (one per Twilio webhook route) and every outbound purpose. The visible
text (Playwright's `inner_text`, not the HTML source) of each page and every cell of each
export (CSV and XLSX) may hold no ASCII word of three or more letters but those of
ALLOWED. Then the same walk in English shows the same values in English words.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import pages.calls
from ivr.app import create_app
from ivr.calls import labels as call_labels
from ivr.outbound import jobs
from ivr.tickets import escalation, followup, lifecycle, survey
from ivr.tickets import labels as ticket_labels
from models import Call, CallEvent, Campaign, Leg, OutboundJob, Resident, Ticket, TicketHistory
from models.ticket import CATEGORIES, STATUSES
from tests.pages.test_pages import url
from tests.pages_support import at, seed_month, seed_outbound

# ASCII words a Chinese page or export may show, each for a reason:
ALLOWED = {
    "English",  # the language switch names the language it switches to
    "CSV", "XLSX",  # the export links name their file formats
    "Twilio",  # the brand: "Twilio 时间戳" is the phone company's own clock
    "wangfang", "liqiang",  # the seed's staff user names, typed by the admin (data)
}
# Twilio SIDs (CallSid, the last 8 hex digits of a leg's) in their code cells: data.
SID = re.compile(r"^(?:[A-Z]{2}[0-9a-f]{32}|[0-9a-f]{8})$")
WORD = re.compile(r"[A-Za-z0-9_]*[A-Za-z]{3,}[A-Za-z0-9_]*")
# GET routes that are not pages a person reads, and why.
NOT_PAGES = {
    "/wall/events": "the wallboard's event stream (JSON for its script)",
    "/desk/events": "the staff desk's event stream (JSON for its script)",
    "/favicon.ico": "the hotline's icon, an image",
    "/lang/{lang}": "the language switch: a redirect back to the page",
    "/healthz": "the load balancer's JSON",
    "/login": "walked separately, signed out",
}
# Twilio's call states a leg can be in (CallStatus of its status callbacks).
LEG_STATES = ("queued", "initiated", "ringing", "in-progress", "answered", "completed", "busy",
              "no-answer", "failed", "canceled")
QUERY = "from=2026-11-01&to=2026-11-30&date=2026-11-23&month=2026-11"


def english_words(text: str) -> set[str]:
    return {w for w in WORD.findall(text) if w not in ALLOWED and not SID.match(w)}


def sid(prefix: str = "CA") -> str:
    return prefix + uuid.uuid4().hex


def webhook_kinds(app) -> set[str]:
    """The timeline's event kinds: one per Twilio webhook route (`/twilio/<kind>`)."""
    return {r.get_info().get("path", "").removeprefix("/twilio/") for r in app.router.resources()
            if r.get_info().get("path", "").startswith("/twilio/")}


async def seed_every_value(sessions, settings, seeded, kinds: set[str]) -> dict:
    """Tickets walked through the real lifecycle into every status and history step, a
    call whose legs end in every state and whose timeline has every webhook event, and
    an escalation call: with `seed_outbound`'s, every outbound purpose."""
    wang, li = seeded.staff["王芳"], seeded.staff["李强"]
    now = at(23, 9, 0)
    ids = {}
    async with sessions() as session, session.begin():
        zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))

        async def new(category, **kw):
            return await lifecycle.create_ticket(
                session, settings=settings, now=now, category=category, actor="hotline",
                resident_id=zhang.id, resident_phone=kw.pop("phone", zhang.phone),
                description="测试工单", **kw)

        # assigned, then in progress, resolved, followed up (满意) and closed
        repair = await new("repair")
        await lifecycle.assign(session, ticket=repair, actor="主管", now=now, staff_id=wang.id,
                               department="工程部")
        await lifecycle.add_note(session, ticket=repair, actor="王芳", now=now, text="已上门")
        await lifecycle.change_status(session, settings=settings, ticket=repair,
                                      status="in_progress", actor="王芳", now=now)
        await lifecycle.resolve(session, settings=settings, ticket=repair, actor="王芳", now=now)
        await survey.record(session, settings=settings, ticket=repair, satisfaction="satisfied",
                            actor="回访电话", now=now)
        closed = await new("repair")
        await lifecycle.resolve(session, settings=settings, ticket=closed, actor="王芳", now=now)
        await survey.record(session, settings=settings, ticket=closed, satisfaction="neutral",
                            actor="回访电话", now=now)
        await lifecycle.change_status(session, settings=settings, ticket=closed, status="closed",
                                      actor="主管", now=now)
        # an emergency, resolved, 不满意: reopened and escalated, with its escalation call
        emergency = await new("emergency")
        await lifecycle.resolve(session, settings=settings, ticket=emergency, actor="李强", now=now)
        await survey.record(session, settings=settings, ticket=emergency,
                            satisfaction="dissatisfied", actor="回访电话", now=now)
        await escalation.escalate(session, settings=settings, ticket=emergency, now=now, level=3,
                                  actor=escalation.SCHEDULER, reason="超时未处理")
        # a complaint resolved without a phone to call back: its follow-up is for staff
        complaint = await new("complaint", phone=None)
        await lifecycle.resolve(session, settings=settings, ticket=complaint, actor="李强", now=now)
        # a resolved repair whose follow-up call was never answered, then reopened
        unreached = await new("repair")
        await lifecycle.resolve(session, settings=settings, ticket=unreached, actor="李强", now=now)
        await followup.make_manual(session, ticket=unreached, now=now, actor="dialer",
                                   reason="回访电话未接通（3 次），请人工回访")
        await lifecycle.reopen(session, settings=settings, ticket=unreached, actor="主管", now=now,
                               reason="业主再次来电")
        # an enquiry in progress, a complaint assigned; a callback request with a message, called back by the dialer
        inquiry = await new("inquiry")
        await lifecycle.assign(session, ticket=inquiry, actor="主管", now=now, staff_id=li.id)
        await lifecycle.change_status(session, settings=settings, ticket=inquiry,
                                      status="in_progress", actor="李强", now=now)
        await lifecycle.assign(session, ticket=await new("complaint"), actor="主管", now=now,
                               department="客服部")
        message_call = Call(sid=sid(), direction="inbound", from_number=zhang.phone,
                            to_number=settings.hotline_number, resident_id=zhang.id,
                            menu_choice=None, outcome="message", status="completed",
                            started_at=at(23, 7, 0), ended_at=at(23, 7, 2), duration_seconds=120)
        session.add(message_call)
        await session.flush()
        callback = await lifecycle.ensure_callback_ticket(
            session, settings=settings, now=now, call=message_call, reason="留言 20 秒")
        await lifecycle.ensure_callback_ticket(
            session, settings=settings, now=now, call=message_call, reason="留言 20 秒",
            recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
        job = await jobs.queue_callback(session, settings=settings, now=now, ticket=callback)
        session.add(TicketHistory(ticket_id=callback.id, at=now, actor="王芳",
                                  action="callback_attempt", detail="第1次回电：已接通"))
        for outcome in ("reached", "exhausted", "invalid_number", "expired", "cancelled"):
            await jobs.finish_job(session, job, state="done", outcome=outcome, now=now)
            escalation_job = OutboundJob(kind="escalation", phone=li.phone, ticket_id=emergency.id,
                                         created_at=now, due_at=now, next_attempt_at=now)
            session.add(escalation_job)
            await session.flush()
            await jobs.finish_job(session, escalation_job, state="done", outcome=outcome, now=now)
        # the escalation call itself
        session.add(Call(sid=sid(), direction="outbound", from_number=settings.hotline_number,
                         to_number=li.phone, status="completed", outcome="answered",
                         started_at=at(23, 9, 5), ended_at=at(23, 9, 6), duration_seconds=40,
                         outbound_job_id=escalation_job.id))
        # one hotline call: a leg in every state, and one timeline event per webhook
        hunt = Call(sid=sid(), direction="inbound", from_number=zhang.phone,
                    to_number=settings.hotline_number, resident_id=zhang.id, menu_choice="repair",
                    outcome="answered", status="completed", started_at=at(23, 8, 10),
                    ended_at=at(23, 8, 14), duration_seconds=240, answered_by_staff_id=wang.id)
        session.add(hunt)
        await session.flush()
        leg_sids = []
        for n, state in enumerate(LEG_STATES, 1):
            leg_sids.append(sid())
            ringing = at(23, 8, 10, n)
            session.add(Leg(call_id=hunt.id, sid=leg_sids[-1], staff_id=wang.id if n % 2 else li.id,
                            staff_name="王芳" if n % 2 else "李强", phone=wang.phone, attempt=n,
                            created_at=ringing, ringing_at=ringing, status=state,
                            accepted=state == "completed",
                            answered_at=ringing + timedelta(seconds=6) if state == "completed" else None,
                            ring_seconds=6 if state == "completed" else None))
        for n, kind in enumerate(sorted(kinds)):
            state = LEG_STATES[n % len(LEG_STATES)]
            params = {"CallSid": leg_sids[n % len(leg_sids)] if kind == "leg-status" else hunt.sid,
                      "CallStatus": state, "Digits": "1"}
            if kind.endswith("dial-result") or kind == "outbound-dial":
                params["DialCallStatus"] = "no-answer"
            session.add(CallEvent(call_sid=params["CallSid"], kind=kind, received_at=at(23, 8, 10, n),
                                  twilio_timestamp=at(23, 8, 10, n), params=params))
        ids["hunt"] = hunt.sid
        ids["call_with_message"] = message_call.sid
    async with sessions() as session:
        statuses = set((await session.scalars(select(Ticket.status))).all())
        categories = set((await session.scalars(select(Ticket.category))).all())
        actions = set((await session.scalars(select(TicketHistory.action))).all())
        ids["tickets"] = sorted((await session.scalars(select(Ticket.id))).all())
        ids["calls"] = sorted((await session.scalars(select(Call.sid))).all())
        ids["campaigns"] = sorted((await session.scalars(select(Campaign.id))).all())
        purposes = set((await session.scalars(
            select(OutboundJob.kind).join(Call, Call.outbound_job_id == OutboundJob.id))).all())
        events = set((await session.scalars(select(CallEvent.kind))).all())
    # The seed holds every value the words must cover.
    assert statuses == set(STATUSES) and categories == set(CATEGORIES)
    assert actions >= set(ticket_labels.ACTION_LABELS["zh"]), set(ticket_labels.ACTION_LABELS["zh"]) - actions
    assert purposes == set(jobs.PRIORITY) and events == kinds  # every kind the dialer dials
    return ids


@pytest.fixture
async def site(aiohttp_server, settings, clock, sessions):
    seeded = await seed_month(sessions, settings)
    await seed_outbound(sessions, settings, seeded)
    app = create_app(settings, clock=clock)
    ids = await seed_every_value(sessions, settings, seeded, webhook_kinds(app))
    server = await aiohttp_server(app)
    return server, ids


def page_urls(app, ids: dict) -> tuple[list[str], list[str]]:
    """(pages, downloads) to open: every GET route, its path filled in every way the seed
    allows; a route whose path names a format (`{fmt}`) is a download."""
    pages_, downloads = [], []
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if (not path or path.startswith(("/twilio/", "/api/")) or "directory" in info
                or path in NOT_PAGES or not any(r.method == "GET" for r in resource)):
            continue
        filled = [path]
        for name, values in (("{sid}", ids["calls"]),
                             ("{what}", list(pages.calls.EXPORTS)),
                             ("{fmt}", ["csv", "xlsx"])):
            filled = [p.replace(name, v) for p in filled for v in values] if name in path else filled
        if "{id}" in path:
            targets = ids["tickets"] if path.startswith("/tickets/") else ids.get(path.split("/")[1], [])
            assert targets, f"no seeded id for {path}: seed one, or list the route in NOT_PAGES"
            filled = [p.replace("{id}", str(i)) for p in filled for i in targets]
        assert all("{" not in p for p in filled), f"fill in {path}"
        for p in filled:
            (downloads if "{fmt}" in path else pages_).append(f"{p}?{QUERY}")
    return pages_, downloads


def export_text(body: bytes, name: str) -> str:
    if name.split("?")[0].endswith(".csv"):
        return "\n".join(" ".join(row) for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    book = load_workbook(io.BytesIO(body))
    return "\n".join(" ".join(str(v) for v in row if v is not None)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))


async def sign_in(browser, server, name: str, password: str):
    context = await browser.new_context()
    login = await context.request.post(url(server, "/login"), form={"username": name, "password": password},
                                       headers={"Origin": url(server, "/").rstrip("/")})
    assert login.ok
    return context


async def walk(browser, server, ids, *, name: str, password: str) -> dict[str, set[str]]:
    """Every page and export as this user: the English words each shows."""
    found = {}
    context = await sign_in(browser, server, name, password)
    page = await context.new_page()
    pages_, downloads = page_urls(server.app, ids)
    assert len(pages_) > 10 and len(downloads) >= 6
    for path in pages_:
        response = await page.goto(url(server, path))
        assert response.status < 500, path
        if words := english_words(await page.inner_text("body")):
            found[path] = words
    for path in downloads:
        response = await context.request.get(url(server, path))
        if response.status == 403:
            continue
        assert response.ok, (path, response.status)
        if words := english_words(export_text(await response.body(), path)):
            found[path] = words
    await context.close()
    return found


async def test_chinese_pages_and_exports_show_no_english_system_words(browser, site):
    server, ids = site
    found = await walk(browser, server, ids, name="管理员", password="admin-pass-1")
    found.update({f"{k} (staff)": v for k, v in (await walk(
        browser, server, ids, name="wangfang", password="staff-pass-1")).items()})
    signed_out = await (await browser.new_context()).new_page()
    await signed_out.goto(url(server, "/login"))
    if words := english_words(await signed_out.inner_text("body")):
        found["/login"] = words
    assert not found, "English words shown:\n" + "\n".join(
        f"  {path}: {' '.join(sorted(words))}" for path, words in sorted(found.items()))


async def test_the_english_pages_read_the_same_values_in_english(browser, site):
    server, ids = site
    context = await sign_in(browser, server, "管理员", "admin-pass-1")
    page = await context.new_page()
    await page.goto(url(server, "/lang/en?next=/"))
    await page.goto(url(server, f"/calls/{ids['hunt']}"))
    legs = await page.locator("#legs tbody tr td:nth-child(4)").all_inner_texts()
    assert legs == [call_labels.label(call_labels.CALL_STATES, s, "en") for s in LEG_STATES]
    assert "no answer" in legs and "busy" in legs
    events = await page.locator("#timeline tbody tr td:nth-child(3)").all_inner_texts()
    assert "transfer result" in events and "call arrives" in events
    await page.goto(url(server, f"/tickets/{ids['tickets'][-1]}"))
    assert "callback" in (await page.inner_text("h1")).lower()
    await context.close()


async def test_a_refused_form_says_why_in_chinese(browser, site):
    """What a supervisor typed and the rules refused comes back in their words too."""
    server, ids = site
    context = await sign_in(browser, server, "管理员", "admin-pass-1")
    page = await context.new_page()
    await page.goto(url(server, f"/tickets/{ids['tickets'][0]}"))
    await page.select_option("#owner-form select[name=staff_id]", "")
    await page.fill("#owner-form input[name=department]", "")
    await page.click("#owner-form button[type=submit]")  # neither a person nor a department
    await page.wait_for_load_state()
    assert await page.inner_text("p.alert") == "请选择负责人或填写部门"
    await page.fill("#note-form textarea[name=text]", "   ")
    await page.click("#note-form button[type=submit]")
    await page.wait_for_load_state()
    assert await page.inner_text("p.alert") == "请填写备注内容"
    await page.goto(url(server, "/"))
    await page.fill("#post-notice input[name=where]", "阳光花园3栋")
    await page.fill("#post-notice input[name=text]", "停水检修")
    await page.fill("#post-notice input[name=until]", "明早")
    await page.click("#post-notice button[type=submit]")
    await page.wait_for_load_state()
    assert english_words(await page.inner_text("#notice-error")) == set()
    await context.close()
