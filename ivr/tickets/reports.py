"""Ticket reports: the daily count (日盘点) and the monthly complaint analysis (月度投诉分析).

Both are plain dicts computed from the durable ticket rows and their history, so the
command line, the SMS to supervisors and the dashboard's pages show the same figures.

Daily count, as at a moment: tickets still being worked on (open) and those past their
due time (overdue), per owner; follow-ups nobody answered (manual tasks); and residents
still waiting for a callback that the dialer is not making (it gave up, or no number). The
scheduler sends it to the supervisors (level 2) by SMS once a day at
`IVR_DAILY_COUNT_HOUR`; the queued `SmsMessage` rows are the durable record that it went.

Monthly analysis of the tickets created in a month (in `IVR_TIMEZONE`): counts by category
and department, hours to resolve, overdue (escalated for lateness, resolved late, or
still open past due) and escalated (level > 1), the follow-up rate over tickets resolved
in the month and the satisfaction rate over answers given in it (see `ivr.tickets.followup`).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.platform import spreadsheets
from ivr.platform.clock import FIRST_DAY, LAST_DAY, parse_day
from ivr.platform.config import Settings
from ivr.tickets import contacts, escalation, followup, lifecycle
from models import OutboundJob, SmsMessage, Ticket, TicketHistory
from models.ticket import CATEGORIES

DAILY_PURPOSE = "daily_count"
NO_OWNER = "（无负责人）"
NO_DEPARTMENT = "（未分派）"
SMS_LIMIT = 1500  # Twilio sends at most 1600 characters as one message


class ReportError(ValueError):
    pass


def iso(moment: datetime | None, settings: Settings) -> str | None:
    return moment.astimezone(settings.tz).isoformat() if moment else None


def local_text(moment: datetime | None, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def day_start(day: date, settings: Settings) -> datetime:
    return datetime.combine(day, time(0), settings.tz)


# --- daily count (日盘点) ----------------------------------------------------------------

def open_at(at: datetime):
    """Tickets being worked on at `at`: created before it and not yet finished by then."""
    return and_(
        Ticket.created_at < at,
        or_(
            Ticket.status.in_(lifecycle.ACTIVE),
            Ticket.resolved_at > at,
            and_(Ticket.resolved_at.is_(None), Ticket.closed_at > at),
        ),
    )


async def escalated_late(session: AsyncSession, ids: list[int],
                         before: datetime | None = None) -> set[int]:
    """Tickets the scheduler escalated for lateness: overdue even though each escalation
    gives them a new due time."""
    found: set[int] = set()
    for chunk in range(0, len(ids), 500):
        query = select(TicketHistory.ticket_id).where(
            TicketHistory.ticket_id.in_(ids[chunk:chunk + 500]),
            TicketHistory.action == "escalated",
            TicketHistory.actor == escalation.SCHEDULER)
        if before is not None:
            query = query.where(TicketHistory.at <= before)
        found.update((await session.scalars(query)).all())
    return found


async def daily(session: AsyncSession, *, settings: Settings, at: datetime,
                day: date | None = None) -> dict:
    """The daily count as at `at` (now, or the end of a past `day`).

    Overdue: past its due time, or escalated for lateness (its owner missed the time)."""
    rows = list((await session.scalars(
        select(Ticket).where(open_at(at)).order_by(Ticket.due_at, Ticket.id)
    )).all())
    late = await escalated_late(session, [t.id for t in rows], before=at)
    manual = await followup.manual_tasks(session)
    callbacks = await callbacks_to_make(session)
    owners = await lifecycle.owner_names(
        session, {t.owner_staff_id for t in rows + manual + callbacks if t.owner_staff_id})
    per_owner: dict[int | None, dict] = {}
    overdue = []
    for t in rows:
        staff = owners.get(t.owner_staff_id)
        entry = per_owner.setdefault(t.owner_staff_id, {
            "owner": staff.name if staff else None, "phone": staff.phone if staff else None,
            "open": 0, "overdue": 0, "overdue_tickets": [],
        })
        entry["open"] += 1
        if t.due_at < at or t.id in late:
            entry["overdue"] += 1
            entry["overdue_tickets"].append(t.number)
            overdue.append({
                "number": t.number, "category": t.category, "owner": entry["owner"],
                "due_at": iso(t.due_at, settings), "escalation_level": t.escalation_level,
            })
    local_day = day or at.astimezone(settings.tz).date()
    start = day_start(local_day, settings)
    created = await session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.created_at >= start, Ticket.created_at < at))
    resolved = await session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.resolved_at >= start, Ticket.resolved_at < at))
    return {
        "date": local_day.isoformat(),
        "at": iso(at, settings),
        "open": len(rows),
        "overdue": len(overdue),
        "created_today": created,
        "resolved_today": resolved,
        "per_owner": sorted(per_owner.values(),
                            key=lambda e: (-e["overdue"], -e["open"], e["owner"] or "~")),
        "overdue_tickets": overdue,
        "manual_follow_ups": [
            {
                "number": t.number, "category": t.category, "resident_phone": t.resident_phone,
                "owner": owners[t.owner_staff_id].name if t.owner_staff_id in owners else None,
                "resolved_at": iso(t.resolved_at, settings),
                "due_at": iso(t.follow_up_due_at, settings),
            }
            for t in manual
        ],
        "callbacks_to_make": [
            {
                "number": t.number, "category": t.category, "resident_phone": t.resident_phone,
                "owner": owners[t.owner_staff_id].name if t.owner_staff_id in owners else None,
                "created_at": iso(t.created_at, settings),
            }
            for t in callbacks
        ],
    }


async def callbacks_to_make(session: AsyncSession) -> list[Ticket]:
    """Residents nobody answered who still wait for our call, and whom the dialer is not
    calling (no callback job queued or under way): for staff to call by hand."""
    dialling = (select(OutboundJob.id)
                .where(OutboundJob.ticket_id == Ticket.id, OutboundJob.kind == "callback",
                       OutboundJob.state.in_(("queued", "dialing", "in_call"))).exists())
    return list((await session.scalars(
        select(Ticket).where(Ticket.needs_callback.is_(True),
                             Ticket.status.in_(lifecycle.ACTIVE), ~dialling)
        .order_by(Ticket.created_at, Ticket.id))).all())


def format_daily(report: dict) -> str:
    """The daily count as text for the terminal."""
    lines = [
        f"日盘点 Daily count {report['date']}（截至 {report['at']}）",
        f"未结工单 open: {report['open']}    超时 overdue: {report['overdue']}    "
        f"今日新建 created: {report['created_today']}    今日解决 resolved: {report['resolved_today']}",
        "",
        "负责人 owner                 未结 open  超时 overdue  超时工单",
    ]
    for entry in report["per_owner"]:
        name = entry["owner"] or NO_OWNER
        lines.append(f"{name:<24}{entry['open']:>8}{entry['overdue']:>12}  "
                     f"{' '.join(entry['overdue_tickets'])}")
    if not report["per_owner"]:
        lines.append("（没有未结工单 no open tickets）")
    lines += ["", f"待人工回访 follow-ups to call by hand: {len(report['manual_follow_ups'])}"]
    for task in report["manual_follow_ups"]:
        lines.append(f"  {task['number']}  {lifecycle.category_label(task['category'])}  "
                     f"{task['resident_phone'] or ''}  负责人 {task['owner'] or NO_OWNER}  "
                     f"回访期限 {task['due_at']}")
    lines += ["", f"待人工回电 callbacks to make by hand: {len(report['callbacks_to_make'])}"]
    for task in report["callbacks_to_make"]:
        lines.append(f"  {task['number']}  {lifecycle.category_label(task['category'])}  "
                     f"{task['resident_phone'] or ''}  负责人 {task['owner'] or NO_OWNER}")
    return "\n".join(lines)


def sms_daily(report: dict, *, settings: Settings) -> str:
    """The daily count in one SMS for a supervisor."""
    day = date.fromisoformat(report["date"])
    parts = [f"【{settings.company_name}物业客服中心】{day.month}月{day.day}日日盘点：未结工单"
             f"{report['open']}件，超时{report['overdue']}件。"]
    owners = [f"{e['owner'] or NO_OWNER}未结{e['open']}/超时{e['overdue']}"
              for e in report["per_owner"]]
    if owners:
        parts.append("；".join(owners) + "。")
    if report["manual_follow_ups"]:
        numbers = "、".join(t["number"] for t in report["manual_follow_ups"])
        parts.append(f"待人工回访{len(report['manual_follow_ups'])}件：{numbers}。")
    if report["callbacks_to_make"]:
        numbers = "、".join(t["number"] for t in report["callbacks_to_make"])
        parts.append(f"待人工回电{len(report['callbacks_to_make'])}件：{numbers}。")
    body = "".join(parts)
    return body if len(body) <= SMS_LIMIT else body[:SMS_LIMIT - 1] + "…"


async def send_daily_count(session: AsyncSession, *, settings: Settings,
                           now: datetime) -> int | None:
    """At or after `IVR_DAILY_COUNT_HOUR`, once a day: queue the count for each supervisor.

    Returns how many SMS were queued, or None when it is not time or already sent today."""
    local = now.astimezone(settings.tz)
    if local.hour < settings.daily_count_hour:
        return None
    since = datetime.combine(local.date(), time(settings.daily_count_hour), settings.tz)
    sent = await session.scalar(
        select(SmsMessage.id).where(SmsMessage.purpose == DAILY_PURPOSE,
                                    SmsMessage.created_at >= since).limit(1))
    if sent is not None:
        return None
    people = await contacts.at_level(session, settings=settings, level=2)
    if not people:
        return None
    body = sms_daily(await daily(session, settings=settings, at=now), settings=settings)
    for person in people:
        session.add(SmsMessage(to=person.phone, body=body, purpose=DAILY_PURPOSE,
                               status="queued", created_at=now))
    return len(people)


# --- monthly complaint analysis (月度投诉分析) ---------------------------------------------

def month_range(month: str, settings: Settings) -> tuple[date, datetime, datetime]:
    try:
        first = datetime.strptime(month.strip(), "%Y-%m").date()
    except (ValueError, AttributeError):
        raise ReportError(f"month {month!r}: expected YYYY-MM, e.g. 2026-11") from None
    if not FIRST_DAY <= first <= LAST_DAY.replace(day=1):
        raise ReportError(f"month {month!r}: expected a month between "
                          f"{FIRST_DAY:%Y-%m} and {LAST_DAY:%Y-%m}")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, day_start(first, settings), day_start(following, settings)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def monthly(session: AsyncSession, *, settings: Settings, month: str,
                  now: datetime | None = None) -> dict:
    """The monthly complaint analysis of `month` (`YYYY-MM`), as at `now` (default: the
    month's end), for the quality department (品质管理部)."""
    first, start, end = month_range(month, settings)
    as_of = min(now, end) if now is not None else end
    rows = list((await session.scalars(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
        .order_by(Ticket.created_at, Ticket.id)
    )).all())
    late_escalated = await escalated_late(session, [t.id for t in rows])
    owners = await lifecycle.owner_names(session, {t.owner_staff_id for t in rows if t.owner_staff_id})

    def resolved_hours(t: Ticket) -> float | None:
        return hours(t.resolved_at - t.created_at) if t.resolved_at else None

    def is_overdue(t: Ticket) -> bool:
        if t.id in late_escalated:
            return True
        if t.resolved_at is not None:
            return t.resolved_at > t.due_at
        return t.status in lifecycle.ACTIVE and t.due_at < as_of

    def group(key) -> dict[str, list[Ticket]]:
        groups: dict[str, list[Ticket]] = defaultdict(list)
        for t in rows:
            groups[key(t)].append(t)
        return groups

    def figures(items: list[Ticket]) -> dict:
        times = [h for h in (resolved_hours(t) for t in items) if h is not None]
        return {
            "count": len(items),
            "resolved": len(times),
            "overdue": sum(1 for t in items if is_overdue(t)),
            "escalated": sum(1 for t in items if t.escalation_level > 1),
            "average_hours_to_resolve": mean(times),
        }

    by_category = group(lambda t: t.category)
    by_department = group(lambda t: t.department or NO_DEPARTMENT)
    all_times = [h for h in (resolved_hours(t) for t in rows) if h is not None]
    # A follow-up window closes 48 h after resolution: judged as at now when known.
    rates = await followup.rates(session, start=start, end=end, now=now or end)
    manual = sum(1 for t in rows if t.follow_up_status == "manual")
    complaints = [t for t in rows if t.category == "complaint"]
    return {
        "month": first.strftime("%Y-%m"),
        "from": first.isoformat(),
        "to": (end.astimezone(settings.tz).date() - timedelta(days=1)).isoformat(),
        "as_of": iso(as_of, settings),
        "tickets": len(rows),
        "complaints": len(complaints),
        "resolved": len(all_times),
        "average_hours_to_resolve": mean(all_times),
        "median_hours_to_resolve": median(all_times),
        "overdue": sum(1 for t in rows if is_overdue(t)),
        "escalated": sum(1 for t in rows if t.escalation_level > 1),
        "by_category": [
            {"category": c, "label": lifecycle.category_label(c), **figures(by_category.get(c, []))}
            for c in CATEGORIES
        ],
        "by_department": [
            {"department": d, "complaints": sum(1 for t in items if t.category == "complaint"),
             **figures(items)}
            for d, items in sorted(by_department.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "follow_up": {
            "due": rates["follow_ups_due"],
            "within_48h": rates["followed_up_within_48h"],
            "rate": rates["follow_up_rate"],
            "pending": rates["follow_ups_pending"],
            "manual": manual,
            "target": 1.0,
        },
        "satisfaction": {
            "answers": rates["satisfaction_answers"],
            "satisfied": rates["satisfied"],
            "neutral": rates["neutral"],
            "dissatisfied": rates["dissatisfied"],
            "rate": rates["satisfaction_rate"],
            "target": rates["satisfaction_target"],
        },
        "complaint_list": [
            {
                "number": t.number,
                "created_at": local_text(t.created_at, settings),
                "department": t.department or NO_DEPARTMENT,
                "owner": owners[t.owner_staff_id].name if t.owner_staff_id in owners else None,
                "status": t.status,
                "description": t.description,
                "hours_to_resolve": round(resolved_hours(t), 2) if t.resolved_at else None,
                "overdue": is_overdue(t),
                "escalation_level": t.escalation_level,
                "satisfaction": t.satisfaction,
            }
            for t in complaints
        ],
    }


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def number(value) -> str:
    return "—" if value is None else str(value)


def summary_rows(report: dict) -> list[tuple[str, object]]:
    fu, sat = report["follow_up"], report["satisfaction"]
    return [
        ("月份", report["month"]),
        ("工单总数", report["tickets"]),
        ("投诉件数", report["complaints"]),
        ("已解决", report["resolved"]),
        ("平均解决时长（小时）", report["average_hours_to_resolve"]),
        ("解决时长中位数（小时）", report["median_hours_to_resolve"]),
        ("超时件数", report["overdue"]),
        ("升级件数", report["escalated"]),
        ("应回访", fu["due"]),
        ("48小时内回访", fu["within_48h"]),
        ("回访率", fu["rate"]),
        ("回访窗口未到", fu["pending"]),
        ("待人工回访", fu["manual"]),
        ("回访评价数", sat["answers"]),
        ("满意", sat["satisfied"]),
        ("基本满意", sat["neutral"]),
        ("不满意", sat["dissatisfied"]),
        ("满意率（满意+基本满意）", sat["rate"]),
        ("满意率目标", sat["target"]),
    ]


FIGURE_HEADER = ("件数", "已解决", "超时", "升级", "平均解决时长（小时）")
COMPLAINT_HEADER = ("工单号", "受理时间", "部门", "负责人", "状态", "内容", "解决时长（小时）",
                    "超时", "升级级别", "回访评价")


def category_rows(report: dict) -> list[tuple]:
    return [(c["label"], c["count"], c["resolved"], c["overdue"],
             c["escalated"], c["average_hours_to_resolve"]) for c in report["by_category"]]


def department_rows(report: dict) -> list[tuple]:
    return [(d["department"], d["count"], d["resolved"], d["overdue"], d["escalated"],
             d["average_hours_to_resolve"], d["complaints"]) for d in report["by_department"]]


def complaint_rows(report: dict) -> list[tuple]:
    return [(c["number"], c["created_at"], c["department"], c["owner"] or "",
             lifecycle.STATUS_LABELS.get(c["status"], c["status"]), c["description"],
             c["hours_to_resolve"], "是" if c["overdue"] else "否", c["escalation_level"],
             followup.SATISFACTION_LABELS.get(c["satisfaction"], "")) for c in report["complaint_list"]]


def format_monthly(report: dict) -> str:
    """The monthly analysis as text for the terminal."""
    lines = [f"月度投诉分析 Monthly complaint analysis {report['month']} "
             f"({report['from']} – {report['to']})", ""]
    for label, value in summary_rows(report):
        shown = percent(value) if "率" in label else number(value)
        lines.append(f"{label:<20}{shown}")
    lines += ["", "按类别 by category: " + " / ".join(FIGURE_HEADER)]
    for row in category_rows(report):
        lines.append(f"  {row[0]:<16}" + "".join(f"{number(v):>10}" for v in row[1:]))
    lines += ["", "按部门 by department: " + " / ".join(FIGURE_HEADER) + " / 投诉"]
    for row in department_rows(report):
        lines.append(f"  {row[0]:<16}" + "".join(f"{number(v):>10}" for v in row[1:]))
    lines += ["", f"投诉明细 complaints: {len(report['complaint_list'])}"]
    for row in complaint_rows(report):
        lines.append("  " + "  ".join(number(v) if v != "" else "" for v in row))
    return "\n".join(lines)


def monthly_csv(report: dict) -> bytes:
    """One CSV with the sections one after another, UTF-8 with a BOM for Excel."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["月度投诉分析", report["month"], f"{report['from']} – {report['to']}"])
    w.writerow([])
    w.writerow(["项目", "数值"])
    w.writerows(spreadsheets.rows(summary_rows(report)))
    w.writerow([])
    w.writerow(["类别", *FIGURE_HEADER])
    w.writerows(spreadsheets.rows(category_rows(report)))
    w.writerow([])
    w.writerow(["部门", *FIGURE_HEADER, "投诉"])
    w.writerows(spreadsheets.rows(department_rows(report)))
    w.writerow([])
    w.writerow(COMPLAINT_HEADER)
    w.writerows(spreadsheets.rows(complaint_rows(report)))
    return out.getvalue().encode("utf-8-sig")


def monthly_xlsx(report: dict) -> bytes:
    """A workbook: 汇总, 按类别, 按部门, 投诉明细."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheets = [
        ("汇总", ("项目", "数值"), summary_rows(report)),
        ("按类别", ("类别", *FIGURE_HEADER), category_rows(report)),
        ("按部门", ("部门", *FIGURE_HEADER, "投诉"), department_rows(report)),
        ("投诉明细", COMPLAINT_HEADER, complaint_rows(report)),
    ]  # every cell through `spreadsheets`: no text becomes a formula
    for index, (title, header, rows) in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = title
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in spreadsheets.rows(rows):
            sheet.append(row)
        for column in sheet.columns:
            width = max(len(str(c.value or "")) for c in column)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, width * 2))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- `ivr report daily|monthly` ---------------------------------------------------------

def daily_moment(day_text: str | None, *, settings: Settings,
                 now: datetime) -> tuple[date | None, datetime]:
    """`--date YYYY-MM-DD`: the count at the end of that day; no date: now."""
    if not day_text:
        return None, now
    try:
        day = parse_day(day_text)
    except ValueError as exc:
        raise ReportError(f"--date {day_text!r}: {exc}, e.g. 2026-11-23") from None
    return day, day_start(day + timedelta(days=1), settings)


def write_files(outputs: list[tuple[str, bytes]]) -> None:
    """All or nothing: every file is written beside its target first, then moved into place."""
    import os
    from pathlib import Path

    staged: list[tuple[Path, Path]] = []
    try:
        for path_text, data in outputs:
            path = Path(path_text)
            partial = path.with_name(f".{path.name}.partial")
            try:
                partial.write_bytes(data)
            except OSError as exc:
                raise ReportError(f"{path}: cannot write: {exc.strerror or exc}") from None
            staged.append((partial, path))
        for partial, path in staged:
            os.replace(partial, path)
    finally:
        for partial, _ in staged:
            partial.unlink(missing_ok=True)


async def command(session: AsyncSession, *, settings: Settings, args, now: datetime) -> str:
    """What `ivr report daily|monthly` prints (and writes, with --csv / --xlsx)."""
    if args.report_command == "daily":
        day, at = daily_moment(args.date, settings=settings, now=now)
        return format_daily(await daily(session, settings=settings, at=at, day=day))
    report = await monthly(session, settings=settings, month=args.month, now=now)
    outputs = []
    if args.csv:
        outputs.append((args.csv, monthly_csv(report)))
    if args.xlsx:
        outputs.append((args.xlsx, monthly_xlsx(report)))
    write_files(outputs)
    text = format_monthly(report)
    for path, _ in outputs:
        text += f"\nwritten {path}"
    return text
