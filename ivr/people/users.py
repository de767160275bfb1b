"""Dashboard users and API tokens. Passwords hashed with Argon2id; tokens kept as SHA-256.

Every token expires (`TOKEN_DAYS` unless asked otherwise) and can be revoked; a user's
tokens end when their password or role changes, as their login sessions do.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ApiToken, User
from models.user import ROLES

MANAGER_ROLES = ("supervisor", "admin")
NO_STAFF_MEMBER = -1  # an id no staff member has


def own_staff_id(user: User) -> int | None:
    """Whose calls and tickets a user sees: everyone's (None) for supervisors and admins,
    else their own staff member's. A staff user linked to no staff member sees no one's,
    never everyone's: the API, the pages and the exports all ask here."""
    if user.role in MANAGER_ROLES:
        return None
    return user.staff_id if user.staff_id is not None else NO_STAFF_MEMBER


_hasher = PasswordHasher()
TOKEN_DAYS = 90  # how long a new API token lasts unless `ivr token create --days` says
MAX_TOKEN_DAYS = 3660


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def find_user(session: AsyncSession, name: str) -> User | None:
    return await session.scalar(select(User).where(User.name == name))


async def add_user(session: AsyncSession, *, name: str, role: str, password: str | None,
                   now: datetime) -> User:
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    user = await find_user(session, name)
    if user is None:
        user = User(name=name, role=role, created_at=now)
        session.add(user)
    elif user.role != role or password:
        # A reset password or a new role: whoever held the old credentials is out.
        await revoke_tokens_of(session, user_id=user.id)
    user.role = role
    if password:
        user.password_hash = hash_password(password)
    await session.flush()
    return user


async def create_token(session: AsyncSession, *, name: str, now: datetime,
                       days: int = TOKEN_DAYS) -> str:
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise UserError(f"--days {days}: a token lasts 1 to {MAX_TOKEN_DAYS} days")
    user = await find_user(session, name)
    if user is None:
        raise UserError(f"unknown user {name!r}: add it first with `ivr user add`")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), created_at=now,
                         expires_at=now + timedelta(days=days)))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str, *, now: datetime) -> User | None:
    """The user behind a live token: None when it is unknown, revoked or expired."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.expires_at <= now:
        return None
    return await session.get(User, row.user_id)


async def list_tokens(session: AsyncSession, *, name: str | None = None) -> list[dict]:
    """Every token (never the token itself: it is not kept), oldest first."""
    query = select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if name is not None:
        if await find_user(session, name) is None:
            raise UserError(f"unknown user {name!r}")
        query = query.where(User.name == name)
    return [{"id": token.id, "user": user.name, "role": user.role,
             "created_at": token.created_at, "expires_at": token.expires_at}
            for token, user in (await session.execute(query)).all()]


async def revoke_token(session: AsyncSession, *, token_id: int) -> str:
    """Ends one token at once, in every process; returns its user's name."""
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise UserError(f"no API token {token_id}: see `ivr token list`")
    user = await session.get(User, row.user_id)
    await session.delete(row)
    await session.flush()
    return user.name if user else "?"


async def revoke_tokens_of(session: AsyncSession, *, user_id: int) -> int:
    result = await session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
    return result.rowcount or 0
