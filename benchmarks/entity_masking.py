"""Entity masking, measured: proplens's quality figures with and without masking, same folds.

Runs the quality protocol of ``bench.py`` (grouped k-fold CV by article on SemEval-2020 train, the
14 SemEval devices; every supervised step inside the training fold) for proplens only, once per
configuration, and prints one table:

- ``off``: the sentence features as before (no masking);
- ``on``: names of the gazetteer masked (``make_sentence_features(mask_entities=True)``, default
  kinds: countries, places, people, parties, organisations);
- ``on+nationality``: the same and nationalities ("American", "Russians").

Swap checks, each on the test-fold sentences with the fold's own model: the benchmark's names
swapped within their kind (``bench.ENTITIES``, the figure issue 3 sets a target for), the same
names replaced by two draws of invented names the gazetteer does not hold (``UNLISTED_ENTITIES``),
and nationalities swapped for one another (``NATIONALITIES``, the measurement behind the choice of
not masking them by default, see docs/architecture.md).

    python benchmarks/entity_masking.py                     # all three, 5 folds (~6 min each)
    python benchmarks/entity_masking.py --configs off,on --quick
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import numpy as np
from bench import SWAP_CHECKS, quality, semeval_table

from proplens.features import make_sentence_features
from proplens.model import DeviceClassifier
from proplens.training import load_training_data

# Nationalities swapped for one another (singular with singular, plural with plural).
NATIONALITIES = {
    "singular": [
        "American", "Russian", "Chinese", "Iranian", "Israeli", "Ukrainian", "British", "French",
        "German", "Syrian", "Mexican", "Turkish", "Indian", "Pakistani", "Cuban", "Canadian",
        "Japanese", "Palestinian", "Saudi", "Venezuelan",
    ],
    "plural": [
        "Americans", "Russians", "Iranians", "Israelis", "Ukrainians", "Germans", "Syrians",
        "Mexicans", "Indians", "Pakistanis", "Cubans", "Canadians", "Palestinians", "Saudis",
    ],
}  # fmt: skip
_NATIONALITY = {
    kind: re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    for kind, names in NATIONALITIES.items()
}


def swap_nationalities(text: str, rng: np.random.Generator) -> tuple[str, str]:
    swapped = text
    for kind, pattern in _NATIONALITY.items():
        names = NATIONALITIES[kind]

        def other(match, names=names):
            choices = [n for n in names if n != match.group(0)]
            return choices[rng.integers(len(choices))]

        swapped = pattern.sub(other, swapped)
    return text, swapped


CONFIGS = {
    "off": dict(mask_entities=False),
    "on": dict(mask_entities=True),
    "on+nationality": dict(
        mask_entities=True,
        entity_kinds=("country", "place", "person", "party", "organisation", "nationality"),
    ),
}
ROWS = [
    "sentence-level any-device F1",
    "multi-label micro-F1 (14 devices)",
    "multi-label macro-F1 (14 devices)",
    "any-device ECE (10 bins)",
    "entity swap: mean abs change of p",
    "entity swap: label flips",
    "entity swap: sentences swapped",
    "unlisted-name swap: mean abs change of p",
    "unlisted-name swap: label flips",
    "unlisted-name swap: sentences swapped",
    "nationality swap: mean abs change of p",
    "nationality swap: label flips",
    "nationality swap: sentences swapped",
    "seconds",
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 articles, 2 folds")
    parser.add_argument("--configs", default="off,on,on+nationality", help="comma-separated")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        known = ", ".join(CONFIGS)
        parser.error(f"unknown configuration(s): {', '.join(unknown)} (known: {known})")
    n_splits = 2 if args.quick else 5

    data = load_training_data()
    table, devices = semeval_table(data)
    if args.quick:
        keep = sorted(table["document_id"].unique())[:60]
        table = table[table["document_id"].isin(keep)].reset_index(drop=True)
    swaps = dict(SWAP_CHECKS, **{"nationality swap": swap_nationalities})
    columns = {}
    for name in names:
        options = CONFIGS[name]
        started = time.perf_counter()
        figures = quality(
            name,
            table,
            devices,
            data.spans,
            lambda n, options=options: DeviceClassifier(
                devices=n, features=make_sentence_features(**options), n_jobs=2
            ),
            None,
            n_splits,
            swaps=swaps,
        )
        figures["seconds"] = time.perf_counter() - started
        columns[name] = figures
        print(f"  {name}: {json.dumps(figures)}", file=sys.stderr, flush=True)

    lines = ["| figure | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for row in ROWS:
        cells = []
        for name in columns:
            value = columns[name].get(row)
            cells.append("n/a" if value is None else f"{value:,.0f}" if abs(value) >= 100
                         else f"{value:.4f}")  # fmt: skip
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    mode = "quick (60 articles, 2 folds)" if args.quick else f"{n_splits}-fold grouped CV"
    lines.append(f"\nmode: {mode}; proplens features with the named masking configuration")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"mode": mode, "figures": columns}, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
