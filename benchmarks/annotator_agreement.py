"""How well do two annotators agree? A human yardstick for issue 3's accuracy figures.

Twelve NLP4IF-2019 training articles were annotated twice, by independent passes: the second copy
carries the article id with a "9" appended and different spans (``PROVENANCE.md``). Their texts
are byte-identical to the SemEval-2020 training articles of the same id, one sentence per line, so
the two passes, the SemEval-2020 gold and proplens's out-of-fold predictions can be compared
sentence by sentence. The script prints, on those sentences:

- how the SemEval-2020 gold relates to the two passes (for these articles it is their union);
- one pass against the other: sentence-level any-device F1 (the SLC measure), Cohen's kappa, and
  micro-F1 over the 14 devices (a sentence carries a device when a span of it overlaps the
  sentence, as everywhere in proplens; F1 between two annotators is symmetric);
- each pass against the gold, i.e. what one annotator scores on the measure the CV uses;
- proplens and the TF-IDF+LR reference of ``bench.py`` against the gold, from the out-of-fold
  predictions of the same 5-fold article CV as ``bench.py`` (14 devices), restricted to these
  articles, next to the same figures over all CV sentences;
- per device: how many sentences each pass marks with it, the two passes' F1 for it, and each
  system's F1 for it against the gold over all CV sentences;
- the analogue for technique classification (TC): of the spans both passes mark at the same
  offsets, the share given the same technique.

Twelve articles are few, so every figure carries a 95% bootstrap interval over articles. The
script only reads labels; it tunes nothing. Prints figures only.

    PROPLENS_DATA=../shared/data python benchmarks/annotator_agreement.py [--quick]   # ~3 minutes
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from bench import plain_features, semeval_table, shipped_estimator

from proplens.corpus import read_nlp4if2019, second_passes
from proplens.evaluation import cross_validate_sentences
from proplens.explore import agreement, annotation_passes
from proplens.model import DeviceClassifier
from proplens.training import load_training_data

BOOTSTRAP_DRAWS = 2000
MEASURE_NAMES = ["any-device F1 (SLC)", "any-device kappa", "micro-F1, 14 devices"]


def cells(frame: pd.DataFrame, reference: str, other: str) -> list[str]:
    """Each measure of :func:`proplens.explore.agreement`, as "value [low, high]"."""
    flagged = f"{other} flagged" if f"{other} flagged" in frame.columns else None
    table = agreement(frame, reference, other, other_flagged=flagged, draws=BOOTSTRAP_DRAWS)
    return [f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in table.itertuples()]


def out_of_fold(table, devices, make_estimator, n_splits) -> pd.DataFrame:
    """Each sentence's thresholded labels from the fold that did not train on its article."""
    _, oof = cross_validate_sentences(
        table, devices, make_estimator=make_estimator, n_splits=n_splits
    )
    return pd.DataFrame(
        {
            "document_id": table["document_id"].to_numpy(),
            "start": table["start"].to_numpy(),
            "gold": table["devices"].map(frozenset).to_numpy(),
            "devices": oof["predicted"].map(frozenset).to_numpy(),
            "devices flagged": oof["flagged"].to_numpy(),
        }
    )


def device_f1(gold: pd.Series, other: pd.Series, device: str) -> float:
    a = gold.map(lambda labels: device in labels).to_numpy()
    b = other.map(lambda labels: device in labels).to_numpy()
    return 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)


def print_devices(passes: pd.DataFrame, devices, all_sentences: dict[str, pd.DataFrame]) -> None:
    """Per device: how often each pass marks it, and the two passes' F1 next to each system's
    F1 against the gold over all CV sentences."""
    names = list(all_sentences)
    print(
        "\n| device | pass 1 | pass 2 | both | pass 1 vs pass 2 F1 | "
        + " | ".join(f"{name} F1, all CV sentences" for name in names)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(names))
    for device in devices:
        marked = [passes[c].map(lambda labels, d=device: d in labels) for c in ("pass 1", "pass 2")]
        cells = [
            str(int(marked[0].sum())),
            str(int(marked[1].sum())),
            str(int((marked[0] & marked[1]).sum())),
            f"{device_f1(passes['pass 1'], passes['pass 2'], device):.3f}",
            *(f"{device_f1(f['gold'], f['devices'], device):.3f}" for f in all_sentences.values()),
        ]
        print(f"| {device} | " + " | ".join(cells) + " |")
    print("(pass 1, pass 2, both: sentences of the twelve articles marked with the device)")


def shared_span_techniques(release, draws: int = BOOTSTRAP_DRAWS) -> str:
    """The TC analogue of the passes' agreement: of the spans pass 1 marks at exactly the offsets
    of a pass-2 span, the share pass 2 gives the same technique, with a 95% bootstrap interval
    over articles."""
    spans = release.spans
    per_article = []
    for first, second in second_passes(release.documents):
        one = spans[spans["document_id"] == first]
        two = spans[spans["document_id"] == second]
        techniques = two.groupby(["start", "end"])["device"].agg(set).to_dict()
        matched = [
            device in techniques[key]
            for key, device in zip(
                zip(one["start"], one["end"], strict=True), one["device"], strict=True
            )
            if key in techniques
        ]
        per_article.append((sum(matched), len(matched)))
    counts = np.array(per_article, dtype=float)
    rng = np.random.default_rng(0)
    n = len(counts)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(draws)])
    sums = weights @ counts
    low, high = np.percentile(sums[:, 0] / np.maximum(sums[:, 1], 1), [2.5, 97.5])
    same, shared = counts.sum(axis=0)
    return (
        f"spans both passes mark at the same offsets: {shared:.0f}; the same technique in "
        f"{same:.0f} of them, {same / shared:.3f} [{low:.3f}, {high:.3f}]"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2-fold CV on the double-annotated articles and 48 others",
    )
    args = parser.parse_args(argv)
    n_splits = 2 if args.quick else 5
    data = load_training_data()
    table, devices = semeval_table(data)
    # the gold of the double-annotated articles: SemEval-2020's labels of the same sentences
    release = read_nlp4if2019()
    passes = annotation_passes(release, gold=table)
    if args.quick:
        others = sorted(set(table["document_id"]) - set(passes["document_id"]))[:48]
        keep = set(passes["document_id"]) | set(others)
        table = table[table["document_id"].isin(keep)].reset_index(drop=True)
    passes["union of the passes"] = [
        a | b for a, b in zip(passes["pass 1"], passes["pass 2"], strict=True)
    ]

    print(
        f"{passes['document_id'].nunique()} double-annotated articles, {len(passes)} sentences; "
        "sentences flagged: "
        f"pass 1 {passes['pass 1'].map(bool).mean():.1%}, "
        f"pass 2 {passes['pass 2'].map(bool).mean():.1%}, "
        f"SemEval-2020 gold {passes['gold'].map(bool).mean():.1%}\n"
    )
    comparisons = [
        ("union of the passes vs SemEval-2020 gold", passes, "gold", "union of the passes"),
        ("pass 1 vs pass 2 (two annotators)", passes, "pass 1", "pass 2"),
        ("pass 1 vs SemEval-2020 gold", passes, "gold", "pass 1"),
        ("pass 2 vs SemEval-2020 gold", passes, "gold", "pass 2"),
    ]
    systems = {
        "proplens": shipped_estimator(data),
        "TF-IDF+LR reference": lambda names: DeviceClassifier(
            devices=names, features=plain_features(), n_jobs=2
        ),
    }
    all_sentences = {}
    for name, make_estimator in systems.items():
        print(f"cross-validating {name} ...", file=sys.stderr, flush=True)
        predictions = out_of_fold(table, devices, make_estimator, n_splits)
        all_sentences[name] = predictions
        on_pairs = passes.merge(
            predictions[["document_id", "start", "devices", "devices flagged"]], how="left"
        )
        comparisons += [
            (f"{name} vs SemEval-2020 gold, these articles", on_pairs, "gold", "devices"),
            (f"{name} vs SemEval-2020 gold, all CV sentences", predictions, "gold", "devices"),
            (f"{name} vs pass 1", on_pairs, "pass 1", "devices"),
            (f"{name} vs pass 2", on_pairs, "pass 2", "devices"),
        ]
    print("| comparison | " + " | ".join(MEASURE_NAMES) + " |")
    print("|---|" + "---|" * len(MEASURE_NAMES))
    for name, frame, gold_column, other_column in comparisons:
        print(f"| {name} | " + " | ".join(cells(frame, gold_column, other_column)) + " |")
    print(f"\n[low, high]: 95% bootstrap interval over articles ({BOOTSTRAP_DRAWS:,} draws)")
    print_devices(passes, devices, all_sentences)
    print(f"\nTechnique classification: {shared_span_techniques(release)}")
    mode = "quick (60 articles, 2 folds)" if args.quick else "full (5-fold grouped CV)"
    print(f"mode: {mode}")


if __name__ == "__main__":
    main()
