"""Text both databases can store, cleaned where it comes in (webhooks, forms, JSON).

PostgreSQL refuses the NUL character in any text column ("invalid byte sequence for
encoding UTF8: 0x00"); SQLite stores it. A request carrying one would fail its insert on
PostgreSQL only, so it is dropped at the boundary, the same on both databases.
"""

from __future__ import annotations

from typing import Any


def storable(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def storable_json(value: Any) -> Any:
    """A decoded JSON document with every string (keys too) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value
