"""Reports: the daily count (日盘点) and the monthly complaint analysis (月度投诉分析)."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select

from ivr.tickets import escalation, followup, lifecycle, reports, scheduler, survey
from models import OutboundJob, SmsMessage, Staff, Ticket
from tests.cli_support import ivr
from tests.conftest import local
from tests.tickets.test_tickets import STAFF, SUPERVISOR, bearer, token, tuned  # noqa: F401

WANG, LI = "+8613800000001", "+8613800000002"


async def open_ticket(session, settings, *, at, category, owner=None, department=None,
                      phone="+8613900000001", description="") -> Ticket:
    owner_id = await session.scalar(select(Staff.id).where(Staff.phone == owner)) if owner else None
    return await lifecycle.create_ticket(session, settings=settings, now=at, category=category,
                                       actor="王小姐", owner_staff_id=owner_id,
                                       department=department, resident_phone=phone,
                                       description=description)


async def resolve(session, settings, ticket: Ticket, at) -> None:
    await lifecycle.resolve(session, settings=settings, ticket=ticket, actor="李先生", now=at)


async def answer(session, settings, ticket: Ticket, satisfaction: str, at) -> None:
    await survey.record(session, settings=settings, ticket=ticket, satisfaction=satisfaction,
                          actor="回访电话", now=at)


# --- daily count -----------------------------------------------------------------------

async def seed_the_day(sessions, settings, seed) -> None:
    """23 Nov: 王小姐 owns 2 open (1 overdue), 李先生 1 open; 1 resolved; 1 follow-up by hand."""
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        await open_ticket(session, settings, at=local(2026, 11, 23, 9, 0), category="emergency",
                          owner=WANG)                                      # due 09:30: overdue
        await open_ticket(session, settings, at=local(2026, 11, 23, 10, 0), category="complaint",
                          owner=WANG)                                      # due tomorrow
        await open_ticket(session, settings, at=local(2026, 11, 23, 11, 0), category="repair",
                          owner=LI)
        done = await open_ticket(session, settings, at=local(2026, 11, 23, 8, 0),
                                 category="inquiry", owner=LI)
        await resolve(session, settings, done, local(2026, 11, 23, 9, 0))
        old = await open_ticket(session, settings, at=local(2026, 11, 20, 9, 0), category="repair",
                                owner=LI)
        await resolve(session, settings, old, local(2026, 11, 20, 15, 0))
        job = await session.scalar(select(OutboundJob).where(OutboundJob.ticket_id == old.id))
        await followup.unreached(session, job=job, now=local(2026, 11, 21, 20, 0))


async def test_the_daily_count_per_owner(sessions, settings, seed):
    await seed_the_day(sessions, settings, seed)
    async with sessions() as session:
        count = await reports.daily(session, settings=settings, at=local(2026, 11, 23, 17, 0))
    assert (count["date"], count["open"], count["overdue"]) == ("2026-11-23", 3, 1)
    assert (count["created_today"], count["resolved_today"]) == (4, 1)
    assert [(e["owner"], e["open"], e["overdue"], e["overdue_tickets"]) for e in count["per_owner"]] == [
        ("王小姐", 2, 1, ["20261123-0001"]), ("李先生", 1, 0, [])]
    assert [t["number"] for t in count["manual_follow_ups"]] == ["20261120-0001"]
    text = reports.format_daily(count)
    assert "未结工单 open: 3" in text and "超时 overdue: 1" in text
    assert "20261120-0001" in text and "王小姐" in text


async def test_a_past_days_count_is_as_at_its_end(sessions, settings, seed):
    await seed_the_day(sessions, settings, seed)
    day, at = reports.daily_moment("2026-11-20", settings=settings, now=local(2026, 11, 23, 12, 0))
    assert at == local(2026, 11, 21, 0, 0)
    async with sessions() as session:
        count = await reports.daily(session, settings=settings, at=at, day=day)
    # On 20 Nov only the repair existed, and it was resolved at 15:00.
    assert (count["open"], count["overdue"], count["created_today"], count["resolved_today"]) == (0, 0, 1, 1)


async def daily_sms(sessions) -> list[SmsMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(SmsMessage).where(
            SmsMessage.purpose == "daily_count").order_by(SmsMessage.id))).all())


async def test_the_daily_count_goes_to_the_supervisor_once_a_day(sessions, settings, seed):
    settings = tuned(settings, daily_count_hour=17)
    await seed_the_day(sessions, settings, seed)
    for moment in (local(2026, 11, 23, 16, 59), local(2026, 11, 23, 17, 0),
                   local(2026, 11, 23, 17, 1), local(2026, 11, 23, 23, 30),
                   local(2026, 11, 24, 9, 0)):
        async with sessions() as session, session.begin():
            await scheduler.run_once(session, settings=settings, now=moment)
        if moment == local(2026, 11, 23, 16, 59):
            assert await daily_sms(sessions) == []
    sent = await daily_sms(sessions)
    assert [(m.to, m.created_at) for m in sent] == [(SUPERVISOR, local(2026, 11, 23, 17, 0))]
    assert "11月23日日盘点" in sent[0].body and "未结工单3件，超时1件" in sent[0].body
    assert "王小姐未结2/超时1" in sent[0].body and "待人工回访1件：20261120-0001" in sent[0].body
    async with sessions() as session, session.begin():
        await scheduler.run_once(session, settings=settings, now=local(2026, 11, 24, 17, 5))
    assert len(await daily_sms(sessions)) == 2


async def test_ivr_report_daily_prints_the_count(sessions, settings, seed, tmp_path):
    await seed_the_day(sessions, settings, seed)
    result = ivr("report", "daily", "--date", "2026-11-23", cwd=tmp_path,
                 database_url=settings.database_url)
    assert result.returncode == 0, result.stderr
    assert "日盘点 Daily count 2026-11-23" in result.stdout
    assert "未结工单 open: 3" in result.stdout and "待人工回访" in result.stdout
    bad = ivr("report", "daily", "--date", "23/11/2026", cwd=tmp_path,
              database_url=settings.database_url)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "ivr: --date '23/11/2026': expected YYYY-MM-DD, e.g. 2026-11-23"


# --- monthly complaint analysis --------------------------------------------------------

async def seed_november(sessions, settings, seed) -> None:
    """Hand-made November (the expected figures are worked out in the test below).

    T1 complaint 客服部  2 Nov 10:00, resolved 16:00 (6 h), 满意 3 Nov 10:00
    T2 complaint 工程部  5 Nov 09:00, overdue 6 Nov 09:30 (escalated), resolved 6 Nov 21:00,
                         不满意 7 Nov 10:00 (reopened), resolved 8 Nov 09:00 (72 h), 基本满意 11:00
    T3 repair    工程部 10 Nov 10:00, resolved 14:00 (4 h), follow-up unreached
    T4 inquiry   —      12 Nov 10:00, resolved 11:00 (1 h), no follow-up
    T5 emergency 工程部 20 Nov 22:00, never resolved (due 22:30)
    T6 complaint        31 Oct 23:00, resolved 1 Nov 10:00, never followed up
    T7 repair            1 Dec 00:30
    """
    await seed.staff(STAFF)
    async with sessions() as session, session.begin():
        t6 = await open_ticket(session, settings, at=local(2026, 10, 31, 23, 0), category="complaint")
        await resolve(session, settings, t6, local(2026, 11, 1, 10, 0))

        t1 = await open_ticket(session, settings, at=local(2026, 11, 2, 10, 0), category="complaint",
                               department="客服部", owner=WANG, description="电梯噪音")
        await resolve(session, settings, t1, local(2026, 11, 2, 16, 0))
        await answer(session, settings, t1, "satisfied", local(2026, 11, 3, 10, 0))

        t2 = await open_ticket(session, settings, at=local(2026, 11, 5, 9, 0), category="complaint",
                               department="工程部", owner=LI, description="地下车库漏水")
    async with sessions() as session, session.begin():
        await scheduler.run_once(session, settings=settings, now=local(2026, 11, 6, 9, 30))
    async with sessions() as session, session.begin():
        t2 = await session.get(Ticket, t2.id)
        await resolve(session, settings, t2, local(2026, 11, 6, 21, 0))
        await answer(session, settings, t2, "dissatisfied", local(2026, 11, 7, 10, 0))
        await resolve(session, settings, t2, local(2026, 11, 8, 9, 0))
        await answer(session, settings, t2, "neutral", local(2026, 11, 8, 11, 0))

        t3 = await open_ticket(session, settings, at=local(2026, 11, 10, 10, 0), category="repair",
                               department="工程部")
        await resolve(session, settings, t3, local(2026, 11, 10, 14, 0))
        job = await session.scalar(select(OutboundJob).where(OutboundJob.ticket_id == t3.id))
        await followup.unreached(session, job=job, now=local(2026, 11, 11, 20, 0))

        t4 = await open_ticket(session, settings, at=local(2026, 11, 12, 10, 0), category="inquiry")
        await resolve(session, settings, t4, local(2026, 11, 12, 11, 0))

        await open_ticket(session, settings, at=local(2026, 11, 20, 22, 0), category="emergency",
                          department="工程部")
        await open_ticket(session, settings, at=local(2026, 12, 1, 0, 30), category="repair")


async def test_the_monthly_figures_match_the_hand_computed_ones(sessions, settings, seed):
    await seed_november(sessions, settings, seed)
    async with sessions() as session:
        report = await reports.monthly(session, settings=settings, month="2026-11")
    assert (report["from"], report["to"]) == ("2026-11-01", "2026-11-30")
    assert (report["tickets"], report["complaints"], report["resolved"]) == (5, 2, 4)
    # Hours to resolve: T1 6, T2 72 (to its last resolution), T3 4, T4 1.
    assert report["average_hours_to_resolve"] == 20.75           # (6 + 72 + 4 + 1) / 4
    assert report["median_hours_to_resolve"] == 5.0              # (4 + 6) / 2
    assert (report["overdue"], report["escalated"]) == (2, 1)    # T2 and T5; T2
    by_category = {c["category"]: c for c in report["by_category"]}
    assert [by_category[c]["count"] for c in ("repair", "complaint", "inquiry", "callback",
                                              "emergency")] == [1, 2, 1, 0, 1]
    assert by_category["complaint"] | {} == {
        "category": "complaint", "label": "投诉", "count": 2, "resolved": 2, "overdue": 1,
        "escalated": 1, "average_hours_to_resolve": 39.0}         # (6 + 72) / 2
    assert by_category["emergency"]["overdue"] == 1
    assert by_category["emergency"]["average_hours_to_resolve"] is None
    by_department = {d["department"]: d for d in report["by_department"]}
    assert report["by_department"][0]["department"] == "工程部"
    assert {k: by_department["工程部"][k] for k in ("count", "complaints", "resolved", "overdue",
                                                    "escalated", "average_hours_to_resolve")} == {
        "count": 3, "complaints": 1, "resolved": 2, "overdue": 2, "escalated": 1,
        "average_hours_to_resolve": 38.0}                         # (72 + 4) / 2
    assert by_department["客服部"]["count"] == 1 and by_department["（未分派）"]["count"] == 1
    # Follow-ups of tickets resolved in November: T6, T1, T2, T3; within 48 h: T1, T2.
    assert report["follow_up"] == {"due": 4, "within_48h": 2, "rate": 0.5, "pending": 0,
                                   "manual": 1, "target": 1.0}
    # Answers given in November: 满意 (T1), 不满意 and 基本满意 (T2).
    assert report["satisfaction"] == {"answers": 3, "satisfied": 1, "neutral": 1,
                                      "dissatisfied": 1, "rate": 0.6667, "target": 0.85}
    assert [c["number"] for c in report["complaint_list"]] == ["20261102-0001", "20261105-0001"]
    assert report["complaint_list"][1]["overdue"] is True
    assert report["complaint_list"][1]["satisfaction"] == "neutral"


async def test_the_stats_api_agrees_with_the_monthly_report(client, token, sessions,  # noqa: F811
                                                            settings, seed):
    await seed_november(sessions, settings, seed)
    resp = await client.get("/api/stats?from=2026-11-01&to=2026-11-30", headers=bearer(token))
    stats = await resp.json()
    assert (stats["follow_up_rate"], stats["satisfaction_rate"]) == (0.5, 0.6667)


async def test_ivr_report_monthly_writes_csv_and_xlsx(sessions, settings, seed, tmp_path):
    await seed_november(sessions, settings, seed)
    csv_path, xlsx_path = tmp_path / "11月.csv", tmp_path / "11月.xlsx"
    result = ivr("report", "monthly", "--month", "2026-11", "--csv", str(csv_path),
                 "--xlsx", str(xlsx_path), cwd=tmp_path, database_url=settings.database_url)
    assert result.returncode == 0, result.stderr
    assert "月度投诉分析" in result.stdout and "回访率" in result.stdout
    rows = list(csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    assert ["工单总数", "5"] in rows and ["回访率", "0.5"] in rows
    assert ["投诉", "2", "2", "1", "1", "39.0"] in rows
    book = load_workbook(xlsx_path)
    assert book.sheetnames == ["汇总", "按类别", "按部门", "投诉明细"]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["工单总数"] == 5 and summary["满意率（满意+基本满意）"] == 0.6667
    complaints = list(book["投诉明细"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2], r[6]) for r in complaints] == [("20261102-0001", "客服部", 6.0),
                                                       ("20261105-0001", "工程部", 72.0)]


async def test_ivr_report_monthly_refuses_bad_input_and_writes_nothing(settings, tmp_path):
    bad = ivr("report", "monthly", "--month", "2026-13", cwd=tmp_path,
              database_url=settings.database_url)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "ivr: month '2026-13': expected YYYY-MM, e.g. 2026-11"
    target = tmp_path / "no-such-folder" / "report.xlsx"
    unwritable = ivr("report", "monthly", "--month", "2026-11", "--csv", str(tmp_path / "ok.csv"),
                     "--xlsx", str(target), cwd=tmp_path, database_url=settings.database_url)
    assert unwritable.returncode == 1
    assert unwritable.stderr.strip().startswith(f"ivr: {target}: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".csv", ".xlsx")) == []
