"""`ivr import staff|residents`: E.164, BOM or not, upsert by phone, bad rows named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.imports import RejectedFile, import_residents, import_staff
from models import Resident, Staff
from tests.cli_support import ivr


def write(tmp_path: Path, name: str, text: str, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


async def run_import(sessions, work, path) -> int:
    from datetime import datetime, timezone
    async with sessions() as session, session.begin():
        return await work(session, path, now=datetime.now(timezone.utc))


async def all_rows(sessions, model):
    async with sessions() as session:
        return (await session.scalars(select(model).order_by(model.id))).all()


@pytest.mark.parametrize("bom", [False, True])
async def test_staff_import_normalises_phones_and_keeps_file_order(tmp_path, sessions, bom):
    path = write(tmp_path, "staff.csv",
                 "name,phone,department,shifts\n"
                 "王小姐,138 0013 8001,客服部,07:00-14:00\n"
                 "李先生,+85291234567,客服部,14:00-21:00\n"
                 "赵师傅,0086-139-0000-0009,值班,21:00-07:00\n", bom=bom)
    assert await run_import(sessions, import_staff, path) == 3
    staff = await all_rows(sessions, Staff)
    assert [(s.name, s.phone, s.position) for s in staff] == [
        ("王小姐", "+8613800138001", 0), ("李先生", "+85291234567", 1), ("赵师傅", "+8613900000009", 2)]


async def test_import_upserts_by_phone(tmp_path, sessions):
    first = write(tmp_path, "a.csv", "name,phone,address,arrears\n李阿姨,13900000001,1栋101,100\n")
    second = write(tmp_path, "b.csv", "name,phone,address,arrears\n李阿姨,+86 139 0000 0001,1栋102,0\n"
                                      "陈先生,13900000002,2栋201,35.5\n")
    await run_import(sessions, import_residents, first)
    await run_import(sessions, import_residents, second)
    residents = await all_rows(sessions, Resident)
    assert [(r.name, r.phone, r.address, str(r.arrears)) for r in residents] == [
        ("李阿姨", "+8613900000001", "1栋102", "0.00"), ("陈先生", "+8613900000002", "2栋201", "35.50")]


@pytest.mark.parametrize("content,message", [
    ("name,phone,department,shifts\n王小姐,12,客服部,07:00-14:00\n", "row 2, column phone"),
    ("name,phone,department,shifts\n王小姐,13800138001,客服部,7点到14点\n", "row 2, column shifts"),
    ("name,phone,department,shifts\n王小姐,13800138001,客服部,07:00-14:00\n"
     "李先生,13800138001,客服部,07:00-14:00\n", "row 3, column phone: +8613800138001 already given on row 2"),
    ("name,phone,department,shifts\n,13800138001,客服部,07:00-14:00\n", "row 2, column name: empty"),
    ("name,phone,department\n王小姐,13800138001,客服部\n", "row 1, column shifts: missing"),
    ("name,phone,department,shifts\n王小姐,13800138001,客服部\n", "row 2: 3 fields"),
    ("name,phone,department,shifts\n王小姐,13800138001,客服部,25:00-26:00\n", "row 2, column shifts"),
])
async def test_a_malformed_staff_file_names_the_row_and_column_and_writes_nothing(tmp_path, sessions, content, message):
    path = write(tmp_path, "staff.csv", "name,phone,department,shifts\n赵师傅,13900000009,值班,21:00-07:00\n")
    await run_import(sessions, import_staff, path)
    bad = write(tmp_path, "bad.csv", content)
    with pytest.raises(RejectedFile) as error:
        await run_import(sessions, import_staff, bad)
    assert str(error.value).startswith(f"{bad}: ")
    assert message in str(error.value)
    assert [s.name for s in await all_rows(sessions, Staff)] == ["赵师傅"]


@pytest.mark.parametrize("arrears,message", [("abc", "column arrears"), ("-5", "column arrears"),
                                             ("NaN", "column arrears")])
async def test_bad_arrears_are_rejected(tmp_path, sessions, arrears, message):
    bad = write(tmp_path, "r.csv", f"name,phone,address,arrears\n李阿姨,13900000001,1栋101,1\n"
                                   f"陈先生,13900000002,2栋201,{arrears}\n")
    with pytest.raises(RejectedFile, match=f"row 3, {message}"):
        await run_import(sessions, import_residents, bad)
    assert await all_rows(sessions, Resident) == []


async def test_a_file_that_is_not_utf8_is_rejected(tmp_path, sessions):
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("name,phone,address,arrears\n李阿姨,13900000001,1栋101,1\n".encode("gbk"))
    with pytest.raises(RejectedFile, match="row 2: not UTF-8"):
        await run_import(sessions, import_residents, bad)


def test_the_cli_reports_one_line_and_exits_non_zero(tmp_path, database_url):
    env = {"DATABASE_URL": database_url}
    missing = ivr("import", "staff", str(tmp_path / "nope.csv"), cwd=tmp_path, env=env)
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1] == f"ivr: {tmp_path / 'nope.csv'}: file not found"
    bad = write(tmp_path, "bad.csv", "name,phone,address,arrears\n李阿姨,x,1栋101,1\n")
    result = ivr("import", "residents", str(bad), cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"ivr: {bad}: row 2, column phone")
    good = write(tmp_path, "ok.csv", "name,phone,address,arrears\n李阿姨,13900000001,1栋101,1\n")
    result = ivr("import", "residents", str(good), cwd=tmp_path, env=env)
    assert result.returncode == 0 and "imported 1 residents" in result.stdout


def test_user_add_and_token_create(tmp_path, database_url):
    env = {"DATABASE_URL": database_url}
    added = ivr("user", "add", "主管", "--role", "supervisor", "--password-stdin", cwd=tmp_path,
                env=env, stdin="s3cret-pass\n")
    assert added.returncode == 0, added.stderr
    token = ivr("token", "create", "主管", cwd=tmp_path, env=env)
    assert token.returncode == 0 and len(token.stdout.strip().splitlines()[-1]) >= 32
    unknown = ivr("token", "create", "nobody", cwd=tmp_path, env=env)
    assert unknown.returncode == 1 and "unknown user 'nobody'" in unknown.stderr
