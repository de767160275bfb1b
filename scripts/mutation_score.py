"""The mutation score per module, from mutmut's results in mutants/ (`make mutation`).

mutmut prints each mutant's status but no score per module; this reads the `.meta` files
mutmut leaves beside each mutated module and prints, per module, how many mutants were
killed, survived, timed out, had no test, or were not checked yet, and the score:
(killed + timeout) / (checked mutants). A module with unchecked mutants is marked
"partial" so a half-finished run is never read as a whole one.

    python scripts/mutation_score.py [--markdown]
    python scripts/mutation_score.py --sample 60 [--seed 1] [module ...]
    python scripts/mutation_score.py --of-sample 60 --seed 1 [--markdown]

`--sample N` prints, instead, those of N mutant names drawn at random from each module (or the
modules named) not run yet, for `make mutation MUTANTS=...`: on two cores the whole set is a night's
run, and a random sample's score, with its 95 % interval (Wilson), says how well a module
is guarded. The interval holds only when the checked mutants are such a sample; a run
interrupted part-way checks the fastest mutants first, so its interval is marked
"not a sample". `--of-sample N --seed S` scores one seed's draw alone, redrawn on the
mutants of today's code (a changed module's draw changes with its mutants).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mutmut's exit codes (mutmut/stats.py, status_by_exit_code)
KILLED, TIMEOUT = {1, 3}, {36, 24, -24, 152, 255}
SURVIVED, NO_TESTS, SKIPPED = {0}, {5, 33}, {34}
SAMPLED = "sampled.json"  # in mutants/: every name `--sample` has drawn


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


def interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of `hits` in `n`, in percent: honest at small n and
    near 100 %, where the plain p ± z·√(p(1-p)/n) runs past the ends."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100.0 * max(0.0, centre - half), 100.0 * min(1.0, centre + half)


def mutant_names(module: str, root: Path = ROOT) -> list[str]:
    meta = root / "mutants" / (module + ".meta")
    if not meta.exists():
        raise SystemExit(f"{meta}: no mutants yet (run `make mutation` once to generate them)")
    return sorted(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])


def draw(chosen: list[str], size: int, seed: int, root: Path = ROOT) -> list[str]:
    """`size` mutant names from each module, the same ones for the same seed and mutants."""
    picked = []
    for module in chosen:
        names = mutant_names(module, root)
        picked += random.Random(f"{seed}:{module}").sample(names, min(size, len(names)))
    return picked


def sample(chosen: list[str], size: int, seed: int, root: Path = ROOT) -> list[str]:
    """`draw`, remembered in mutants/sampled.json."""
    picked = draw(chosen, size, seed, root)
    drawn = root / "mutants" / SAMPLED
    earlier = set(json.loads(drawn.read_text("utf-8"))) if drawn.exists() else set()
    drawn.write_text(json.dumps(sorted(earlier | set(picked))), "utf-8")
    return picked


def rows(root: Path = ROOT, only: set[str] | None = None) -> list[tuple[str, dict[str, int] | None]]:
    """Per module, the counts over all its mutants; or, when its run is partial and a
    sample was drawn (`--sample`) and checked whole, over the sample (`sampled` = 1).
    With `only` (one seed's draw), the counts over those mutants alone."""
    out = []
    picked = only if only is not None else drawn(root)
    for module in modules(root):
        meta = root / "mutants" / (module + ".meta")
        if not meta.exists():
            out.append((module, None))
            continue
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        in_sample = {name: code for name, code in codes.items() if name in picked}
        if only is not None:
            counts = {**tally(in_sample), "sampled": int(None not in in_sample.values()),
                      "population": len(codes)}
        elif None in codes.values() and in_sample and None not in in_sample.values():
            counts = {**tally(in_sample), "sampled": 1, "population": len(codes)}
        else:
            counts = {**tally(codes), "sampled": 0, "population": len(codes)}
        out.append((module, counts))
    return out


def drawn(root: Path = ROOT) -> set[str]:
    path = root / "mutants" / SAMPLED
    return set(json.loads(path.read_text("utf-8"))) if path.exists() else set()


def shown_score(counts: dict[str, int]) -> str:
    """The score; for a sample, also its 95 % interval (the checked mutants were drawn
    at random); a partial run that is no sample says so (fastest mutants first: biased)."""
    s = score(counts)
    if s is None:
        return "—"
    checked = counts["total"] - counts["unchecked"] - counts["skipped"]
    if counts["sampled"]:
        low, high = interval(counts["killed"] + counts["timeout"], checked)
        return (f"{s:.1f} % (sample of {checked} of {counts['population']}; "
                f"95 %: {low:.0f}–{high:.0f} %)")
    if counts["unchecked"]:
        return f"{s:.1f} % (partial, not a sample)"
    return f"{s:.1f} %"


def unchecked(names: list[str], root: Path = ROOT) -> list[str]:
    """Those of `names` not run yet: a sample need not rerun what an earlier run decided."""
    done = set()
    for module in modules(root):
        meta = root / "mutants" / (module + ".meta")
        if meta.exists():
            done |= {n for n, c in json.loads(meta.read_text("utf-8"))["exit_code_by_key"].items()
                     if c is not None}
    return [n for n in names if n not in done]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="a table for TESTING.md")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="print N random mutant names per module instead of the scores")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--of-sample", type=int, metavar="N",
                        help="score only the N mutants per module that --seed draws")
    parser.add_argument("module", nargs="*", help="with --sample: the modules (default: all)")
    args = parser.parse_args(argv)
    if args.sample:
        print(" ".join(unchecked(sample(args.module or modules(), args.sample, args.seed))))
        return 0
    columns = ("killed", "survived", "timeout", "no_tests", "other", "unchecked", "total")
    if args.markdown:
        print("| module | " + " | ".join(columns) + " | score |")
        print("|---" * (len(columns) + 2) + "|")
    else:
        print(f"{'module':28}" + "".join(f"{c:>10}" for c in columns) + f"  {'score'}")
    all_counts = {c: 0 for c in columns}
    only = set(draw(modules(), args.of_sample, args.seed)) if args.of_sample else None
    for module, counts in rows(only=only):
        if counts is None:
            line = ["not run"] + [""] * len(columns)
        else:
            for c in columns:
                all_counts[c] += counts[c]
            shown = shown_score(counts)
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
