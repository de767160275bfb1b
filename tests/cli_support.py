"""`ivr` as an operator runs it, but in this process: the CLI's own `main`, given its own
environment, working directory, standard input and output. A fresh interpreter per
command cost a second and a half of imports, and the CLI tests run dozens of commands.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ivr.cli import main


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def ivr(*args: str, cwd: Path, database_url: str | None = None,
        env: Mapping[str, str] | None = None, stdin: str | None = None) -> Ran:
    """Run `ivr ARGS` in `cwd` with the test's environment less any TWILIO_* and IVR_*
    (an operator's shell has none of the suite's), plus `env` and `DATABASE_URL`.

    From inside a running event loop (an async test) the command runs on a thread of its
    own, since `main` starts its own loop; the test waits for it, as for a process."""
    env = {**(env or {}), **({"DATABASE_URL": database_url} if database_url else {})}
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(args, cwd, env, stdin)
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(_run, args, cwd, env, stdin).result()


def _run(args, cwd, env, stdin) -> Ran:
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update({k: v for k, v in saved_env.items()
                       if not k.startswith(("TWILIO_", "IVR_"))} | dict(env))
    os.chdir(cwd)
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.stdin = saved_stdin
    return Ran(code, out.getvalue(), err.getvalue())
