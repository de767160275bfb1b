"""The journal on its own: appends never wait for a replay; refused entries are set aside."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from ivr.platform.journal import MAX_TRIES, DatabaseUnavailable, Entry, Journal


def entry(n: int) -> Entry:
    return Entry(path="/twilio/status", query={}, token=f"idem:{n}",
                 form={"CallSid": "CA" + "1" * 32, "CallStatus": "completed"},
                 received_at=datetime(2026, 11, 23, 2, 0, n, tzinfo=timezone.utc).isoformat())


async def test_an_append_never_waits_for_a_replay_waiting_on_the_database(tmp_path):
    """Replay held the journal's lock while it waited for the database, so a webhook
    answering without the database waited for the database after all."""
    journal = Journal(tmp_path)
    await journal.append(entry(0))
    started, database_answers = asyncio.Event(), asyncio.Event()
    applied: list[str] = []

    async def slow_database(e: Entry) -> None:
        started.set()
        await database_answers.wait()
        applied.append(e.token)

    replay = asyncio.create_task(journal.replay(slow_database))
    await started.wait()
    await asyncio.wait_for(journal.append(entry(1)), 2)  # while the replay still waits
    assert journal.pending() == 2
    database_answers.set()
    assert await replay == 1
    assert await journal.replay(slow_database) == 1
    assert applied == ["idem:0", "idem:1"]  # in order, each once
    assert journal.pending() == 0
    journal.close()


async def test_an_outage_keeps_the_rest_in_order_for_later(tmp_path):
    journal = Journal(tmp_path)
    for n in range(3):
        await journal.append(entry(n))
    applied: list[str] = []

    async def down_after_first(e: Entry) -> None:
        if applied:
            raise DatabaseUnavailable("connection refused")
        applied.append(e.token)

    assert await journal.replay(down_after_first) == 1
    await journal.append(entry(3))
    assert journal.pending() == 3

    async def up(e: Entry) -> None:
        applied.append(e.token)

    assert await journal.replay(up) == 3
    assert applied == ["idem:0", "idem:1", "idem:2", "idem:3"]
    assert journal.dead_letters() == 0
    journal.close()


async def test_an_entry_that_keeps_failing_goes_to_the_dead_letters_never_dropped(tmp_path):
    journal = Journal(tmp_path)
    await journal.append(entry(0))

    async def refused(e: Entry) -> None:
        raise ValueError("invalid byte sequence for encoding UTF8: 0x00")

    for _ in range(MAX_TRIES - 1):
        assert await journal.replay(refused) == 0
        assert journal.pending() == 1 and journal.dead_letters() == 0
    await journal.replay(refused)
    assert journal.pending() == 0
    assert journal.dead_letters() == 1
    kept = json.loads(journal.dead_letter_path.read_text(encoding="utf-8"))
    assert kept["token"] == "idem:0" and kept["tries"] == MAX_TRIES
    journal.close()


class FlappingDatabase:
    """A database that takes entries while `budget` lasts (None: for ever), then is away."""

    def __init__(self) -> None:
        self.budget: int | None = 0
        self.landed: list[str] = []
        self.refuse_once: set[str] = set()  # entries refused once for their own fault

    async def apply(self, e: Entry) -> None:
        if self.budget is not None:
            if self.budget == 0:
                raise DatabaseUnavailable("connection refused")
            self.budget -= 1
        if e.token in self.refuse_once:
            self.refuse_once.discard(e.token)
            raise ValueError("deadlock detected")
        self.landed.append(e.token)


def journaled(journal: Journal) -> list[str]:
    """The tokens the journal's files still hold, in file order."""
    tokens = []
    for path in sorted(journal.directory.glob("journal-*.jsonl")):
        tokens += [json.loads(line)["token"] for line in path.read_text(encoding="utf-8").splitlines()]
    return tokens


async def test_a_replay_across_a_flapping_database_lands_every_entry_exactly_once(tmp_path):
    """Down, up for one entry, down again, up: every entry Twilio was told we received
    lands once, in order, and until it lands it is still in the journal's files."""
    journal = Journal(tmp_path)
    database = FlappingDatabase()
    database.refuse_once.add("idem:2")
    for n in range(4):
        await journal.append(entry(n))

    assert await journal.replay(database.apply) == 0            # down
    assert sorted(journaled(journal)) == ["idem:0", "idem:1", "idem:2", "idem:3"]
    await journal.append(entry(4))                              # a webhook meanwhile

    database.budget = 1                                         # up for one entry, then down
    assert await journal.replay(database.apply) == 1
    assert database.landed == ["idem:0"]
    assert sorted(journaled(journal)) == ["idem:1", "idem:2", "idem:3", "idem:4"]
    assert journal.pending() == 4

    database.budget = 2                                         # up for two: 1 lands, 2 refused, down
    assert await journal.replay(database.apply) == 1
    await journal.append(entry(5))
    assert database.landed == ["idem:0", "idem:1"]
    assert sorted(journaled(journal)) == ["idem:2", "idem:3", "idem:4", "idem:5"]

    database.budget = 0                                         # down again
    assert await journal.replay(database.apply) == 0
    assert journal.pending() == 4

    database.budget = None                                      # up for good
    assert await journal.replay(database.apply) == 4
    assert database.landed == [f"idem:{n}" for n in range(6)]
    assert journaled(journal) == [] and journal.pending() == 0
    assert journal.dead_letters() == 0
    assert await journal.replay(database.apply) == 0            # nothing lands twice
    journal.close()


async def test_a_replay_cut_short_by_shutdown_keeps_what_did_not_land(tmp_path):
    """The server stops in the middle of a replay: what landed is gone from the journal,
    the rest is still there for the next start, and nothing is set aside twice."""
    journal = Journal(tmp_path)
    for n in range(3):
        await journal.append(entry(n))
    landed: list[str] = []
    stopping = asyncio.Event()

    async def stops_after_first(e: Entry) -> None:
        if landed:
            stopping.set()
            await asyncio.Event().wait()  # the database is slow; the server stops meanwhile
        landed.append(e.token)

    replay = asyncio.create_task(journal.replay(stops_after_first))
    await stopping.wait()
    replay.cancel()
    try:
        await replay
    except asyncio.CancelledError:
        pass
    assert landed == ["idem:0"]
    assert journaled(journal) == ["idem:1", "idem:2"]
    journal.close()
    again = Journal(tmp_path)                   # the next start adopts the file
    assert await again.replay(lambda e: _land(landed, e)) == 2
    assert landed == ["idem:0", "idem:1", "idem:2"]
    again.close()


async def _land(landed: list[str], e: Entry) -> None:
    landed.append(e.token)


async def test_a_journal_closed_empty_leaves_no_file_behind(tmp_path):
    """Every server start opens a journal file: closed with nothing in it, the file goes,
    so restarts do not litter the directory; closed holding an entry, it stays for the
    next start to replay."""
    Journal(tmp_path).close()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []
    journal = Journal(tmp_path)
    await journal.append(entry(0))
    journal.close()
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
