"""Login sessions of the dashboard: server-side rows, so logout and expiry really end them.

The browser holds a random token in an HttpOnly cookie; the database keeps only its
SHA-256 (a copied database logs nobody in). Each session carries its own CSRF token,
which every form posts back. Failed logins are written to the audit log, and a name with
too many recent failures is locked for a while (throttling without any in-memory state,
so it holds across processes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.people.users import find_user, hash_password, verify_password
from ivr.platform.config import Settings
from models import AuditEntry, LoginSession, User

COOKIE = "ivr_session"
# Refresh `last_seen_at` at most this often: reading a page need not write every time.
TOUCH_EVERY = timedelta(minutes=5)


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


async def recent_failures(session: AsyncSession, *, settings: Settings, name: str,
                          now: datetime) -> int:
    since = now - timedelta(minutes=settings.login_lock_minutes)
    last_ok = await session.scalar(
        select(func.max(AuditEntry.at)).where(AuditEntry.user_name == name,
                                               AuditEntry.action == "login")
    )
    if last_ok is not None and last_ok > since:
        since = last_ok
    return await session.scalar(
        select(func.count()).select_from(AuditEntry)
        .where(AuditEntry.user_name == name, AuditEntry.action == "login_failed",
               AuditEntry.at > since)
    ) or 0


async def log_in(session: AsyncSession, *, settings: Settings, name: str, password: str,
                 now: datetime) -> tuple[str, SignedIn]:
    """Check the password and open a session; returns the cookie value and the session.

    The caller commits even on LoginError, so the failure is counted."""
    name = (name or "").strip()[:100]
    if await recent_failures(session, settings=settings, name=name, now=now) \
            >= settings.login_max_failures:
        audit(session, now=now, user_name=name, action="login_failed", subject="locked")
        raise LoginError("locked")
    user = await find_user(session, name) if name else None
    # Verify even for an unknown name, so timing does not tell which names exist.
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not ok:
        audit(session, now=now, user_name=name, action="login_failed")
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
    """The user behind a cookie, or None when it is unknown or expired."""
    if not token:
        return None
    login = await session.scalar(select(LoginSession).where(LoginSession.token_hash == digest(token)))
    if login is None or login.expires_at <= now:
        return None
    user = await session.get(User, login.user_id)
    if user is None:
        return None
    if now - login.last_seen_at >= TOUCH_EVERY:
        login.last_seen_at = now
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
