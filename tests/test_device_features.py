"""Per-device feature blocks (the figure cues of Unverified_Figures, the phrase recurrence of
Repetition): the block changes its own device only, survives pickling, and is wired from the
taxonomy's ``features`` key into training, cross-validation, scoring and evidence."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from proplens.errors import DataError, ValidationError
from proplens.features import (
    PhraseRecurrence,
    SentenceColumns,
    make_device_features,
    make_sentence_features,
)
from proplens.figures import FigureCues
from proplens.model import DeviceClassifier
from proplens.scoring import Model
from proplens.taxonomy import load_taxonomy
from proplens.training import TrainingData, cross_validate_block

LOADED = ["reckless", "shameful", "disgraceful", "corrupt"]
PLACES = ["Velm", "Orlo", "Pellin", "Tarnwick", "Ostry", "Brenna"]
UF = "Unverified_Figures"
GATES = {UF: r"\d|thousand"}


def corpus(n_documents: int = 16) -> tuple[pd.DataFrame, np.ndarray]:
    """Loaded sentences (device 0, annotated everywhere) and figure sentences, some sourced
    (UF annotated on the figure sentences and on a few plain ones only, -1 elsewhere)."""
    rows, labels = [], []
    for d in range(n_documents):
        place = PLACES[d % len(PLACES)]
        sentences = [
            (f"The {LOADED[d % 4]} council of {place} wrecked everything again!", [1, -1]),
            (f"About {d * 7 + 3},000 families left {place} last winter.", [0, 1]),
            (
                f"The {place} ferry carried {d + 12},500 passengers, the harbour office said.",
                [0, 0],
            ),  # fmt: skip
            (f"The {place} library opened on Tuesday.", [0, 0 if d % 2 else -1]),
            (f"Prices in {place} rose {d + 4} percent in a year.", [0, 1]),
            (f"According to the {place} bureau, {d + 2} bridges closed.", [0, 0]),
        ]
        for i, (text, label) in enumerate(sentences):
            rows.append((f"doc{d}", i, text))
            labels.append(label)
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    return frame, np.array(labels, dtype=np.int8)


def model(devices, **params) -> DeviceClassifier:
    return DeviceClassifier(
        devices=devices,
        features=make_sentence_features(chars=False),
        threshold_folds=2,
        min_positive=2,
        gates=GATES,
        **params,
    )


@pytest.fixture(scope="module")
def fitted():
    frame, Y = corpus()
    plain = model(["Loaded_Language"]).fit(frame, Y[:, :1])
    with_uf = model(["Loaded_Language", UF]).fit(frame, Y)
    with_block = model(["Loaded_Language", UF], device_features={UF: FigureCues()}).fit(frame, Y)
    return frame, Y, plain, with_uf, with_block


def test_the_block_leaves_every_other_label_bit_identical(fitted):
    """Adding the device and its block changes no other label's coefficients, threshold or
    probabilities at all (issue 5: existing devices' CV F1 must not move)."""
    frame, _, plain, with_uf, with_block = fitted
    for other in (with_uf, with_block):
        assert np.array_equal(other.coef_[:, :2], plain.coef_)
        assert np.array_equal(other.intercept_[:2], plain.intercept_)
        assert [other.thresholds_[k] for k in plain.labels_] == list(plain.thresholds_.values())
        assert np.array_equal(other.predict_all_proba(frame)[:, :2], plain.predict_all_proba(frame))


def test_the_block_is_used_for_its_device(fitted):
    """The device's regression reads the block (non-zero weights), its scores differ from the
    shared-features model, and the gate still gives probability 0 where no number occurs."""
    frame, _, _, with_uf, with_block = fitted
    assert np.abs(with_block.device_coef_[UF]).sum() > 0
    assert len(with_block.device_coef_[UF]) == len(FigureCues().get_feature_names_out())
    proba = with_block.predict_proba(frame)[:, 1]
    assert not np.allclose(proba, with_uf.predict_proba(frame)[:, 1])
    no_number = ~frame["text"].str.contains(GATES[UF]).to_numpy()
    assert np.all(proba[no_number] == 0)


def test_scores_do_not_depend_on_which_rows_are_scored_together(fitted):
    """The block sees each sentence's neighbours, so scoring a whole document and its rows one
    document at a time agree; precomputed blocks and the stacked matrix give the same result."""
    frame, _, _, _, with_block = fitted
    whole = with_block.predict_all_proba(frame)
    parts = np.vstack(
        [with_block.predict_all_proba(doc) for _, doc in frame.groupby("document_id", sort=False)]
    )
    assert np.allclose(whole, parts)
    stacked = with_block.predict_all_proba(frame, matrix=with_block.transform_features(frame))
    assert np.allclose(whole, stacked)


def test_a_fitted_model_with_a_block_pickles(fitted):
    frame, _, _, _, with_block = fitted
    again = pickle.loads(pickle.dumps(with_block))
    assert np.array_equal(again.predict_all_proba(frame), with_block.predict_all_proba(frame))


def test_taxonomy_names_the_figures_block_for_unverified_figures():
    taxonomy = load_taxonomy()
    assert taxonomy.feature_blocks == {UF: "figures", "Repetition": "phrases"}
    blocks = make_device_features(taxonomy.feature_blocks)
    assert isinstance(blocks[UF], FigureCues)


def test_unknown_feature_block_is_a_one_line_error(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        '[[device]]\nname="X"\ndefinition="d"\nexample="e"\nfeatures="nope"\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match="unknown feature block 'nope'"):
        load_taxonomy(path)
    with pytest.raises(ValidationError, match="unknown feature block"):
        make_device_features({"X": "nope"})


def test_block_cv_passes_the_block_and_true_neighbours():
    """cross_validate_block fits the device with its block when the data names one (and adds
    the full table's neighbour columns before taking the labeled rows)."""
    frame, Y = corpus()
    data = TrainingData(
        frame.assign(devices=[[]] * len(frame)), pd.DataFrame(), ["Loaded_Language", UF],
        gates=GATES, feature_blocks={UF: "figures"},
    )  # fmt: skip
    data.indicator = lambda: Y  # the labels above, -1 included
    rows = np.flatnonzero(Y[:, 1] >= 0)
    block = cross_validate_block(data, [UF], rows, n_jobs=1, n_splits=4)
    without = TrainingData(data.sentences, data.spans, data.devices, gates=GATES)
    without.indicator = lambda: Y
    plain = cross_validate_block(without, [UF], rows, n_jobs=1, n_splits=4)
    assert block.proba.shape == plain.proba.shape == (len(rows), 2)
    assert not np.allclose(block.proba[:, 1], plain.proba[:, 1])


def test_the_scorers_plain_lists_give_the_frame_probabilities(fitted):
    """Model.score_many hands the classifier SentenceColumns instead of a DataFrame; a model with
    a device block scores exactly as on the frame."""
    frame, _, _, _, with_block = fitted
    columns = SentenceColumns.from_frame(frame)
    assert np.array_equal(
        with_block.predict_all_proba(columns), with_block.predict_all_proba(frame)
    )


REP = "Repetition"
SLOGANS = [("brighter", "harbour"), ("bread", "bridges"), ("steady", "tides"), ("lantern", "glow")]


def repetition_corpus(n_documents: int = 16) -> tuple[pd.DataFrame, np.ndarray]:
    """Pairs of documents with the same opening sentence: in one its slogan comes back (both
    uses are Repetition), in the other only its words do, in the other order (neither is). The
    documents of a pair hold the same words, as often; only the recurring phrase differs."""
    rows, labels = [], []
    for d in range(n_documents):
        place, (first, last) = PLACES[(d // 2) % len(PLACES)], SLOGANS[(d // 2) % len(SLOGANS)]
        repeats = d % 2 == 0
        second = f"{first} {last}" if repeats else f"{last} {first}"
        sentences = [
            (f"The {place} council promised {first} {last} to everyone.", int(repeats)),
            (f"The ferry to {place} left on time.", 0),
            (f"Voters in {place} heard about {second} once more.", int(repeats)),
            (f"Schools in {place} reopened after the storm.", 0),
        ]
        for i, (text, label) in enumerate(sentences):
            rows.append((f"doc{d}", i, text))
            labels.append([label])
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    return frame, np.array(labels, dtype=np.int8)


@pytest.fixture(scope="module")
def repetition_model():
    frame, Y = repetition_corpus()
    plain = model([REP]).fit(frame, Y)
    with_block = model([REP], device_features={REP: PhraseRecurrence()}).fit(frame, Y)
    return frame, Y, plain, with_block


def test_taxonomy_names_the_phrases_block_for_repetition():
    blocks = make_device_features(load_taxonomy().feature_blocks)
    assert isinstance(blocks[REP], PhraseRecurrence)


def test_the_phrases_block_sees_what_the_words_cannot(repetition_model):
    """Only the recurring phrase tells the opening sentences apart (they are word for word the
    same in both classes): the block's model ranks every repeated slogan above every lone one,
    the shared-features model cannot."""
    frame, Y, plain, with_block = repetition_model
    assert np.abs(with_block.device_coef_[REP]).sum() > 0
    slogans = frame["sentence_index"].isin([0, 2]).to_numpy()
    repeated = Y[:, 0] == 1
    proba = with_block.predict_proba(frame)[:, 0]
    assert proba[slogans & repeated].min() > proba[slogans & ~repeated].max()
    flat = plain.predict_proba(frame)[:, 0]
    assert not flat[slogans & repeated].min() > flat[slogans & ~repeated].max()


def test_the_phrases_block_scores_whole_documents_alike(repetition_model):
    """The block reads whole documents: the scorer's lists, the frame, and one document at a
    time give the same probabilities."""
    frame, _, _, with_block = repetition_model
    whole = with_block.predict_all_proba(frame)
    assert np.array_equal(with_block.predict_all_proba(SentenceColumns.from_frame(frame)), whole)
    parts = np.vstack(
        [with_block.predict_all_proba(doc) for _, doc in frame.groupby("document_id", sort=False)]
    )
    assert np.allclose(parts, whole)


def test_repetition_evidence_points_at_the_phrase_that_comes_back(repetition_model):
    """Model.score's evidence for a Repetition label includes the repeated slogan, at its
    offsets in the document."""
    _, _, _, with_block = repetition_model
    document = (
        "The Velm council promised bread bridges to everyone. The ferry left on time. "
        "Voters in Velm heard about bread bridges once more."
    )
    scored = Model({"sentences": with_block}).score(document)
    slogans = [s for s in scored.sentences if "bread bridges" in s.text]
    assert len(slogans) == 2
    for sentence in slogans:
        assert REP in sentence.labels
        shown = [e for e in sentence.evidence if e.device == REP]
        assert "bread bridges" in {e.text for e in shown}
        for item in shown:
            assert document[item.start : item.end] == item.text
    ferry = next(s for s in scored.sentences if "ferry" in s.text)
    assert "bread bridges" not in {e.text for e in ferry.evidence}
