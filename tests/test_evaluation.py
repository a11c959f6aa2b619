"""Evaluation maths and the grouped cross-validation protocol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from proplens.errors import ValidationError
from proplens.evaluation import (
    cross_validate_sentences,
    expected_calibration_error,
    label_metrics,
    span_folds,
)
from proplens.model import DeviceClassifier, best_threshold


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=60))
@example([(False, 0.0), (True, 5e-324)])  # half-way between neighbouring floats rounds down
def test_best_threshold_reaches_the_best_f1(pairs):
    """The chosen cut-off achieves the best F1 of any cut-off between observed scores."""
    y = np.array([p[0] for p in pairs])
    proba = np.array([p[1] for p in pairs])
    threshold = best_threshold(y, proba)
    assert 0.0 <= threshold <= 1.0
    if y.sum() == 0:
        return
    achieved = f1_score(y, proba >= threshold)
    best = max(f1_score(y, proba >= t) for t in np.unique(proba))
    assert achieved == pytest.approx(best)


def test_ece_is_zero_when_calibrated_and_large_when_not():
    """ECE measures the gap between confidence and accuracy."""
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = rng.uniform(size=20000) < p
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.clip(p + 0.3, 0, 1)) > 0.2


@pytest.mark.parametrize(
    "y, p, bins, message",
    [
        ([0, 1], [0.1, 0.9], 0, "bins must be a positive whole number"),
        ([0, 1], [0.1, 0.9], -1, "bins must be a positive whole number"),
        ([0, 1], [1.5, 2.0], 10, r"probabilities must lie in \[0, 1\]"),
        ([0, 1, 1], [0.1, 0.9], 10, "two 1-D arrays of one length"),
        ([[0, 1]], [[0.1, 0.9]], 10, "two 1-D arrays of one length"),
    ],
)
def test_ece_refuses_arguments_it_cannot_mean(y, p, bins, message):
    """No bins, probabilities outside [0, 1] or mismatched arrays gave a number (0.0, 1.25) or
    numpy's IndexError."""
    with pytest.raises(ValidationError, match=message):
        expected_calibration_error(y, p, bins=bins)


def test_label_metrics_refuses_mismatched_labels_and_reserved_names():
    Y = np.array([[1, 0], [0, 1]])
    with pytest.raises(ValidationError, match=r"two \(n, 3\) indicator matrices"):
        label_metrics(Y, Y, ["a", "b", "c"])
    with pytest.raises(ValidationError, match="'micro' and 'macro' name the averaged rows"):
        label_metrics(Y, Y, ["a", "micro"])


def test_a_table_without_documents_is_refused_before_any_fold():
    table = pd.DataFrame({"text": ["One.", "Two."], "devices": [[], []]})
    with pytest.raises(ValidationError, match="lacks column\\(s\\): document_id"):
        cross_validate_sentences(table, ["Doubt"])


def test_label_metrics_rows():
    """Per-label rows plus micro and macro averages."""
    frame = label_metrics(np.array([[1, 0], [0, 1]]), np.array([[1, 0], [1, 1]]), ["A", "B"])
    assert list(frame.index) == ["A", "B", "micro", "macro"]
    assert frame.loc["B", "f1"] == 1.0 and frame.loc["A", "precision"] == 0.5


class RecordingClassifier(DeviceClassifier):
    """A DeviceClassifier that records which documents it was trained on."""

    seen: list = []

    def fit(self, X, y):
        RecordingClassifier.seen.append(set(X["document_id"]))
        return super().fit(X, y)


def _tiny_corpus(n_documents=10):
    rows = []
    for d in range(n_documents):
        for i, (text, devices) in enumerate(
            [
                ("The committee published its annual report today.", []),
                ("This disgraceful, shameful betrayal will ruin us all!", ["Loaded_Language"]),
                ("Can we really trust these people?", ["Doubt"]),
                ("Members discussed the schedule for next year.", []),
            ]
        ):
            rows.append((f"doc{d}", i, text, devices))
    return pd.DataFrame(rows, columns=["document_id", "sentence_index", "text", "devices"])


def _recorded_cv(table, **options):
    """5-fold CV of a small word-only model that records each fold's training documents."""
    from proplens.features import make_sentence_features

    RecordingClassifier.seen = []
    return cross_validate_sentences(
        table,
        ["Loaded_Language", "Doubt"],
        make_estimator=lambda names: RecordingClassifier(
            devices=names,
            features=make_sentence_features(chars=False),
            threshold_folds=2,
            min_positive=1,
        ),
        n_splits=5,
        **options,
    )


def test_cross_validation_never_shares_an_article_between_folds():
    """Grouped CV: no training fold contains a document of its test fold."""
    table = _tiny_corpus()
    report, oof = _recorded_cv(table)
    assert len(RecordingClassifier.seen) == 5
    all_documents = set(table["document_id"])
    for trained_on in RecordingClassifier.seen:
        assert len(trained_on) == 8
        assert trained_on < all_documents
    assert len(oof) == len(table)
    assert report.sentence_f1 > 0.9
    assert set(report.to_dict()) >= {
        "sentence_f1",
        "micro_f1",
        "macro_f1",
        "per_device",
        "sentence_ece",
    }


def test_out_of_fold_labels_are_what_the_report_scores():
    """``flagged`` and ``predicted`` are the thresholded labels the report's F1 figures count."""
    from sklearn.metrics import f1_score

    table = _tiny_corpus()
    report, oof = _recorded_cv(table)
    gold_any = table["devices"].map(bool)
    assert oof["flagged"].dtype == bool
    assert f1_score(gold_any, oof["flagged"]) == pytest.approx(report.sentence_f1)
    doubt_gold = table["devices"].map(lambda d: "Doubt" in d)
    doubt_predicted = oof["predicted"].map(lambda d: "Doubt" in d)
    assert f1_score(doubt_gold, doubt_predicted) == pytest.approx(
        report.per_device.loc["Doubt", "f1"]
    )


def _paired_corpus():
    """Ten articles of the tiny corpus, each with a story paragraph it shares with one other."""
    table = _tiny_corpus()
    places = ["harbour", "orchard", "quarry", "airfield", "market"]
    extra = pd.DataFrame(
        [
            (f"doc{d}", 3, f"The {places[d // 2]} story: crews worked through the night to clear "
             f"the {places[d // 2]} road before the morning buses arrived.", [])
            for d in range(10)
        ],
        columns=table.columns,
    )  # fmt: skip
    return pd.concat([table, extra], ignore_index=True)


@pytest.mark.parametrize("group_by", ["article", "story"])
def test_story_folds_keep_related_articles_together(group_by):
    """group_by="story" keeps articles sharing a passage on one side of every split; by article
    (the control) the pairs are split, so the check can fail."""
    report, _ = _recorded_cv(_paired_corpus(), group_by=group_by)
    pairs_split = [
        pair
        for trained_on in RecordingClassifier.seen
        for pair in range(5)
        if (f"doc{2 * pair}" in trained_on) != (f"doc{2 * pair + 1}" in trained_on)
    ]
    assert (pairs_split == []) == (group_by == "story")
    assert report.to_dict()["cv"] == f"5-fold GroupKFold by {group_by}"


def test_an_unknown_grouping_is_refused():
    with pytest.raises(ValidationError, match="group_by must be one of article, story"):
        cross_validate_sentences(_tiny_corpus(), ["Doubt"], group_by="sentence")
    with pytest.raises(ValidationError, match="group_by must be one of article, story"):
        span_folds(pd.DataFrame({"document_id": ["a"], "document": ["x"]}), 2, "sentence")


def test_span_folds_by_story_keep_the_spans_of_related_articles_together():
    story = "Crews worked through the night to clear the harbour road before the morning buses."
    documents = {f"d{i}": f"Article {i} of the day. " + (story if i < 2 else f"Topic {i} only.")
                 for i in range(6)}  # fmt: skip
    frame = pd.DataFrame({"document_id": [f"d{i}" for i in range(6) for _ in range(2)]})
    frame["document"] = frame["document_id"].map(documents)
    for group_by, together in (("story", True), ("article", False)):
        folds = span_folds(frame, 5, group_by)
        fold_of = {frame["document_id"][i]: n for n, (_, test) in enumerate(folds) for i in test}
        assert (fold_of["d0"] == fold_of["d1"]) == together


@pytest.mark.parametrize(
    "table, group_by, n_splits, message",
    [
        (_paired_corpus(), "story", 6, r"^6 folds for 5 stories: use at most 5 \(folds are "),
        (_tiny_corpus(), "article", 11, r"^11 folds for 10 documents: use at most 10 \(folds "),
        # three copies of one article: a story of three documents, not "use at most 1"
        (_tiny_corpus(3), "story", 2, "^cross-validation needs at least 2 stories, found 1: its "
         "3 documents share much of their text$"),
    ],
)  # fmt: skip
def test_more_folds_than_groups_is_one_line_not_scikit_learns_traceback(
    table, group_by, n_splits, message
):
    """More folds than stories (or documents) raised scikit-learn's ValueError from GroupKFold."""
    devices = ["Loaded_Language", "Doubt"]
    with pytest.raises(ValidationError, match=message):
        cross_validate_sentences(table, devices, n_splits=n_splits, group_by=group_by)
    # the span folds of the same articles, one span row per article with its whole text
    frame = table.groupby("document_id", as_index=False)["text"].agg("\n".join)
    with pytest.raises(ValidationError, match=message):
        span_folds(frame.rename(columns={"text": "document"}), n_splits, group_by)


def test_span_folds_take_the_stories_they_are_given():
    """``stories`` (those of all the articles, from training) decide the span folds: d0 and d1
    share nothing, but a third article without spans links them."""
    frame = pd.DataFrame({"document_id": [f"d{i}" for i in range(6)]})
    frame["document"] = [f"Unrelated article number {i} about its own topic." for i in range(6)]
    stories = {"d0": "d0", "d1": "d0", **{f"d{i}": f"d{i}" for i in range(2, 6)}}
    for given_stories, together in ((None, False), (stories, True)):
        folds = span_folds(frame, 5, "story", stories=given_stories)
        fold_of = {frame["document_id"][i]: n for n, (_, test) in enumerate(folds) for i in test}
        assert (fold_of["d0"] == fold_of["d1"]) == together
