"""Summaries and charts for looking at the corpus, a model's errors and scored documents.

The numbered notebooks in ``notebooks/`` call these functions; anything a notebook computes that is
worth keeping lives here so that it is tested. Every summary is a pure function returning a pandas
object (those taking ``devices`` read the taxonomy only to tell a rare device from a typo); every
``plot_*`` function draws on a matplotlib ``Axes`` it is given (or a new one) and returns that
``Axes``, with labelled axes and a title.

Example::

    >>> import pandas as pd
    >>> table = pd.DataFrame({"document_id": ["a", "a", "b"],
    ...                       "devices": [["Doubt"], ["Doubt", "Slogans"], []]})
    >>> cooccurrence(table, ["Doubt", "Slogans"]).loc["Doubt", "Slogans"]
    np.int64(1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_curve

from proplens.errors import DataError, ValidationError
from proplens.evidence import EvidenceMapper, SentenceAttribution
from proplens.labels import _check_devices, to_indicator
from proplens.taxonomy import load_taxonomy

__all__ = [
    "FoldRecorder",
    "agreement",
    "agreement_counts",
    "agreement_scores",
    "annotation_passes",
    "compare_groups",
    "confident_mistakes",
    "cooccurrence",
    "device_counts",
    "devices_per_sentence",
    "document_flagged_share",
    "pr_curve",
    "profile_frame",
    "sentence_lengths",
    "span_confusion",
    "threshold_curve",
    "top_ngrams",
    "plot_bars",
    "plot_boxes",
    "plot_heatmap",
]


def _check_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(f"{what} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValidationError(f"{what} lacks column(s): {', '.join(missing)}")


def _device_lists(table: pd.DataFrame, column: str = "devices") -> list:
    """A column of device lists with a missing value (None, NaN) read as no device."""
    return [[] if _missing(row) else row for row in table[column]]


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _present(device_lists: list) -> list[str]:
    """The device names that occur in ``device_lists``, in order of first appearance.

    Malformed rows (a string, a number) and names are skipped here: :func:`to_indicator` reports
    them with their row number.
    """
    seen: dict[str, None] = {}
    for row in device_lists:
        if isinstance(row, Iterable) and not isinstance(row, str | bytes):
            seen.update((name, None) for name in row if isinstance(name, str))
    return list(seen)


def _devices_of(table: pd.DataFrame, devices: Sequence[str] | None) -> list[str]:
    """The devices to summarise: all in the table (sorted) or the named ones.

    A named device is known when the table carries it or the taxonomy declares it, so a rare
    device absent from a small sample counts 0 while a typo is an error, not a column of zeros.
    """
    present = _present(_device_lists(table))
    if devices is None:
        return sorted(present)
    names = _check_devices(devices)  # a string or duplicates: the labels module's error
    unknown = [name for name in names if name not in present]
    if unknown:
        try:
            declared = set(load_taxonomy().names)
        except DataError:  # no readable taxonomy: only the table's own devices are known
            declared = set()
        unknown = [name for name in unknown if name not in declared]
    if unknown:
        raise ValidationError(
            f"unknown device(s): {', '.join(unknown)}; neither in the table nor in the taxonomy"
        )
    return names


def _all_devices(table: pd.DataFrame) -> np.ndarray:
    """``(n, k)`` indicator of every device in the table, so that a malformed row (a string,
    a number) raises the labels module's error naming the row instead of being counted."""
    lists = _device_lists(table)
    return to_indicator(lists, _present(lists))


def _indicator(device_lists: list, names: Sequence[str]) -> np.ndarray:
    """``(n, k)`` indicator of ``names`` only: other devices in the rows are ignored, not errors,
    so that a subset of devices can be summarised."""
    names = list(names)
    named = set(names)
    others = [name for name in _present(device_lists) if name not in named]
    return to_indicator(device_lists, [*names, *others])[:, : len(names)]


# --------------------------------------------------------------------------------------------
# the sentence table


def device_counts(table: pd.DataFrame, devices: Sequence[str] | None = None) -> pd.Series:
    """Sentences carrying each device, most frequent first (a device absent from all is 0).

    ``devices`` (default: every device in the table) may be a subset: only those are counted.
    A name neither in the table nor in the taxonomy raises :class:`ValidationError`.
    """
    _check_columns(table, ["devices"], "sentence table")
    names = _devices_of(table, devices)
    counts = _indicator(_device_lists(table), names).sum(axis=0)
    series = pd.Series(counts, index=pd.Index(names, name="device"), name="sentences")
    return series.sort_values(ascending=False, kind="stable")


def devices_per_sentence(table: pd.DataFrame) -> pd.Series:
    """How many sentences carry 0, 1, 2, ... devices (index: number of devices)."""
    _check_columns(table, ["devices"], "sentence table")
    # From the indicator, not len(): a string row is an error, not len("Doubt") = 5 devices.
    per_row = _all_devices(table).sum(axis=1)
    counts = pd.Series(per_row, dtype=np.int64).value_counts().sort_index()
    counts.index.name = "devices in sentence"
    counts.name = "sentences"
    return counts


def cooccurrence(table: pd.DataFrame, devices: Sequence[str] | None = None) -> pd.DataFrame:
    """``k x k`` sentence counts: cell (a, b) = sentences carrying both a and b.

    The diagonal holds each device's own sentence count, so a row divided by its diagonal reads
    as "of the sentences with a, the share that also has b". ``devices`` as in
    :func:`device_counts`.
    """
    _check_columns(table, ["devices"], "sentence table")
    names = _devices_of(table, devices)
    indicator = _indicator(_device_lists(table), names).astype(np.int64)
    counts = indicator.T @ indicator
    index = pd.Index(names, name="device")
    return pd.DataFrame(counts, index=index, columns=pd.Index(names, name="with device"))


def sentence_lengths(table: pd.DataFrame, devices: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table ``device, words``: one row per (sentence, device) for the named ``devices``
    (default: every device in the table, checked as in :func:`device_counts`).

    A sentence carrying none of them is one row too: ``(none)`` when it has no device at all,
    ``(other)`` when it only has devices that were not named (only with a subset), so that
    "(none)" always means plain sentences. Length is counted in whitespace-separated words, which
    is what a reader perceives.
    """
    _check_columns(table, ["devices", "text"], "sentence table")
    names = _devices_of(table, devices)
    if table.empty:
        return pd.DataFrame({"device": pd.Series(dtype=object), "words": pd.Series(dtype=int)})
    for row, text in enumerate(table["text"]):
        if not isinstance(text, str):  # NaN, None, a number: no length to count
            raise ValidationError(f"row {row}: text must be a string, got {text!r}")
    words = table["text"].str.split().map(len).to_numpy()
    lists = _device_lists(table)
    indicator = _indicator(lists, names).astype(bool)
    rows = []
    for length, found, flags in zip(words, lists, indicator, strict=True):
        kept = [name for name, flag in zip(names, flags, strict=True) if flag]
        for device in kept or ["(other)" if len(found) else "(none)"]:
            rows.append((device, int(length)))
    return pd.DataFrame(rows, columns=["device", "words"])


def document_flagged_share(table: pd.DataFrame) -> pd.DataFrame:
    """One row per document: ``sentences``, ``flagged`` (any device), ``share`` flagged."""
    _check_columns(table, ["document_id", "devices"], "sentence table")
    missing = np.flatnonzero(table["document_id"].isna().to_numpy())
    if missing.size:  # groupby would drop these sentences from every document's count
        raise ValidationError(f"row {missing[0]}: document_id is missing")
    flagged = pd.Series(_all_devices(table).any(axis=1), index=table.index)
    frame = (
        pd.DataFrame({"document_id": table["document_id"], "flagged": flagged})
        .groupby("document_id", sort=True)["flagged"]
        .agg(sentences="size", flagged="sum")
    )
    frame["flagged"] = frame["flagged"].astype(int)
    frame["share"] = frame["flagged"] / frame["sentences"]
    return frame.reset_index()


# --------------------------------------------------------------------------------------------
# a model's quality


def _binary_scores(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` as booleans and ``proba`` as floats, 1-d and of one length; anything else (text,
    a NaN probability, a label other than 0/1) is a :class:`ValidationError`."""
    try:
        y = np.asarray(y_true, dtype=float)
        p = np.asarray(proba, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"y_true and proba must be numbers ({error})") from None
    if y.shape != p.shape or y.ndim != 1:
        raise ValidationError(
            f"y_true and proba must be 1-d of equal length, got {y.shape}, {p.shape}"
        )
    wrong = np.flatnonzero(~np.isin(y, (0.0, 1.0)))
    if wrong.size:
        raise ValidationError(
            f"y_true row {wrong[0]}: expected 0/1 or a boolean, got {y[wrong[0]]}"
        )
    missing = np.flatnonzero(np.isnan(p))
    if missing.size:  # NaN >= t is False: the sentence would silently count as never predicted
        raise ValidationError(f"proba row {missing[0]} is NaN")
    return y.astype(bool), p


def threshold_curve(y_true, proba, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Precision, recall and F1 if the label were predicted at each threshold.

    ``thresholds`` default to 150 log-spaced values from 0.001 to 0.99. Columns
    ``threshold, precision, recall, f1, predicted``. Precision is 1 where nothing is predicted
    (no false positive can be made), so the curve stays defined at high thresholds.
    """
    y, p = _binary_scores(y_true, proba)
    # Log-spaced by default: tuned thresholds of rare devices sit well below 0.1.
    if thresholds is None:
        grid = np.geomspace(0.001, 0.99, 150)
    else:
        try:
            grid = np.asarray(thresholds, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValidationError(f"thresholds must be numbers ({error})") from None
        if grid.ndim != 1 or np.isnan(grid).any():
            raise ValidationError(f"thresholds must be a 1-d list of numbers, got {thresholds!r}")
    predicted = p[None, :] >= grid[:, None]
    true_positive = (predicted & y[None, :]).sum(axis=1)
    n_predicted = predicted.sum(axis=1)
    positives = int(y.sum())
    precision = np.divide(true_positive, n_predicted, out=np.ones(len(grid)), where=n_predicted > 0)
    recall = true_positive / positives if positives else np.zeros(len(grid))
    denominator = n_predicted + positives
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(len(grid)), where=denominator > 0)
    return pd.DataFrame(
        {
            "threshold": grid,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "predicted": n_predicted,
        }
    )


def pr_curve(y_true, proba) -> pd.DataFrame:
    """The precision-recall curve as a frame ``precision, recall`` (sklearn's exact curve).

    With no positive in ``y_true`` (a device absent from a sample, or no sentences) there is no
    curve: the frame is empty, where sklearn would warn and draw recall 1 everywhere.
    """
    y, p = _binary_scores(y_true, proba)
    if not y.any():
        return pd.DataFrame({"precision": pd.Series(dtype=float), "recall": pd.Series(dtype=float)})
    precision, recall, _ = precision_recall_curve(y.astype(int), p)
    return pd.DataFrame({"precision": precision, "recall": recall})


def span_confusion(y_true, y_pred, *, normalize: bool = True) -> pd.DataFrame:
    """Gold device (rows) against predicted device (columns) for technique classification.

    With ``normalize`` each row sums to 1: cell (a, b) is the share of gold-``a`` spans the model
    called ``b``, which makes rare devices as readable as frequent ones. No spans give an empty
    frame.
    """
    if len(y_true) != len(y_pred):
        raise ValidationError(f"{len(y_true)} gold devices for {len(y_pred)} predictions")
    labels = sorted(set(np.asarray(y_true)) | set(np.asarray(y_pred)))
    if labels:
        matrix = confusion_matrix(y_true, y_pred, labels=labels).astype(float)
    else:  # sklearn refuses empty input; no span is an empty table, not an error
        matrix = np.zeros((0, 0))
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    return pd.DataFrame(
        matrix,
        index=pd.Index(labels, name="gold device"),
        columns=pd.Index(labels, name="predicted device"),
    )


def top_ngrams(classifier, n: int = 10, *, skip_stopwords: bool = True) -> pd.DataFrame:
    """The word n-grams with the largest positive weight for each label of a fitted classifier.

    ``classifier`` is a fitted :class:`proplens.model.DeviceClassifier` (or a loaded
    :class:`proplens.Model`, whose ``sentence_model`` is used). Only the word block of the features
    is read, as in :mod:`proplens.evidence`; with ``skip_stopwords`` n-grams made only of
    function words ("of the") are left out, as they are from evidence. Columns: ``device, rank,
    ngram, weight``.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    _check_count(n)
    model = getattr(classifier, "sentence_model", classifier)
    if not all(hasattr(model, name) for name in ("features_", "coef_", "labels_")):
        raise ValidationError(
            "top_ngrams needs a fitted DeviceClassifier or a loaded Model, got "
            f"{type(classifier).__name__}" + (" (not fitted)" if hasattr(model, "fit") else "")
        )
    vocabulary = EvidenceMapper.from_features(model.features_).vocabulary
    names = np.empty(len(vocabulary), dtype=object)
    for gram, column in vocabulary.items():
        names[column] = gram
    rows = []
    if skip_stopwords:
        keep = np.array([not set(str(g).split()) <= ENGLISH_STOP_WORDS for g in names], dtype=bool)
    else:
        keep = np.ones(len(names), dtype=bool)
    for label_column, label in enumerate(model.labels_):
        weights = np.asarray(model.coef_[: len(names), label_column], dtype=float)
        weights = np.where(keep, weights, -np.inf)
        order = np.argsort(-weights, kind="stable")[:n]
        positive = [column for column in order if weights[column] > 0]
        for rank, column in enumerate(positive, start=1):
            rows.append((label, rank, names[column], float(weights[column])))
    return pd.DataFrame(rows, columns=["device", "rank", "ngram", "weight"])


def _check_count(n) -> None:
    # bool is an int; a negative n would slice [:-1], every n-gram but the last
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValidationError(f"n must be a whole number, 0 or more, got {n!r}")


class FoldRecorder:
    """An estimator factory for :func:`proplens.evaluation.cross_validate_sentences` that keeps
    every fold's fitted model, so out-of-fold mistakes can be explained by the model that made them.

    It also records the documents each model was fitted on. ``models`` holds the folds of the
    latest cross-validation only: a run that starts with a recorder already used (a notebook cell
    run twice) replaces the earlier models, since mixing two runs' models would explain a sentence
    with a model trained on its own article. :meth:`reset` empties it by hand.

    >>> from proplens.model import DeviceClassifier
    >>> recorder = FoldRecorder(lambda devices: DeviceClassifier(devices))
    >>> # cross_validate_sentences(table, devices, make_estimator=recorder, n_splits=3)
    >>> recorder.models
    []
    """

    def __init__(self, make_estimator) -> None:
        self.make_estimator = make_estimator
        self.models: list = []
        self._trained_on: list[frozenset] = []  # the document ids each of ``models`` was fitted on

    def __call__(self, devices: Sequence[str]):
        return _RecordedFit(self.make_estimator(devices), self)

    def reset(self) -> None:
        """Forget the recorded models."""
        self.models = []
        self._trained_on = []

    def _record(self, model, table: pd.DataFrame) -> None:
        _check_columns(table, ["document_id"], "training table")
        documents = frozenset(table["document_id"])
        if self._starts_new_run(documents):
            self.reset()
        self.models.append(model)
        self._trained_on.append(documents)

    def _starts_new_run(self, documents: frozenset) -> bool:
        """Whether a model fitted on ``documents`` cannot be a further fold of the recorded run.

        The held-out documents of one grouped k-fold run are disjoint and, from its second fold
        on, the training sets together hold all of its documents.
        """
        if documents in self._trained_on:  # the same training set again: a repeated split
            return True
        if len(self._trained_on) < 2:
            return False
        run = frozenset().union(*self._trained_on)
        if documents - run:  # a document the run has not seen: another table
            return True
        held_out = run - documents
        return any(held_out & (run - trained) for trained in self._trained_on)

    def fold_of(self, table: pd.DataFrame) -> np.ndarray:
        """For each row of ``table``, the index of the fold model that did *not* train on it.

        Read from the documents each model was fitted on; a row whose document was held out by
        no recorded model, or by several, raises :class:`ValidationError` (the table is not the
        one cross-validated, or the run did not finish).
        """
        if len(self.models) < 2:
            raise ValidationError("no cross-validation recorded: pass the recorder to a CV first")
        _check_columns(table, ["document_id"], "sentence table")
        documents = table["document_id"].to_numpy()
        held_out = np.array([~np.isin(documents, list(trained)) for trained in self._trained_on])
        counts = held_out.sum(axis=0)
        wrong = np.flatnonzero(counts != 1)
        if wrong.size:
            row = wrong[0]
            raise ValidationError(
                f"row {row}: document {documents[row]!r} was held out by {counts[row]} of the "
                f"{len(self.models)} recorded fold models, not exactly one: this table is not "
                "the one the recorder's cross-validation ran on"
            )
        return held_out.argmax(axis=0)


class _RecordedFit:
    """One fold's estimator as handed to the CV: ``fit`` tells the recorder which documents the
    model was fitted on and returns the estimator itself; everything else is the estimator's."""

    def __init__(self, estimator, recorder: FoldRecorder) -> None:
        self._estimator = estimator
        self._recorder = recorder

    def fit(self, table: pd.DataFrame, *args, **kwargs):
        fitted = self._estimator.fit(table, *args, **kwargs)
        self._recorder._record(self._estimator, table)
        return fitted

    def __getattr__(self, name: str):
        return getattr(self._estimator, name)


def confident_mistakes(
    table: pd.DataFrame,
    oof: pd.DataFrame,
    devices: Sequence[str],
    *,
    n: int = 15,
    recorder: FoldRecorder | None = None,
) -> pd.DataFrame:
    """The out-of-fold (sentence, device) decisions that were most confidently wrong: the ``n``
    strongest false alarms and the ``n`` strongest misses, most confident first.

    ``oof`` is the out-of-fold output of :func:`proplens.evaluation.cross_validate_sentences`;
    its ``predicted`` column (the decisions at each fold model's tuned thresholds) decides what
    is a mistake. A *false alarm* is a device the model predicted but no annotator marked; a
    *miss* is an annotated device the model did not predict. ``confidence`` is the probability
    the model gave to its wrong decision: the probability for false alarms, ``1 - probability``
    for misses, so both sort together. It does not depend on the thresholds, so a false alarm
    just above a low threshold can have a confidence well under 0.5. ``devices`` may be a subset
    of the CV's devices. With a ``recorder`` (the :class:`FoldRecorder` used in the CV),
    ``evidence`` lists the words that pushed the fold model's score up. Columns: ``document_id,
    sentence_index, device, kind, probability, confidence, evidence, text``.
    """
    devices = _check_devices(devices)
    _check_columns(table, ["document_id", "sentence_index", "text", "devices"], "sentence table")
    _check_columns(oof, [*devices, "predicted"], "out-of-fold predictions")
    if len(oof) != len(table):
        raise ValidationError(f"{len(oof)} prediction rows for {len(table)} sentences")
    _check_count(n)
    truth = _indicator(_device_lists(table), devices).astype(bool)
    predicted = _indicator(_device_lists(oof, "predicted"), devices).astype(bool)
    proba = oof[list(devices)].to_numpy(dtype=float)
    false_alarm = np.where(predicted & ~truth, proba, -1.0)
    miss = np.where(truth & ~predicted, 1.0 - proba, -1.0)
    candidates = []
    for kind, score in (("false alarm", false_alarm), ("miss", miss)):
        flat = np.argsort(-score, axis=None, kind="stable")[:n]
        for position in flat:
            row, column = divmod(int(position), len(devices))
            if score[row, column] >= 0:  # -1 marks a decision that was right
                candidates.append((float(score[row, column]), kind, row, column))
    candidates.sort(key=lambda item: -item[0])
    folds = recorder.fold_of(table) if recorder is not None else None
    rows = []
    for confidence, kind, row, column in candidates:
        device = devices[column]
        evidence = ""
        if folds is not None:
            evidence = _fold_evidence(recorder.models[folds[row]], table, row, device)
        rows.append(
            {
                "document_id": table["document_id"].iat[row],
                "sentence_index": int(table["sentence_index"].iat[row]),
                "device": device,
                "kind": kind,
                "probability": float(proba[row, column]),
                "confidence": confidence,
                "evidence": evidence,
                "text": table["text"].iat[row],
            }
        )
    columns = [
        "document_id", "sentence_index", "device", "kind",
        "probability", "confidence", "evidence", "text",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _fold_evidence(model, table: pd.DataFrame, row: int, device: str) -> str:
    """Words that raised ``device`` for sentence ``row`` under ``model`` (its whole document is
    transformed so that context features are as in the CV)."""
    document = table["document_id"].iat[row]
    positions = np.flatnonzero(table["document_id"].to_numpy() == document)
    frame = table.iloc[positions]
    matrix = model.transform_features(frame)
    local = int(np.searchsorted(positions, row))
    column = list(model.labels_).index(device)
    attribution = SentenceAttribution.from_model(model)
    found = attribution.explain(
        table["text"].iat[row],
        0,
        attribution.block_rows(matrix[local]),
        model.coef_,
        [device],
        [column],
        min_weight=0.0,
    )
    return ", ".join(f"{e.text} (+{e.weight:.2f})" for e in found if e.weight >= 0.005)


# --------------------------------------------------------------------------------------------
# scored documents


def profile_frame(results: Sequence, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Documents side by side: one row per document, one column per device (share of sentences
    labelled with it), plus ``propaganda_score`` and ``flagged_share``.

    ``results`` are :class:`proplens.DocumentScore` objects or their ``to_dict()`` form;
    ``names``, if given, replace their document names (one per result). A device that some
    results' model does not have (results of two models, or scored with ``devices=``) is NaN for
    the others, not 0: it was not measured there, which is not the same as not found.
    """
    if isinstance(results, str | bytes | dict) or not isinstance(results, Iterable):
        raise ValidationError(f"results must be a list of scored documents, got {results!r:.60}")
    results = list(results)
    if names is not None and len(names) != len(results):
        raise ValidationError(f"{len(names)} names for {len(results)} results")
    rows = []
    for position, result in enumerate(results):
        data = result.to_dict(include_text=False) if hasattr(result, "to_dict") else result
        try:
            profile = data["profile"]
            row = {
                "document": names[position] if names is not None else data["document"],
                "sentences": profile["sentences"],
                "propaganda_score": profile["propaganda_score"],
                "flagged_share": profile["flagged_share"],
            }
            row.update({entry["device"]: entry["share"] for entry in profile["devices"]})
        except (KeyError, TypeError, IndexError):
            raise ValidationError(
                f"result {position}: expected a DocumentScore or its to_dict() form, "
                f"got {type(result).__name__}"
            ) from None
        rows.append(row)
    if not rows:  # no result: an empty frame with the columns every profile has
        columns = ["document", "sentences", "propaganda_score", "flagged_share"]
        return pd.DataFrame(columns=columns).set_index("document")
    return pd.DataFrame(rows).set_index("document")


def compare_groups(profiles: pd.DataFrame, groups, *, seed: int = 0) -> pd.DataFrame:
    """One row per group of documents: size, mean propaganda score with a 95% bootstrap interval
    over documents, and the mean share of sentences per device.

    ``profiles`` is :func:`profile_frame` output, ``groups`` one group key per row of it (rows
    come out sorted, in category order for a categorical). Documents without a key (None, NaN)
    form the group ``(none)``, as in :func:`proplens.group_report.group_report`.
    Documents, not sentences, are resampled: the sentences of one article are not independent
    (see :func:`proplens.group_report.bootstrap_ci`). Only numeric columns are averaged: a text
    column added to the profiles (an outlet, a country to group by) is left out.
    """
    from proplens.group_report import MISSING_GROUP, bootstrap_ci

    _check_columns(profiles, ["propaganda_score"], "profiles")
    if isinstance(groups, str | bytes) or not isinstance(groups, Iterable):
        raise ValidationError(f"groups must hold one key per document, got {groups!r:.60}")
    scores = pd.to_numeric(profiles["propaganda_score"], errors="coerce")
    unscored = np.flatnonzero(scores.isna().to_numpy())
    if unscored.size:  # a NaN score would give a mean without it but a NaN interval
        document = profiles.index[unscored[0]]
        value = profiles["propaganda_score"].iloc[unscored[0]]
        value = float(value) if isinstance(value, float) else value  # nan, not np.float64(nan)
        raise ValidationError(f"document {document!r}: propaganda_score {value!r} is not a number")
    profiles = profiles.assign(propaganda_score=scores)
    keys = groups if isinstance(groups, pd.Series) else pd.Series(list(groups), dtype=object)
    if len(keys) != len(profiles):
        raise ValidationError(f"{len(keys)} group keys for {len(profiles)} documents")
    # ``.array`` keeps a categorical's order (short < medium < long) for the rows.
    keys = pd.Series(keys.array, index=profiles.index, name="group")
    # groupby drops missing keys: their documents would vanish from every group.
    missing = keys.isna()
    if missing.any():
        if isinstance(keys.dtype, pd.CategoricalDtype):
            if MISSING_GROUP not in keys.cat.categories:
                keys = keys.cat.add_categories([MISSING_GROUP])
            keys = keys.fillna(MISSING_GROUP)
        else:
            keys = keys.astype(object).where(~missing, MISSING_GROUP)
    share_columns = [
        column
        for column in profiles.columns
        if column not in ("sentences", "propaganda_score")
        and pd.api.types.is_numeric_dtype(profiles[column])
    ]
    rows = []
    for group, members in profiles.groupby(keys, sort=True, observed=True):
        low, high = bootstrap_ci(members["propaganda_score"].to_numpy(), seed=seed)
        row = {
            "group": group,
            "documents": len(members),
            "mean_score": float(members["propaganda_score"].mean()),
            "ci_low": low,
            "ci_high": high,
        }
        row.update(members[share_columns].mean().to_dict())
        rows.append(row)
    columns = ["group", "documents", "mean_score", "ci_low", "ci_high", *share_columns]
    return pd.DataFrame(rows, columns=columns).set_index("group")


# --------------------------------------------------------------------------------------------
# agreement between two readings of the same sentences

#: what :func:`agreement_counts` counts per document, in this order
AGREEMENT_COUNTS = (
    "flagged_by_both",
    "flagged_by_other_only",
    "flagged_by_reference_only",
    "flagged_by_neither",
    "shared_labels",
    "reference_labels",
    "other_labels",
)
AGREEMENT_MEASURES = ("any-device F1", "any-device kappa", "micro-F1")


def annotation_passes(release, gold: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sentences of every article a release holds twice, with each annotation pass's devices.

    NLP4IF-2019 (and EMNLP-2019) hold a few articles a second time under the ID with "9"
    appended, the same text annotated by an independent pass (``PROVENANCE.md``). One row per
    sentence of those articles: ``document_id`` (the first copy's), ``start``, ``end`` and the
    device sets ``pass 1`` and ``pass 2``. With ``gold``, a sentence table of another release
    (SemEval-2020's), a ``gold`` column holds its devices for the same sentence, matched by
    article ID and start offset; a sentence it lacks is an error, not a silent gap.
    """
    from proplens.corpus import second_passes

    ids = release.documents
    pairs = second_passes(ids)
    for first, second in pairs:
        if ids[first] != ids[second]:
            raise DataError(f"articles {first} and {second} differ in text: not a second pass")
    table = release.sentence_table()
    by_document = dict(tuple(table.groupby("document_id", sort=False)))
    rows = []
    for first, second in pairs:
        one, two = by_document.get(first), by_document.get(second)
        if one is None or two is None:  # an empty article has no sentence to compare
            continue
        for start, end, a, b in zip(
            one["start"], one["end"], one["devices"], two["devices"], strict=True
        ):
            rows.append((first, int(start), int(end), frozenset(a), frozenset(b)))
    frame = pd.DataFrame(rows, columns=["document_id", "start", "end", "pass 1", "pass 2"])
    if gold is not None:
        _check_columns(gold, ["document_id", "start", "devices"], "gold")
        labels = dict(
            zip(
                zip(gold["document_id"].astype(str), gold["start"], strict=True),
                _device_lists(gold),
                strict=True,
            )
        )
        keys = list(zip(frame["document_id"], frame["start"], strict=True))
        absent = [key for key in keys if key not in labels]
        if absent:
            document, start = absent[0]
            raise DataError(
                f"gold has no sentence at offset {start} of article {document} "
                f"({len(absent)} sentences of the double-annotated articles missing)"
            )
        frame["gold"] = [frozenset(labels[key]) for key in keys]
    return frame


def agreement_counts(
    frame: pd.DataFrame, reference: str, other: str, *, other_flagged: str | None = None
) -> pd.DataFrame:
    """Per document, the counts that every :func:`agreement` measure is a function of.

    ``reference`` and ``other`` are columns of device sets (lists) for the same sentences. A
    sentence is flagged when it carries a device, or, for ``other``, when the boolean column
    ``other_flagged`` says so (a model flags with its own any-device threshold). Columns:
    :data:`AGREEMENT_COUNTS`; index: ``document_id``. Counts add up, so documents can be
    resampled (and summed) without going back to the sentences.
    """
    _check_columns(frame, ["document_id", reference, other], "frame")
    a_sets = [frozenset(labels) for labels in _device_lists(frame, reference)]
    b_sets = [frozenset(labels) for labels in _device_lists(frame, other)]
    a = np.array([bool(labels) for labels in a_sets], dtype=bool)
    if other_flagged is None:
        b = np.array([bool(labels) for labels in b_sets], dtype=bool)
    else:
        _check_columns(frame, [other_flagged], "frame")
        flags = frame[other_flagged]
        if flags.isna().any():  # bool(NaN) is True: a missing flag would count as flagged
            row = int(np.flatnonzero(flags.isna().to_numpy())[0])
            raise ValidationError(f"{other_flagged!r} is missing for row {row}")
        b = flags.to_numpy(dtype=bool)
    per_sentence = pd.DataFrame(
        {
            "document_id": frame["document_id"].to_numpy(),
            "flagged_by_both": a & b,
            "flagged_by_other_only": ~a & b,
            "flagged_by_reference_only": a & ~b,
            "flagged_by_neither": ~a & ~b,
            "shared_labels": [len(x & y) for x, y in zip(a_sets, b_sets, strict=True)],
            "reference_labels": [len(x) for x in a_sets],
            "other_labels": [len(y) for y in b_sets],
        }
    )
    return per_sentence.groupby("document_id", sort=True).sum().astype(np.int64)


def agreement_scores(counts) -> dict[str, np.ndarray]:
    """:data:`AGREEMENT_MEASURES` from summed counts: any array whose last axis holds
    :data:`AGREEMENT_COUNTS` (one set of sums, or one row per bootstrap draw)."""
    c = np.asarray(counts, dtype=float)
    both, other_only, reference_only, neither, shared, n_reference, n_other = np.moveaxis(c, -1, 0)
    n = both + other_only + reference_only + neither
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = (both + neither) / n
        chance = (
            (both + reference_only) * (both + other_only)
            + (neither + other_only) * (neither + reference_only)
        ) / n**2
        kappa = np.where(chance < 1, (observed - chance) / (1 - chance), np.nan)
    return {
        "any-device F1": 2 * both / np.maximum(2 * both + other_only + reference_only, 1),
        "any-device kappa": kappa,
        "micro-F1": 2 * shared / np.maximum(n_reference + n_other, 1),
    }


def agreement(
    frame: pd.DataFrame,
    reference: str,
    other: str,
    *,
    other_flagged: str | None = None,
    draws: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """How well two readings of the same sentences agree, with 95% bootstrap intervals.

    One row per measure (:data:`AGREEMENT_MEASURES`): sentence-level any-device F1 (the SLC
    measure), Cohen's kappa of the same flags, and micro-F1 over the device labels; columns
    ``value``, ``ci_low``, ``ci_high``. F1 is symmetric, so for two annotators it does not matter
    which is the reference. Documents, not sentences, are resampled (see :func:`compare_groups`).
    """
    if not isinstance(draws, int) or draws < 1:
        raise ValidationError(f"draws must be a positive integer, got {draws!r}")
    counts = agreement_counts(frame, reference, other, other_flagged=other_flagged).to_numpy()
    rng = np.random.default_rng(seed)
    n = len(counts)
    if n == 0:
        raise ValidationError("no sentence to compare")
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(draws)])
    values = agreement_scores(counts.sum(axis=0))
    resampled = agreement_scores(weights @ counts)
    rows = []
    for measure in AGREEMENT_MEASURES:
        low, high = np.nanpercentile(resampled[measure], [2.5, 97.5])
        rows.append((measure, float(values[measure]), float(low), float(high)))
    return pd.DataFrame(rows, columns=["measure", "value", "ci_low", "ci_high"]).set_index(
        "measure"
    )


# --------------------------------------------------------------------------------------------
# plotting


def _numbers(frame, what: str) -> np.ndarray:
    """The values of a frame or series as floats, or a :class:`ValidationError` (text cells)."""
    if not isinstance(frame, pd.DataFrame | pd.Series):
        raise ValidationError(
            f"{what} needs a pandas DataFrame or Series, got {type(frame).__name__}"
        )
    try:
        return frame.to_numpy(dtype=float)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{what} needs numbers ({error})") from None


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 5))
    return ax


def plot_heatmap(
    frame: pd.DataFrame,
    *,
    title: str,
    ax=None,
    cmap: str = "viridis",
    fmt: str = "{:.0f}",
    colorbar_label: str = "",
    annotate: bool = True,
):
    """A labelled heatmap of a square or rectangular frame (rows on y, columns on x)."""
    values = _numbers(frame, "plot_heatmap")
    ax = _axes(ax)
    if values.size == 0:  # imshow of nothing warns about singular limits: labelled, empty axes
        ax.set(title=title, xlabel=frame.columns.name or "column", ylabel=frame.index.name or "row")
        return ax
    image = ax.imshow(values, cmap=cmap, aspect="auto")
    ax.set_xticks(range(frame.shape[1]), [str(c) for c in frame.columns], rotation=60, ha="right")
    ax.set_yticks(range(frame.shape[0]), [str(i) for i in frame.index])
    # An unnamed index or columns still gets a label: the module promises labelled axes.
    ax.set_xlabel(frame.columns.name or "column")
    ax.set_ylabel(frame.index.name or "row")
    ax.set_title(title)
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(colorbar_label)
    if annotate and values.size <= 400:
        # nanmax of no finite value warns: an all-NaN frame has no middle to speak of
        middle = np.nanmax(values) / 2 if np.isfinite(values).any() else 0
        for (i, j), value in np.ndenumerate(values):
            colour = "black" if value > middle else "white"
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color=colour)
    return ax


def plot_bars(
    frame: pd.DataFrame | pd.Series,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    ax=None,
    horizontal: bool = True,
):
    """Grouped bars of a frame (one group per row, one bar per column) or bars of a series.

    An empty frame or series (say :func:`device_counts` of a table without devices, or of no
    devices) gives labelled axes with no bars.
    """
    _numbers(frame, "plot_bars")  # pandas raises "no numeric data to plot" deep inside
    ax = _axes(ax)
    kind = "barh" if horizontal else "bar"
    if not frame.empty:  # pandas raises IndexError when plotting no bars
        frame.plot(kind=kind, ax=ax, legend=False)
    if isinstance(frame, pd.DataFrame) and frame.shape[1] > 1 and not frame.empty:
        # Outside the axes: inside, the legend covers the longest bars.
        ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if horizontal:
        ax.invert_yaxis()
    return ax


def plot_boxes(
    long: pd.DataFrame,
    *,
    group: str,
    value: str,
    title: str,
    xlabel: str,
    ax=None,
):
    """Horizontal box plots of ``value`` per ``group`` of a long table, ordered by median.

    Outliers are hidden: with thousands of sentences they would hide the boxes.
    """
    import inspect

    _check_columns(long, [group, value], "plot_boxes table")
    ax = _axes(ax)
    order = long.groupby(group)[value].median().sort_values().index
    data = [long.loc[long[group] == key, value].to_numpy() for key in order]
    # matplotlib >= 3.10 spells the orientation out; older versions only know ``vert``.
    if "orientation" in inspect.signature(ax.boxplot).parameters:
        ax.boxplot(data, orientation="horizontal", showfliers=False)
    else:  # pragma: no cover - depends on the installed matplotlib
        ax.boxplot(data, vert=False, showfliers=False)
    ax.set_yticks(range(1, len(order) + 1), [str(key) for key in order])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(group)
    ax.set_title(title)
    return ax
