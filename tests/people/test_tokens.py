"""API tokens expire, can be listed and revoked, and end with a password reset or a new role.

`ivr token …` runs as the operator runs it (a process of its own on the same database);
the API answers through the real application with the frozen clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text

from ivr.people.users import add_user, create_token
from models import ApiToken
from models.db import make_engine, upgrade
from tests.cli_support import ivr
from tests.conftest import PG_URL, _drop_pg_database, _fresh_pg_database


async def calls(client, token: str) -> int:
    resp = await client.get("/api/calls", headers={"Authorization": f"Bearer {token}"})
    return resp.status


async def test_a_token_stops_working_when_it_expires(client, sessions, clock):
    async with sessions() as session, session.begin():
        await add_user(session, name="主管", role="supervisor", password="pw-12345678", now=clock())
        token = await create_token(session, name="主管", now=clock(), days=30)
    assert await calls(client, token) == 200
    clock.advance(30 * 86400 - 1)
    assert await calls(client, token) == 200
    clock.advance(1)
    assert await calls(client, token) == 401


async def test_operators_create_list_and_revoke_tokens(client, settings, tmp_path):
    db = settings.database_url
    assert ivr("user", "add", "主管", "--role", "supervisor", "--password-stdin", cwd=tmp_path,
               database_url=db, stdin="pw-12345678\n").returncode == 0
    made = ivr("token", "create", "主管", "--days", "30", cwd=tmp_path, database_url=db)
    assert made.returncode == 0, made.stderr
    assert "30" in made.stdout.splitlines()[0]  # says how long it lasts
    token = made.stdout.strip().splitlines()[-1]  # the contract: the last line is the token
    second = ivr("token", "create", "主管", cwd=tmp_path, database_url=db).stdout.strip()
    second = second.splitlines()[-1]
    assert await calls(client, token) == 200 and await calls(client, second) == 200

    listed = ivr("token", "list", cwd=tmp_path, database_url=db)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(r[1], r[2], r[-1]) for r in rows] == [("主管", "supervisor", "valid")] * 2
    assert token not in listed.stdout and second not in listed.stdout  # never shown again

    revoked = ivr("token", "revoke", rows[0][0], cwd=tmp_path, database_url=db)
    assert revoked.returncode == 0, revoked.stderr
    assert await calls(client, token) == 401   # ended at once
    assert await calls(client, second) == 200  # the other one lives on
    again = ivr("token", "revoke", rows[0][0], cwd=tmp_path, database_url=db)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1

    everything = ivr("token", "revoke", "--user", "主管", cwd=tmp_path, database_url=db)
    assert everything.returncode == 0 and "1" in everything.stdout
    assert await calls(client, second) == 401
    bad = ivr("token", "create", "主管", "--days", "0", cwd=tmp_path, database_url=db)
    assert bad.returncode == 1 and "--days" in bad.stderr


async def test_a_password_reset_or_a_new_role_ends_the_users_tokens(client, sessions, clock,
                                                                   settings, tmp_path):
    async with sessions() as session, session.begin():
        await add_user(session, name="小王", role="supervisor", password="pw-12345678", now=clock())
        first = await create_token(session, name="小王", now=clock())
    # Saved again unchanged (as the admin page does for a new staff link): the token lives.
    async with sessions() as session, session.begin():
        await add_user(session, name="小王", role="supervisor", password=None, now=clock())
    assert await calls(client, first) == 200
    # A password reset ends it.
    async with sessions() as session, session.begin():
        await add_user(session, name="小王", role="supervisor", password="new-pw-123", now=clock())
    assert await calls(client, first) == 401
    async with sessions() as session, session.begin():
        second = await create_token(session, name="小王", now=clock())
    assert await calls(client, second) == 200
    # So does a new role (the admin page's role change, without a new password).
    async with sessions() as session, session.begin():
        await add_user(session, name="小王", role="staff", password=None, now=clock())
    assert await calls(client, second) == 401
    async with sessions() as session, session.begin():
        third = await create_token(session, name="小王", now=clock())
    # And a password set again on the command line.
    reset = ivr("user", "add", "小王", "--role", "staff", "--password-stdin", cwd=tmp_path,
                database_url=settings.database_url, stdin="another-pw-1\n")
    assert reset.returncode == 0, reset.stderr
    assert await calls(client, third) == 401


async def test_tokens_made_before_expiry_existed_are_given_one(tmp_path):
    """The migration gives every existing token an end 90 days on, not never and not now."""
    url = await _fresh_pg_database() if PG_URL else f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    try:
        await upgrade(url, "0002")
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (id, name, role, created_at) "
                                    "VALUES (1, 'old', 'supervisor', :at)"),
                               {"at": datetime(2025, 1, 1)})
            await conn.execute(text("INSERT INTO api_tokens (user_id, token_hash, created_at) "
                                    "VALUES (1, :hash, :at)"),
                               {"hash": "a" * 64, "at": datetime(2025, 1, 1)})
        await engine.dispose()
        await upgrade(url, "0006")
        engine = make_engine(url)
        from sqlalchemy.ext.asyncio import async_sessionmaker

        async with async_sessionmaker(engine)() as session:
            expires = await session.scalar(select(ApiToken.expires_at))
        await engine.dispose()
        expected = datetime.now(timezone.utc) + timedelta(days=90)
        assert abs((expires - expected).total_seconds()) < 600
    finally:
        if PG_URL:
            await _drop_pg_database(url)
