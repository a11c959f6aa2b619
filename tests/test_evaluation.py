"""Evaluation maths and the grouped cross-validation protocol."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score
from tiny_corpus import DEVICE, texts_of, write_dev_release, write_labels, write_taxonomy

from proplens.errors import ValidationError
from proplens.evaluation import (
    cross_validate_sentences,
    evaluate_model,
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


# --- a saved model on labels of one's own (evaluate_model) -----------------------------------

LL, DOUBT, NAMES = "Loaded_Language", "Doubt", "Name_Calling,Labeling"

#: Project-written sentences: (text, devices present, devices judged).
OWN_LABELS = [
    ("The harbour board met on Monday evening to discuss the new mooring fees.", [], [LL, DOUBT]),
    ("These greedy, reckless officials are bleeding our fishermen dry!", [LL], [LL, DOUBT]),
    ("Can anyone really believe a word this board says?", [DOUBT], [LL, DOUBT]),
    ("Everyone in Velm already agrees that the levy is fair.", ["Crowd_Appeal"], ["Crowd_Appeal"]),
    # flagged for Loaded_Language by the model, but judged for Doubt only: not a false positive
    ("What a disgraceful, shameful betrayal of every honest worker.", [], [DOUBT]),
    ("The minutes will be published on Friday.", [], [LL, DOUBT, "Crowd_Appeal"]),
    ("Is the new budget truly what this town needs?", [DOUBT], [LL, DOUBT]),
    ("The ferry leaves the north pier at seven each morning.", [], [LL, DOUBT]),
    ("Only a fool would trust these liars with our money.", [NAMES], [LL, NAMES]),
]


def _write_sentence_labels(path, rows):
    import csv

    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "devices", "annotated"])
        for text, present, judged in rows:
            writer.writerow([text, ";".join(present) or "none", ";".join(judged)])
    return path


@pytest.fixture
def own_taxonomy(tmp_path, monkeypatch):
    """The project taxonomy plus Crowd_Appeal, a device the shipped model does not know."""
    return write_taxonomy(tmp_path, monkeypatch)


def test_evaluate_model_gives_the_models_own_figures_on_annotated_sentences(
    default_model, tmp_path, own_taxonomy
):
    """Per-device P/R/F1 equal sklearn's on the model's own probabilities (Model.score) at its own
    thresholds, over the sentences judged for that device only; a device the model does not know
    is listed, not scored; without every any-device device judged there is no SLC figure."""
    from sklearn.metrics import precision_recall_fscore_support as prfs

    labels = _write_sentence_labels(tmp_path / "own.csv", OWN_LABELS)
    result = evaluate_model(default_model, [labels])
    scored = [default_model.score(text).sentences for text, _, _ in OWN_LABELS]
    assert all(len(sentences) == 1 for sentences in scored)
    thresholds = default_model.thresholds
    assert list(result.per_device.index) == [LL, NAMES, DOUBT]  # the model's order
    assert result.unknown_devices == ["Crowd_Appeal"]
    pairs = {}
    for device in (LL, NAMES, DOUBT):
        rows = [i for i, (_, _, judged) in enumerate(OWN_LABELS) if device in judged]
        truth = [device in OWN_LABELS[i][1] for i in rows]
        guess = [scored[i][0].devices[device] >= thresholds[device] for i in rows]
        p, r, f, _ = prfs(truth, guess, average="binary", zero_division=0)
        figures = result.per_device.loc[device]
        assert (figures["precision"], figures["recall"], figures["f1"]) == pytest.approx((p, r, f))
        assert figures["support"] == sum(truth) and figures["annotated"] == len(rows)
        pairs[device] = (truth, guess)
    pooled = [sum((pairs[d][k] for d in pairs), []) for k in (0, 1)]
    assert result.micro_f1 == pytest.approx(prfs(*pooled, average="binary")[2])
    # the sentence judged for Doubt only is flagged for Loaded_Language: counted as a negative,
    # it would be a false positive
    assert scored[4][0].devices[LL] >= thresholds[LL]
    truth, guess = pairs[LL]
    counted = prfs([*truth, False], [*guess, True], average="binary")[0]
    assert result.per_device.loc[LL, "precision"] != pytest.approx(counted)
    assert result.annotated_pairs == 7 + 1 + 7  # Loaded_Language, Name_Calling, Doubt
    assert (result.sentences, result.documents) == (len(OWN_LABELS), len(OWN_LABELS))
    probabilities = result.predictions.set_index("text")
    for (text, _, _), sentences in zip(OWN_LABELS, scored, strict=True):
        assert probabilities.loc[text, "propaganda"] == pytest.approx(sentences[0].propaganda)
        assert probabilities.loc[text, DOUBT] == pytest.approx(sentences[0].devices[DOUBT])
    assert result.sentence_f1 is None and result.any_device_sentences == 0
    assert "never annotate 11 of the 14 devices" in result.sentence_note
    written = result.to_dict()
    assert written["per_device"][LL]["annotated"] == 7 and "sentence_f1" not in written
    assert written["labels"][0]["name"] == "new labels own.csv (sentences)"


def test_evaluate_model_gives_slc_figures_over_fully_annotated_sentences_only(
    default_model, tmp_path
):
    """The any-device figures count only the sentences judged for every device the any-device
    probability stands for."""
    from sklearn.metrics import precision_recall_fscore_support as prfs

    every = default_model.any_device_devices
    rows = [(text, present, every) for text, present, _ in OWN_LABELS[:3] + OWN_LABELS[5:]]
    rows.append((OWN_LABELS[3][0], ["Bandwagon,Reductio_ad_hitlerum"], every))
    rows.append((OWN_LABELS[4][0], [], [DOUBT]))  # flagged by the model, judged for Doubt only
    result = evaluate_model(default_model, _write_sentence_labels(tmp_path / "all.csv", rows))
    full = [(text, present) for text, present, judged in rows if judged == every]
    truth = [bool(present) for _, present in full]
    cut = default_model.thresholds["propaganda"]
    guess = [default_model.score(text).sentences[0].propaganda >= cut for text, _ in full]
    p, r, f, _ = prfs(truth, guess, average="binary", zero_division=0)
    assert result.any_device_sentences == len(full) == len(rows) - 1
    assert (result.sentence_precision, result.sentence_recall, result.sentence_f1) == (
        pytest.approx((p, r, f))
    )
    assert result.sentence_note is None and 0 < f < 1
    assert set(result.per_device.index) == set(every)  # every device judged, none unknown
    assert result.to_dict()["sentence_f1"] == round(f, 4)


def test_stand_off_labels_are_scored_within_their_document(default_model, tmp_path):
    """A sentence that stand-off labels pick out of a document is scored with the document around
    it, as `proplens score` scores the document, not alone."""
    from proplens import split_sentences

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (
        "The harbour board met on Monday evening to discuss the new mooring fees. These greedy, "
        "reckless officials are bleeding our fishermen dry! The fees rise by a fifth from next "
        "spring. Nobody asked the families who have worked this harbour for generations. The "
        "board will publish its minutes on Friday. Shame on every one of them.\n"
    )
    (corpus / "harbour-vote.txt").write_text(text, encoding="utf-8")
    sentences = split_sentences(text)
    labels = tmp_path / "standoff.tsv"
    labels.write_text(
        "document_id\tstart\tend\tdevice\tlabel\n"
        f"harbour-vote.txt\t{sentences[1].start}\t{sentences[1].end}\t{LL}\t1\n"
        f"harbour-vote.txt\t{sentences[4].start}\t{sentences[4].end}\t{LL}\t0\n",
        encoding="utf-8",
    )
    result = evaluate_model(default_model, [labels], corpus_dir=corpus)
    assert (result.sentences, result.documents) == (2, 1)
    assert list(result.per_device.index) == [LL] and result.per_device.loc[LL, "annotated"] == 2
    whole = default_model.score(text).sentences
    evaluated = result.predictions
    assert list(evaluated["start"]) == [sentences[1].start, sentences[4].start]
    alone = []
    for row, index in zip(evaluated.itertuples(index=False), (1, 4), strict=True):
        assert getattr(row, LL) == pytest.approx(whole[index].devices[LL], rel=1e-12)
        assert row.propaganda == pytest.approx(whole[index].propaganda, rel=1e-12)
        alone.append(default_model.score(sentences[index].text).sentences[0].devices[LL])
    assert list(evaluated[LL]) != pytest.approx(alone, rel=1e-6)  # the document mattered


def test_evaluate_model_refuses_labels_that_trained_the_model(tmp_path, own_taxonomy):
    """A label file with the sha256 of one the model was trained on is refused in one line,
    given as a path or as a LabelSet; other labels of the same device are evaluated."""
    import proplens
    from proplens.labeling import read_labels
    from proplens.training import train

    trained_on = write_labels(tmp_path / "crowd.csv")
    result = train(
        name="tiny", labels=[trained_on], base=False, models_root=tmp_path / "models",
        evaluate=False, promote=False, n_jobs=1,
    )  # fmt: skip
    model = proplens.load_model(result.directory)
    other = write_labels(tmp_path / "other.csv", documents=4, seed=7, avoid=texts_of(trained_on))
    message = r"crowd.csv: this label file trained tiny@v1 \(same sha256 as its training source"
    with pytest.raises(ValidationError, match=message):
        evaluate_model(model, [other, trained_on])
    with pytest.raises(ValidationError, match="trained tiny@v1"):
        evaluate_model(model, read_labels([trained_on]))
    copy = tmp_path / "elsewhere" / "same-bytes.csv"
    copy.parent.mkdir()
    copy.write_bytes(trained_on.read_bytes())  # the content counts, not the name
    with pytest.raises(ValidationError, match="same-bytes.csv: this label file trained"):
        evaluate_model(model, copy)
    fresh = evaluate_model(model, [other])
    assert list(fresh.per_device.index) == [DEVICE] and fresh.per_device.loc[DEVICE, "f1"] > 0.8
    assert fresh.sentence_f1 is not None  # the tiny model's any-device label is its one device


def test_evaluate_model_refuses_the_project_labels_of_the_shipped_model(default_model):
    """The shipped model's card lists datasets/labels/unverified_figures.tsv: refused as such
    before anything is read (no corpus needed)."""
    labels = REPO_ROOT / "datasets" / "labels" / "unverified_figures.tsv"
    with pytest.raises(ValidationError, match="this label file trained ptc-default@"):
        evaluate_model(default_model, [labels])


@pytest.mark.corpus
def test_evaluate_model_refuses_sentences_of_the_semeval_training_articles(
    default_model, corpus_dir, tmp_path
):
    """A model trained on the base corpus saw every sentence of the SemEval-2020 training
    articles with its 14 device labels, and the Unverified_Figures sentences of its label file:
    labels on them for those devices are refused. Other sentences of those articles labeled for
    Unverified_Figures (the fresh sample the benchmarks score the shipped models on) are not."""
    articles = corpus_dir / "ptc-semeval2020" / "train-articles"
    article = sorted(articles.glob("article*.txt"))[0]
    first_line = article.read_text(encoding="utf-8").split("\n", 1)[0]
    labels = tmp_path / "mine.tsv"
    labels.write_text(
        "document_id\tstart\tend\tdevice\tlabel\n"
        f"{article.name}\t0\t{len(first_line.rstrip())}\t{LL}\t0\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match=r"1 labeled sentence\(s\) of the SemEval-2020"):
        evaluate_model(default_model, [labels], corpus_dir=articles)
    # the second pass re-labels Unverified_Figures sentences of the file that trained the model
    folder = REPO_ROOT / "datasets" / "labels"
    with pytest.raises(ValidationError, match="Unverified_Figures\\), so its figures"):
        evaluate_model(default_model, [folder / "unverified_figures.second_pass.tsv"])
    fresh = evaluate_model(default_model, [folder / "unverified_figures.fresh-2026-11.tsv"])
    assert list(fresh.per_device.index) == ["Unverified_Figures"]
    assert (fresh.sentences, fresh.documents) == (478, 90)
    assert fresh.per_device.loc["Unverified_Figures", "support"] == 57


# --- a saved model on a labeled SemEval-2020 split (evaluate_model_on_split) -------------------


def test_evaluate_model_on_split_reports_the_cross_validation_figures_for_the_split(
    default_model, tmp_path
):
    """Every sentence is judged for the 14 devices: per-device, SLC, micro and macro figures are
    sklearn's on the model's probabilities (the call the CV makes) at its thresholds, and the TC
    figure is the share of gold spans `classify_spans` gives their device."""
    from sklearn.metrics import precision_recall_fscore_support as prfs

    from proplens.corpus import read_semeval2020
    from proplens.evaluation import evaluate_model_on_split

    root = write_dev_release(tmp_path)
    result = evaluate_model_on_split(default_model, "dev", data_dir=root)
    corpus = read_semeval2020(root, split="dev")
    table = corpus.sentence_table()
    classifier = default_model.sentence_model
    proba = classifier.predict_all_proba(table)
    flagged = proba >= classifier.threshold_vector()
    semeval = [d for d in default_model.devices if d != "Unverified_Figures"]
    assert list(result.per_device.index) == semeval and result.unknown_devices == []
    assert (result.sentences, result.documents) == (len(table), 2)
    column = {label: i for i, label in enumerate(classifier.labels_)}
    for device in semeval:
        truth = table["devices"].map(lambda found, d=device: d in found)
        p, r, f, _ = prfs(truth, flagged[:, column[device]], average="binary", zero_division=0)
        assert tuple(result.per_device.loc[device, ["precision", "recall", "f1"]]) == (
            pytest.approx((p, r, f))
        )
    assert result.macro_f1 == pytest.approx(result.per_device["f1"].mean())
    gold_any = table["devices"].map(bool)
    assert result.sentence_f1 == pytest.approx(f1_score(gold_any, flagged[:, 0]))
    assert result.sentence_f1 is not None and result.sentence_note is None
    assert result.predictions["propaganda"].to_numpy() == pytest.approx(proba[:, 0])
    spans = corpus.spans
    right = [
        default_model.classify_spans(corpus.documents[a], [(s, e)])[0].device == device
        for a, device, s, e in spans[["document_id", "device", "start", "end"]].itertuples(
            index=False
        )
    ]
    assert result.tc_micro_f1 == pytest.approx(np.mean(right))
    written = result.to_dict()
    assert written["tc_micro_f1"] == round(result.tc_micro_f1, 4)
    assert written["macro_f1"] == round(result.macro_f1, 4)


@pytest.mark.parametrize(
    "split, message",
    [("train", "split 'train': the shipped models learned"), ("test", "gold is not public")],
)
def test_evaluate_model_on_split_refuses_train_and_test(default_model, tmp_path, split, message):
    from proplens.evaluation import evaluate_model_on_split

    with pytest.raises(ValidationError, match=message):
        evaluate_model_on_split(default_model, split, data_dir=write_dev_release(tmp_path))
