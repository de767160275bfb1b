"""Any process can take any webhook: one call whose webhooks alternate between two
`ivr serve` processes sharing one database (the SQLite file, or PostgreSQL when
`IVR_TEST_DATABASE_URL` is set), read back through `/api/calls`."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from tests.server_process import ServerProcess
from tests.twilio_client import AUTH_TOKEN, HOTLINE, PUBLIC_BASE, Caller, StaffPhone, Twilio

SHANGHAI = timezone(timedelta(hours=8))


class Alternating:
    """Sends each request to the next server in turn, as a load balancer would."""

    def __init__(self, http: aiohttp.ClientSession, servers: list[ServerProcess]) -> None:
        self.http = http
        self.next_server = itertools.cycle(servers)
        self.served: list[int] = []

    async def post(self, path: str, data: dict, headers: dict):
        server = next(self.next_server)
        self.served.append(server.port)
        return await self.http.post(server.url + path, data=data, headers=headers)


def ivr(*args: str, env: dict, cwd, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "ivr.cli", *args], env=env, cwd=cwd,
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
async def two_servers(tmp_path, database_url):
    env = {
        "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE, "COMPANY_NAME": "阳光花园", "HOTLINE_NUMBER": HOTLINE,
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"), "IVR_LOG_LEVEL": "WARNING",
    }
    servers = [ServerProcess(env, tmp_path).start() for _ in range(2)]
    try:
        await asyncio.gather(*(s.wait_ready() for s in servers))
        yield servers
    finally:
        for server in servers:
            server.stop()


async def test_a_call_whose_webhooks_alternate_between_two_processes(two_servers, seed, tmp_path):
    env = {**two_servers[0].env}
    await seed.staff([("王小姐", "13800000001", "客服部", "00:00-24:00"),
                      ("李先生", "13800000002", "客服部", "00:00-24:00")])
    ivr("user", "add", "主管", "--role", "supervisor", "--password-stdin", env=env,
        cwd=tmp_path, stdin="s3cret-pass\n")
    token = ivr("token", "create", "主管", env=env, cwd=tmp_path).strip().splitlines()[-1]

    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    async with aiohttp.ClientSession() as http:
        balancer = Alternating(http, two_servers)
        twilio = Twilio(balancer)
        caller = Caller(twilio)

        assert "阳光花园物业客服中心" in (await caller.dial_in()).spoken
        await caller.press("2")  # a complaint: put through to a person
        # The first phone rings three times and nobody answers.
        first = StaffPhone(twilio, caller, *caller.dial())
        assert first.number.text == "+8613800000001"
        await first.event("initiated", t0)
        await first.event("ringing", t0 + timedelta(seconds=1))
        await first.event("no-answer", t0 + timedelta(seconds=16))
        twiml = await first.dial_result("no-answer")
        assert "对不起，让您久等了" in twiml.spoken
        # The second picks up on the second ring and takes the call.
        second = StaffPhone(twilio, caller, *caller.dial())
        assert second.number.text == "+8613800000002"
        await second.event("initiated", t0 + timedelta(seconds=17))
        await second.event("ringing", t0 + timedelta(seconds=18))
        await second.event("in-progress", t0 + timedelta(seconds=24))
        assert "您好，阳光花园物业客服中心" in (await second.pick_up_and_screen("1")).spoken
        await second.event("completed", t0 + timedelta(seconds=140))
        await second.dial_result("completed", bridged=True)
        await caller.hangup(at=t0 + timedelta(seconds=141), duration=145)

        ports = {s.port for s in two_servers}
        assert set(balancer.served) == ports and len(balancer.served) == 14
        assert all(a != b for a, b in zip(balancer.served, balancer.served[1:]))

        day = t0.astimezone(SHANGHAI).date()
        query = f"/api/calls?from={day - timedelta(days=1)}&to={day + timedelta(days=1)}"
        views = []
        for server in two_servers:
            async with http.get(server.url + query,
                                headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
                views.append(await resp.json())
    assert views[0] == views[1]  # both processes read the same record
    [call] = views[0]["calls"]
    assert call["sid"] == caller.sid and call["menu_choice"] == "complaint"
    assert call["outcome"] == "answered" and call["duration_seconds"] == 145
    assert [(leg["staff"], leg["answered"], leg["ring_seconds"], leg["within_three_rings"])
            for leg in call["legs"]] == [("王小姐", False, None, False), ("李先生", True, 6, True)]
    assert [leg["status"] for leg in call["legs"]] == ["no-answer", "completed"]


async def test_two_processes_never_ring_one_person_for_two_callers(two_servers, seed):
    """Eight residents press 0 at the same moment, their webhooks spread over two `ivr
    serve` processes on one database. Three staff are free: three phones ring, each for
    one caller, and the other five callers wait in line."""
    staff = [(f"客服{i}", f"1380000002{i}", "客服部", "00:00-24:00") for i in range(3)]
    await seed.staff(staff)
    async with aiohttp.ClientSession() as http:
        balancer = Alternating(http, two_servers)
        twilio = Twilio(balancer)
        callers = [Caller(twilio, from_number=f"+86139000004{n:02d}") for n in range(8)]
        for caller in callers:
            await caller.dial_in()
        answers = await asyncio.gather(*(caller.press("0") for caller in callers))
        assert set(balancer.served) == {s.port for s in two_servers}
    assert all(a.status == 200 for a in answers)
    rung = [a.find("Dial").find("Number").text for a in answers if a.find("Dial") is not None]
    assert sorted(rung) == [f"+861380000002{i}" for i in range(3)]
    in_line = [a for a in answers if a.find("Dial") is None]
    assert len(in_line) == 5
    assert all("客服人员正在接听其他业主的来电" in a.spoken for a in in_line)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children_of(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return {int(p) for p in handle.read().split()}
    except FileNotFoundError:
        return set()


async def test_serve_workers_shares_one_port_and_replaces_a_dead_process(tmp_path, database_url):
    """`ivr serve --workers 2`: two processes answer on one port; one killed is replaced
    while the other goes on answering; SIGTERM stops them all."""
    server = ServerProcess({
        "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE, "COMPANY_NAME": "阳光花园", "HOTLINE_NUMBER": HOTLINE,
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"), "IVR_LOG_LEVEL": "WARNING",
    }, tmp_path)
    log = open(tmp_path / "workers.log", "ab")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--no-dialer", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(server.port)],
        env=server.env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        await server.wait_ready()
        first = children_of(server.proc.pid)
        assert len(first) == 2

        async def answered_calls(count: int) -> int:
            answered = 0
            connector = aiohttp.TCPConnector(force_close=True)  # a new connection each time
            async with aiohttp.ClientSession(connector=connector) as http:
                twilio = Twilio(Alternating(http, [server]))
                for _ in range(count):
                    twiml = await Caller(twilio).dial_in()
                    answered += twiml.status == 200 and twiml.find("Gather") is not None
            return answered

        assert await answered_calls(20) == 20
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        for _ in range(100):  # until the parent has seen it die
            if victim not in children_of(server.proc.pid):
                break
            await asyncio.sleep(0.01)
        assert await answered_calls(20) == 20  # the other process answers meanwhile
        for _ in range(100):
            now = children_of(server.proc.pid)
            if len(now) == 2 and victim not in now:
                break
            await asyncio.sleep(0.1)
        assert len(now) == 2 and victim not in now
        await server.wait_ready()
        assert await answered_calls(20) == 20

        server.proc.terminate()
        assert server.proc.wait(timeout=15) == 0
        assert all(not os.path.exists(f"/proc/{pid}") for pid in now)
    finally:
        leftover = children_of(server.proc.pid)
        server.kill()
        for pid in leftover:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def test_serve_workers_do_not_outlive_a_killed_supervisor(tmp_path, database_url):
    """`kill -9` of the `--workers` parent takes its server processes with it, so no
    orphan keeps answering on the port with stale code."""
    server = ServerProcess({
        "DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": PUBLIC_BASE, "IVR_JOURNAL_DIR": str(tmp_path / "journal"),
        "IVR_LOG_LEVEL": "WARNING",
    }, tmp_path)
    log = open(tmp_path / "workers.log", "ab")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--no-dialer", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(server.port)],
        env=server.env, cwd=tmp_path, stdout=log, stderr=log)
    workers: set[int] = set()
    try:
        await server.wait_ready()
        for _ in range(100):
            workers = children_of(server.proc.pid)
            if len(workers) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(workers) == 2
        server.kill()
        for _ in range(100):
            alive = {pid for pid in workers if running(pid)}
            if not alive:
                break
            await asyncio.sleep(0.1)
        assert alive == set()
    finally:
        server.kill()
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
