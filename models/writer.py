"""Where a webhook's transaction runs: on the server's loop, or whole on SQLite's own thread.

SQLite allows one writer. Through aiosqlite every statement is a hop to the driver's
thread and back, and each answer then waits its turn behind the other requests on a
busy event loop, while the transaction holds the write lock and every other webhook
waits for it. On SQLite a server process therefore gives its webhook transactions a
thread of its own, with its own event loop and a connection that runs each statement in
place: one hand-over per transaction instead of one per statement. Measured
(BENCHMARKS.md): one insert per webhook went from 830 to 1,800 webhooks/s, whole calls
from 300 to 650.

Webhooks go first: the thread takes its transactions from a queue, a waiting webhook's
before a waiting page's (`PAGE`: a sign-in, a day's figures kept), so a flood of page writes
never holds a caller up longer than the one page transaction already running.

Group commit: webhooks (`together=True`) that queued while the writer was busy go into
the next transaction together, each in a savepoint of its own, and are answered only
after that one COMMIT. A webhook whose work fails is rolled back to its savepoint and
gets its error; the others commit. If the shared transaction itself is lost (SQLite
rolled it back, or the COMMIT failed), every webhook of the group runs again alone.

On PostgreSQL, asyncpg's I/O is already on the server's loop and many connections work
at once, so transactions simply run there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import sqlite3
import threading
from typing import Any, Awaitable, Callable, Protocol, TypeVar

import aiosqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from .db import is_sqlite, make_engine, make_sessionmaker

T = TypeVar("T")
Work = Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
# Priorities: the lower goes first. A webhook (a caller waiting) before a page write.
WEBHOOK, PAGE = 0, 1
# At most this many webhooks share one transaction: the first of them waits for the
# others' work before its answer, so a group stays short.
GROUP_LIMIT = 16


class Writer(Protocol):
    async def run(self, work: Work[T], *, priority: int = WEBHOOK,
                  together: bool = False) -> T: ...

    async def close(self) -> None: ...


class LoopWriter:
    """Transactions on the caller's own loop, with the application's sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def run(self, work: Work[T], *, priority: int = WEBHOOK, together: bool = False) -> T:
        return await work(self.sessions)

    async def close(self) -> None:
        pass


class _InPlace:
    """aiosqlite's request queue, answered at once on the thread that asks."""

    def put_nowait(self, item: tuple[asyncio.Future | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting statement, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InPlaceConnection(aiosqlite.Connection):
    """The aiosqlite connection SQLAlchemy's dialect expects, minus aiosqlite's thread:
    statements run on the thread that awaits them (the writer's own thread)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _InPlace()  # type: ignore[assignment]

    async def _execute(self, fn, *args, **kwargs):
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> "InPlaceConnection":
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self):
        return self._connect().__await__()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._running = False


class ThreadWriter:
    """SQLite: transactions run whole on one thread, with one in-place connection."""

    def __init__(self, url: str, *, info: dict | None = None) -> None:
        self.url = url
        # The application's sessions' timezone and clock (models/rollup.py), if any.
        info = info or {}
        self.session_info = ({"tz": info["ivr_timezone"], "clock": info["ivr_clock"]}
                             if info.get("ivr_timezone") is not None else {})
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sqlite-writer",
                                       daemon=True)
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        # (priority, arrival, work, future, together): on the writer's loop only.
        self._queue: list[tuple[int, int, Work, concurrent.futures.Future, bool]] = []
        self._arrivals = itertools.count()
        self._waiting: asyncio.Event | None = None
        self._server: asyncio.Task | None = None

    async def start(self) -> "ThreadWriter":
        self.thread.start()
        path = make_url(self.url).database or ":memory:"

        async def connect() -> InPlaceConnection:
            return await InPlaceConnection(
                lambda: sqlite3.connect(path, timeout=30, check_same_thread=False))

        async def build() -> None:
            self.engine = make_engine(self.url, async_creator=connect)
            self.sessions = make_sessionmaker(self.engine, **self.session_info)
            self._waiting = asyncio.Event()
            self._server = asyncio.get_running_loop().create_task(self._serve())

        await self._on_thread(build())
        return self

    async def _on_thread(self, coroutine: Awaitable[T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def run(self, work: Work[T], *, priority: int = WEBHOOK, together: bool = False) -> T:
        """Run `work` whole on the writer's thread, after the waiting work of a higher
        priority. Cancelled before it starts (a webhook that gave up), it never runs.

        `together`: the work opens its sessions from the sessionmaker it is given and
        may share one transaction with other such work (group commit); it is answered
        after that transaction's COMMIT, and may be run twice (the first run rolled back)."""
        assert self.sessions is not None, "writer not started"
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self._enqueue, priority, work, future, together)
        return await asyncio.wrap_future(future)

    def _enqueue(self, priority: int, work: Work, future: concurrent.futures.Future,
                 together: bool) -> None:
        heapq.heappush(self._queue, (priority, next(self._arrivals), work, future, together))
        assert self._waiting is not None
        self._waiting.set()

    def _take_group(self, first: tuple) -> list[tuple[Work, concurrent.futures.Future]]:
        """`first` and the work queued right behind it that may share its transaction."""
        priority = first[0]
        group = [(first[2], first[3])]
        while (self._queue and len(group) < GROUP_LIMIT and self._queue[0][4]
               and self._queue[0][0] == priority):
            _, _, work, future, _ = heapq.heappop(self._queue)
            if future.set_running_or_notify_cancel():
                group.append((work, future))
        return group

    async def _serve(self) -> None:
        """One transaction at a time (SQLite's one writer), the most urgent first."""
        assert self._waiting is not None and self.sessions is not None
        while True:
            await self._waiting.wait()
            while self._queue:
                first = heapq.heappop(self._queue)
                if not first[3].set_running_or_notify_cancel():
                    continue  # its caller stopped waiting before its turn
                group = self._take_group(first) if first[4] else [(first[2], first[3])]
                if len(group) == 1:
                    await self._alone(*group[0])
                else:
                    await self._together(group)
            self._waiting.clear()

    async def _alone(self, work: Work, future: concurrent.futures.Future) -> None:
        assert self.sessions is not None
        try:
            result = await work(self.sessions)
        except BaseException as exc:  # handed to the caller, whatever it is
            future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            future.set_result(result)

    async def _together(self, group: list[tuple[Work, concurrent.futures.Future]]) -> None:
        """One transaction for the group, a savepoint each; answers after the COMMIT."""
        assert self.engine is not None
        outcomes: list[tuple[Work, concurrent.futures.Future, bool, object]] = []
        rest = list(group)
        lost = False
        try:
            async with self.engine.connect() as connection:
                await connection.begin()
                sessions = async_sessionmaker(bind=connection, expire_on_commit=False,
                                              join_transaction_mode="create_savepoint")
                while rest and not lost:
                    work, future = rest.pop(0)
                    try:
                        outcomes.append((work, future, True, await work(sessions)))
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # its savepoint is rolled back; the others stay
                        outcomes.append((work, future, False, exc))
                        lost = not await _still_in_transaction(connection)
                if not lost:
                    try:
                        await connection.commit()
                    except Exception:
                        lost = True
                if lost:
                    await _roll_back_quietly(connection)
        except asyncio.CancelledError as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            raise
        except Exception:  # no connection, or BEGIN failed: each alone says why
            lost = True
        if lost:  # nothing of the group was kept: each that did not fail runs alone
            outcomes = [o for o in outcomes if not o[2]]
            done = {id(o[1]) for o in outcomes}
            for work, future in group:
                if id(future) not in done:
                    await self._alone(work, future)
        for _, future, succeeded, value in outcomes:
            if succeeded:
                future.set_result(value)
            else:
                future.set_exception(value)  # type: ignore[arg-type]

    async def _stop_serving(self) -> None:
        if self._server is not None:
            self._server.cancel()
            try:
                await self._server
            except asyncio.CancelledError:
                pass
        for _, _, _, future, _ in self._queue:
            future.cancel()
        self._queue.clear()

    async def close(self) -> None:
        await self._on_thread(self._stop_serving())
        if self.engine is not None:
            await self._on_thread(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 10)
        if not self.thread.is_alive():  # else a statement is stuck: the daemon thread dies with us
            self.loop.close()


async def _still_in_transaction(connection: AsyncConnection) -> bool:
    """Whether the group's transaction survived a failed work: SQLite rolls a whole
    transaction back on some errors (a full disk, an I/O error), and then the savepoints
    of the works before it are gone too."""
    if (connection.invalidated or not connection.in_transaction()
            or connection.in_nested_transaction()):  # its savepoint could not be undone
        return False
    raw = await connection.get_raw_connection()
    sqlite = getattr(raw.driver_connection, "_connection", None)
    return bool(sqlite is not None and sqlite.in_transaction)


async def _roll_back_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.rollback()
    except Exception:  # the connection is closed or invalidated by the pool next
        pass


async def open_writer(url: str, sessions: async_sessionmaker[AsyncSession]) -> Writer:
    if is_sqlite(url):
        return await ThreadWriter(url, info=sessions.kw.get("info")).start()
    return LoopWriter(sessions)
