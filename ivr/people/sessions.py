"""Login sessions of the dashboard: server-side rows, so logout and expiry really end them.

The browser holds a random token in an HttpOnly cookie; the database keeps only its
SHA-256 (a copied database logs nobody in). Each session carries its own CSRF token,
which every form posts back. Failed logins are written to the audit log; past
`IVR_LOGIN_MAX_FAILURES` recent failures a name waits a growing delay (1, 2, 4 ... s, at
most `IVR_LOGIN_MAX_DELAY_SECONDS`) before its next try, counted from the audit log so it
holds across processes. A delay, unlike the old hard lock, is something a stranger can
cause but not stretch: tries refused during it are not failures.

A sign-in is three steps so that no transaction is open while Argon2 runs (it takes
tens of milliseconds of CPU, and on SQLite an open write transaction holds every caller's
webhook back): `begin_login` reads, `check_password` hashes on a thread of its own, and
`finish_login` writes the audit row and the session in one short transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.users import find_user, hash_password, verify_password
from ivr.platform.config import Settings
from models import AuditEntry, LoginSession, User

COOKIE = "ivr_session"
# Argon2 checks run here, two at a time: a flood of sign-ins queues for these threads
# instead of taking every core from the webhooks.
HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


@dataclass
class SignedIn:
    user: User
    login: LoginSession


class LoginError(ValueError):
    """Wrong name or password, or a locked name; the message is safe to show."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(session: AsyncSession, *, now: datetime, user_name: str, action: str,
          subject: str = "") -> None:
    session.add(AuditEntry(at=now, user_name=user_name[:100], action=action, subject=subject))


@dataclass
class LoginAttempt:
    """What a sign-in needs from the database before the password is checked."""

    name: str
    user_id: int | None
    password_hash: str
    wait_seconds: float


async def recent_failures(session: AsyncSession, *, settings: Settings, name: str,
                          now: datetime) -> tuple[int, datetime | None]:
    """Wrong passwords for `name` inside the window and since its last sign-in, and the
    time of the latest."""
    since = now - timedelta(minutes=settings.login_lock_minutes)
    last_ok = await session.scalar(
        select(func.max(AuditEntry.at)).where(AuditEntry.user_name == name,
                                               AuditEntry.action == "login")
    )
    if last_ok is not None and last_ok > since:
        since = last_ok
    count, latest = (await session.execute(
        select(func.count(), func.max(AuditEntry.at))
        .where(AuditEntry.user_name == name, AuditEntry.action == "login_failed",
               AuditEntry.at > since)
    )).one()
    return count or 0, latest


def login_delay(settings: Settings, failures: int) -> float:
    """The wait before the next try after `failures` wrong passwords: 0 up to the
    allowance, then 1, 2, 4 ... seconds, capped."""
    if failures < settings.login_max_failures:
        return 0.0
    doublings = min(failures - settings.login_max_failures, 30)  # 2 ** 30 s: past any cap
    return min(2.0 ** doublings, settings.login_max_delay_seconds)


async def begin_login(session: AsyncSession, *, settings: Settings, name: str,
                      now: datetime) -> LoginAttempt:
    """Read what the sign-in needs (the session may be read-only): the user's hash and
    how long the name must still wait."""
    name = (name or "").strip()[:100]
    failures, latest = await recent_failures(session, settings=settings, name=name, now=now)
    wait = 0.0
    delay = login_delay(settings, failures)
    if delay and latest is not None:
        wait = max(0.0, (latest + timedelta(seconds=delay) - now).total_seconds())
    user = await find_user(session, name) if name else None
    return LoginAttempt(name=name, user_id=user.id if user else None,
                        password_hash=(user.password_hash if user else None) or _DUMMY_HASH,
                        wait_seconds=wait)


async def check_password(attempt: LoginAttempt, password: str) -> bool:
    """Argon2, on its own threads, with no transaction open. An unknown name is checked
    against a dummy hash, so timing does not tell which names exist."""
    ok = await asyncio.get_running_loop().run_in_executor(
        HASHING, verify_password, attempt.password_hash, password or "")
    return ok and attempt.user_id is not None


async def finish_login(session: AsyncSession, *, settings: Settings, attempt: LoginAttempt,
                       ok: bool, now: datetime) -> tuple[str, SignedIn]:
    """Write the outcome: the failure in the audit log (LoginError), or the session."""
    user = await session.get(User, attempt.user_id) if ok and attempt.user_id else None
    if user is None:
        audit(session, now=now, user_name=attempt.name, action="login_failed")
        raise LoginError("invalid")
    token = secrets.token_urlsafe(32)
    login = LoginSession(user_id=user.id, token_hash=digest(token),
                         csrf_token=secrets.token_urlsafe(24), created_at=now,
                         last_seen_at=now,
                         expires_at=now + timedelta(hours=settings.session_hours))
    session.add(login)
    audit(session, now=now, user_name=user.name, action="login")
    await session.flush()
    return token, SignedIn(user=user, login=login)


async def signed_in(session: AsyncSession, *, token: str | None, now: datetime) -> SignedIn | None:
    """The user behind a cookie, or None when it is unknown or expired. Only reads: a
    session lasts `IVR_SESSION_HOURS` from sign-in whatever its use, so a page view
    writes nothing."""
    if not token:
        return None
    login = await session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
    if login is None or login.expires_at <= now:
        return None
    user = await session.get(User, login.user_id)
    if user is None:
        return None
    return SignedIn(user=user, login=login)


def csrf_ok(login: LoginSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(login.csrf_token, sent)


async def log_out(session: AsyncSession, *, token: str | None, now: datetime) -> None:
    if not token:
        return
    login = await session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
    if login is not None:
        user = await session.get(User, login.user_id)
        audit(session, now=now, user_name=user.name if user else "?", action="logout")
        await session.delete(login)


async def end_sessions_of(session: AsyncSession, *, user_id: int) -> None:
    """A changed password or role signs the user out everywhere."""
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


async def purge_expired(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))


# A real hash of a random password: unknown names cost the same time as known ones.
_DUMMY_HASH = hash_password(secrets.token_hex(16))
