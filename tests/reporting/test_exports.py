"""No export hands a spreadsheet a live formula.

Text typed by strangers (a resident's name or address from the import file, a ticket's
description, the caller ID Twilio passes on) that starts with `= + - @` must open in
Excel, WPS or LibreOffice as the text it is, in every export: the reception record and
the call log (CSV and XLSX) and the monthly complaint analysis (CSV and XLSX).
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from ivr.people.users import add_user
from ivr.tickets import lifecycle
from tests.conftest import local
from tests.pages_support import signed_in_client
from tests.twilio_client import Caller

NAME = "=1+2"
ADDRESS = "@SUM(1+1)*cmd|' /C calc'!A0"
DESCRIPTION = "+1+cmd|' /C calc'!A0"
CALLER_ID = "-2+3+cmd|' /C calc'!A0"
HOSTILE = (NAME, ADDRESS, DESCRIPTION, CALLER_ID)
EXPORTS = ["/exports/reception.{fmt}?from=2026-11-23&to=2026-11-23",
           "/exports/calls.{fmt}?from=2026-11-23&to=2026-11-23",
           "/reports/monthly.{fmt}?month=2026-11"]


def live_formula(text: str) -> bool:
    """What a spreadsheet opening this cell's text would run as a formula."""
    text = text.lstrip(" ")
    if not text or text[0] not in "=+-@\t\r":
        return False
    try:
        float(text)  # a plain number such as +8613900000001
        return False
    except ValueError:
        return True


@pytest.fixture
async def hostile_day(twilio, seed, sessions, settings, clock):
    """23 Nov: a call from a resident whose name and address are formulas, a call from a
    caller ID that is one, and a complaint whose description is one."""
    await seed.staff([("王芳", "+8613800000001", "客服部", "00:00-24:00")])
    await seed.residents([(NAME, "+8613900000001", ADDRESS, 0)])
    for number in ("+8613900000001", CALLER_ID):
        caller = Caller(twilio, from_number=number)
        await caller.dial_in()
        await caller.press("2")  # a complaint: put through to 王芳
    async with sessions() as session, session.begin():
        await lifecycle.create_ticket(session, settings=settings, now=local(2026, 11, 23, 10, 5),
                                      category="complaint", actor="王芳",
                                      resident_phone="+8613900000001", description=DESCRIPTION)
        await add_user(session, name="主管", role="supervisor", password="pw-12345678",
                       now=clock())


@pytest.fixture
async def supervisor(aiohttp_client, settings, clock, hostile_day):
    return await signed_in_client(aiohttp_client, settings, clock, name="主管",
                                  password="pw-12345678")


async def download(browser, path: str) -> bytes:
    resp = await browser.get(path)
    assert resp.status == 200, (path, await resp.text())
    return await resp.read()


@pytest.mark.parametrize("path", EXPORTS)
async def test_csv_exports_hold_text_not_formulas(supervisor, path):
    table = list(csv.reader(io.StringIO(
        (await download(supervisor, path.format(fmt="csv"))).decode("utf-8-sig"))))
    cells = [c for row in table for c in row]
    assert not [c for c in cells if live_formula(c)]
    # Nothing is lost: each hostile text is there, marked as text.
    joined = "\n".join(cells)
    shown = [text for text in HOSTILE if "'" + text in joined]
    assert shown, joined
    if "reception" in path:
        assert {"'" + NAME, "'" + ADDRESS, "'" + CALLER_ID} <= set(cells)
    if "calls" in path:
        assert "'" + CALLER_ID in cells and "+8613900000001" in cells  # a number stays one
    if "monthly" in path:
        assert "'" + DESCRIPTION in cells


@pytest.mark.parametrize("path", EXPORTS)
async def test_xlsx_exports_hold_text_not_formulas(supervisor, path):
    book = load_workbook(io.BytesIO(await download(supervisor, path.format(fmt="xlsx"))))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert not [t for t in texts if live_formula(t)]
    if "reception" in path:
        assert {"'" + NAME, "'" + ADDRESS, "'" + CALLER_ID} <= set(texts)
    if "calls" in path:
        assert "'" + CALLER_ID in texts
    if "monthly" in path:
        assert "'" + DESCRIPTION in texts
