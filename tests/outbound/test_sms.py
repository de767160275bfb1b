"""SMS: outage notices by address prefix (`ivr notify`) and the sender for queued rows."""

from __future__ import annotations

from sqlalchemy import func, select

from ivr.outbound import sms
from models import SmsMessage
from tests.fake_twilio import fake_twilio, outbound, outbound_settings  # noqa: F401
from tests.outbound.test_campaign import cli_env, run_cli

RESIDENTS = [("李阿姨", "13900000001", "3栋2单元501", "0"),
             ("王先生", "13900000002", "3栋1单元202", "0"),
             ("赵女士", "13900000003", "5栋3单元101", "0")]
NOTICE = "【阳光花园物业】因管道抢修，3栋今日14:00-16:00停水，不便之处敬请谅解。"


def sender(outbound, **overrides) -> sms.Sender:
    dialer = outbound.dialer(**overrides)   # for its REST client on the fake
    return sms.Sender(settings=dialer.settings, sessions=outbound.sessions,
                      client=dialer.client, clock=outbound.clock)


async def rows(outbound) -> list[SmsMessage]:
    async with outbound.sessions() as session:
        return list((await session.scalars(select(SmsMessage).order_by(SmsMessage.id))).all())


async def test_notify_sends_one_sms_to_each_resident_of_the_building_and_reports_failures(
        outbound, seed, monkeypatch, tmp_path, capsys):
    await seed.residents(RESIDENTS)
    outbound.fake.invalid_numbers.add("+8613900000002")
    cli_env(monkeypatch, tmp_path, outbound.settings, outbound.fake.url)
    assert await run_cli(["notify", "--address-prefix", "3栋", "--message", NOTICE]) == 0
    out = capsys.readouterr().out
    assert "2 residents" in out and "sent 1" in out and "failed 1" in out
    assert "+8613900000002" in out and "21211" in out
    sent = outbound.fake.creates("Messages")
    assert sorted(r.form["To"] for r in sent) == ["+8613900000001", "+8613900000002"]
    assert all(r.form["Body"] == NOTICE and r.form["From"] == outbound.settings.hotline_number
               for r in sent)
    by_phone = {r.to: r for r in await rows(outbound)}
    assert by_phone["+8613900000001"].status == "sent" and by_phone["+8613900000001"].sid
    assert by_phone["+8613900000002"].status == "failed"


async def test_notify_rejects_an_empty_message_and_an_unmatched_prefix_writing_nothing(
        outbound, seed, monkeypatch, tmp_path, capsys):
    await seed.residents(RESIDENTS)
    cli_env(monkeypatch, tmp_path, outbound.settings, outbound.fake.url)
    assert await run_cli(["notify", "--message", "  "]) == 1
    assert "the message is empty" in capsys.readouterr().err
    assert await run_cli(["notify", "--address-prefix", "9栋", "--message", NOTICE]) == 1
    assert "no resident matches address prefix '9栋'" in capsys.readouterr().err
    assert await rows(outbound) == [] and outbound.fake.requests == []


async def test_queued_messages_are_sent_paced_after_429_without_duplicates(outbound):
    async with outbound.sessions() as session, session.begin():
        for i in range(4):
            session.add(SmsMessage(to=f"+86137{i:08d}", body="工单升级通知", purpose="escalation",
                                   status="queued", created_at=outbound.clock()))
    outbound.fake.fail_next(1, status=429, code=20429)
    outbound.fake.fail_next(1, status=500, create_first=True)
    worker = sender(outbound, sms_per_second=4)
    while await worker.run_once():
        pass
    assert len(outbound.fake.messages) == 4            # one each, the 500 adopted not resent
    assert all(r.status == "sent" and r.sid in outbound.fake.messages for r in await rows(outbound))
    times = sorted(r.at for r in outbound.fake.creates("Messages") if r.status == 201)
    for first, fifth in zip(times, times[4:]):
        assert fifth - first >= 0.8                 # at most 4 a second (jitter allowed)


async def test_a_message_left_sending_by_a_crashed_sender_is_not_sent_twice(outbound):
    async with outbound.sessions() as session, session.begin():
        session.add(SmsMessage(to="+8613700000001", body="停电通知", purpose="outage_notice",
                               status="queued", created_at=outbound.clock()))
    async with outbound.sessions() as session, session.begin():
        [taken] = await sms.claim(session, now=outbound.clock(), limit=10)
    # the crashed sender had got as far as Twilio: the fake holds the message
    worker = sender(outbound)
    await worker.client.messages.create_async(to=taken.to, from_=outbound.settings.hotline_number,
                                              body=taken.body)
    outbound.clock.advance(600)
    while await worker.run_once():
        pass
    assert len(outbound.fake.messages) == 1
    [row] = await rows(outbound)
    assert row.status == "sent" and row.sid in outbound.fake.messages
    async with outbound.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SmsMessage)) == 1
