"""Dashboard users and API tokens. Passwords hashed with Argon2id; tokens kept as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ApiToken, User
from models.user import ROLES

_hasher = PasswordHasher()


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
    user.role = role
    if password:
        user.password_hash = hash_password(password)
    await session.flush()
    return user


async def create_token(session: AsyncSession, *, name: str, now: datetime) -> str:
    user = await find_user(session, name)
    if user is None:
        raise UserError(f"unknown user {name!r}: add it first with `ivr user add`")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), created_at=now))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None:
        return None
    return await session.get(User, row.user_id)
