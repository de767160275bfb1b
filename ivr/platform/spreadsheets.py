"""Cells bound for a spreadsheet: the one rule every CSV and XLSX export writes through.

Excel, WPS and LibreOffice run a cell that starts with `=`, `+`, `-` or `@` (or a tab
or carriage return before one) as a formula, so a resident's name, an address, a ticket
description or a caller ID typed by a stranger could become a live formula (a link that
leaks the sheet, a DDE command) on a supervisor's desk. Such text is written with a
leading apostrophe, the spreadsheet's own mark for "this is text". A plain number
(`+8613900000001`, `-5`) cannot run anything and is left as it is.
"""

from __future__ import annotations

import re
from typing import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def cell(value):
    """`value` as a spreadsheet may hold it: text that would be a formula made inert."""
    if not isinstance(value, str):
        return value
    if value.lstrip(" ").startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def row(values: Iterable) -> list:
    return [cell(v) for v in values]


def rows(table: Iterable[Iterable]) -> list[list]:
    return [row(r) for r in table]
