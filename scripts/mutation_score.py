"""The mutation score per module, from mutmut's results in mutants/ (`make mutation`).

mutmut prints each mutant's status but no score per module; this reads the `.meta` files
mutmut leaves beside each mutated module and prints, per module, how many mutants were
killed, survived, timed out, had no test, or were not checked yet, and the score:
(killed + timeout) / (checked mutants). A module with unchecked mutants is marked
"partial" so a half-finished run is never read as a whole one.

    python scripts/mutation_score.py [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mutmut's exit codes (mutmut/stats.py, status_by_exit_code)
KILLED, TIMEOUT = {1, 3}, {36, 24, -24, 152, 255}
SURVIVED, NO_TESTS, SKIPPED = {0}, {5, 33}, {34}


def modules(root: Path = ROOT) -> list[str]:
    """The modules mutated, as pyproject.toml's [tool.mutmut] only_mutate names them."""
    config = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]
    return list(config["only_mutate"])


def tally(exit_codes: dict[str, int | None]) -> dict[str, int]:
    """Counts per outcome for one module's mutants (exit code None: not run yet)."""
    counts = dict(killed=0, timeout=0, survived=0, no_tests=0, skipped=0, other=0, unchecked=0)
    for code in exit_codes.values():
        if code is None:
            counts["unchecked"] += 1
        elif code in KILLED:
            counts["killed"] += 1
        elif code in TIMEOUT:
            counts["timeout"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
        elif code in NO_TESTS:
            counts["no_tests"] += 1
        elif code in SKIPPED:
            counts["skipped"] += 1
        else:
            counts["other"] += 1
    counts["total"] = len(exit_codes)
    return counts


def score(counts: dict[str, int]) -> float | None:
    """Killed (or timed out) among the mutants checked; None when none was checked."""
    checked = counts["total"] - counts["unchecked"] - counts["skipped"]
    if checked <= 0:
        return None
    return 100.0 * (counts["killed"] + counts["timeout"]) / checked


def rows(root: Path = ROOT) -> list[tuple[str, dict[str, int] | None]]:
    out = []
    for module in modules(root):
        meta = root / "mutants" / (module + ".meta")
        if not meta.exists():
            out.append((module, None))
            continue
        out.append((module, tally(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="a table for TESTING.md")
    args = parser.parse_args(argv)
    columns = ("killed", "survived", "timeout", "no_tests", "other", "unchecked", "total")
    if args.markdown:
        print("| module | " + " | ".join(columns) + " | score |")
        print("|---" * (len(columns) + 2) + "|")
    else:
        print(f"{'module':28}" + "".join(f"{c:>10}" for c in columns) + f"  {'score'}")
    all_counts = {c: 0 for c in columns}
    for module, counts in rows():
        if counts is None:
            line = ["not run"] + [""] * len(columns)
        else:
            for c in columns:
                all_counts[c] += counts[c]
            s = score(counts)
            shown = "—" if s is None else f"{s:.1f} %" + (" (partial)" if counts["unchecked"] else "")
            line = [str(counts[c]) for c in columns] + [shown]
        if args.markdown:
            print(f"| `{module}` | " + " | ".join(line) + " |")
        else:
            print(f"{module:28}" + "".join(f"{v:>10}" for v in line[:-1]) + f"  {line[-1]}")
    checked = all_counts["total"] - all_counts["unchecked"]
    if checked:
        overall = 100.0 * (all_counts["killed"] + all_counts["timeout"]) / checked
        print(f"\nall modules: {all_counts['killed'] + all_counts['timeout']} of {checked} checked mutants "
              f"killed ({overall:.1f} %), {all_counts['unchecked']} not checked yet", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
