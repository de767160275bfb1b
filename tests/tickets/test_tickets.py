"""Tickets (工单): owner by 首问负责制, committed times, the lifecycle and its history, the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.people.users import add_user, create_token
from ivr.tickets import lifecycle
from models import Call, OutboundJob, Staff, Ticket, TicketHistory
from tests.conftest import local
from tests.twilio_client import StaffPhone

STAFF = [("王小姐", "13800000001", "客服部", "07:00-21:00"),
         ("李先生", "13800000002", "客服部", "07:00-21:00"),
         ("张主管", "13800000005", "客服部", "08:00-18:00")]
SUPERVISOR = "+8613800000005"   # 客服主管 (level 2), a staff member
DEPUTY = "+8613800000006"       # 主管副总经理 (level 3), a configured phone only
T0 = local(2026, 11, 23, 10, 0, 0)


def tuned(settings, **changes):
    """The test settings with the escalation contacts configured (and any other change)."""
    values = {"escalation_level2_phones": SUPERVISOR, "escalation_level3_phones": DEPUTY}
    values.update(changes)
    return settings.model_copy(update=values)


async def staff_id(session, phone: str) -> int:
    return await session.scalar(select(Staff.id).where(Staff.phone == phone))


async def new_ticket(sessions, settings, *, now=T0, category="complaint", **kw) -> int:
    async with sessions() as session, session.begin():
        ticket = await lifecycle.create_ticket(session, settings=settings, now=now,
                                             category=category, actor="王小姐", **kw)
        return ticket.id


async def history(session, ticket_id: int) -> list[tuple[str, str]]:
    rows = (await session.scalars(select(TicketHistory).where(TicketHistory.ticket_id == ticket_id)
                                  .order_by(TicketHistory.id))).all()
    return [(h.actor, h.action) for h in rows]


async def test_the_owner_is_who_took_the_call_else_the_supervisor(sessions, settings, seed):
    await seed.staff(STAFF)
    settings = tuned(settings)
    async with sessions() as session, session.begin():
        wang = await staff_id(session, "+8613800000001")
        call = Call(sid="CA" + "1" * 32, from_number="+8613900000001", to_number="+862161234567",
                    started_at=T0, answered_by_staff_id=wang)
        session.add(call)
        await session.flush()
        taken = await lifecycle.create_ticket(session, settings=settings, now=T0, category="repair",
                                            actor="hotline", call=call)
        unowned = await lifecycle.create_ticket(session, settings=settings, now=T0,
                                              category="complaint", actor="api",
                                              resident_phone="+8613900000002")
        views = [await lifecycle.ticket_view(session, t, settings=settings) for t in (taken, unowned)]
    assert [v["owner"] for v in views] == ["王小姐", "张主管"]
    assert views[0]["call_sid"] == "CA" + "1" * 32
    assert views[0]["resident_phone"] == "+8613900000001"
    assert [v["number"] for v in views] == ["20261123-0001", "20261123-0002"]


async def test_without_a_configured_supervisor_a_ticket_has_no_owner(sessions, settings):
    ticket_id = await new_ticket(sessions, settings)
    async with sessions() as session:
        view = await lifecycle.ticket_view(session, await session.get(Ticket, ticket_id),
                                         settings=settings)
    assert view["owner"] is None and view["escalation_level"] == 1 and view["follow_up"] is None


@pytest.mark.parametrize("category, minutes", [
    ("emergency", 30), ("complaint", 24 * 60), ("repair", 24 * 60), ("inquiry", 24 * 60),
])
async def test_committed_times_per_category(sessions, settings, category, minutes):
    ticket_id = await new_ticket(sessions, settings, category=category)
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
    assert ticket.due_at == T0 + timedelta(minutes=minutes)


async def test_committed_times_are_configurable(sessions, settings):
    settings = settings.model_copy(update={"due_minutes_emergency": 20,
                                           "due_minutes_complaint": 8 * 60})
    emergency = await new_ticket(sessions, settings, category="emergency")
    complaint = await new_ticket(sessions, settings, category="complaint")
    async with sessions() as session:
        due = [(await session.get(Ticket, i)).due_at for i in (emergency, complaint)]
    assert due == [T0 + timedelta(minutes=20), T0 + timedelta(hours=8)]


async def test_numbers_count_per_day_in_the_centres_timezone(sessions, settings):
    first = await new_ticket(sessions, settings, now=local(2026, 11, 23, 23, 59))
    second = await new_ticket(sessions, settings, now=local(2026, 11, 24, 0, 1))
    third = await new_ticket(sessions, settings, now=local(2026, 11, 24, 0, 2))
    async with sessions() as session:
        numbers = [(await session.get(Ticket, i)).number for i in (first, second, third)]
    assert numbers == ["20261123-0001", "20261124-0001", "20261124-0002"]


async def test_the_lifecycle_logs_who_did_what_and_when(sessions, settings, seed):
    await seed.staff(STAFF)
    ticket_id = await new_ticket(sessions, settings, category="repair",
                                 resident_phone="+8613900000001", description="厨房水管漏水")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        li = await staff_id(session, "+8613800000002")
        await lifecycle.assign(session, ticket=ticket, actor="张主管", now=T0 + timedelta(minutes=5),
                             staff_id=li, department="工程部")
        assert ticket.status == "assigned" and ticket.department == "工程部"
        await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                    status="in_progress", actor="李先生",
                                    now=T0 + timedelta(minutes=20))
        await lifecycle.add_note(session, ticket=ticket, actor="李先生",
                               now=T0 + timedelta(minutes=50), text="已更换阀门")
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="李先生",
                              now=T0 + timedelta(hours=1), note="修好了")
        await lifecycle.change_status(session, settings=settings, ticket=ticket, status="closed",
                                    actor="张主管", now=T0 + timedelta(hours=2))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        view = await lifecycle.ticket_view(session, ticket, settings=settings, with_history=True)
    assert view["status"] == "closed" and view["owner"] == "李先生"
    assert view["resolved_at"] == "2026-11-23T11:00:00+08:00"
    assert [(h["actor"], h["action"]) for h in view["history"]] == [
        ("王小姐", "created"), ("张主管", "assigned"), ("张主管", "status"),
        ("李先生", "status"), ("李先生", "note"), ("李先生", "status"),
        ("李先生", "follow_up_scheduled"), ("张主管", "status"),
    ]
    assert view["history"][3]["at"] == "2026-11-23T10:20:00+08:00"
    assert view["history"][3]["detail"] == "assigned → in_progress"
    assert view["history"][5]["detail"] == "in_progress → resolved: 修好了"
    assert view["history"][4]["detail"] == "已更换阀门"


@pytest.mark.parametrize("path, refused", [
    (["closed"], "in_progress"),
    ([], "followed_up"),
    (["resolved"], "assigned"),
    ([], "done"),
])
async def test_changes_the_lifecycle_forbids_are_refused_and_change_nothing(
        sessions, settings, path, refused):
    ticket_id = await new_ticket(sessions, settings, category="inquiry")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        for status in path:
            await lifecycle.change_status(session, settings=settings, ticket=ticket, status=status,
                                        actor="王小姐", now=T0)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        before = ticket.status
        with pytest.raises(lifecycle.TicketError):
            await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                        status=refused, actor="王小姐", now=T0)
        assert ticket.status == before


async def test_reopening_gives_a_new_committed_time_and_cancels_the_follow_up(sessions, settings):
    ticket_id = await new_ticket(sessions, settings, category="complaint",
                                 resident_phone="+8613900000001")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="王小姐",
                              now=T0 + timedelta(hours=2))
        later = T0 + timedelta(hours=3)
        await lifecycle.change_status(session, settings=settings, ticket=ticket, status="reopened",
                                    actor="张主管", now=later, note="住户来电说还漏水")
        assert ticket.due_at == later + timedelta(hours=24)
        assert ticket.follow_up_status == "cancelled"
        jobs = (await session.scalars(select(OutboundJob).where(OutboundJob.ticket_id == ticket_id))).all()
        assert [j.state for j in jobs] == ["cancelled"]


# --- tickets from the call flow --------------------------------------------------------

async def take_call(twilio, caller, *keys: str) -> StaffPhone:
    """The caller presses `keys`; the first staff phone rings, accepts (1) and is bridged."""
    await caller.dial_in()
    for key in keys:
        await caller.press(key)
    dial, number = caller.dial()
    phone = StaffPhone(twilio, caller, dial, number)
    await phone.event("initiated", T0)
    await phone.event("ringing", T0 + timedelta(seconds=1))
    await phone.event("in-progress", T0 + timedelta(seconds=4))
    await phone.pick_up_and_screen("1")
    return phone


async def test_a_complaint_a_person_took_becomes_their_ticket(twilio, caller, seed, sessions):
    await seed.staff(STAFF)
    phone = await take_call(twilio, caller, "2")
    await phone.dial_result("completed", bridged=True, DialCallDuration=95)
    await phone.dial_result("completed", bridged=True, DialCallDuration=95)  # a retry
    async with sessions() as session:
        rows = (await session.scalars(select(Ticket))).all()
        owner = await session.get(Staff, rows[0].owner_staff_id)
    assert [(t.category, t.call_sid, t.status) for t in rows] == [("complaint", caller.sid, "open")]
    assert owner.name == "王小姐"


async def test_no_second_ticket_when_staff_opened_one_for_the_call(twilio, caller, seed, sessions,
                                                                    settings):
    await seed.staff(STAFF)
    phone = await take_call(twilio, caller, "1", "2")
    async with sessions() as session, session.begin():
        call = await session.scalar(select(Call).where(Call.sid == caller.sid))
        await lifecycle.create_ticket(session, settings=settings, now=T0, category="repair",
                                    actor="王小姐", call=call, description="卫生间地漏堵塞",
                                    department="工程部")
    await phone.dial_result("completed", bridged=True)
    async with sessions() as session:
        rows = (await session.scalars(select(Ticket))).all()
    assert [(t.category, t.description) for t in rows] == [("repair", "卫生间地漏堵塞")]


async def test_an_enquiry_a_person_answered_is_not_a_ticket(twilio, caller, seed, sessions):
    await seed.staff(STAFF)
    phone = await take_call(twilio, caller, "4")
    await phone.dial_result("completed", bridged=True)
    async with sessions() as session:
        assert (await session.scalars(select(Ticket))).all() == []


# --- the API ---------------------------------------------------------------------------

@pytest.fixture
async def token(sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-123456", now=clock())
        return await create_token(session, name="主管", now=clock())


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_the_api_opens_lists_and_resolves_tickets(client, token, seed, clock, sessions):
    await seed.staff(STAFF)
    created = await client.post("/api/tickets", headers=bearer(token), json={
        "category": "complaint", "resident_phone": "139 0000 0001",
        "description": "楼上装修噪音", "department": "客服部", "owner_phone": "13800000001"})
    assert created.status == 201, await created.text()
    ticket = await created.json()
    assert ticket["number"] == "20261123-0001" and ticket["status"] == "open"
    assert ticket["resident_phone"] == "+8613900000001" and ticket["owner"] == "王小姐"
    assert ticket["due_at"] == "2026-11-24T10:00:00+08:00" and ticket["follow_up"] is None

    listed = await client.get("/api/tickets?from=2026-11-23&to=2026-11-23", headers=bearer(token))
    assert [t["number"] for t in (await listed.json())["tickets"]] == ["20261123-0001"]
    none_resolved = await client.get("/api/tickets?from=2026-11-23&to=2026-11-23&status=resolved",
                                     headers=bearer(token))
    assert (await none_resolved.json())["tickets"] == []
    other_day = await client.get("/api/tickets?from=2026-11-22&to=2026-11-22", headers=bearer(token))
    assert (await other_day.json())["tickets"] == []

    clock.advance(3 * 3600)
    resolved = await client.post(f"/api/tickets/{ticket['id']}/resolve", headers=bearer(token),
                                 json={"note": "已与楼上住户沟通"})
    assert resolved.status == 200
    body = await resolved.json()
    assert body["status"] == "resolved" and body["resolved_at"] == "2026-11-23T13:00:00+08:00"
    assert body["follow_up"] == {"status": "scheduled", "due_at": "2026-11-25T13:00:00+08:00",
                                 "satisfaction": None, "followed_up_at": None}
    again = await client.post(f"/api/tickets/{ticket['id']}/resolve", headers=bearer(token))
    assert again.status == 200 and (await again.json())["resolved_at"] == body["resolved_at"]
    async with sessions() as session:
        jobs = (await session.scalars(select(OutboundJob))).all()
        history = await session.scalars(select(TicketHistory.actor).where(
            TicketHistory.ticket_id == ticket["id"], TicketHistory.action == "status"))
        assert list(history) == ["主管"]
    assert [(j.kind, j.phone, j.state) for j in jobs] == [("follow_up", "+8613900000001", "queued")]


async def test_a_nul_character_is_cleaned_where_it_comes_in(client, token, sessions):
    """PostgreSQL cannot store NUL: the API drops it instead of failing the insert."""
    resp = await client.post("/api/tickets", headers=bearer(token),
                             json={"category": "repair", "description": "漏水\x00了"})
    assert resp.status == 201
    async with sessions() as session:
        assert [t.description for t in (await session.scalars(select(Ticket))).all()] == ["漏水了"]


@pytest.mark.parametrize("body, message", [
    ({"category": "noise"}, "unknown category"),
    ({}, "category is required"),
    ({"category": "repair", "resident_phone": "abc"}, "phone"),
    ({"category": "repair", "call_sid": "CAnope"}, "unknown call_sid"),
    ({"category": "repair", "description": 5}, "description must be a string"),
    ({"category": "repair", "description": "长" * 2001}, "longer than 2000"),
])
async def test_the_api_refuses_bad_tickets_with_a_reason(client, token, body, message, sessions):
    resp = await client.post("/api/tickets", headers=bearer(token), json=body)
    assert resp.status == 400
    assert message in (await resp.json())["error"]
    async with sessions() as session:
        assert (await session.scalars(select(Ticket))).all() == []


async def test_the_api_answers_errors_clearly(client, token, sessions, settings):
    assert (await client.get("/api/tickets")).status == 401
    assert (await client.post("/api/tickets/1/resolve")).status == 401
    assert (await client.post("/api/tickets/999/resolve", headers=bearer(token))).status == 404
    bad_status = await client.get("/api/tickets?status=lost", headers=bearer(token))
    assert bad_status.status == 400
    not_json = await client.post("/api/tickets", headers={**bearer(token),
                                                          "Content-Type": "application/json"},
                                 data="{nope")
    assert not_json.status == 400
    ticket_id = await new_ticket(sessions, settings, category="inquiry")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await lifecycle.change_status(session, settings=settings, ticket=ticket, status="closed",
                                    actor="王小姐", now=T0)
    closed = await client.post(f"/api/tickets/{ticket_id}/resolve", headers=bearer(token))
    assert closed.status == 409 and "closed" in (await closed.json())["error"]


async def test_staff_see_and_resolve_only_their_own_tickets(client, seed, sessions, settings):
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        user = await add_user(session, name="王小姐", role="staff", password="pw-123456", now=T0)
        user.staff_id = await staff_id(session, "+8613800000001")
        own_token = await create_token(session, name="王小姐", now=T0)
    wang = await new_ticket(sessions, settings, owner_staff_id=user.staff_id)
    async with sessions() as session:
        li_id = await staff_id(session, "+8613800000002")
    li = await new_ticket(sessions, settings, owner_staff_id=li_id)
    listed = await client.get("/api/tickets?from=2026-11-23", headers=bearer(own_token))
    assert [t["id"] for t in (await listed.json())["tickets"]] == [wang]
    refused = await client.post(f"/api/tickets/{li}/resolve", headers=bearer(own_token))
    assert refused.status == 403
    allowed = await client.post(f"/api/tickets/{wang}/resolve", headers=bearer(own_token))
    assert allowed.status == 200 and (await allowed.json())["status"] == "resolved"
    async with sessions() as session:
        assert (await session.get(Ticket, li)).status == "open"


async def test_reading_tickets_through_the_api_is_audited(client, sessions, clock):
    from ivr.platform.resources import SETTINGS
    from models import AuditEntry

    async with sessions() as session, session.begin():
        await add_user(session, name="质检", role="supervisor", password="pw-123456", now=clock())
        token = await create_token(session, name="质检", now=clock())
        await lifecycle.create_ticket(session, settings=client.server.app[SETTINGS], now=clock(),
                                    category="complaint", actor="test")
    resp = await client.get("/api/tickets?from=2026-11-23&to=2026-11-23",
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    async with sessions() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "ticket_read"))).all()
    assert [(e.user_name, e.subject) for e in entries] == [("质检", "20261123-0001")]


async def test_recordings_reach_supervisors_not_staff_through_the_api(client, sessions, clock):
    from ivr.platform.resources import SETTINGS

    async with sessions() as session, session.begin():
        staff = Staff(name="王小姐", phone="+8613800000001", department="客服部", shifts="00:00-24:00")
        session.add(staff)
        await session.flush()
        await add_user(session, name="boss", role="supervisor", password="pw-123456", now=clock())
        clerk = await add_user(session, name="clerk", role="staff", password="pw-123456", now=clock())
        clerk.staff_id = staff.id
        tokens = {"boss": await create_token(session, name="boss", now=clock()),
                  "clerk": await create_token(session, name="clerk", now=clock())}
        await lifecycle.create_ticket(session, settings=client.server.app[SETTINGS], now=clock(),
                                    category="callback", actor="hotline", owner_staff_id=staff.id,
                                    recording_url="https://api.twilio.com/rec/RE9")
    seen = {}
    for name, token in tokens.items():
        resp = await client.get("/api/tickets?from=2026-11-23&to=2026-11-23",
                                headers={"Authorization": f"Bearer {token}"})
        [ticket] = (await resp.json())["tickets"]
        seen[name] = ticket["recording_url"]
    assert seen == {"boss": "https://api.twilio.com/rec/RE9", "clerk": None}


@pytest.mark.parametrize("path", ["/api/stats", "/api/tickets", "/api/calls"])
@pytest.mark.parametrize("query, message", [
    ("from=0001-01-01", "between 1970-01-01 and 2999-12-31"),   # local midnight is before year 1 in UTC
    ("from=2026-11-01&to=9999-12-31", "between 1970-01-01 and 2999-12-31"),
    ("from=2026/11/01", "YYYY-MM-DD"),
])
async def test_a_date_out_of_range_is_a_400_with_the_range(client, token, path, query, message):
    resp = await client.get(f"{path}?{query}", headers=bearer(token))
    assert resp.status == 400
    assert message in (await resp.json())["error"]


async def test_a_staff_token_opens_tickets_only_on_calls_that_rang_them(client, twilio, seed,
                                                                       sessions):
    """The API's scope is the pages': a call that rang 王小姐 only is not 李先生's to file,
    and its caller's number is not his to read."""
    from tests.twilio_client import Caller

    await seed.staff(STAFF)
    caller = Caller(twilio, from_number="+8613912345678")
    await take_call(twilio, caller, "2")  # 王小姐's phone rings first and takes it
    async with sessions() as session, session.begin():
        tokens = {}
        for name, phone in (("王小姐", "+8613800000001"), ("李先生", "+8613800000002")):
            user = await add_user(session, name=name, role="staff", password="pw-123456", now=T0)
            user.staff_id = await staff_id(session, phone)
            tokens[name] = await create_token(session, name=name, now=T0)
    body = {"category": "repair", "description": "厨房漏水", "call_sid": caller.sid}
    refused = await client.post("/api/tickets", json=body, headers=bearer(tokens["李先生"]))
    assert refused.status == 403
    assert "13912345678" not in await refused.text()
    async with sessions() as session:
        assert not (await session.scalars(select(Ticket).where(Ticket.category == "repair"))).all()
    taken = await client.post("/api/tickets", json=body, headers=bearer(tokens["王小姐"]))
    assert taken.status == 201
    assert (await taken.json())["resident_phone"] == "+8613912345678"


async def test_keeping_the_status_only_records_the_note(sessions, settings):
    """The ticket page posts the current status with a note: nothing closes by accident."""
    ticket_id = await new_ticket(sessions, settings, category="inquiry")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="王小姐", now=T0)
        await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                      status="resolved", actor="张主管",
                                      now=T0 + timedelta(minutes=5), note="住户来电询问")
        await lifecycle.change_status(session, settings=settings, ticket=ticket,
                                      status="resolved", actor="张主管",
                                      now=T0 + timedelta(minutes=6))
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.status == "resolved"
        assert await history(session, ticket_id) == [
            ("王小姐", "created"), ("王小姐", "status"), ("张主管", "note")]
