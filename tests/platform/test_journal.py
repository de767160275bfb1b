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
