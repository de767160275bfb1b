"""What a supervisor reads in the exports, cell by cell: the reception record (电话接待记录本)
and the call log, in CSV and in XLSX, for a day whose every call is known; and the XLSX as
a spreadsheet shows it (frozen header, dates as dates, times as times, columns wide enough
for the Chinese headers, a sheet title Excel accepts)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook

from ivr.calls.calllog import CallFilter
from ivr.reporting.exports import (
    CALL_LOG_COLUMNS,
    RECEPTION_COLUMNS,
    call_log,
    reception_record,
    to_csv,
    to_xlsx,
)
from models import Call, Leg, OutboundJob, Resident, Ticket
from tests.conftest import local
from tests.twilio_client import HOTLINE

DAY = CallFilter(start=local(2026, 11, 23, 0), end=local(2026, 11, 24, 0))
LEAK_START = local(2026, 11, 23, 9, 30, 5).replace(microsecond=250000)  # the webhook's clock
LEAK_END = local(2026, 11, 23, 9, 33, 20)
ADDRESS = "阳光花园3栋2单元501室"


@pytest.fixture
async def day(sessions):
    """23 Nov 2026 (Shanghai), in the order the calls were stored:

    - 09:30:05.25 李阿姨 (known resident) reports a leak: 王芳's phone rang unanswered,
      李娜 took it after 9 s; two tickets, each with a note; ended 09:33:20 (195 s).
    - 08:05 an unknown number complains: 赵师傅 took it after 16 s (past three rings);
      no ticket; still in progress (no end).
    - 11:00 李阿姨 hears her fee balance (self-service): no transfer at all.
    - 12:00 a repair message: 王芳's phone rang out; a ticket without a note.
    - 14:00 the dialer calls 李阿姨 back about that message (outbound, 回电).
    """
    async with sessions() as session, session.begin():
        resident = Resident(name="李阿姨", phone="+8613900000001", address=ADDRESS)
        session.add(resident)
        await session.flush()
        leak = Call(sid="CA-leak", direction="inbound", from_number="+8613900000001",
                    to_number=HOTLINE, resident_id=resident.id, menu_choice="repair",
                    status="completed", outcome="answered", started_at=LEAK_START,
                    ended_at=LEAK_END, duration_seconds=195, waited_seconds=12)
        complaint = Call(sid="CA-complaint", direction="inbound", from_number="+8613700000009",
                         to_number=HOTLINE, menu_choice="complaint", status="in-progress",
                         outcome="answered", started_at=local(2026, 11, 23, 8, 5),
                         waited_seconds=20)
        fees = Call(sid="CA-fees", direction="inbound", from_number="+8613900000001",
                    to_number=HOTLINE, resident_id=resident.id, menu_choice="fees",
                    status="completed", outcome="self_service",
                    started_at=local(2026, 11, 23, 11, 0),
                    ended_at=local(2026, 11, 23, 11, 1, 30), duration_seconds=90)
        message = Call(sid="CA-message", direction="inbound", from_number="+8613900000001",
                       to_number=HOTLINE, resident_id=resident.id, menu_choice="repair",
                       status="completed", outcome="message",
                       started_at=local(2026, 11, 23, 12, 0),
                       ended_at=local(2026, 11, 23, 12, 2), duration_seconds=120,
                       waited_seconds=30)
        session.add_all([leak, complaint, fees, message])
        await session.flush()
        start = leak.started_at
        session.add_all([
            Leg(call_id=leak.id, staff_name="王芳", phone="+8613800000001", attempt=1,
                created_at=start + timedelta(seconds=2), status="no-answer"),
            Leg(call_id=leak.id, staff_name="李娜", phone="+8613800000002", attempt=2,
                created_at=start + timedelta(seconds=3), ring_seconds=9, accepted=True,
                bridged=True, status="completed"),
            Leg(call_id=complaint.id, staff_name="赵师傅", phone="+8613800000003", attempt=1,
                created_at=complaint.started_at, ring_seconds=16, accepted=True, bridged=True,
                status="in-progress"),
            Leg(call_id=message.id, staff_name="王芳", phone="+8613800000001", attempt=1,
                created_at=message.started_at, status="no-answer"),
        ])
        due = local(2026, 11, 24, 10)
        session.add_all([
            Ticket(number="20261123-0001", category="repair", resident_id=resident.id,
                   call_id=leak.id, description="厨房水管漏水", created_at=LEAK_END, due_at=due),
            Ticket(number="20261123-0002", category="complaint", resident_id=resident.id,
                   call_id=leak.id, description="楼道灯不亮", created_at=LEAK_END, due_at=due),
        ])
        callback_about = Ticket(number="20261123-0003", category="repair",
                                resident_id=resident.id, call_id=message.id,
                                created_at=message.started_at, due_at=due)
        session.add(callback_about)
        await session.flush()
        job = OutboundJob(kind="callback", phone="+8613900000001", resident_id=resident.id,
                          ticket_id=callback_about.id, created_at=message.ended_at,
                          due_at=message.ended_at, next_attempt_at=message.ended_at)
        session.add(job)
        await session.flush()
        session.add(Call(sid="CA-callback", direction="outbound", from_number=HOTLINE,
                         to_number="+8613900000001", resident_id=resident.id,
                         menu_choice="callback", status="completed", outcome="answered",
                         started_at=local(2026, 11, 23, 14, 0),
                         ended_at=local(2026, 11, 23, 14, 4), duration_seconds=240,
                         outbound_job_id=job.id))


async def export(sessions, settings, build):
    async with sessions() as session:
        return await build(session, settings=settings,
                           filters=CallFilter(start=DAY.start, end=DAY.end))


def csv_table(columns, rows) -> list[dict]:
    text = to_csv(columns, rows).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_sheet(columns, rows, title="电话接待记录本"):
    return load_workbook(io.BytesIO(to_xlsx(columns, rows, title=title))).active


def xlsx_table(sheet) -> list[dict]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row)) for row in values[1:]]


# --- 电话接待记录本 -------------------------------------------------------------------------

async def test_the_reception_record_numbers_the_days_inbound_calls_oldest_first(
        day, sessions, settings):
    columns, rows = await export(sessions, settings, reception_record)
    table = csv_table(columns, rows)
    assert [(r["序号"], r["来电时间"]) for r in table] == [
        ("1", "08:05:00"), ("2", "09:30:05"), ("3", "11:00:00"), ("4", "12:00:00")]
    assert "+862161234567" not in [r["来电号码"] for r in table]  # the outbound call is not there


async def test_every_column_of_the_reception_record_in_csv(day, sessions, settings):
    columns, rows = await export(sessions, settings, reception_record)
    complaint, leak, fees, message = csv_table(columns, rows)
    assert list(leak) == RECEPTION_COLUMNS
    assert leak == {
        "序号": "2", "日期": "2026-11-23", "来电时间": "09:30:05",  # no fraction of a second
        "来电号码": "+8613900000001", "业主姓名": "李阿姨", "地址": ADDRESS,
        "来电类别": "维修", "接听人": "李娜", "响铃秒数": "9", "三声内接听": "是",
        "处理结果": "已接听", "等待秒数": "12", "工单号": "20261123-0001、20261123-0002",
        "记录": "厨房水管漏水；楼道灯不亮",
    }
    # Unknown caller, answered after 16 s (past three rings of 5 s), no ticket.
    assert complaint == {
        "序号": "1", "日期": "2026-11-23", "来电时间": "08:05:00", "来电号码": "+8613700000009",
        "业主姓名": "", "地址": "", "来电类别": "投诉", "接听人": "赵师傅", "响铃秒数": "16",
        "三声内接听": "否", "处理结果": "已接听", "等待秒数": "20", "工单号": "", "记录": "",
    }
    # Self-service: no staff phone rang, so neither 是 nor 否.
    assert (fees["接听人"], fees["响铃秒数"], fees["三声内接听"], fees["处理结果"],
            fees["等待秒数"], fees["工单号"]) == ("", "", "", "自助服务", "", "")
    # A phone rang and nobody took it: not within three rings; a ticket with no note.
    assert (message["接听人"], message["响铃秒数"], message["三声内接听"], message["处理结果"],
            message["工单号"], message["记录"]) == ("", "", "否", "留言", "20261123-0003", "")


async def test_every_column_of_the_reception_record_in_xlsx(day, sessions, settings):
    columns, rows = await export(sessions, settings, reception_record)
    sheet = xlsx_sheet(columns, rows)
    complaint, leak, fees, message = xlsx_table(sheet)
    assert list(leak) == RECEPTION_COLUMNS
    assert leak == {
        "序号": 2, "日期": datetime(2026, 11, 23), "来电时间": time(9, 30, 5),
        "来电号码": "+8613900000001", "业主姓名": "李阿姨", "地址": ADDRESS,
        "来电类别": "维修", "接听人": "李娜", "响铃秒数": 9, "三声内接听": "是",
        "处理结果": "已接听", "等待秒数": 12, "工单号": "20261123-0001、20261123-0002",
        "记录": "厨房水管漏水；楼道灯不亮",
    }
    assert (complaint["序号"], complaint["来电时间"], complaint["业主姓名"], complaint["接听人"],
            complaint["响铃秒数"], complaint["三声内接听"], complaint["工单号"],
            complaint["记录"]) == (1, time(8, 5), None, "赵师傅", 16, "否", None, None)
    assert (fees["响铃秒数"], fees["三声内接听"], message["三声内接听"]) == (None, None, "否")


# --- 通话记录 ---------------------------------------------------------------------------------

async def test_every_column_of_the_call_log_in_csv(day, sessions, settings):
    columns, rows = await export(sessions, settings, call_log)
    table = csv_table(columns, rows)
    assert [r["通话编号"] for r in table] == [
        "CA-complaint", "CA-leak", "CA-fees", "CA-message", "CA-callback"]
    complaint, leak, fees, message, callback = table
    assert list(leak) == CALL_LOG_COLUMNS
    assert leak == {
        "通话编号": "CA-leak", "方向": "呼入", "主叫号码": "+8613900000001",
        "被叫号码": HOTLINE, "开始时间": "2026-11-23 09:30:05", "结束时间": "2026-11-23 09:33:20",
        "通话时长(秒)": "195", "菜单选择": "维修", "通话状态": "已结束", "结果": "已接听",
        "等待秒数": "12", "接听人": "李娜", "转接次数": "2", "响铃秒数": "9", "三声内接听": "是",
        "工单号": "20261123-0001、20261123-0002", "外呼用途": "",
    }
    # Still in progress: no end, no duration yet.
    assert complaint == {
        "通话编号": "CA-complaint", "方向": "呼入", "主叫号码": "+8613700000009",
        "被叫号码": HOTLINE, "开始时间": "2026-11-23 08:05:00", "结束时间": "",
        "通话时长(秒)": "", "菜单选择": "投诉", "通话状态": "通话中", "结果": "已接听",
        "等待秒数": "20", "接听人": "赵师傅", "转接次数": "1", "响铃秒数": "16", "三声内接听": "否",
        "工单号": "", "外呼用途": "",
    }
    assert (fees["接听人"], fees["转接次数"], fees["响铃秒数"], fees["三声内接听"],
            fees["结果"]) == ("", "0", "", "", "自助服务")
    assert (message["接听人"], message["转接次数"], message["三声内接听"]) == ("", "1", "否")
    # The dialer's call back about the message: outbound, for a callback, about its ticket.
    assert callback == {
        "通话编号": "CA-callback", "方向": "呼出", "主叫号码": HOTLINE,
        "被叫号码": "+8613900000001", "开始时间": "2026-11-23 14:00:00",
        "结束时间": "2026-11-23 14:04:00", "通话时长(秒)": "240", "菜单选择": "回电",
        "通话状态": "已结束", "结果": "已接听", "等待秒数": "", "接听人": "", "转接次数": "0",
        "响铃秒数": "", "三声内接听": "", "工单号": "20261123-0003", "外呼用途": "回电",
    }


async def test_every_column_of_the_call_log_in_xlsx(day, sessions, settings):
    columns, rows = await export(sessions, settings, call_log)
    complaint, leak, fees, message, callback = xlsx_table(xlsx_sheet(columns, rows, "通话记录"))
    assert list(leak) == CALL_LOG_COLUMNS
    assert leak["开始时间"].replace(microsecond=0) == datetime(2026, 11, 23, 9, 30, 5)
    assert {k: v for k, v in leak.items() if k != "开始时间"} == {
        "通话编号": "CA-leak", "方向": "呼入", "主叫号码": "+8613900000001",
        "被叫号码": HOTLINE, "结束时间": datetime(2026, 11, 23, 9, 33, 20),
        "通话时长(秒)": 195, "菜单选择": "维修", "通话状态": "已结束", "结果": "已接听",
        "等待秒数": 12, "接听人": "李娜", "转接次数": 2, "响铃秒数": 9, "三声内接听": "是",
        "工单号": "20261123-0001、20261123-0002", "外呼用途": None,
    }
    assert (complaint["开始时间"], complaint["结束时间"], complaint["三声内接听"]) == (
        datetime(2026, 11, 23, 8, 5), None, "否")
    assert (callback["方向"], callback["外呼用途"], callback["工单号"]) == (
        "呼出", "回电", "20261123-0003")
    assert (fees["转接次数"], message["三声内接听"]) == (0, "否")


# --- the XLSX as a spreadsheet shows it --------------------------------------------------------

async def test_the_xlsx_shows_dates_as_dates_and_times_as_times_under_a_frozen_header(
        day, sessions, settings):
    columns, rows = await export(sessions, settings, reception_record)
    sheet = xlsx_sheet(columns, rows)
    assert sheet.freeze_panes == "A2"  # the header stays on screen while scrolling
    header = sheet[1]
    assert [c.value for c in header] == RECEPTION_COLUMNS
    assert all(c.font.b for c in header)
    assert {c.alignment.horizontal for c in header} == {"center"}
    assert {(c.fill.fill_type, c.fill.fgColor.rgb[-6:]) for c in header} == {("solid", "DDEBF7")}
    for row in sheet.iter_rows(min_row=2):
        on_day, at = row[1], row[2]
        assert (on_day.is_date, on_day.number_format) == (True, "yyyy-mm-dd")
        assert (at.is_date, at.number_format) == (True, "hh:mm:ss")  # 08:05:00, not 8:05:00
        assert not any(c.is_date for c in row[3:])
        assert not row[0].is_date
    columns, rows = await export(sessions, settings, call_log)
    sheet = xlsx_sheet(columns, rows, "通话记录")
    assert sheet.freeze_panes == "A2"
    for row in sheet.iter_rows(min_row=2):
        started, ended = row[4], row[5]
        assert (started.is_date, started.number_format) == (True, "yyyy-mm-dd hh:mm:ss")
        if ended.value is not None:
            assert (ended.is_date, ended.number_format) == (True, "yyyy-mm-dd hh:mm:ss")


def test_xlsx_columns_are_wide_enough_for_their_chinese_headers():
    """A Chinese character takes about two widths of a digit, the unit of a column's width:
    a column is as wide as its header or its longest entry, plus two."""
    columns = RECEPTION_COLUMNS
    sheet = xlsx_sheet(columns, [[1, date(2026, 11, 23), time(8, 5), "+8613700000009", "", "",
                                  "投诉", "", None, "", "留言", 20, "", ""]])
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert widths == {
        "序号": 6, "日期": 12,                  # 2026-11-23 is wider than 日期
        "来电时间": 10, "来电号码": 16,          # +8613700000009: 14 digits wide
        "业主姓名": 10, "地址": 6, "来电类别": 10, "接听人": 8, "响铃秒数": 10,
        "三声内接听": 12, "处理结果": 10, "等待秒数": 10, "工单号": 8, "记录": 6,
    }


async def test_xlsx_columns_are_wide_enough_for_chinese_entries_and_no_wider_than_60(
        day, sessions, settings):
    """An address, a name or a note in Chinese takes two widths a character, like the
    headers: a column measured in characters cut them off behind the next column."""
    columns, rows = await export(sessions, settings, reception_record)
    sheet = xlsx_sheet(columns, rows)
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert widths["地址"] == 23        # 阳光花园3栋2单元501室: 8 Chinese characters, 5 digits
    assert widths["记录"] == 26        # 厨房水管漏水；楼道灯不亮: 12 full-width characters
    assert widths["工单号"] == 30      # 20261123-0001、20261123-0002
    assert widths["业主姓名"] == 10 and widths["处理结果"] == 10  # the header is the widest
    assert widths["来电号码"] == 16    # +8613900000001
    sheet = xlsx_sheet(["记录", "序号"], [["楼上" + "漏水" * 40, 1]])
    assert sheet.column_dimensions["A"].width == 60  # a long note wraps at a screen's width
    assert sheet.column_dimensions["B"].width == 6


def test_a_sheet_title_is_cut_to_the_31_characters_excel_accepts():
    title = "阳光花园物业服务中心二零二六年十一月二十三日至十二月二日电话接待记录本"
    assert len(title) > 31
    book = load_workbook(io.BytesIO(to_xlsx(["序号"], [[1]], title=title)))
    assert book.sheetnames == [title[:31]]
    assert load_workbook(io.BytesIO(to_xlsx(["序号"], [], title="通话记录"))).sheetnames == [
        "通话记录"]


def test_csv_rows_end_as_excel_expects_and_empty_cells_stay_empty():
    data = to_csv(["开始时间", "结束时间", "接听人"],
                  [[datetime(2026, 11, 23, 9, 5, 7, 999999), None, "李娜"]])
    assert data[3:].decode("utf-8") == "开始时间,结束时间,接听人\r\n2026-11-23 09:05:07,,李娜\r\n"


def test_a_date_and_a_time_of_day_keep_their_formats_in_xlsx():
    sheet = xlsx_sheet(["日期", "来电时间"], [[date(2026, 11, 23), time(9, 5, 7)]])
    assert (sheet["A2"].number_format, sheet["B2"].number_format) == ("yyyy-mm-dd", "hh:mm:ss")
