"""The background pass every loop of the server shares: a failed pass is logged and the
next one runs, passes are counted, and the task goes with its block."""

from __future__ import annotations

import asyncio
import logging

from ivr.platform.passes import Passes
from ivr.platform.periodic import every, running

log = logging.getLogger("tests.periodic")


async def test_a_failed_pass_is_logged_and_the_next_one_runs(caplog):
    done: list[int] = []

    async def work() -> None:
        done.append(len(done))
        if len(done) == 1:
            raise RuntimeError("database away")

    passes = Passes()
    with caplog.at_level(logging.ERROR, logger="tests.periodic"):
        async with running(every(0.01, work, what="test pass", log=log, passes=passes),
                           name="test-pass"):
            await asyncio.wait_for(passes.wait_for(2), 5)
    assert done[:2] == [0, 1]
    assert [r.getMessage() for r in caplog.records] == ["test pass failed; next pass in 0.01s"]


async def test_the_task_is_gone_after_the_block():
    async def work() -> None:
        pass

    async with running(every(60, work, what="test pass", log=log), name="test-pass"):
        assert any(t.get_name() == "test-pass" for t in asyncio.all_tasks())
    assert not any(t.get_name() == "test-pass" for t in asyncio.all_tasks())
