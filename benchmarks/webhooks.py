"""Webhook throughput and latency of the real server, against the bare-aiohttp limit.

Whole simulated calls, each ten signed webhooks as Twilio sends them (with an
idempotency token each): the greeting
(/twilio/voice), the menu key 0, the staff phone's initiated, ringing and answered
callbacks, the screening whisper and its accept key, the leg's completed callback, the
dial result (bridged) and the call's completed status. N callers run calls back to back
for a fixed time, at each concurrency level, against `ivr serve` in separate processes.

The same client then drives a bare aiohttp app returning one fixed TwiML document (no
signature check, no database): that is the limit of this machine and this client, and
our throughput is printed as a ratio of it. Figures only; not a test. `errors` are
non-200 answers or unreadable TwiML; `degraded` are 200s the server gave without its
database (pool timeout under overload, counted from its log): they are not throughput.

Each level runs twice against the hotline: saturated (callers post back to back, so
webhooks/s is the server's capacity and latency is mostly queueing, by Little's law
concurrency / throughput) and paced (`--think`: each caller waits about a second before
each webhook, a call ten times faster than a real one, so latency is what a caller
would get at that many concurrent calls).

    .venv/bin/python benchmarks/webhooks.py                    # SQLite, 1 process
    .venv/bin/python benchmarks/webhooks.py --postgres --workers 2
    .venv/bin/python benchmarks/webhooks.py --database-url postgresql+asyncpg://…/db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE = "https://hotline.example.com"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
HOTLINE = "+862161234567"
ACCOUNT = "AC" + "0" * 32
WEBHOOKS_PER_CALL = 10
CAPACITY_P99_MS = 50
# What webhooks/twiml.py logs when a webhook got the degraded answer or the apology.
DEGRADED_MARKS = ("journaled, degraded answer", "failed for call")

# What the bare app answers to everything: a menu and a dial, so the client follows the
# same steps (and parses the same amount of XML) as against the real server.
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    f'<Gather action="{PUBLIC_BASE}/twilio/menu" method="POST" numDigits="1">'
    '<Say language="cmn-CN" voice="Polly.Zhiyu">您好，请按键。</Say></Gather>'
    f'<Dial action="{PUBLIC_BASE}/twilio/dial-result?leg=1&amp;n=1" method="POST" timeout="10">'
    f'<Number url="{PUBLIC_BASE}/twilio/screen?leg=1&amp;n=1" method="POST" '
    f'statusCallback="{PUBLIC_BASE}/twilio/leg-status?leg=1&amp;n=1" '
    'statusCallbackEvent="initiated ringing answered completed" '
    'statusCallbackMethod="POST">+8613800000001</Number></Dial></Response>'
)


# ----------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_server(port: int) -> None:
    """The limit: aiohttp answering fixed TwiML, nothing else."""
    from aiohttp import web

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(text=BARE_TWIML, content_type="text/xml", charset="utf-8")

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    app.router.add_get("/healthz", lambda _r: web.json_response({"status": "ok"}))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@dataclass
class Server:
    command: list[str]
    env: dict[str, str]
    cwd: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def degraded(self) -> int:
        """Webhooks answered without the database so far (a 200 all the same: the caller
        is put through from the cached roster and the request journaled), from its log."""
        try:
            text = (self.cwd / f"server-{self.port}.log").read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return sum(text.count(mark) for mark in DEGRADED_MARKS)

    async def start(self) -> "Server":
        log = open(self.cwd / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen([*self.command, "--port", str(self.port)],
                                     env={**os.environ, **self.env}, cwd=self.cwd,
                                     stdout=log, stderr=log)
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                if self.proc.poll() is not None:
                    raise SystemExit(f"server exited; see {log.name}")
                try:
                    async with http.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise SystemExit(f"server not ready; see {log.name}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ivr_cli(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "ivr.cli", *args], input=stdin, text=True,
                            capture_output=True, env={**os.environ, **env}, cwd=cwd)
    if result.returncode != 0:
        raise SystemExit(f"ivr {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def prepare_database(env: dict[str, str], cwd: Path, *, staff: int = 2) -> str:
    """Migrate, put `staff` people on an all-day shift (through the real CSV import),
    and make a supervisor; their API token.

    A whole call needs a free person: one phone rings or talks for one caller at a
    time (ivr/calls/presence.py), so a run needs as many staff as concurrent calls, and
    no wrap-up (`IVR_WRAP_UP_SECONDS=0` in the servers' environment): else most calls
    wait in line after two webhooks and the run measures the menu, not whole calls."""
    ivr_cli("db", "upgrade", env=env, cwd=cwd)
    path = cwd / "staff.csv"
    rows = [f"客服{n:04d},138{n:08d},客服部,00:00-24:00" for n in range(1, staff + 1)]
    path.write_text("name,phone,department,shifts\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ivr_cli("import", "staff", str(path), env=env, cwd=cwd)
    ivr_cli("user", "add", "--role", "supervisor", "--password-stdin", "主管", env=env, cwd=cwd,
            stdin="bench-password-1234\n")
    return ivr_cli("token", "create", "主管", env=env, cwd=cwd).strip().split()[-1]


# ------------------------------------------------------------------------------ client


class Client:
    """Signs and posts like Twilio; records each webhook's latency."""

    def __init__(self, http: aiohttp.ClientSession, target: str) -> None:
        self.http = http
        self.target = target
        self.validator = RequestValidator(AUTH_TOKEN)
        self.latencies: list[float] = []
        self.errors = 0
        self.recording = False
        self.think = 0.0
        self.whole = 0  # calls that got through all ten webhooks while recording
        self.short = 0  # calls that stopped early (no Dial: in line or a message)

    async def post(self, url: str, params: dict[str, str]) -> ET.Element | None:
        if self.think:  # the time a caller listens, or a phone rings, between webhooks
            await asyncio.sleep(self.think * random.uniform(0.5, 1.5))
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        # Twilio names every request with an idempotency token (the same on its retries).
        headers = {"X-Twilio-Signature": self.validator.compute_signature(PUBLIC_BASE + path, params),
                   "I-Twilio-Idempotency-Token": uuid.uuid4().hex}
        started = time.perf_counter()
        try:
            async with self.http.post(self.target + path, data=params, headers=headers) as resp:
                body = await resp.text()
                ok = resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            body, ok = "", False
        elapsed = time.perf_counter() - started
        if self.recording:
            self.latencies.append(elapsed)
            self.errors += not ok
        if not ok:
            return None
        try:
            return ET.fromstring(body)
        except ET.ParseError:
            if self.recording:
                self.errors += 1
            return None


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=False)


async def one_call(client: Client, n: int) -> None:
    """A resident presses 0, the first staff phone answers on the second ring."""
    sid = f"CA{os.getpid():08x}{n:024x}"
    leg_sid = f"CA{os.getpid():08x}{n:016x}ffffffff"
    caller = {"CallSid": sid, "AccountSid": ACCOUNT, "From": f"+86139{n % 100000000:08d}",
              "To": HOTLINE, "CallStatus": "ringing", "Direction": "inbound",
              "ApiVersion": "2010-04-01"}
    t0 = datetime.now(timezone.utc)
    voice = await client.post(PUBLIC_BASE + "/twilio/voice", caller)
    gather = voice.find(".//Gather") if voice is not None else None
    if gather is None:
        return
    menu = await client.post(gather.get("action"), {**caller, "CallStatus": "in-progress",
                                                    "Digits": "0"})
    number = menu.find(".//Dial/Number") if menu is not None else None
    if number is None:
        if client.recording:
            client.short += 1
        return
    dial = menu.find(".//Dial")
    leg = {"CallSid": leg_sid, "ParentCallSid": sid, "AccountSid": ACCOUNT, "From": HOTLINE,
           "To": number.text or "", "Direction": "outbound-dial", "ApiVersion": "2010-04-01",
           "CallbackSource": "call-progress-events"}
    for seq, (status, at) in enumerate((("initiated", 0), ("ringing", 1), ("in-progress", 8)), 1):
        await client.post(number.get("statusCallback"), {
            **leg, "CallStatus": status, "SequenceNumber": str(seq),
            "Timestamp": rfc2822(t0 + timedelta(seconds=at))})
    screen = await client.post(number.get("url"), {**leg, "CallStatus": "in-progress"})
    accept = screen.find(".//Gather") if screen is not None else None
    if accept is not None:
        await client.post(accept.get("action"), {**leg, "CallStatus": "in-progress", "Digits": "1"})
    await client.post(number.get("statusCallback"), {
        **leg, "CallStatus": "completed", "SequenceNumber": "4", "CallDuration": "60",
        "Timestamp": rfc2822(t0 + timedelta(seconds=68))})
    await client.post(dial.get("action"), {**caller, "CallStatus": "in-progress",
                                           "DialCallStatus": "completed", "DialCallSid": leg_sid,
                                           "DialBridged": "true"})
    await client.post(PUBLIC_BASE + "/twilio/status", {
        **caller, "CallStatus": "completed", "CallDuration": "75", "SequenceNumber": "1",
        "CallbackSource": "call-progress-events",
        "Timestamp": rfc2822(t0 + timedelta(seconds=75))})
    if client.recording:
        client.whole += 1


@dataclass
class Result:
    mode: str
    concurrency: int
    webhooks: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    degraded: int = 0
    readers: tuple[int, float, float, float] | None = None  # supervisors, req/s, p50, p99
    whole: int = 0  # calls that ended while recording having sent all ten webhooks
    short: int = 0  # calls that ended early: nobody free (in line) at the menu

    @property
    def per_second(self) -> float:
        """Webhooks served with the database (degraded answers do not count)."""
        return max(0, self.webhooks - self.degraded) / self.seconds


async def drive(target: str, concurrency: int, seconds: float, warmup: float,
                first_call: int, think: float = 0.0, server: Server | None = None,
                supervisors: tuple[int, str] = (0, "")) -> Result:
    """`supervisors`: (how many, API token) poll `/api/stats` once a second meanwhile."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        client = Client(http, target)
        client.think = think
        numbers = iter(range(first_call, first_call + 10**9))
        stop = False

        async def caller() -> None:
            if think:  # spread the first webhooks as calls arriving at random would be
                await asyncio.sleep(random.uniform(0, think))
            while not stop:
                await one_call(client, next(numbers))

        stats_latencies: list[float] = []

        async def supervisor() -> None:
            headers = {"Authorization": f"Bearer {supervisors[1]}"}
            while not stop:
                began = time.perf_counter()
                async with http.get(target + "/api/stats", headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        client.errors += 1
                if client.recording:
                    stats_latencies.append(time.perf_counter() - began)
                await asyncio.sleep(random.uniform(0.5, 1.5))

        tasks = [asyncio.create_task(caller()) for _ in range(concurrency)]
        tasks += [asyncio.create_task(supervisor()) for _ in range(supervisors[0])]
        await asyncio.sleep(warmup)
        degraded = server.degraded() if server else 0
        client.recording = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        client.recording = False
        degraded = (server.degraded() - degraded) if server else 0
        elapsed = time.perf_counter() - started
        stop = True
        await asyncio.gather(*tasks)
    lat = sorted(client.latencies)
    quantiles = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    mode = f"paced {think:g} s" if think else "saturated"
    readers = None
    if len(stats_latencies) > 1:
        q = statistics.quantiles(stats_latencies, n=100)
        readers = (supervisors[0], len(stats_latencies) / elapsed, q[49] * 1000, q[98] * 1000)
    return Result(mode, concurrency, len(lat), elapsed, client.errors,
                  quantiles[49] * 1000, quantiles[98] * 1000, degraded, readers,
                  client.whole, client.short)


# -------------------------------------------------------------------------------- main


def print_row(label: str, r: Result, limit: Result | None) -> None:
    ratio = f"{r.per_second / limit.per_second:6.2f}" if limit else "     -"
    whole = f"{100 * r.whole / (r.whole + r.short):5.0f}%" if r.whole + r.short else "     -"
    print(f"{label:<22} {r.mode:<13} {r.concurrency:>5} {r.per_second:>11.0f} {r.p50_ms:>8.1f} "
          f"{r.p99_ms:>8.1f} {r.errors:>6} {r.degraded:>8} {ratio} {whole}", flush=True)
    if r.readers:
        n, rate, p50, p99 = r.readers
        print(f"{'  supervisors':<22} {'/api/stats':<13} {n:>5} {rate:>11.1f} {p50:>8.1f} "
              f"{p99:>8.1f}", flush=True)


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--concurrency", default="50,200,500",
                   help="concurrent calls, comma-separated (default 50,200,500)")
    p.add_argument("--seconds", type=float, default=10, help="measured time per level")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured time before each level")
    p.add_argument("--workers", type=int, default=1, help="server processes (ivr serve --workers)")
    p.add_argument("--postgres", action="store_true",
                   help="a throwaway PostgreSQL cluster (scripts/postgres.sh) instead of SQLite")
    p.add_argument("--database-url", help="an existing, empty database to use")
    p.add_argument("--think", type=float, default=1.0,
                   help="also run each level paced: a caller waits about this long (0.5-1.5 x) "
                        "before each webhook, as a real call does (0: saturated runs only)")
    p.add_argument("--supervisors", type=int, default=0,
                   help="also poll /api/stats from this many supervisors, about once a second "
                        "each, during every run (their figures on a line of their own)")
    p.add_argument("--no-bare", action="store_true", help="skip the bare-aiohttp limit")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every level this many times, the limit beside the hotline each "
                        "time, and print the median ratio")
    p.add_argument("--staff", type=int, default=0,
                   help="staff on shift (default: the largest concurrency, so every call is whole)")
    p.add_argument("--capacity", action="store_true",
                   help="find the calls in progress one server carries at a real call's pace "
                        "with p99 < 50 ms (use --concurrency '' to run only this)")
    p.add_argument("--call-seconds", type=float, default=60,
                   help="with --capacity: a call's ten webhooks span this long (default 60)")
    p.add_argument("--capacity-start", type=int, default=100, help="with --capacity: first probe")
    p.add_argument("--capacity-seconds", type=float, default=30,
                   help="with --capacity: measured time per probe")
    p.add_argument("--capacity-probes", type=int, default=7,
                   help="with --capacity: at most this many probes")
    p.add_argument("--target", help="drive a server already running at this URL (for "
                   "profiling); it must use this script's token and public URL")
    p.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return p.parse_args()


def ok_at_pace(r: Result) -> bool:
    """What a caller would call fine: p99 under 50 ms, every answer from the database."""
    return r.p99_ms < CAPACITY_P99_MS and r.errors == 0 and r.degraded == 0 and r.short == 0


class Databases:
    """A fresh database per server: SQLite files in the work directory, or databases of
    one throwaway PostgreSQL cluster (scripts/postgres.sh)."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.pg_dir: Path | None = None
        self.admin = ""
        self.made = 0

    def start(self) -> None:
        if self.args.postgres and not self.args.database_url:
            self.pg_dir = self.work / "pg"
            os.chmod(self.work, 0o755)
            self.admin = subprocess.run(
                ["bash", str(ROOT / "scripts/postgres.sh"), "start", str(self.pg_dir)],
                check=True, capture_output=True, text=True).stdout.strip()

    def new(self) -> str:
        self.made += 1
        if self.args.database_url:
            if self.made > 1:
                raise SystemExit("--database-url serves one run: use --postgres for several")
            return self.args.database_url
        if self.admin:
            name = f"ivr_bench_{self.made}"
            subprocess.run([sys.executable, "-c",
                            "import asyncio, asyncpg, sys\n"
                            "async def m():\n"
                            "    c = await asyncpg.connect(sys.argv[1])\n"
                            "    await c.execute(f'CREATE DATABASE {sys.argv[2]}')\n"
                            "asyncio.run(m())", self.admin.replace("+asyncpg", ""), name],
                           check=True)
            return self.admin.rsplit("/", 1)[0] + "/" + name
        return f"sqlite+aiosqlite:///{self.work / f'ivr-{self.made}.db'}"

    def stop(self) -> None:
        if self.pg_dir is not None:
            subprocess.run(["bash", str(ROOT / "scripts/postgres.sh"), "stop", str(self.pg_dir)])


async def hotline_server(args: argparse.Namespace, work: Path, databases: Databases, *,
                         staff: int) -> tuple[Server, str]:
    """`ivr serve` on a new database with `staff` people on shift; its supervisor's token."""
    database_url = databases.new()
    env = {"DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "PUBLIC_BASE_URL": PUBLIC_BASE, "COMPANY_NAME": "阳光花园",
           "HOTLINE_NUMBER": HOTLINE, "IVR_LOG_LEVEL": "WARNING", "IVR_WRAP_UP_SECONDS": "0",
           "IVR_JOURNAL_DIR": str(work / f"journal-{databases.made}"), "PYTHONPATH": str(ROOT)}
    token = prepare_database(env, work, staff=staff)
    server = await Server([sys.executable, "-m", "ivr.cli", "serve", "--no-dialer",
                           "--host", "127.0.0.1", "--workers", str(args.workers)],
                          env, work).start()
    return server, token


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def capacity(args: argparse.Namespace, work: Path, databases: Databases,
                   servers: list[Server], backend: str) -> int:
    """The most calls in progress at a real call's pace (ten webhooks over
    `--call-seconds`) with p99 < 50 ms: doubling, then halving the gap; each probe on a
    fresh database with as many staff as calls (every call whole)."""
    think = args.call_seconds / WEBHOOKS_PER_CALL
    print(f"# capacity: calls in progress at a real call's pace (ten webhooks over "
          f"{args.call_seconds:g} s, {think:g} s apart on average), p99 < {CAPACITY_P99_MS} ms, "
          f"{args.capacity_seconds:g} s per probe after {2 * think:g} s of ramp-up; {load()}",
          flush=True)
    if not args.no_bare:  # the machine's own latency at that pace: the floor under ours
        bare = await Server([sys.executable, str(Path(__file__).resolve()), "--bare-server"],
                            {"PYTHONPATH": str(ROOT)}, work).start()
        servers.append(bare)
        try:
            print_row("bare aiohttp (limit)", await drive(
                bare.url, args.capacity_start, args.capacity_seconds, 2 * think, 0, think=think),
                None)
        finally:
            bare.stop()
    good, bad, n = 0, None, args.capacity_start
    probes = 0
    while probes < args.capacity_probes:
        server, _ = await hotline_server(args, work, databases, staff=n)
        servers.append(server)
        try:
            result = await drive(server.url, n, args.capacity_seconds, 2 * think, 0,
                                 think=think, server=server)
        finally:
            server.stop()
        probes += 1
        print_row(f"hotline ×{args.workers} {backend}", result, None)
        if ok_at_pace(result):
            good = n
        else:
            bad = n
        if bad is None:
            n *= 2
        elif bad - good <= max(10, good // 10):
            break
        else:
            n = (good + bad) // 2
    print(f"capacity ×{args.workers} {backend}: {good} calls in progress with p99 < "
          f"{CAPACITY_P99_MS} ms" + (f" (not at {bad})" if bad else " (the search stopped first)")
          + f"; {load()}", flush=True)
    return good


async def main(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",")] if args.concurrency else []
    if args.target:
        for level in levels:
            print_row("target", await drive(args.target, level, args.seconds, args.warmup,
                                            int(time.time()) * 1000), None)
            if args.think:
                print_row("target", await drive(args.target, level, args.seconds, args.warmup,
                                                int(time.time()) * 1000 + 1, think=args.think),
                          None)
        return 0
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    databases = Databases(args, work)
    servers: list[Server] = []
    try:
        databases.start()
        backend = "PostgreSQL" if (args.postgres or (args.database_url or "").startswith("postgres")) else "SQLite"
        print("# " + shlex.join([".venv/bin/python", "benchmarks/webhooks.py", *sys.argv[1:]]), flush=True)
        if levels:
            staff = args.staff or max(levels)
            print(f"# {os.cpu_count()} cores; server: ivr serve --workers {args.workers} on {backend}, "
                  f"{staff} staff, no wrap-up; {args.seconds:g} s per level after {args.warmup:g} s "
                  f"warm-up; {WEBHOOKS_PER_CALL} webhooks per call; {load()}", flush=True)
            print(f"{'server':<22} {'mode':<13} {'calls':>5} {'webhooks/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'errors':>6} {'degraded':>8} {'ratio':>6} {'whole':>6}", flush=True)
            bare = None
            if not args.no_bare:
                bare = await Server([sys.executable, str(Path(__file__).resolve()), "--bare-server"],
                                    {"PYTHONPATH": str(ROOT)}, work).start()
                servers.append(bare)
            hotline, token = await hotline_server(args, work, databases, staff=staff)
            servers.append(hotline)
            supervisors = (args.supervisors, token)
            ratios: dict[int, list[float]] = {level: [] for level in levels}
            first = 0
            for repeat in range(args.repeat):
                # Side by side: each level's limit measured just before the hotline's.
                for level in levels:
                    limit = await drive(bare.url, level, args.seconds, args.warmup, 0) if bare else None
                    if limit is not None:
                        print_row("bare aiohttp (limit)", limit, None)
                    result = await drive(hotline.url, level, args.seconds, args.warmup, first,
                                         server=hotline, supervisors=supervisors)
                    first += 10**7
                    print_row(f"hotline ×{args.workers} {backend}", result, limit)
                    if limit is not None:
                        ratios[level].append(result.per_second / limit.per_second)
                    if args.think:
                        result = await drive(hotline.url, level, args.seconds, args.warmup, first,
                                             think=args.think, server=hotline, supervisors=supervisors)
                        first += 10**7
                        print_row(f"hotline ×{args.workers} {backend}", result, None)
                print(f"# run {repeat + 1} of {args.repeat} done; {load()}", flush=True)
            if bare is not None:
                print("ratio, median of " + str(args.repeat) + ": " + ", ".join(
                    f"{level} calls {statistics.median(r):.2f} ({' / '.join(f'{x:.2f}' for x in r)})"
                    for level, r in ratios.items()), flush=True)
            hotline.stop()
            if bare is not None:
                bare.stop()
        if args.capacity:
            await capacity(args, work, databases, servers, backend)
    finally:
        for server in servers:
            server.stop()
        databases.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    ARGS = arguments()
    if ARGS.bare_server:
        bare_server(ARGS.port)
    else:
        sys.exit(asyncio.run(main(ARGS)))
