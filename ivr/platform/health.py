"""Whether the database can take a webhook's write now: `/healthz` and the journal ask.

Reaching the database is not enough: a SQLite file the process may not write (its
permissions, a read-only mount) is opened read-only without a word, and a PostgreSQL
standby answers reads and refuses writes. Neither is answered by taking the write lock,
so a check never waits behind a webhook.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import is_sqlite, sqlite_write_problem


async def write_problem(*, url: str, sessions: async_sessionmaker[AsyncSession],
                        timeout: float = 5) -> str | None:
    """Why a write would fail now, in words for the log and `/healthz`; None when it would not.

    `sessions` should only read (SQLite: the read-only engine), so the check never waits
    for the write lock."""
    if is_sqlite(url):
        problem = sqlite_write_problem(url)
        if problem is not None:
            return f"the database cannot be written: {problem}"
    try:
        async with asyncio.timeout(timeout):
            async with sessions() as session:
                if is_sqlite(url):
                    await session.execute(text("SELECT 1"))
                elif await session.scalar(text("SHOW transaction_read_only")) == "on":
                    return "the database is read-only (a standby, or default_transaction_read_only)"
    except Exception as exc:  # any failure to reach the database is a problem
        return f"the database does not answer: {type(exc).__name__}: {exc}"[:300]
    return None
