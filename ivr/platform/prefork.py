"""`ivr serve --workers N`: N server processes on one port, for the machine's cores.

Each process is a whole server (its own event loop, database pool and journal) with its
own listening socket bound with SO_REUSEPORT, so the kernel spreads new connections
across them. Call state lives in the database, so any process can take any webhook. The
parent only supervises: it restarts a process that dies and stops them all on SIGTERM
or SIGINT.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import time
import traceback
from typing import Callable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
RESTARTS_PER_MINUTE = 5  # more crashes than this and something is wrong: stop serving


def check_port(host: str, port: int) -> None:
    """Fail at once, in the parent, if the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        probe.bind((host, port))


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when the supervisor dies, even by `kill -9`."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _child(serve: Callable[[], None], parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)
    code = 0
    try:
        serve()
    except BaseException:  # the parent logs the exit and starts another
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def serve_forked(workers: int, serve: Callable[[], None]) -> int:
    """Run `serve()` (which must listen with reuse_port) in `workers` processes."""
    children: set[int] = set()
    stopping = False
    crashes: list[float] = []

    parent = os.getpid()

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _child(serve, parent)
        children.add(pid)

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    log.info("serving with %d processes (pids %s)", workers, " ".join(map(str, sorted(children))))
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        children.discard(pid)
        if stopping:
            continue
        log.error("server process %d exited (status %d); starting another", pid, code)
        now = time.monotonic()
        crashes = [t for t in crashes if now - t < 60] + [now]
        if len(crashes) > RESTARTS_PER_MINUTE:
            log.error("server processes keep dying; stopping")
            status = 1
            stop(signal.SIGTERM, None)
            continue
        time.sleep(0.5)
        spawn()
    return status
