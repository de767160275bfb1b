"""How long a caller waits for the greeting while bogus sign-ins flood the login page.

A probe sent 8 wrong passwords a second to `POST /login` and `/twilio/voice` took 11-57 s:
each login held SQLite's write lock through its Argon2 check. This starts `ivr serve` on
a fresh SQLite database, floods `/login` at `--rate` a second for `--seconds`, and meanwhile
places one signed `/twilio/voice` every `--call-every` seconds; it prints the greeting's
latency (median, 95th percentile, worst) and what the logins got, twice:

- `one address`: the flood from one client address, as a single prober sends it (the
  per-address limit refuses it before any hash or write);
- `many addresses`: the limit lifted (`IVR_LOGIN_FAILURES_PER_ADDRESS` huge), as a flood
  from many addresses would be: every login is hashed and written.

Figures only; not a test.

    .venv/bin/python benchmarks/login_flood.py [--rate 8] [--seconds 20]
    .venv/bin/python benchmarks/login_flood.py --source /path/to/another/checkout
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_BASE = "https://hotline.example.com"
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
HOTLINE = "+862161234567"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ivr(source: Path, env: dict[str, str], *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import sys; from ivr.cli import main; "
                             "sys.exit(main())", *args],
                            cwd=source, env={**env, "PYTHONPATH": str(source)}, **kw)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url + "/login") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


async def flood(url: str, rate: float, stop: asyncio.Event, outcomes: Counter) -> None:
    async with aiohttp.ClientSession() as http:
        async def one() -> None:
            try:
                # A new name each time: no per-name delay spares the server a hash.
                name = f"guess-{uuid.uuid4().hex[:8]}"
                async with http.post(url + "/login", data={"username": name, "password": "wrong"},
                                     allow_redirects=False) as resp:
                    outcomes[resp.status] += 1
            except aiohttp.ClientError:
                outcomes["error"] += 1
        tasks = []
        while not stop.is_set():
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)


async def calls(url: str, every: float, stop: asyncio.Event, latencies: list[float]) -> None:
    validator = RequestValidator(AUTH_TOKEN)
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            params = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+8613900000001",
                      "To": HOTLINE, "CallStatus": "ringing", "Direction": "inbound",
                      "AccountSid": "AC" + "0" * 32}
            headers = {"X-Twilio-Signature": validator.compute_signature(
                PUBLIC_BASE + "/twilio/voice", params)}
            began = time.perf_counter()
            async with http.post(url + "/twilio/voice", data=params, headers=headers) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(every)


async def run(source: Path, label: str, *, rate: float, seconds: float, every: float,
              extra_env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/ivr.db",
               "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE,
               "HOTLINE_NUMBER": HOTLINE, "COMPANY_NAME": "阳光花园",
               "IVR_JOURNAL_DIR": f"{tmp}/journal", "IVR_LOG_LEVEL": "ERROR", **extra_env}
        ivr(source, env, "db", "upgrade", stdout=subprocess.DEVNULL).wait()
        ivr(source, env, "user", "add", "主管", "--role", "supervisor", "--password-stdin",
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL).communicate(b"bench-pass-123\n")
        server = ivr(source, env, "serve", "--no-dialer", "--port", str(port),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_ready(url)
            stop, outcomes, latencies = asyncio.Event(), Counter(), []
            tasks = [asyncio.create_task(flood(url, rate, stop, outcomes)),
                     asyncio.create_task(calls(url, every, stop, latencies))]
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.gather(*tasks)
        finally:
            server.terminate()
            server.wait(10)
    q = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else latencies * 19
    logins = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items(), key=str))
    print(f"{label:15} greeting (s) median {statistics.median(latencies):6.3f}  "
          f"p95 {q[18]:6.3f}  worst {max(latencies):6.3f}  ({len(latencies)} calls)   "
          f"logins {logins}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=8, help="bogus logins a second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--call-every", type=float, default=0.25)
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="the checkout whose server to run (default: this one)")
    args = parser.parse_args()
    print(f"{args.rate:g} bogus logins/s for {args.seconds:g} s, a call every "
          f"{args.call_every:g} s, SQLite, one process, source {args.source}")
    for label, extra in (("one address", {}),
                         ("many addresses", {"IVR_LOGIN_FAILURES_PER_ADDRESS": "1000000000"})):
        asyncio.run(run(args.source, label, rate=args.rate, seconds=args.seconds,
                        every=args.call_every, extra_env=extra))


if __name__ == "__main__":
    main()
