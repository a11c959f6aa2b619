"""The committed benchmark still runs: `bench.py --quick` prints its one table with a figure in
every row it can measure on a subset, and the masking effect shows in it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _number(cell: str) -> float:
    return float(cell.split(" ")[0].replace(",", ""))


@pytest.mark.corpus
def test_quick_benchmark_prints_every_figure(corpus_dir):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench.py"), "--quick", "--no-minilm"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PROPLENS_DATA": str(corpus_dir)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {
        cells[0]: cells
        for cells in map(_cells, result.stdout.splitlines())
        if len(cells) == 5 and cells[0] not in ("figure", "---")
    }
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    assert set(rows) == set(bench.TARGETS)
    # the whole-training row needs the full corpus and is skipped in quick mode
    measured = [row for row in bench.TARGETS if not row.startswith("`proplens train`")]
    for row in measured:
        assert _number(rows[row][2]) >= 0, row
    timings = (
        "scoring throughput (sentences/s, 1 core)",
        "latency, 40-sentence article (ms, median)",
        "cold `proplens score` of the example (s)",
    )
    for row in timings:
        assert "x ref" in rows[row][2] and _number(rows[row][3]) > 0
    assert 0 < _number(rows["sentence-level any-device F1"][2]) <= 1
    # masking the gazetteer's names: proplens barely moves where the plain reference does
    swap = rows["entity swap: mean abs change of p"]
    assert _number(swap[2]) < _number(swap[3])
    # the skipped peer's column says so instead of showing numbers
    assert {cells[4] for cells in rows.values()} == {"-"}


def _run_benchmark(script: str, *args: str, corpus_dir) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PROPLENS_DATA": str(corpus_dir)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.corpus
def test_unverified_figures_benchmarks_print_their_figures(corpus_dir):
    """`uf_cv.py` and `uf_ceiling.py --quick` run on the labels and print figures in range; the
    cue block lifts the device's F1 over the shared features alone."""
    import re

    block = _run_benchmark("uf_cv.py", corpus_dir=corpus_dir)
    shared = _run_benchmark("uf_cv.py", "--no-block", corpus_dir=corpus_dir)
    f1 = [float(re.search(r"F1 ([\d.]+)", out).group(1)) for out in (block, shared)]
    assert 0 < f1[1] < f1[0] <= 1
    assert re.search(r"precision on positives \+ hard negatives 0\.\d{3}", block)
    assert "errors by reason code: " in block

    ceiling = _run_benchmark("uf_ceiling.py", "--quick", corpus_dir=corpus_dir)
    probes = re.findall(r"P (0\.\d{3})  R (0\.\d{3})  F1 (0\.\d{3})", ceiling)
    shares = re.findall(r"(\d+)% of the articles: F1 (0\.\d{3})", ceiling)
    assert len(probes) == 2 and [s for s, _ in shares] == ["40", "100"]
    # the full logistic regression probe and the 100% point of the curve are the same fit
    assert probes[0][2] == shares[1][1]


@pytest.mark.corpus
def test_unverified_figures_fresh_sample_is_scored_apart_from_the_labels(corpus_dir):
    """`uf_fresh.py` fits on the labels, scores the fresh sample from other articles (it
    refuses an overlap) and prints one line of figures per cue revision and protocol, each
    consistent with itself."""
    import re

    out = _run_benchmark("uf_fresh.py", "--revisions", "2,4", corpus_dir=corpus_dir)
    sample = re.search(r"fresh sample: (\d+) sentences \((\d+) positive", out)
    assert sample and int(sample.group(1)) == 478 and 0 < int(sample.group(2)) < 478
    # the current model itself scores the sample first: what its users get
    assert len(re.findall(r"^model ptc-default@v\d+:  P 0\.\d{3}", out, re.M)) == 1
    rows = re.findall(
        r"cues revision (\d), (fit on the labels|\+ other fresh folds): +P (0\.\d{3})  "
        r"R (0\.\d{3})  F1 (0\.\d{3})",
        out,
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("2", "fit on the labels"), ("2", "+ other fresh folds"),
        ("4", "fit on the labels"), ("4", "+ other fresh folds"),
    ]  # fmt: skip
    for _, _, precision, recall, f1 in rows:
        p, r = float(precision), float(recall)
        assert float(f1) == pytest.approx(2 * p * r / (p + r), abs=2e-3)

    # the learning curve over labelling rounds ends with every label: the same fit as above
    curve = _run_benchmark("uf_fresh.py", "--rounds", corpus_dir=corpus_dir)
    points = re.findall(r"^rounds (.+) \((\d+) labels\): +P (0\.\d{3})  R (0\.\d{3})", curve, re.M)
    assert len(points) >= 2 and points[0][0] == "pre-sorted"
    sizes = [int(n) for _, n, _, _ in points]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert points[-1][2:] == rows[-2][2:4]  # the latest revision (4) on all labels, P and R


@pytest.mark.corpus
def test_evidence_coverage_prints_a_share_per_device(corpus_dir):
    """`evidence_coverage.py` scores test articles and prints, per device, the share of labels
    with evidence; the default model explains nearly all of them."""
    import re

    out = _run_benchmark("evidence_coverage.py", "--limit", "8", corpus_dir=corpus_dir)
    rows = re.findall(r"^(\S+)\s+(\d+)\s+(\d+)\s+([\d.]+)$", out, flags=re.M)
    assert rows, out
    for _, labels, explained, share in rows:
        assert int(explained) <= int(labels) and float(share) == pytest.approx(
            int(explained) / int(labels), abs=1e-3
        )
    total = re.search(r"^all labels\s+(\d+)\s+(\d+)\s+([\d.]+)$", out, flags=re.M)
    assert total and float(total.group(3)) >= 0.9


@pytest.mark.corpus
def test_tc_ablation_shows_what_the_v9_span_features_bought(corpus_dir):
    """`tc_ablation.py` runs the grouped TC cross-validation per variant; the words around a span
    and where its text recurs lift micro-F1 over the span features of models v1-v8."""
    out = _run_benchmark("tc_ablation.py", "--variants", "v8,v9", corpus_dir=corpus_dir)
    counts = re.match(r"(\d+) gold spans, (\d+) articles, 5 folds", out)
    assert counts and int(counts.group(1)) > 6000 and 300 < int(counts.group(2)) <= 371
    rows = dict(re.findall(r"^\| (v8|v9) \| (0\.\d{4}) \|", out, re.M))
    assert set(rows) == {"v8", "v9"}
    assert 0.5 < float(rows["v8"]) < float(rows["v9"]) < 1


@pytest.mark.corpus
def test_sentence_ablation_runs_its_variants_on_a_subset(corpus_dir):
    """`sentence_ablation.py` cross-validates each variant; Repetition's own block leaves the
    any-device figure exactly as it is (a device block changes its device only), the document's
    words change it."""
    out = _run_benchmark(
        "sentence_ablation.py", "--variants", "v9,phrases,v10", "--documents", "60",
        corpus_dir=corpus_dir,
    )  # fmt: skip
    counts = re.match(r"(\d+) sentences, (\d+) articles, 5 folds", out)
    assert counts and int(counts.group(2)) == 60 and int(counts.group(1)) > 600
    rows = {
        name: [float(v) for v in values]
        for name, *values in re.findall(
            r"^\| (v9|phrases|v10) \| (0\.\d{4}) \| (0\.\d{4}) \| (0\.\d{4}) \| ", out, re.M
        )
    }
    assert set(rows) == {"v9", "phrases", "v10"}
    assert rows["phrases"][0] == rows["v9"][0]  # SLC F1
    assert rows["v10"][0] != rows["v9"][0]
    assert all(0 < value < 1 for values in rows.values() for value in values)


@pytest.mark.corpus
def test_ensemble_screen_mixes_a_second_model_chosen_on_other_folds(corpus_dir):
    """`ensemble_screen.py` prints proplens alone, the second model alone and the mix; the mix's
    weight is chosen per fold among the candidates, and w = 0 reproduces proplens alone."""
    out = _run_benchmark(
        "ensemble_screen.py", "--views", "nb", "--documents", "40", "--weights", "0,0.5",
        corpus_dir=corpus_dir,
    )  # fmt: skip
    counts = re.match(r"(\d+) sentences, (\d+) articles, 5 folds", out)
    assert counts and int(counts.group(2)) == 40
    rows = {cells[0]: cells[1:] for cells in map(_cells, out.splitlines()) if len(cells) == 5}
    names = ["proplens (w = 0)", "nb alone (w = 1)", "proplens + nb"]
    assert all(name in rows for name in names)
    for name in names:
        assert all(0 < float(value) < 1 for value in rows[name][:3]), (name, rows[name])
    assert rows["proplens (w = 0)"][3] == "0, 0, 0, 0, 0"
    assert rows["nb alone (w = 1)"][3] == "1, 1, 1, 1, 1"
    assert set(rows["proplens + nb"][3].split(", ")) <= {"0", "0.5"}
    # the second model sees other evidence: alone, it does not score as proplens does
    assert rows["nb alone (w = 1)"][:3] != rows["proplens (w = 0)"][:3]


@pytest.mark.corpus
def test_annotator_agreement_compares_two_passes_the_gold_and_the_models(corpus_dir):
    """`annotator_agreement.py --quick` finds the twelve double-annotated NLP4IF-2019 articles,
    shows that their SemEval-2020 gold is the union of the two passes, and prints every
    comparison with an interval around its figure."""
    out = _run_benchmark("annotator_agreement.py", "--quick", corpus_dir=corpus_dir)
    assert re.match(r"12 double-annotated articles, 6\d\d sentences", out)
    rows = {
        cells[0]: cells[1:]
        for cells in map(_cells, out.splitlines())
        if len(cells) == 4 and cells[0] not in ("comparison", "---")
    }
    assert len(rows) == 12
    assert rows["union of the passes vs SemEval-2020 gold"][0].startswith("1.000")
    for name, cells in rows.items():
        for cell in cells:
            value, low, high = map(float, re.match(r"(\S+) \[(\S+), (\S+)\]", cell).groups())
            assert -1 <= low <= high <= 1 and -1 <= value <= 1, (name, cell)
    two_passes = _number(rows["pass 1 vs pass 2 (two annotators)"][0])
    assert 0.3 < two_passes < 0.9
    per_device = [
        cells
        for cells in map(_cells, out.splitlines())
        if len(cells) == 7 and cells[0] not in ("device", "---")
    ]
    assert len(per_device) == 14
    for device, one, two, both, f1, *_ in per_device:
        one, two, both = int(one), int(two), int(both)
        assert both <= min(one, two)
        assert float(f1) == pytest.approx(2 * both / max(one + two, 1), abs=6e-4), device
    # technique classification: spans both passes mark at the same offsets, the same technique
    tc = re.search(
        r"same offsets: (\d+); the same technique in (\d+) of them, (0\.\d{3}) "
        r"\[(0\.\d{3}|1\.000), (0\.\d{3}|1\.000)\]",
        out,
    )
    shared, same, share, low, high = tc.groups()
    assert 0 < int(same) <= int(shared)
    assert float(share) == pytest.approx(int(same) / int(shared), abs=6e-4)
    assert float(low) <= float(share) <= float(high)


def test_context_features_read_neighbours_and_the_rest_of_the_article():
    """`context_screen.py`'s second-stage inputs: the neighbours' log-odds within the article
    only, and the mean and top of the article's *other* sentences (never the sentence's own)."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        import numpy as np
        from context_screen import context_features
    finally:
        sys.path.pop(0)
    logits = np.array([[1.0, 5.0], [2.0, 6.0], [4.0, 7.0], [8.0, 9.0]])  # any device, one label
    documents = np.array(["a", "a", "a", "b"])
    neighbours = context_features(logits, documents, 0, ("neighbours",))
    # the label's own column, then before/after, then the edge flags
    assert neighbours[:, 1].tolist() == [0.0, 1.0, 2.0, 0.0]  # previous, same article only
    assert neighbours[:, 2].tolist() == [2.0, 4.0, 0.0, 0.0]  # next, same article only
    article = context_features(logits, documents, 0, ("article",))
    assert article[:, 1].tolist() == [3.0, 2.5, 1.5, 0.0]  # mean of the other sentences
    assert article[:, 2].tolist() == [4.0, 4.0, 2.0, 0.0]  # top of the other sentences
    assert article[:, -2].tolist() == [0.0, 0.5, 1.0, 0.0]  # where the sentence sits


@pytest.mark.corpus
def test_context_screen_prints_every_second_stage(corpus_dir):
    """`context_screen.py` prints v12 alone and each second stage, all fit on other folds."""
    out = _run_benchmark("context_screen.py", "--documents", "40", corpus_dir=corpus_dir)
    counts = re.match(r"(\d+) sentences, (\d+) articles, 5 folds", out)
    assert counts and int(counts.group(2)) == 40
    rows = {cells[0]: cells[1:] for cells in map(_cells, out.splitlines()) if len(cells) == 4}
    names = ["none (proplens, thresholds only)", "own", "neighbours", "article"]
    assert all(name in rows for name in [*names, "own + neighbours + article"])
    for name in names:
        assert all(0 <= float(value) < 1 for value in rows[name]), (name, rows[name])
    assert rows["own"] != rows["none (proplens, thresholds only)"]
