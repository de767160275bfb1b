"""How often speech is routed as meant: the phrase tables through the packaged lexicon.

    .venv/bin/python benchmarks/speech.py

Prints, per table, how many phrases went where they should, how many the hotline found
unclear (the caller is offered the keys again, no harm done) and how many went to a wrong
place, with every emergency missed or wrongly raised listed. `tests/calls/speech_phrases.tsv`
is the table the lexicon was written against; `tests/calls/speech_unseen.tsv` holds phrases
written afterwards, the honest measure of everyday phrasing the lexicon has not met.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import call_scripts  # noqa: E402
from ivr.calls.speech import lexicon_in  # noqa: E402


def rows(path: Path, section: str | None = None):
    current = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("# Second set"):
                current = "second"
            if line.startswith("#") or not line.strip() or line.startswith("utterance"):
                continue
            said, meant = line.rstrip("\n").split("\t")[:2]
            if section is None or current == section:
                yield said, (None if meant == "-" else meant)


def report(name: str, table: list[tuple[str, str | None]], lexicon) -> None:
    started = time.perf_counter()
    results = [(said, meant, lexicon.understand(said).choice) for said, meant in table]
    per_phrase_us = (time.perf_counter() - started) / max(1, len(table)) * 1e6
    right = sum(1 for _, m, got in results if got == m)
    unclear = sum(1 for _, m, got in results if got is None and m is not None)
    wrong = [(s, m, got) for s, m, got in results if got != m and got is not None]
    print(f"{name}: {len(table)} phrases, {right} as meant ({right / len(table):.1%}), "
          f"{unclear} unclear (keys offered again), {len(wrong)} to a wrong place; "
          f"{per_phrase_us:.0f} µs a phrase")
    for said, meant, got in results:
        if got != meant and "emergency" in (meant, got):
            print(f"    emergency {'missed' if meant == 'emergency' else 'raised'}: {said} → {got}")


def main() -> None:
    lexicon = lexicon_in(Path(call_scripts.__file__).parent)
    print(f"lexicon: {len(lexicon.entries)} phrases")
    tests = ROOT / "tests" / "calls"
    report("speech_phrases.tsv (written against)", list(rows(tests / "speech_phrases.tsv")), lexicon)
    shared = ROOT.parent / "shared" / "speech_samples.tsv"
    if shared.exists():
        report("shared speech_samples.tsv", list(rows(shared)), lexicon)
    report("speech_unseen.tsv, second set (never used to tune)",
           list(rows(tests / "speech_unseen.tsv", "second")), lexicon)
    report("speech_unseen.tsv, all", list(rows(tests / "speech_unseen.tsv")), lexicon)


if __name__ == "__main__":
    main()
