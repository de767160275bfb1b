"""`ivr demo`: an empty database becomes a month of a believable service centre (the month
itself is read in test_demo_month.py)."""

from __future__ import annotations

from ivr.tools import demo
from tests.cli_support import ivr


def test_the_command_fills_once_and_then_refuses(database_url, tmp_path):
    first = ivr("demo", "--residents", "120", cwd=tmp_path, database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "user demo  password demo-" in first.stdout

    again = ivr("demo", cwd=tmp_path, database_url=database_url)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1
    assert "already has" in again.stderr and "calls" in again.stderr

    quiet = ivr("demo", "--if-empty", cwd=tmp_path, database_url=database_url)
    assert quiet.returncode == 0 and "skipped" in quiet.stdout


async def test_the_same_seed_gives_the_same_month(settings, clock):
    import random

    first = demo.call_times(random.Random(7), settings=settings, now=clock())
    second = demo.call_times(random.Random(7), settings=settings, now=clock())
    other = demo.call_times(random.Random(8), settings=settings, now=clock())
    assert first == second and first != other
