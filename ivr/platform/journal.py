"""The webhook journal: what could not be written to the database waits on local disk.

When the database is unreachable a webhook is still answered (see `ivr.calls.degraded`), and
the request itself (path, query, form, idempotency token, when it came) is appended to
this process's journal file and fsync'd before the answer goes out. A replay loop feeds
the entries, in order, through the same call-flow steps once the database answers again.

Each process writes its own files and holds an exclusive lock on each for its lifetime,
so a file whose lock can be taken belongs to a dead process and is adopted by whoever
finds it: a journal survives `kill -9`.

An append never waits for a replay: a replay first moves new appends to a fresh file
(a segment), then works on the older segments without any lock an append needs, however
long the database takes. An entry that keeps failing for a reason other than an outage
goes, after `MAX_TRIES`, to the dead-letter file `failed.jsonl` (supervisors see it on
the dashboard and in `/healthz`), never silently dropped.
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
from typing import IO, Awaitable, Callable

log = logging.getLogger(__name__)

MAX_TRIES = 5
DEAD_LETTERS = "failed.jsonl"
UNREADABLE = "unreadable.jsonl"


@dataclass
class Entry:
    path: str
    query: dict[str, str]
    form: dict[str, str]
    received_at: str
    token: str | None = None
    tries: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    applied: bool = field(default=False, repr=False, compare=False)

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)


Replayer = Callable[[Entry], Awaitable[None]]


@dataclass
class Segment:
    """One journal file this process holds the lock of."""

    path: Path
    handle: IO[str]

    def size(self) -> int:
        try:
            return os.fstat(self.handle.fileno()).st_size
        except (OSError, ValueError):
            return 0

    def rewrite(self, entries: list[Entry]) -> None:
        """Replace the file's entries at once: a crash, or a count of what is pending,
        never sees it half written. The new file is locked before it takes the name."""
        temporary = self.path.with_name(f".rewrite-{uuid.uuid4().hex[:8]}.tmp")
        handle = open(temporary, "a+", encoding="utf-8")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        for entry in entries:
            handle.write(line_of(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self.handle.close()
        self.handle = handle

    def drop(self) -> None:
        """Unlink while still locked, so no other process adopts a file being removed."""
        self.path.unlink(missing_ok=True)
        self.handle.close()


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._segments: list[Segment] = [self._new_segment()]
        self._append_lock = asyncio.Lock()  # appends, and the switch to a fresh segment
        self._replay_lock = asyncio.Lock()  # one replay at a time; appends never take it

    def _new_segment(self) -> Segment:
        path = self.directory / f"journal-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        handle = open(path, "a+", encoding="utf-8")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return Segment(path, handle)

    @property
    def path(self) -> Path:
        """The file appends go to now."""
        return self._segments[-1].path

    def close(self) -> None:
        for segment in self._segments:
            if segment.size() == 0:
                segment.drop()
            else:
                segment.handle.close()
        self._segments = []

    async def append(self, entry: Entry) -> None:
        async with self._append_lock:
            # fsync takes milliseconds: in a thread, so the other webhooks go on meanwhile.
            await asyncio.to_thread(self._write, self._segments[-1], entry)

    @staticmethod
    def _write(segment: Segment, entry: Entry) -> None:
        segment.handle.seek(0, os.SEEK_END)
        segment.handle.write(line_of(entry) + "\n")
        segment.handle.flush()
        os.fsync(segment.handle.fileno())

    def pending(self) -> int:
        count = 0
        for path in self.directory.glob("journal-*.jsonl"):
            count += count_lines(path)
        return count

    def dead_letters(self) -> int:
        """Entries set aside for a person to look at (`failed.jsonl`, `unreadable.jsonl`)."""
        return count_lines(self.directory / DEAD_LETTERS) + count_lines(self.directory / UNREADABLE)

    @property
    def dead_letter_path(self) -> Path:
        return self.directory / DEAD_LETTERS

    async def replay(self, apply: Replayer) -> int:
        """Replay every entry this process may: its own, and dead processes' files."""
        async with self._replay_lock:
            async with self._append_lock:  # held for no database wait: a file switch only
                if self._segments[-1].size() > 0:
                    self._segments.append(self._new_segment())
            self._adopt_dead()
            done = 0
            for segment in list(self._segments[:-1]):
                entries = read_entries(segment.path)
                try:
                    left, applied, stopped = await replay_entries(entries, apply, self.directory)
                except asyncio.CancelledError:  # shutting down: keep what was not applied
                    # (nor set aside already: a dead letter is not replayed twice)
                    segment.rewrite([e for e in entries if not e.applied and e.tries < MAX_TRIES])
                    raise
                done += applied
                if left:
                    await asyncio.to_thread(segment.rewrite, left)
                else:
                    segment.drop()
                    self._segments.remove(segment)
                if stopped:
                    break  # the database went away: later segments wait, in order
            return done

    def _adopt_dead(self) -> None:
        """Take the files of dead processes (their lock is free), ahead of our own."""
        ours = {segment.path for segment in self._segments}
        adopted = []
        for path in sorted(self.directory.glob("journal-*.jsonl"), key=mtime):
            if path in ours:
                continue
            try:
                handle = open(path, "r+", encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue  # its process is alive and replays it itself
            if not path.exists():  # replayed and removed while we waited for it
                handle.close()
                continue
            adopted.append(Segment(path, handle))
        self._segments[:0] = adopted


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def count_lines(path: Path) -> int:
    """Entries in a journal file: one a line, each ending in a newline once fsync'd."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def line_of(entry: Entry) -> str:
    fields = asdict(entry)
    fields.pop("applied")
    return json.dumps(fields, ensure_ascii=False)


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
            set_aside(path.parent, line, UNREADABLE)
    return entries


def set_aside(directory: Path, line: str, name: str) -> None:
    with open(directory / name, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


async def replay_entries(entries: list[Entry], apply: Replayer,
                         entry_dir: Path) -> tuple[list[Entry], int, bool]:
    """Apply in order; stop at the first database outage (keep the rest for later).

    Returns the entries left, how many were applied, and whether an outage stopped it."""
    left: list[Entry] = []
    applied = 0
    for index, entry in enumerate(entries):
        try:
            await apply(entry)
            entry.applied = True
            applied += 1
        except DatabaseUnavailable:
            left.extend(entries[index:])
            return left, applied, True
        except Exception as exc:
            entry.tries += 1
            if entry.tries >= MAX_TRIES:
                log.error("journal entry %s (%s) failed %d times (%s); set aside in %s",
                          entry.id, entry.path, entry.tries, exc, entry_dir / DEAD_LETTERS)
                set_aside(entry_dir, line_of(entry), DEAD_LETTERS)
                continue
            log.warning("journal entry %s (%s) failed (try %d of %d): %s",
                        entry.id, entry.path, entry.tries, MAX_TRIES, exc)
            left.append(entry)
    return left, applied, False


class DatabaseUnavailable(Exception):
    """The database could not be reached (connection refused, timed out, locked out)."""
