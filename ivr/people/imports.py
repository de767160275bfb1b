"""`ivr import staff|residents FILE.csv`: upsert by phone, all rows or none.

Excel writes UTF-8 with a BOM; both forms are read. A malformed file is rejected with one
line naming the file, the row (as Excel numbers it, header = row 1) and the column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.roster import parse_shifts
from ivr.platform.phones import InvalidPhone, normalise
from models import Resident, Staff

STAFF_COLUMNS = ("name", "phone", "department", "shifts")
RESIDENT_COLUMNS = ("name", "phone", "address", "arrears")


class RejectedFile(ValueError):
    """A file that cannot be imported; the message names file, row and column."""


@dataclass
class Row:
    number: int
    values: dict[str, str]


def read_rows(path: Path, columns: tuple[str, ...]) -> list[Row]:
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RejectedFile(f"{where}: file not found") from None
    except OSError as exc:
        raise RejectedFile(f"{where}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RejectedFile(f"{where}: row {line}: not UTF-8 text (save the CSV as UTF-8)") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise RejectedFile(f"{where}: row 1: empty file, expected columns {','.join(columns)}") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise RejectedFile(f"{where}: row 1, column {missing[0]}: missing from the header "
                           f"(expected {','.join(columns)})")
    rows = []
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise RejectedFile(f"{where}: row {number}: {len(record)} fields, "
                               f"the header has {len(header)}")
        rows.append(Row(number, {h: cell.strip() for h, cell in zip(header, record)}))
    return rows


def fail(path: Path, row: Row, column: str, message: str) -> RejectedFile:
    return RejectedFile(f"{path}: row {row.number}, column {column}: {message}")


def checked_phone(path: Path, row: Row, seen: dict[str, int]) -> str:
    try:
        phone = normalise(row.values["phone"])
    except InvalidPhone as exc:
        raise fail(path, row, "phone", str(exc)) from None
    if phone in seen:
        raise fail(path, row, "phone", f"{phone} already given on row {seen[phone]}")
    seen[phone] = row.number
    return phone


def require(path: Path, row: Row, column: str) -> str:
    value = row.values[column]
    if not value:
        raise fail(path, row, column, "empty")
    return value


async def import_staff(session: AsyncSession, path: Path, *, now: datetime) -> int:
    rows = read_rows(path, STAFF_COLUMNS)
    seen: dict[str, int] = {}
    parsed = []
    for row in rows:
        name = require(path, row, "name")
        phone = checked_phone(path, row, seen)
        shifts = row.values["shifts"]
        try:
            parse_shifts(shifts)
        except ValueError as exc:
            raise fail(path, row, "shifts", str(exc)) from None
        parsed.append((name, phone, row.values["department"], shifts))
    existing = {s.phone: s for s in (await session.scalars(select(Staff))).all()}
    for position, (name, phone, department, shifts) in enumerate(parsed):
        staff = existing.get(phone) or Staff(phone=phone)
        staff.name, staff.department, staff.shifts = name, department, shifts
        staff.position, staff.active, staff.updated_at = position, True, now
        session.add(staff)
    await session.flush()
    return len(parsed)


def parse_arrears(path: Path, row: Row) -> Decimal:
    text = row.values["arrears"].replace(",", "").replace("¥", "").replace("元", "").strip() or "0"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise fail(path, row, "arrears", f"not an amount in yuan: {row.values['arrears']!r}") from None
    if not amount.is_finite() or amount < 0:
        raise fail(path, row, "arrears", f"must be 0 or more: {row.values['arrears']!r}")
    return amount.quantize(Decimal("0.01"))


async def import_residents(session: AsyncSession, path: Path, *, now: datetime) -> int:
    rows = read_rows(path, RESIDENT_COLUMNS)
    seen: dict[str, int] = {}
    parsed = []
    for row in rows:
        name = require(path, row, "name")
        phone = checked_phone(path, row, seen)
        parsed.append((name, phone, row.values["address"], parse_arrears(path, row)))
    existing = {r.phone: r for r in (await session.scalars(select(Resident))).all()}
    for name, phone, address, arrears in parsed:
        resident = existing.get(phone) or Resident(phone=phone)
        resident.name, resident.address, resident.arrears = name, address, arrears
        resident.updated_at = now
        session.add(resident)
    await session.flush()
    return len(parsed)
