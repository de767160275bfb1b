"""The webhook journal: what could not be written to the database waits on local disk.

When the database is unreachable a webhook is still answered (see `ivr.calls.degraded`), and
the request itself (path, query, form, idempotency token, when it came) is appended to
this process's journal file and fsync'd before the answer goes out. A replay loop feeds
the entries, in order, through the same call-flow steps once the database answers again.

Each process writes its own file and holds an exclusive lock on it for its lifetime, so
a file whose lock can be taken belongs to a dead process and is replayed by whoever
finds it: a journal survives `kill -9`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

MAX_TRIES = 5


@dataclass
class Entry:
    path: str
    query: dict[str, str]
    form: dict[str, str]
    received_at: str
    token: str | None = None
    tries: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


Replayer = Callable[[Entry], Awaitable[None]]


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"journal-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._file = open(self.path, "a+", encoding="utf-8")
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock = asyncio.Lock()

    def close(self) -> None:
        empty = self.path.stat().st_size == 0
        self._file.close()
        if empty:
            self.path.unlink(missing_ok=True)

    async def append(self, entry: Entry) -> None:
        async with self._lock:
            # fsync takes milliseconds: in a thread, so the other webhooks go on meanwhile.
            await asyncio.to_thread(self._write, entry)

    def _write(self, entry: Entry) -> None:
        self._file.seek(0, os.SEEK_END)
        self._file.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def pending(self) -> int:
        count = 0
        for path in self.directory.glob("journal-*.jsonl"):
            try:
                count += sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            except FileNotFoundError:
                continue
        return count

    async def replay(self, apply: Replayer) -> int:
        """Replay every entry this process may: its own, and dead processes' files."""
        done = 0
        async with self._lock:
            entries = read_entries(self.path)
            if entries:
                left, applied = await replay_entries(entries, apply, self.directory)
                done += applied
                self._file.seek(0)
                self._file.truncate()
                for entry in left:
                    self._write(entry)
        for path in sorted(self.directory.glob("journal-*.jsonl")):
            if path == self.path:
                continue
            done += await self._adopt(path, apply)
        return done

    async def _adopt(self, path: Path, apply: Replayer) -> int:
        try:
            handle = open(path, "r+", encoding="utf-8")
        except FileNotFoundError:
            return 0
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its process is alive and replays it itself
            entries = read_entries(path)
            left, applied = await replay_entries(entries, apply, self.directory)
            async with self._lock:
                for entry in left:
                    self._write(entry)
            path.unlink(missing_ok=True)
            return applied


def read_entries(path: Path) -> list[Entry]:
    entries = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return entries
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            log.error("journal %s: unreadable line set aside: %s", path, line[:200])
            set_aside(path.parent, line, "unreadable.jsonl")
    return entries


def set_aside(directory: Path, line: str, name: str) -> None:
    with open(directory / name, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


async def replay_entries(entries: list[Entry], apply: Replayer,
                         entry_dir: Path) -> tuple[list[Entry], int]:
    """Apply in order; stop at the first database failure (keep the rest for later)."""
    left: list[Entry] = []
    applied = 0
    for index, entry in enumerate(entries):
        try:
            await apply(entry)
            applied += 1
        except DatabaseUnavailable:
            left.extend(entries[index:])
            break
        except Exception:
            entry.tries += 1
            if entry.tries >= MAX_TRIES:
                log.exception("journal entry %s failed %d times; set aside in failed.jsonl",
                              entry.id, entry.tries)
                set_aside(entry_dir, json.dumps(asdict(entry), ensure_ascii=False), "failed.jsonl")
                continue
            log.exception("journal entry %s failed; will retry", entry.id)
            left.append(entry)
    return left, applied


class DatabaseUnavailable(Exception):
    """The database could not be reached (connection refused, timed out, locked out)."""
