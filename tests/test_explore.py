"""Tests for proplens.explore: the summaries and charts behind the notebooks."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from proplens import explore  # noqa: E402
from proplens.errors import DataError, ValidationError  # noqa: E402
from proplens.evaluation import cross_validate_sentences  # noqa: E402
from proplens.features import make_sentence_features  # noqa: E402
from proplens.model import DeviceClassifier  # noqa: E402

DEVICES = ["Doubt", "Slogans"]


def _table() -> pd.DataFrame:
    """Four sentences in two documents, written for the tests."""
    return pd.DataFrame(
        {
            "document_id": ["a", "a", "b", "b"],
            "sentence_index": [0, 1, 0, 1],
            "text": ["Can we trust them?", "Stand firm, stand proud!", "Rain fell.", "Maybe so."],
            "devices": [["Doubt"], ["Doubt", "Slogans"], [], ["Doubt"]],
        }
    )


def _labelled_corpus(documents: int = 12) -> pd.DataFrame:
    """A small synthetic corpus where 'doubt' words mark Doubt and chants mark Slogans."""
    rows = []
    for d in range(documents):
        sentences = [
            ("Can anyone really trust the mayor of Velmora?", ["Doubt"]),
            ("Stand together, win together!", ["Slogans"]),
            (f"The ferry left port at {d} o'clock.", []),
            ("Is the report of the harbour board honest at all?", ["Doubt"]),
            ("The market opened on a quiet morning.", []),
        ]
        for index, (text, devices) in enumerate(sentences):
            rows.append((f"doc{d}", index, text, devices))
    return pd.DataFrame(rows, columns=["document_id", "sentence_index", "text", "devices"])


def test_device_counts_counts_sentences_per_device():
    """A sentence with two devices counts once for each; order is most frequent first."""
    counts = explore.device_counts(_table(), ["Slogans", "Doubt", "Repetition"])
    assert counts.to_dict() == {"Doubt": 3, "Slogans": 1, "Repetition": 0}
    assert list(counts.index) == ["Doubt", "Slogans", "Repetition"]


def test_devices_per_sentence_histogram():
    """Counts how many sentences carry 0, 1 and 2 devices."""
    assert explore.devices_per_sentence(_table()).to_dict() == {0: 1, 1: 2, 2: 1}


def test_cooccurrence_is_symmetric_with_counts_on_diagonal():
    """The heatmap must read the same both ways and its diagonal equals device_counts."""
    matrix = explore.cooccurrence(_table(), DEVICES)
    assert matrix.loc["Doubt", "Slogans"] == matrix.loc["Slogans", "Doubt"] == 1
    assert np.diag(matrix).tolist() == [3, 1]


THREE = ["Doubt", "Slogans", "Repetition"]  # taxonomy devices: each may be absent from a table


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sets(st.sampled_from(THREE)), min_size=1, max_size=30))
def test_cooccurrence_properties(device_sets):
    """Property: symmetric, diagonal = per-device counts, off-diagonal never above the diagonal."""
    table = pd.DataFrame({"devices": [sorted(s) for s in device_sets]})
    matrix = explore.cooccurrence(table, THREE).to_numpy()
    assert (matrix == matrix.T).all()
    counts = explore.device_counts(table, THREE).reindex(THREE).to_numpy()
    assert (np.diag(matrix) == counts).all()
    assert (matrix <= np.diag(matrix)[:, None]).all()


def test_sentence_lengths_one_row_per_sentence_device_pair():
    """Unlabelled sentences appear as '(none)', so lengths of plain sentences can be compared."""
    lengths = explore.sentence_lengths(_table(), DEVICES)
    assert len(lengths) == 5  # 1 + 2 + 1 (none) + 1
    assert lengths[lengths.device == "(none)"].words.tolist() == [2]
    assert sorted(lengths[lengths.device == "Doubt"].words) == [2, 4, 4]


def test_document_flagged_share():
    """Share of flagged sentences per document."""
    frame = explore.document_flagged_share(_table()).set_index("document_id")
    assert frame.loc["a", "share"] == 1.0
    assert frame.loc["b", "share"] == 0.5
    assert frame["sentences"].tolist() == [2, 2]


def test_missing_column_is_a_validation_error():
    """A wrong table gives a one-line error naming the column, not a KeyError."""
    with pytest.raises(ValidationError, match="devices"):
        explore.device_counts(pd.DataFrame({"text": ["x"]}))


def test_threshold_curve_exact_values():
    """Precision, recall and F1 at a threshold match a hand count."""
    curve = explore.threshold_curve([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], thresholds=[0.5])
    row = curve.iloc[0]
    assert (row.precision, row.recall, row.f1, row.predicted) == (0.5, 0.5, 0.5, 2)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=40)
)
def test_threshold_curve_recall_never_rises(pairs):
    """Property: a higher threshold never predicts more, so recall is non-increasing."""
    y, p = zip(*pairs, strict=True)
    curve = explore.threshold_curve(list(y), list(p))
    assert (np.diff(curve["recall"]) <= 1e-12).all()
    assert (np.diff(curve["predicted"]) <= 0).all()
    assert curve[["precision", "recall", "f1"]].apply(lambda c: c.between(0, 1).all()).all()


def test_span_confusion_rows_sum_to_one():
    """Normalised rows read as 'share of gold-a spans called b'."""
    frame = explore.span_confusion(["A", "A", "B", "B"], ["A", "B", "B", "B"])
    assert frame.loc["A", "B"] == 0.5
    assert np.allclose(frame.sum(axis=1), 1.0)
    raw = explore.span_confusion(["A", "B"], ["B", "B"], normalize=False)
    assert raw.loc["A", "B"] == 1


def test_top_ngrams_and_confident_mistakes_on_a_fitted_model():
    """The strongest n-grams of a fitted model are cue words, and mistakes come with evidence."""
    table = _labelled_corpus()
    recorder = explore.FoldRecorder(
        lambda names: DeviceClassifier(
            names, features=make_sentence_features(chars=False), threshold_folds=2
        )
    )
    _, oof = cross_validate_sentences(table, DEVICES, make_estimator=recorder, n_splits=3)
    assert len(recorder.models) == 3

    grams = explore.top_ngrams(recorder.models[0], n=5)
    assert set(grams.device) <= {"propaganda", *DEVICES}
    assert (grams.weight > 0).all()
    assert not set(grams.ngram) & {"the", "of", "at", "of the"}  # function words say nothing
    slogan_words = " ".join(grams[grams.device == "Slogans"].ngram)
    assert "together" in slogan_words

    # Make one sentence's label wrong so the model is confidently "mistaken" about it.
    noisy = table.copy()
    noisy.at[1, "devices"] = []
    mistakes = explore.confident_mistakes(noisy, oof, DEVICES, n=3, recorder=recorder)
    assert mistakes.kind.value_counts().max() <= 3  # n per kind
    first = mistakes.iloc[0]
    assert first.kind == "false alarm" and first.device == "Slogans"
    assert (mistakes.confidence > 0.5).all()
    assert mistakes.confidence.is_monotonic_decreasing
    assert "together" in first.evidence


def test_fold_of_matches_the_cross_validation_folds():
    """A recomputed fold model reproduces the out-of-fold probability of its test sentences."""
    table = _labelled_corpus()
    recorder = explore.FoldRecorder(
        lambda names: DeviceClassifier(
            names, features=make_sentence_features(chars=False), threshold_folds=2
        )
    )
    _, oof = cross_validate_sentences(table, DEVICES, make_estimator=recorder, n_splits=3)
    folds = recorder.fold_of(table)
    for k, model in enumerate(recorder.models):
        rows = np.flatnonzero(folds == k)
        proba = model.predict_all_proba(table.iloc[rows])
        assert np.allclose(proba[:, 0], oof["propaganda"].to_numpy()[rows])


def test_profile_frame_puts_documents_side_by_side():
    """Scoring dicts become one row per document with a share column per device."""
    result = {
        "document": "x.txt",
        "profile": {
            "sentences": 4,
            "flagged_share": 0.5,
            "propaganda_score": 0.4,
            "devices": [{"device": "Doubt", "share": 0.25}, {"device": "Slogans", "share": 0.0}],
        },
    }
    frame = explore.profile_frame([result], names=["example"])
    assert frame.loc["example", "Doubt"] == 0.25
    assert frame.loc["example", "propaganda_score"] == 0.4


def test_plots_have_titles_and_axis_labels():
    """Every chart helper labels its axes and sets a title."""
    _, axes = plt.subplots(1, 2)
    explore.plot_heatmap(explore.cooccurrence(_table(), DEVICES), title="Co", ax=axes[0])
    explore.plot_bars(
        explore.device_counts(_table()), title="Counts", xlabel="n", ylabel="device", ax=axes[1]
    )
    assert axes[0].get_title() == "Co" and axes[0].get_xlabel() == "with device"
    assert axes[1].get_title() == "Counts" and axes[1].get_xlabel() == "n"
    ax = explore.plot_boxes(
        explore.sentence_lengths(_table()), group="device", value="words", title="L", xlabel="w"
    )
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["(none)", "Doubt", "Slogans"]  # ordered by median length
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("L", "w", "device")
    plt.close("all")


def test_compare_groups_means_and_interval():
    """Group means are exact and the bootstrap interval brackets the mean."""
    profiles = pd.DataFrame(
        {
            "sentences": [10, 10, 10, 10],
            "propaganda_score": [0.1, 0.3, 0.6, 0.8],
            "flagged_share": [0.0, 0.2, 0.5, 0.7],
            "Doubt": [0.0, 0.1, 0.2, 0.4],
        },
        index=pd.Index(["w", "x", "y", "z"], name="document"),
    )
    table = explore.compare_groups(profiles, ["short", "short", "long", "long"])
    assert table.loc["short", "documents"] == 2
    assert table.loc["long", "mean_score"] == pytest.approx(0.7)
    assert table.loc["long", "Doubt"] == pytest.approx(0.3)
    assert (table.ci_low <= table.mean_score).all() and (table.mean_score <= table.ci_high).all()
    with pytest.raises(ValidationError):
        explore.compare_groups(profiles, ["a"])
    ordered = pd.Series(pd.Categorical(["s", "s", "l", "l"], categories=["s", "l"], ordered=True))
    assert list(explore.compare_groups(profiles, ordered).index) == ["s", "l"]


def test_empty_input_gives_empty_well_formed_results():
    """No sentences or no documents: empty results with their usual columns (they raised
    AttributeError and KeyError); profiles without a score column are a ValidationError."""
    empty = _table().iloc[:0]
    lengths = explore.sentence_lengths(empty)
    assert lengths.empty and list(lengths.columns) == ["device", "words"]
    profiles = explore.profile_frame([])
    assert profiles.empty and profiles.index.name == "document"
    assert list(profiles.columns) == ["sentences", "propaganda_score", "flagged_share"]
    groups = explore.compare_groups(profiles, [])
    assert groups.empty and groups.index.name == "group"
    assert list(groups.columns[:4]) == ["documents", "mean_score", "ci_low", "ci_high"]
    with pytest.raises(ValidationError, match="propaganda_score"):
        explore.compare_groups(pd.DataFrame(), [])


def test_a_missing_devices_value_counts_as_no_device():
    """None or NaN in the devices column (a null in Parquet) is a sentence without a device
    (it raised TypeError)."""
    table = _table()
    table["devices"] = [["Doubt"], None, np.nan, ["Doubt", "Slogans"]]
    assert explore.device_counts(table).to_dict() == {"Doubt": 2, "Slogans": 1}
    assert explore.devices_per_sentence(table).to_dict() == {0: 2, 1: 1, 2: 1}
    assert explore.cooccurrence(table).loc["Doubt", "Slogans"] == 1
    lengths = explore.sentence_lengths(table)
    assert (lengths["device"] == "(none)").sum() == 2
    shares = explore.document_flagged_share(table).set_index("document_id")
    assert shares["flagged"].to_dict() == {"a": 1, "b": 1}


def test_device_subsets_count_and_label_only_the_named_devices():
    """A subset counts its devices and ignores the others (it raised "unknown device 'Doubt'");
    '(none)' stays "no device at all", and a name neither in the table nor in the taxonomy is an
    error (it gave every sentence as '(none)')."""
    table = _table()
    assert explore.device_counts(table, ["Slogans"]).to_dict() == {"Slogans": 1}
    assert explore.cooccurrence(table, ["Slogans"]).to_numpy().tolist() == [[1]]
    lengths = explore.sentence_lengths(table, ["Slogans"])
    by_label = lengths.groupby("device")["words"].apply(sorted).to_dict()
    assert by_label == {"Slogans": [4], "(other)": [2, 4], "(none)": [2]}
    assert explore.device_counts(table, ["Repetition"]).to_dict() == {"Repetition": 0}
    for summary in (explore.device_counts, explore.cooccurrence, explore.sentence_lengths):
        with pytest.raises(ValidationError, match="Nope"):
            summary(table, ["Nope"])
    with pytest.raises(ValidationError, match="list of device names"):
        explore.sentence_lengths(table, "Doubt")


def _out_of_fold(proba: list[list[float]], predicted: list[list[str]]) -> pd.DataFrame:
    """Out-of-fold predictions for `_table()` in the form `cross_validate_sentences` returns."""
    frame = pd.DataFrame(proba, columns=DEVICES)
    frame["predicted"] = predicted
    return frame


def test_confident_mistakes_use_the_thresholded_decisions():
    """A mistake is a predicted-but-unannotated or annotated-but-unpredicted device at the fold's
    tuned threshold, not p against 0.5: p = 0.08 predicted is no miss, p = 0.3 predicted is a
    false alarm, p = 0.4 not predicted is no false alarm (the 0.5 rule got all three wrong)."""
    table = _table()  # devices: [Doubt], [Doubt, Slogans], [], [Doubt]
    oof = _out_of_fold(
        [[0.08, 0.01], [0.02, 0.9], [0.4, 0.3], [0.9, 0.0]],
        [["Doubt"], ["Slogans"], ["Slogans"], ["Doubt"]],
    )
    mistakes = explore.confident_mistakes(table, oof, DEVICES)
    found = list(zip(mistakes.kind, mistakes.device, mistakes.sentence_index, strict=True))
    # row 1 missed Doubt (p = 0.02), row 2 is a false alarm of Slogans (p = 0.3)
    assert found == [("miss", "Doubt", 1), ("false alarm", "Slogans", 0)]
    assert mistakes.confidence.tolist() == pytest.approx([0.98, 0.3])
    subset = explore.confident_mistakes(table, oof, ["Slogans"])  # other devices are ignored
    assert list(subset.kind) == ["false alarm"]
    with pytest.raises(ValidationError, match="predicted"):
        explore.confident_mistakes(table, oof.drop(columns="predicted"), DEVICES)


def test_a_reused_fold_recorder_keeps_only_the_latest_run():
    """Passing one recorder to a second CV (a notebook cell run twice) replaced, not appended,
    its models: they grew to 5 and fold_of split 5 ways, so no model matched its rows."""
    table = _labelled_corpus()
    recorder = explore.FoldRecorder(
        lambda names: DeviceClassifier(
            names, features=make_sentence_features(chars=False), threshold_folds=2
        )
    )
    cross_validate_sentences(table, DEVICES, make_estimator=recorder, n_splits=3)
    _, oof = cross_validate_sentences(table, DEVICES, make_estimator=recorder, n_splits=2)
    assert len(recorder.models) == 2
    folds = recorder.fold_of(table)
    for k, model in enumerate(recorder.models):
        rows = np.flatnonzero(folds == k)
        proba = model.predict_all_proba(table.iloc[rows])
        assert np.allclose(proba[:, 0], oof["propaganda"].to_numpy()[rows])
    with pytest.raises(ValidationError, match="not the one"):
        recorder.fold_of(_labelled_corpus(documents=14))  # doc12, doc13 were in no run
    recorder.reset()
    assert recorder.models == []


def test_edge_cases_give_results_or_validation_errors():
    """Empty inputs draw or return empty results, a short names list is a ValidationError,
    documents without a group are kept, unnamed heatmap axes are labelled (each of these raised
    IndexError or ValueError, dropped documents, or left the axis labels empty)."""
    ax = explore.plot_bars(pd.Series([], dtype=float), title="t", xlabel="n", ylabel="device")
    assert (ax.get_title(), ax.get_xlabel()) == ("t", "n")
    confusion = explore.span_confusion([], [])
    assert confusion.empty and confusion.index.name == "gold device"
    result = {
        "document": "x.txt",
        "profile": {"sentences": 1, "flagged_share": 0.0, "propaganda_score": 0.1, "devices": []},
    }
    with pytest.raises(ValidationError, match="1 names for 2 results"):
        explore.profile_frame([result, result], names=["only-one"])
    profiles = pd.DataFrame(
        {"sentences": [10] * 6, "propaganda_score": [0.1, 0.3, 0.2, 0.4, 0.6, 0.8]},
        index=pd.Index(list("uvwxyz"), name="document"),
    )
    groups = explore.compare_groups(profiles, [None, np.nan, "x", "x", "y", "y"])
    assert groups["documents"].to_dict() == {"(none)": 2, "x": 2, "y": 2}
    assert groups.loc["(none)", "mean_score"] == pytest.approx(0.2)
    ordered = pd.Series(pd.Categorical(["s", None, "s", "l", "l", "l"], categories=["s", "l"]))
    assert explore.compare_groups(profiles, ordered)["documents"].to_dict() == {
        "s": 2, "l": 3, "(none)": 1,
    }  # fmt: skip
    ax = explore.plot_heatmap(pd.DataFrame([[1, 2], [3, 4]]), title="h")
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_a_string_in_the_devices_column_is_an_error_everywhere():
    """devices_per_sentence counted the string "Doubt" as 5 devices and document_flagged_share
    as a flagged sentence, where every other summary names the row."""
    table = _table()
    table["devices"] = [["Doubt"], "Doubt", [], ["Doubt"]]
    for summary in (explore.devices_per_sentence, explore.document_flagged_share):
        with pytest.raises(ValidationError, match="row 1: expected a list of device names"):
            summary(table)
    with pytest.raises(ValidationError, match="must be a pandas DataFrame, got list"):
        explore.device_counts([["Doubt"]])  # it raised AttributeError: no attribute 'columns'


def test_missing_text_or_document_is_a_validation_error():
    """A NaN text raised TypeError deep in pandas; a NaN document_id silently dropped the
    sentence from document_flagged_share (document 'a' showed 1 sentence instead of 2)."""
    table = _table()
    table.loc[2, "text"] = np.nan
    with pytest.raises(ValidationError, match="row 2: text must be a string"):
        explore.sentence_lengths(table)
    table = _table()
    table.loc[0, "document_id"] = np.nan
    with pytest.raises(ValidationError, match="row 0: document_id is missing"):
        explore.document_flagged_share(table)


def test_curves_check_their_input():
    """pr_curve raised sklearn's ValueError for unequal lengths, NaN or no input and warned with a
    meaningless curve when there was no positive; threshold_curve read a NaN probability as never
    predicted, a label 2 as positive, and raised numpy errors for text or a 2-d grid."""
    import warnings

    for bad in (([1, 0], [0.1]), ([1, 0], [np.nan, 0.2]), (["a", "b"], [0.1, 0.2])):
        for curve in (explore.pr_curve, explore.threshold_curve):
            with pytest.raises(ValidationError):
                curve(*bad)
    with pytest.raises(ValidationError, match="row 0: expected 0/1"):
        explore.threshold_curve([2, 0], [0.3, 0.2])
    with pytest.raises(ValidationError, match="thresholds"):
        explore.threshold_curve([1, 0], [0.3, 0.2], thresholds=[[0.1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y, p in (([0, 0], [0.2, 0.1]), ([], [])):
            curve = explore.pr_curve(y, p)
            assert curve.empty and list(curve.columns) == ["precision", "recall"]
    assert explore.pr_curve([1, 0], [0.9, 0.2])["precision"].max() == 1.0
    with pytest.raises(ValidationError, match="2 gold devices for 1 predictions"):
        explore.span_confusion(["A", "B"], ["A"])


def test_counts_and_classifiers_are_checked():
    """top_ngrams raised AttributeError for anything but a fitted classifier and, with n = -1,
    returned every n-gram but the last; confident_mistakes compared a string n with 0."""
    from proplens.model import DeviceClassifier

    for thing in (None, object(), DeviceClassifier(DEVICES)):
        with pytest.raises(ValidationError, match="needs a fitted DeviceClassifier"):
            explore.top_ngrams(thing)
    with pytest.raises(ValidationError, match="n must be"):
        explore.top_ngrams(object(), n=-1)
    oof = _out_of_fold([[0.1, 0.1]] * 4, [[]] * 4)
    with pytest.raises(ValidationError, match="n must be"):
        explore.confident_mistakes(_table(), oof, DEVICES, n="3")


def _profile(document: str, shares: dict[str, float], score: float = 0.3) -> dict:
    devices = [{"device": name, "share": share} for name, share in shares.items()]
    return {
        "document": document,
        "profile": {
            "sentences": 10,
            "flagged_share": 0.5,
            "propaganda_score": score,
            "devices": devices,
        },
    }


def test_profiles_keep_unmeasured_devices_apart_from_absent_ones():
    """A device one result's model lacks was filled with 0.0, as if measured and not found; a
    malformed result raised KeyError or TypeError."""
    frame = explore.profile_frame(
        [_profile("old", {"Doubt": 0.1}), _profile("new", {"Doubt": 0.0, "Slogans": 0.2})]
    )
    assert np.isnan(frame.loc["old", "Slogans"]) and frame.loc["new", "Doubt"] == 0.0
    for bad in ([{"document": "x"}], ["text"], None):
        with pytest.raises(ValidationError):
            explore.profile_frame(bad)


def test_compare_groups_skips_text_columns_and_checks_scores():
    """A text column added to the profiles to group by raised TypeError from pandas' mean; a NaN
    score gave a mean without it but a NaN interval; a string of keys was split into letters."""
    profiles = explore.profile_frame(
        [_profile(name, {"Doubt": share}) for name, share in (("w", 0.1), ("x", 0.3))]
    )
    profiles["outlet"] = ["Harbour Herald", "Valley Post"]  # invented names
    table = explore.compare_groups(profiles, profiles["outlet"])
    assert "outlet" not in table.columns and table.loc["Valley Post", "Doubt"] == 0.3
    scores = profiles.assign(propaganda_score=[0.2, np.nan])
    with pytest.raises(ValidationError, match="document 'x': propaganda_score nan"):
        explore.compare_groups(scores, ["a", "a"])
    with pytest.raises(ValidationError, match="one key per document"):
        explore.compare_groups(profiles, "ab")


def test_plots_refuse_text_and_draw_empty_or_missing_values_quietly():
    """Text values raised deep matplotlib/pandas errors, a missing column a KeyError; an empty or
    all-NaN heatmap warned (singular limits, All-NaN slice)."""
    import warnings

    with pytest.raises(ValidationError, match="plot_heatmap needs numbers"):
        explore.plot_heatmap(pd.DataFrame({"a": ["x"]}), title="t")
    with pytest.raises(ValidationError, match="plot_bars needs numbers"):
        explore.plot_bars(pd.Series(["a"]), title="t", xlabel="x", ylabel="y")
    with pytest.raises(ValidationError, match="lacks column"):
        explore.plot_boxes(
            pd.DataFrame({"device": ["a"]}), group="device", value="words", title="t", xlabel="x"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = explore.plot_heatmap(pd.DataFrame(), title="empty")
        assert ax.get_title() == "empty" and ax.get_xlabel()
        explore.plot_heatmap(pd.DataFrame({"a": [np.nan]}), title="nan")
    plt.close("all")


# -- agreement between two readings of the same sentences ---------------------------------------


def _release_with_a_second_pass(second_text: str | None = None):
    """An NLP4IF-style release: article 111111111 annotated twice (its copy 1111111119), and an
    article read once. One sentence per line, as in the release."""
    from proplens.corpus import SPAN_COLUMNS, Corpus

    text = "Title line\n\nThey are traitors.\nThe meeting ended at noon.\nIs this really true?\n"
    third, name = text.index("Is this"), text.index("traitors")
    rows = [
        ("111111111", "Name_Calling,Labeling", name, name + 8),
        ("1111111119", "Name_Calling,Labeling", name, name + 8),
        ("1111111119", "Doubt", third, third + 20),
        ("222222222", "Loaded_Language", 0, 5),
    ]
    spans = pd.DataFrame([(*row, "nlp4if2019") for row in rows], columns=SPAN_COLUMNS)
    documents = {
        "111111111": text,
        "1111111119": text if second_text is None else second_text,
        "222222222": "Awful news today.\n",
    }
    return Corpus(documents, spans, "nlp4if2019")


def test_annotation_passes_pairs_each_sentence_of_an_article_read_twice():
    release = _release_with_a_second_pass()
    passes = explore.annotation_passes(release)
    assert passes["document_id"].unique().tolist() == ["111111111"]  # 222222222 is read once
    assert len(passes) == 4  # title and three sentences (the empty line is none)
    assert passes["pass 1"].map(sorted).tolist() == [[], ["Name_Calling,Labeling"], [], []]
    assert passes["pass 2"].map(sorted).tolist() == [[], ["Name_Calling,Labeling"], [], ["Doubt"]]
    # another release's labels of the same sentences, matched by article and offset
    gold = release.sentence_table()
    gold = gold[gold["document_id"] == "1111111119"].assign(document_id="111111111")
    passes = explore.annotation_passes(release, gold=gold)
    assert passes["gold"].tolist() == passes["pass 2"].tolist()
    with pytest.raises(DataError, match="gold has no sentence at offset"):
        explore.annotation_passes(release, gold=gold.iloc[:-1])
    with pytest.raises(DataError, match="differ in text"):
        explore.annotation_passes(_release_with_a_second_pass(second_text="Other text.\n"))


def _random_readings(seed: int = 3, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = ["A", "B", "C"]

    def readings():
        return [frozenset(d for d in names if rng.random() < 0.25) for _ in range(n)]

    return pd.DataFrame({"document_id": rng.integers(0, 9, n).astype(str), "x": readings()}).assign(
        y=readings()
    )


def test_agreement_measures_are_scikit_learns_from_summed_counts():
    """Counts are kept per document (so that documents can be resampled cheaply); the measures
    from their sums are scikit-learn's F1, Cohen's kappa and micro-F1 on the sentences."""
    from sklearn.metrics import cohen_kappa_score, f1_score

    frame = _random_readings()
    counts = explore.agreement_counts(frame, "x", "y")
    assert counts.shape == (9, 7) and list(counts.columns) == list(explore.AGREEMENT_COUNTS)
    scores = explore.agreement_scores(counts.sum())
    x_any, y_any = frame["x"].map(bool), frame["y"].map(bool)
    assert scores["any-device F1"] == pytest.approx(f1_score(x_any, y_any))
    assert scores["any-device kappa"] == pytest.approx(cohen_kappa_score(x_any, y_any))
    onehot = [np.array([[d in s for d in "ABC"] for s in frame[c]]) for c in ("x", "y")]
    assert scores["micro-F1"] == pytest.approx(f1_score(*onehot, average="micro"))
    # a model's own any-device flag, where given, replaces "carries a device"
    flagged = explore.agreement_counts(frame.assign(f=~y_any), "x", "y", other_flagged="f")
    assert explore.agreement_scores(flagged.sum())["any-device F1"] == pytest.approx(
        f1_score(x_any, ~y_any)
    )
    # draws as rows: one value per row
    assert explore.agreement_scores(np.vstack([counts.sum(), counts.iloc[0]]))[
        "micro-F1"
    ].shape == (2,)


def test_agreement_gives_each_measure_an_interval_over_documents():
    frame = _random_readings()
    table = explore.agreement(frame, "x", "y", draws=500)
    assert table.index.tolist() == list(explore.AGREEMENT_MEASURES)
    assert ((table["ci_low"] <= table["value"]) & (table["value"] <= table["ci_high"])).all()
    assert (table["ci_high"] - table["ci_low"] > 0).all()
    # a reading against itself agrees perfectly, in every resample
    same = explore.agreement(frame, "x", "x", draws=50)
    assert (same.to_numpy() == 1).all()
    # one document: every resample is that document, so the interval is the value itself
    one = explore.agreement(frame.assign(document_id="d"), "x", "y", draws=50)
    assert np.allclose(one["ci_low"], one["value"]) and np.allclose(one["ci_high"], one["value"])
    with pytest.raises(ValidationError, match="draws"):
        explore.agreement(frame, "x", "y", draws=0)
    with pytest.raises(ValidationError, match="lacks column"):
        explore.agreement(frame, "x", "z")
    # a sentence the other reading did not cover (a left merge) is an error, not a flag
    unmatched = frame.assign(f=[True] * (len(frame) - 1) + [None])
    with pytest.raises(ValidationError, match="'f' is missing for row 299"):
        explore.agreement(unmatched, "x", "y", other_flagged="f")
