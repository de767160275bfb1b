"""Exports for the office: the daily telephone reception record (电话接待记录本) and the call
log, as CSV or XLSX, with Chinese column names and times in IVR_TIMEZONE.

CSV is UTF-8 with a byte-order mark, so Excel on a Chinese Windows opens it unmangled;
XLSX holds real date-times (without zone: spreadsheet cells have none) in local time.
Every cell goes through `ivr.platform.spreadsheets`, so no text becomes a formula.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.calls.calllog import CallFilter, search_calls
from ivr.calls.labels import CALL_STATES, DIRECTIONS, MENU_CHOICES, OUTCOMES, PURPOSES, label
from ivr.platform import spreadsheets
from ivr.platform.config import Settings

RECEPTION_COLUMNS = ["序号", "日期", "来电时间", "来电号码", "业主姓名", "地址", "来电类别",
                     "接听人", "响铃秒数", "三声内接听", "处理结果", "等待秒数", "工单号", "记录"]
CALL_LOG_COLUMNS = ["通话编号", "方向", "主叫号码", "被叫号码", "开始时间", "结束时间", "通话时长(秒)",
                    "菜单选择", "通话状态", "结果", "等待秒数", "接听人", "转接次数", "响铃秒数",
                    "三声内接听", "工单号", "外呼用途"]


def local(value: str | None, settings: Settings) -> datetime | None:
    """An ISO time of `call_view` as a naive local date-time for a spreadsheet cell."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(settings.tz).replace(tzinfo=None)


def _answer(call: dict) -> tuple[int | None, str]:
    taken = next((leg for leg in call["legs"] if leg["answered"]), None)
    if taken is None:
        return None, "否" if call["legs"] else ""
    return taken["ring_seconds"], "是" if taken["within_three_rings"] else "否"


def reception_rows(calls: list[dict], settings: Settings) -> list[list]:
    rows = []
    for n, call in enumerate(calls, 1):
        started = local(call["started_at"], settings)
        ring, within = _answer(call)
        rows.append([
            n, started.date() if started else None, started.time().replace(microsecond=0)
            if started else None, call["from"], call.get("resident_name") or "",
            call.get("resident_address") or "",
            label(MENU_CHOICES, call["menu_choice"]), call.get("answered_by") or "", ring, within,
            label(OUTCOMES, call["outcome"]),
            call["waited_seconds"], "、".join(call.get("ticket_numbers") or []),
            "；".join(call.get("ticket_notes") or []),
        ])
    return rows


def call_log_rows(calls: list[dict], settings: Settings) -> list[list]:
    rows = []
    for call in calls:
        ring, within = _answer(call)
        rows.append([
            call["sid"], label(DIRECTIONS, call["direction"]), call["from"],
            call["to"], local(call["started_at"], settings), local(call["ended_at"], settings),
            call["duration_seconds"], label(MENU_CHOICES, call["menu_choice"]),
            label(CALL_STATES, call["status"]), label(OUTCOMES, call["outcome"]),
            call["waited_seconds"], call.get("answered_by") or "", len(call["legs"]), ring, within,
            "、".join(call.get("ticket_numbers") or []), label(PURPOSES, call.get("purpose")),
        ])
    return rows


async def reception_record(session: AsyncSession, *, settings: Settings,
                           filters: CallFilter) -> tuple[list[str], list[list]]:
    """电话接待记录本: every inbound call of the range, oldest first, numbered."""
    filters.direction = "inbound"
    _, calls = await search_calls(session, settings=settings, filters=filters, newest_first=False)
    return RECEPTION_COLUMNS, reception_rows(calls, settings)


async def call_log(session: AsyncSession, *, settings: Settings,
                   filters: CallFilter) -> tuple[list[str], list[list]]:
    _, calls = await search_calls(session, settings=settings, filters=filters, newest_first=False)
    return CALL_LOG_COLUMNS, call_log_rows(calls, settings)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _display_width(text: str) -> int:
    """Columns `text` takes on screen: a Chinese character (or a full-width ；、) takes
    two, so an address or a note is not cut off by the column after it."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def to_csv(columns: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in spreadsheets.rows(rows):
        writer.writerow([_cell_text(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(columns: list[str], rows: list[list], *, title: str) -> bytes:
    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center")
    for row in spreadsheets.rows(rows):
        sheet.append(row)
    for index, name in enumerate(columns, 1):
        letter = sheet.cell(row=1, column=index).column_letter
        width = max([_display_width(name)]
                    + [_display_width(_cell_text(r[index - 1])) for r in rows[:200]])
        sheet.column_dimensions[letter].width = min(60, width + 2)
        for cell in sheet[letter][1:]:
            if isinstance(cell.value, datetime):  # a date alone keeps openpyxl's yyyy-mm-dd
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif hasattr(cell.value, "hour"):
                cell.number_format = "hh:mm:ss"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
