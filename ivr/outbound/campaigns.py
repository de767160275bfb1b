"""Fee-reminder campaigns (催缴): every household in arrears called, none missed.

管理费催缴率达100%: 催缴应面向每一位欠费用户，并做好相应记录，不能出现漏催、迟催. A campaign
queues one dialer job per household with arrears > 0; the dialer re-reads the arrears
right before each call (a household that paid meanwhile is never called) and retries the
ones not reached. The report lists who was not reached after all attempts, for a printed
催缴通知书.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.outbound import jobs
from ivr.platform.config import Settings
from ivr.platform.hotline import yuan
from models import Attempt, Campaign, OutboundJob, Resident

ACTIVE = ("queued", "dialing")


class CampaignError(LookupError):
    pass


async def households_due(session: AsyncSession) -> list[Resident]:
    """One resident per household in arrears now, without a reminder still pending: whom a
    campaign started now would call."""
    residents = list((await session.scalars(
        select(Resident).where(Resident.arrears > 0).order_by(Resident.id))).all())
    pending = set((await session.scalars(select(OutboundJob.resident_id).where(
        OutboundJob.kind == "fee_reminder", OutboundJob.state.in_(ACTIVE)))).all())
    seen_addresses: set[str] = set()
    households = []
    for resident in residents:
        household = (resident.address or "").strip() or f"#{resident.id}"
        if household in seen_addresses or resident.id in pending:
            continue
        seen_addresses.add(household)
        households.append(resident)
    return households


async def running(session: AsyncSession) -> dict | None:
    """The campaign still dialling (households queued or being called), if any."""
    row = (await session.execute(
        select(OutboundJob.campaign_id, func.count())
        .where(OutboundJob.kind == "fee_reminder", OutboundJob.state.in_(ACTIVE),
               OutboundJob.campaign_id.is_not(None))
        .group_by(OutboundJob.campaign_id).order_by(OutboundJob.campaign_id.desc()).limit(1)
    )).first()
    return {"id": row[0], "pending": int(row[1])} if row else None


async def preview(session: AsyncSession) -> dict:
    """What starting a campaign now would do, for the supervisor to confirm: households,
    the total they owe, and the campaign still running (then nothing can start)."""
    households = await households_due(session)
    return {"households": len(households),
            "arrears_total": str(sum((r.arrears for r in households), Decimal("0"))),
            "running": await running(session)}


async def start(session: AsyncSession, *, settings: Settings, now: datetime,
                created_by: str = "") -> Campaign:
    """A campaign over every household in arrears now without a reminder pending: one job
    each. Refused (CampaignError, saying why) when that is nobody: while another campaign
    still dials them, or when nobody owes anything. An empty campaign would only hide the
    one that runs. Households in arrears since a running campaign started get their own
    (the dialer shares the pace between campaigns in turn)."""
    households = await households_due(session)
    if not households:
        current = await running(session)
        if current is not None:
            raise CampaignError(
                f"催缴活动 #{current['id']} 正在进行，还有 {current['pending']} 户未完成，"
                f"欠费业主都已在其中 (campaign #{current['id']} is still running)")
        raise CampaignError("目前没有欠费业主，无需发起催缴 (no household in arrears)")
    campaign = Campaign(kind="fee_reminder", created_at=now, created_by=created_by[:100],
                        households=0)
    session.add(campaign)
    await session.flush()
    for resident in households:
        session.add(jobs.new_job(kind="fee_reminder", phone=resident.phone, now=now,
                                 resident_id=resident.id, campaign_id=campaign.id,
                                 arrears=resident.arrears))
        campaign.households += 1
    await session.flush()
    return campaign


async def overview(session: AsyncSession, *, limit: int = 100) -> list[dict]:
    """The latest campaigns, newest first, with how far each has come (for the list page)."""
    rows = list((await session.scalars(
        select(Campaign).order_by(Campaign.id.desc()).limit(limit))).all())
    if not rows:
        return []
    states = (await session.execute(
        select(OutboundJob.campaign_id, OutboundJob.state, OutboundJob.outcome, func.count())
        .where(OutboundJob.campaign_id.in_([c.id for c in rows]))
        .group_by(OutboundJob.campaign_id, OutboundJob.state, OutboundJob.outcome))).all()
    tally: dict[int, dict[str, int]] = {c.id: {"reached": 0, "message_left": 0, "pending": 0,
                                               "paid_meanwhile": 0, "not_reached": 0}
                                        for c in rows}
    for campaign_id, state, outcome, count in states:
        t = tally[campaign_id]
        if state == "skipped" and outcome == "paid":
            t["paid_meanwhile"] += count
        elif state == "done" and outcome in ("reached", "message_left"):
            t[outcome] += count
        elif state in ACTIVE:
            t["pending"] += count
        else:
            t["not_reached"] += count
    return [{"id": c.id, "created_at": c.created_at, "created_by": c.created_by,
             "households": c.households, **tally[c.id]} for c in rows]


def _household(resident: Resident | None, job: OutboundJob, attempts: int) -> dict:
    return {
        "name": resident.name if resident else "",
        "phone": job.phone,
        "address": resident.address if resident else "",
        "arrears": str(job.arrears_at_queue if job.arrears_at_queue is not None else ""),
        "arrears_now": str(resident.arrears) if resident else None,
        "attempts": attempts,
        "last_result": job.outcome,
        "error": job.last_error,
    }


async def report(session: AsyncSession, *, campaign_id: int) -> dict:
    """Who was reached, who got a message, who paid meanwhile, who was never reached.

    coverage = households with a completed attempt (a person heard the reminder, or a
    message was left) ÷ households in arrears (those that paid before their call owe
    nothing and are not counted); the goal is 1.0.
    """
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError(f"campaign {campaign_id}: no such campaign")
    rows = (await session.execute(
        select(OutboundJob, Resident).outerjoin(Resident, Resident.id == OutboundJob.resident_id)
        .where(OutboundJob.campaign_id == campaign_id).order_by(OutboundJob.id))).all()
    counts = dict((await session.execute(
        select(Attempt.job_id, func.count()).join(OutboundJob, OutboundJob.id == Attempt.job_id)
        .where(OutboundJob.campaign_id == campaign_id, Attempt.state != "void")
        .group_by(Attempt.job_id))).all())
    completed = set((await session.scalars(
        select(Attempt.job_id).join(OutboundJob, OutboundJob.id == Attempt.job_id)
        .where(OutboundJob.campaign_id == campaign_id,
               Attempt.result.in_(("reached", "message_left"))))).all())
    reached = message_left = paid = pending = 0
    not_reached: list[dict] = []
    failed: list[dict] = []
    owed = Decimal("0")
    for job, resident in rows:
        attempts = int(counts.get(job.id, 0))
        if job.state == "skipped" and job.outcome == "paid":
            paid += 1
            continue
        owed += job.arrears_at_queue or Decimal("0")
        if job.state == "done" and job.outcome == "reached":
            reached += 1
        elif job.state == "done" and job.outcome == "message_left":
            message_left += 1
        elif job.state in ACTIVE:
            pending += 1
        elif job.state == "failed":
            failed.append(_household(resident, job, attempts))
        else:
            not_reached.append(_household(resident, job, attempts))
    households = len(rows)
    in_arrears = households - paid
    covered = len(completed)
    return {
        "id": campaign.id,
        "created_at": campaign.created_at.isoformat(),
        "created_by": campaign.created_by,
        "households": households,
        "households_in_arrears": in_arrears,
        "arrears_total": str(owed),
        "reached": reached,
        "message_left": message_left,
        "paid_meanwhile": paid,
        "pending": pending,
        "not_reached": not_reached,
        "invalid_number": failed,
        "attempts": int(sum(counts.values())),
        "covered": covered,
        "coverage": (covered / in_arrears) if in_arrears else None,
    }


async def latest(session: AsyncSession) -> Campaign | None:
    return await session.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1))


def format_report(data: dict, *, settings: Settings) -> str:
    """The report as `ivr campaign show` prints it (Chinese first)."""
    created = datetime.fromisoformat(data["created_at"]).astimezone(settings.tz)
    coverage = "—" if data["coverage"] is None else f"{data['coverage'] * 100:.1f}%"
    lines = [
        f"催缴活动 #{data['id']}（{created:%Y-%m-%d %H:%M}，{data['created_by'] or '—'}）",
        f"欠费户数 households in arrears: {data['households_in_arrears']}"
        f"（开始时 {data['households']}，期间已缴 paid meanwhile {data['paid_meanwhile']}）",
        f"已接通 reached: {data['reached']}",
        f"已语音留言 message left: {data['message_left']}",
        f"进行中 pending: {data['pending']}",
        f"多次未接通 not reached after all attempts: {len(data['not_reached'])}",
        f"号码无效 invalid number: {len(data['invalid_number'])}",
        f"拨打次数 attempts: {data['attempts']}",
        f"覆盖率 coverage: {coverage}（{data['covered']}/{data['households_in_arrears']}，目标 100%）",
    ]
    for title, rows in (("未接通名单（请发送催缴通知书）/ not reached:", data["not_reached"]),
                        ("号码无效名单 / invalid numbers:", data["invalid_number"])):
        if rows:
            lines.append(title)
            for row in rows:
                amount = yuan(Decimal(row["arrears"])) if row["arrears"] else "?"
                lines.append(f"  {row['address']}  {row['name']}  {row['phone']}  "
                             f"欠费 {amount} 元  拨打 {row['attempts']} 次"
                             + (f"  {row['error']}" if row.get("error") and title.startswith("号码") else ""))
    return "\n".join(lines)
