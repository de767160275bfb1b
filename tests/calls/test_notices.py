"""Storm mode: an outage notice heard before the menu, an SMS once each when it is fixed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from ivr.calls import notices
from ivr.outbound import sms
from models import Call, NoticeSubscription, SmsMessage
from tests.cli_support import ivr
from tests.fake_twilio import fake_twilio, outbound, outbound_settings, second_sessions  # noqa: F401
from tests.twilio_client import Caller

RESIDENTS = [("李阿姨", "13900000001", "阳光花园3栋2单元501", "0"),
             ("王先生", "13900000002", "阳光花园5栋1单元302", "0"),
             ("陈女士", "13900000003", "翠湖苑1栋101", "0")]
STAFF = [("王小明", "13800010001", "客服", "00:00-24:00")]


async def post(sessions, clock, where: str, text: str = "停水检修", until=None):
    async with sessions() as session, session.begin():
        return (await notices.add(session, where=where, text=text, until=until, actor="主管",
                                  now=clock())).id


async def the_call(sessions, sid: str) -> Call:
    async with sessions() as session:
        return await session.scalar(select(Call).where(Call.sid == sid))


async def test_a_caller_of_the_building_hears_the_notice_first_and_asks_for_an_sms(
        twilio, seed, sessions, clock):
    await seed.residents(RESIDENTS)
    notice_id = await post(sessions, clock, "阳光花园3栋", until=clock() + timedelta(hours=3))
    caller = Caller(twilio, from_number="+8613900000001")
    twiml = await caller.dial_in()
    first, menu = twiml.root.findall("Gather")
    notice_said = first.find("Say").text
    assert first.get("action").endswith("/twilio/notice") and first.get("actionOnEmptyResult") == "false"
    assert "特别通知：阳光花园3栋停水检修，预计11月23日13:00前恢复" in notice_said
    assert "如需在恢复后收到短信通知，请按1" in notice_said
    assert "人工客服请按0" in menu.find("Say").text  # then the menu, as usual
    twiml = await caller.press("1")
    assert "恢复后我们会第一时间发短信通知您" in twiml.spoken and twiml.find("Hangup") is not None
    call = await the_call(sessions, caller.sid)
    assert call.notice_id == notice_id and call.menu_choice is None
    async with sessions() as session:
        [asked] = (await session.scalars(select(NoticeSubscription))).all()
        assert (asked.notice_id, asked.phone) == (notice_id, "+8613900000001")
        assert (await notices.figures(session, [notice_id]))[notice_id] == {
            "heard": 1, "deflected": 1, "subscribed": 1}


async def test_only_callers_the_notice_covers_hear_it(twilio, seed, sessions, clock):
    await seed.residents(RESIDENTS)
    await post(sessions, clock, "阳光花园3栋")
    await post(sessions, clock, "翠湖苑", text="停电抢修")

    async def first_words(phone: str) -> str:
        return (await Caller(twilio, from_number=phone).dial_in()).spoken

    assert "阳光花园3栋停水检修" in await first_words("+8613900000001")
    assert "特别通知" not in await first_words("+8613900000002")       # 5栋
    assert "翠湖苑停电抢修" in await first_words("+8613900000003")
    unknown = await first_words("+8613700000000")
    assert "翠湖苑停电抢修" in unknown and "阳光花园3栋" not in unknown  # estate-wide only


async def test_at_the_notice_other_keys_and_words_go_on_as_the_menu(twilio, seed, sessions, clock):
    await seed.residents(RESIDENTS)
    await seed.staff(STAFF)
    await post(sessions, clock, "阳光花园3栋")
    caller = Caller(twilio, from_number="+8613900000001")
    await caller.dial_in()
    twiml = await caller.press("0")
    assert twiml.find("Dial") is not None
    assert (await the_call(sessions, caller.sid)).menu_choice == "person"

    speaker = Caller(twilio, from_number="+8613900000001")
    await speaker.dial_in()
    assert "恢复后我们会第一时间发短信" in (await speaker.say("好的，短信通知我")).spoken
    async with sessions() as session:  # the same phone asking again is one subscription
        assert await session.scalar(select(func.count()).select_from(NoticeSubscription)) == 1


async def test_closing_sends_one_sms_to_each_caller_who_asked_with_two_senders(
        outbound, second_sessions):
    sessions, clock = outbound.sessions, outbound.clock
    notice_id = await post(sessions, clock, "阳光花园3栋")
    async with sessions() as session, session.begin():
        for i in range(6):
            await notices.subscribe(session, notice_id=notice_id, phone=f"+86139000000{i:02d}",
                                    call_sid=f"CA{i}", now=clock())

    async def close():
        async with sessions() as session, session.begin():
            return (await notices.close(session, notice_id=notice_id, settings=outbound.settings,
                                        now=clock()))[1]

    assert await close() == 6
    assert await close() == 0  # closed once: nothing queued again
    first = outbound.dialer()
    second = outbound.dialer(sessions=second_sessions)
    senders = [sms.Sender(settings=d.settings, sessions=d.sessions, client=d.client, clock=clock)
               for d in (first, second)]

    async def drain(sender):
        while await sender.run_once():
            pass

    await asyncio.gather(*(drain(s) for s in senders))
    sent = [m for m in outbound.fake.messages.values()]
    assert sorted(m["to"] for m in sent) == [f"+86139000000{i:02d}" for i in range(6)]
    assert all("阳光花园3栋停水检修已处理完毕" in m["body"] for m in sent)
    async with sessions() as session:
        rows = (await session.scalars(select(SmsMessage))).all()
        assert len(rows) == 6 and {r.status for r in rows} == {"sent"}


def test_the_notice_command_posts_lists_and_closes(settings, tmp_path):
    env = {"IVR_INSECURE_DEV": "1", "COMPANY_NAME": "阳光花园"}

    def notice(*args):
        return ivr("notice", *args, cwd=tmp_path, database_url=settings.database_url, env=env)

    added = notice("add", "--where", "阳光花园3栋、阳光花园4栋", "--text", "停水检修", "--until", "18:00")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "notice 1 posted: 阳光花园3栋，阳光花园4栋 停水检修"
    assert "阳光花园3栋，阳光花园4栋  停水检修  heard 0" in notice("list").stdout
    empty = notice("add", "--where", "3栋", "--text", " ")
    assert empty.returncode == 1 and "say what happened" in empty.stderr
    bad = notice("add", "--where", "3栋", "--text", "停电", "--until", "tomorrow")
    assert bad.returncode == 1 and "expected 'YYYY-MM-DD HH:MM' or 'HH:MM'" in bad.stderr
    assert notice("close", "1").stdout.strip() == "notice 1 closed; 0 SMS queued for the callers who asked"
    assert "already closed" in notice("close", "1").stdout
    assert notice("list").stdout.strip() == "no open notice"
