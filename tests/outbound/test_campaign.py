"""Fee-reminder campaigns (催缴) from the command line: start, report, coverage."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ivr.cli import main
from ivr.outbound import campaigns
from models import Campaign, OutboundJob, Resident
from tests.fake_twilio import fake_twilio, outbound, outbound_settings  # noqa: F401

RESIDENTS = [("李阿姨", "13900000001", "3栋2单元501", "1280.50"),
             ("王先生", "13900000002", "5栋1单元202", "300"),
             ("赵女士", "13900000003", "6栋3单元101", "0")]


def cli_env(monkeypatch, tmp_path, settings, fake_url: str = "http://127.0.0.1:9") -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"DATABASE_URL": settings.database_url,
                        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
                        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
                        "TWILIO_API_BASE_URL": fake_url,
                        "PUBLIC_BASE_URL": settings.public_base_url,
                        "HOTLINE_NUMBER": settings.hotline_number,
                        "COMPANY_NAME": "阳光花园", "IVR_SMS_PER_SECOND": "50",
                        "IVR_DIALER_BACKOFF_SECONDS": "0.01"}.items():
        monkeypatch.setenv(name, value)


async def run_cli(args: list[str]) -> int:
    """`ivr …` in a thread of its own (it runs its own event loop), while the fake API
    keeps answering on the test's loop."""
    return await asyncio.to_thread(main, args)


async def test_remind_fees_queues_every_household_in_arrears_and_the_report_shows_it(
        outbound, seed, monkeypatch, tmp_path, capsys):
    await seed.residents(RESIDENTS)
    cli_env(monkeypatch, tmp_path, outbound.settings, outbound.fake.url)
    monkeypatch.setattr("ivr.outbound_cli.utcnow", outbound.clock)  # the command on the app's clock
    assert await run_cli(["remind-fees", "--created-by", "张主管"]) == 0
    assert "2 households in arrears queued" in capsys.readouterr().out
    async with outbound.sessions() as session:
        phones = sorted((await session.scalars(select(OutboundJob.phone))).all())
    assert phones == ["+8613900000001", "+8613900000002"]

    async with outbound.sessions() as session:
        queued = set((await session.scalars(select(OutboundJob.created_at))).all())
    assert queued == {outbound.clock()}                 # 10:00, inside calling hours: due now
    await outbound.dialer().run_until_idle()
    li, wang = sorted(outbound.calls(), key=lambda c: c.call["to"])
    await li.answer(outbound.clock(), answered_by="human")
    await li.end("completed", outbound.clock(), duration=40)
    await wang.end("no-answer", outbound.clock())

    assert await run_cli(["campaign", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "欠费户数 households in arrears: 2" in out
    assert "已接通 reached: 1" in out
    assert "覆盖率 coverage: 50.0%" in out
    assert await run_cli(["campaign", "show", "--json"]) == 0
    assert '"coverage": 0.5' in capsys.readouterr().out


async def test_an_unknown_campaign_is_a_clear_error(outbound, monkeypatch, tmp_path, capsys):
    cli_env(monkeypatch, tmp_path, outbound.settings)
    assert await run_cli(["campaign", "show", "99"]) == 1
    assert "campaign 99: no such campaign" in capsys.readouterr().err


async def test_a_second_campaign_while_one_runs_is_refused_saying_so(outbound, seed,
                                                                     monkeypatch, tmp_path, capsys):
    await seed.residents(RESIDENTS)
    async with outbound.sessions() as session, session.begin():
        first = await campaigns.start(session, settings=outbound.settings, now=outbound.clock())
    async with outbound.sessions() as session:
        with pytest.raises(campaigns.CampaignError, match=f"催缴活动 #{first.id} 正在进行，还有 2 户"):
            await campaigns.start(session, settings=outbound.settings, now=outbound.clock())
        assert (await campaigns.preview(session))["running"] == {"id": first.id, "pending": 2}
    cli_env(monkeypatch, tmp_path, outbound.settings, outbound.fake.url)
    assert await run_cli(["remind-fees"]) == 1
    assert f"#{first.id} 正在进行" in capsys.readouterr().err
    async with outbound.sessions() as session:
        assert len((await session.scalars(select(Campaign))).all()) == 1  # no empty campaign


async def test_a_campaign_with_no_household_in_arrears_is_refused_with_the_reason(outbound, seed):
    await seed.residents([RESIDENTS[2]])  # 赵女士 owes nothing
    async with outbound.sessions() as session:
        assert (await campaigns.preview(session)) == {"households": 0, "arrears_total": "0",
                                                      "running": None}
        with pytest.raises(campaigns.CampaignError, match="没有欠费业主"):
            await campaigns.start(session, settings=outbound.settings, now=outbound.clock())


async def test_the_preview_gives_households_and_the_total_owed(outbound, seed):
    await seed.residents(RESIDENTS)
    async with outbound.sessions() as session:
        assert await campaigns.preview(session) == {"households": 2, "arrears_total": "1580.50",
                                                    "running": None}


async def test_coverage_counts_households_reached_or_messaged_over_those_still_owing(outbound, seed):
    await seed.residents(RESIDENTS + [("孙先生", "13900000004", "7栋1单元303", "88")])
    async with outbound.sessions() as session, session.begin():
        campaign = await campaigns.start(session, settings=outbound.settings, now=outbound.clock())
        sun = await session.scalar(select(Resident).where(Resident.name == "孙先生"))
        sun.arrears = 0                                   # paid before his call
    await outbound.dialer().run_until_idle()
    calls = sorted(outbound.calls(), key=lambda c: c.call["to"])
    assert [c.call["to"] for c in calls] == ["+8613900000001", "+8613900000002"]
    await calls[0].answer(outbound.clock(), answered_by="machine_end_beep")
    await calls[0].end("completed", outbound.clock(), duration=12)
    await calls[1].answer(outbound.clock(), answered_by="human")
    await calls[1].end("completed", outbound.clock(), duration=30)
    async with outbound.sessions() as session:
        data = await campaigns.report(session, campaign_id=campaign.id)
    assert data["households"] == 3 and data["paid_meanwhile"] == 1
    assert data["message_left"] == 1 and data["reached"] == 1
    assert data["coverage"] == 1.0
