"""Speak, don't press (说出您的需求): what a caller said, as a menu choice.

Twilio's Mandarin recogniser posts `SpeechResult` (and `Confidence`) where a key was
asked for. The words are matched against the centre's lexicon, a data file beside the
call scripts (`call_scripts/zh-CN/speech_lexicon.tsv`), so the centre can add its own
words without code. Where matches overlap the longer phrase wins, so 办门禁卡 (an
enquiry) is not read as 门禁卡…坏 (a repair) and 打不着火 (a repair) is not 着火 (a fire).
Any emergency phrase goes straight to the emergency route; otherwise the choice with the
highest total weight. Nothing matched, or a recogniser unsure of what it heard (喂？,
嗯), is no choice: the caller is asked again, never routed on a guess.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CHOICES = ("person", "repair", "emergency", "complaint", "fees", "inquiry")
# When two choices weigh the same: the one a resident would least like to lose first.
PRECEDENCE = ("emergency", "complaint", "repair", "fees", "inquiry", "person")
LEXICON_FILE = Path("zh-CN") / "speech_lexicon.tsv"
NOTHING = "-"
_NOT_WORDS = re.compile(r"[\s\W_]+", re.UNICODE)
# Twilio's `hints`: the menu's own words, which the recogniser should expect.
HINTS = "人工,客服,报修,维修,紧急维修,投诉,物业费,缴费,咨询,漏水,停电,停水,电梯,着火,煤气"


class LexiconError(ValueError):
    """A lexicon file that cannot be read: names the file and the row."""


@dataclass(frozen=True)
class Entry:
    phrase: str
    choice: str
    weight: int


@dataclass(frozen=True)
class Understanding:
    """What the caller meant (`choice`, None when unclear) and the words that said so."""

    choice: str | None
    heard: str
    matched: tuple[str, ...] = ()


def normalise(text: str) -> str:
    return _NOT_WORDS.sub("", text or "").lower()


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[Entry, ...]

    @classmethod
    def read(cls, path: Path) -> Lexicon:
        entries = []
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t")
            for number, row in enumerate(rows, start=1):
                if not row or row[0] == "phrase":
                    continue
                phrase, choice = normalise(row[0]), (row[1].strip() if len(row) > 1 else "")
                if not phrase or choice not in (*CHOICES, NOTHING):
                    raise LexiconError(f"{path}: row {number}: need a phrase and one of "
                                       f"{', '.join(CHOICES)} or {NOTHING}, got {row!r}")
                try:
                    weight = int(row[2]) if len(row) > 2 and row[2].strip() else 1
                except ValueError:
                    raise LexiconError(f"{path}: row {number}: weight {row[2]!r} is not a whole number")
                entries.append(Entry(phrase, choice, weight))
        return cls(tuple(entries))

    def understand(self, said: str) -> Understanding:
        text = normalise(said)
        found = [(start, start + len(e.phrase), e) for e in self.entries
                 for start in _occurrences(text, e.phrase)]
        found.sort(key=lambda m: (-(m[1] - m[0]), m[0]))  # longest first, then leftmost
        taken: list[tuple[int, int, Entry]] = []
        for start, end, entry in found:
            if all(end <= s or start >= e for s, e, _ in taken):
                taken.append((start, end, entry))
        taken.sort(key=lambda m: m[0])
        meant = [e for _, _, e in taken if e.choice != NOTHING]
        matched = tuple(e.phrase for e in meant)
        if any(e.choice == "emergency" for e in meant):
            return Understanding("emergency", said, matched)
        totals: dict[str, int] = {}
        for entry in meant:
            totals[entry.choice] = totals.get(entry.choice, 0) + entry.weight
        if not totals:
            return Understanding(None, said, matched)
        best = max(totals.values())
        choice = next(c for c in PRECEDENCE if totals.get(c) == best)
        return Understanding(choice, said, matched)


def _occurrences(text: str, phrase: str):
    start = text.find(phrase)
    while start != -1:
        yield start
        start = text.find(phrase, start + 1)


@lru_cache(maxsize=8)
def _lexicon_at(path: str, mtime: float) -> Lexicon:
    return Lexicon.read(Path(path))


def lexicon_in(scripts_directory: Path) -> Lexicon:
    """The lexicon beside the call scripts, read again only when the file changes."""
    path = Path(scripts_directory) / LEXICON_FILE
    return _lexicon_at(str(path), path.stat().st_mtime)


def understand(said: str | None, *, lexicon: Lexicon, confidence: str | float | None,
               min_confidence: float) -> Understanding:
    """`SpeechResult` and `Confidence` as Twilio posts them, as a menu choice or None."""
    heard = (said or "").strip()
    try:
        sure = float(confidence) if confidence not in (None, "") else None
    except (TypeError, ValueError):
        sure = None
    if not heard or (sure is not None and sure < min_confidence):
        return Understanding(None, heard)
    return lexicon.understand(heard)
