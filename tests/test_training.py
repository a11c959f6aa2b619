"""Retraining: new labels merge into the training table, every run is a new version with a card
that records its data and its comparison, failures leave nothing behind, and the promotion guard
keeps a worse model from becoming the default."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tiny_corpus import DEVICE, texts_of, write_labels, write_taxonomy

from proplens import config, training
from proplens.artifacts import read_metadata, save_model
from proplens.cli import main
from proplens.errors import DataError, ModelError, ValidationError
from proplens.labeling import LABEL_COLUMNS, LabelSet, read_labels
from proplens.model import DeviceClassifier
from proplens.registry import current, versions
from proplens.training import (
    TrainingData,
    annotation_blocks,
    f1_drop_tolerance,
    load_training_data,
    promotion_decision,
    train,
)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An empty models root and a taxonomy that knows the test device."""
    models = tmp_path / "models"
    monkeypatch.setenv("PROPLENS_MODELS", str(models))
    monkeypatch.setattr(config, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    write_taxonomy(tmp_path, monkeypatch)
    return models


@pytest.fixture
def labels_csv(tmp_path) -> Path:
    return write_labels(tmp_path / "crowd.csv")


def tiny_train(root: Path, labels: list[Path], **options):
    options.setdefault("evaluate", True)
    options.setdefault("n_splits", 3)
    return train(name="tiny", labels=labels, base=False, models_root=root, n_jobs=1, **options)


def test_train_on_new_labels_writes_a_version_with_a_card(root, labels_csv):
    """--no-base training makes v1 the default and records sources, counts and CV per device."""
    result = tiny_train(root, [labels_csv])
    assert result.directory == root / "tiny" / "v1" and result.promoted
    assert current(root).path == result.directory
    metadata = read_metadata(result.directory)
    assert metadata.labels == [DEVICE]
    source = metadata.training_data["sources"][0]
    assert source["label_counts"][DEVICE] == {"positive": 20, "negative": 40}
    assert len(source["fingerprint"]) == 64
    scores = metadata.metrics["per_device"][DEVICE]
    assert scores["f1"] > 0.8 and scores["folds"] == 3 and scores["f1_fold_std"] is not None
    card = (result.directory / "README.md").read_text(encoding="utf-8")
    assert "Label counts" in card and "| Crowd_Appeal | 20 | 40 | 0 |" in card


def test_retrain_adds_a_version_and_compares_with_the_parent(root, labels_csv, tmp_path):
    """A second run never overwrites v1; its card compares per-device F1 with v1."""
    first = tiny_train(root, [labels_csv])
    more = write_labels(tmp_path / "more.csv", documents=4, seed=7, avoid=texts_of(labels_csv))
    second = tiny_train(root, [labels_csv, more])
    assert versions("tiny", root) == [1, 2]
    assert (first.directory / "model.joblib").is_file()
    metadata = read_metadata(second.directory)
    assert metadata.parent == "tiny@v1"
    assert metadata.metrics["comparison"]["parent"] == "tiny@v1"
    assert DEVICE in metadata.metrics["comparison"]["f1_change"]
    assert "compared with `tiny@v1`" in (second.directory / "README.md").read_text()


def test_invalid_labels_write_nothing(root, tmp_path):
    """Validation runs before training: a bad file leaves no models folder at all."""
    bad = tmp_path / "bad.csv"
    bad.write_text("text,devices\nA sentence.,No_Such_Device\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="bad.csv:2: unknown device"):
        tiny_train(root, [bad])
    assert not root.exists()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_or_interrupted_training_leaves_the_current_model(
    root, labels_csv, monkeypatch, error
):
    """A crash or Ctrl-C during the final fit keeps v1 current and leaves no partial directory."""
    tiny_train(root, [labels_csv], evaluate=False)

    def fail(self, X, y):
        raise error

    monkeypatch.setattr(DeviceClassifier, "fit", fail)
    with pytest.raises(type(error)):
        tiny_train(root, [labels_csv], evaluate=False, force=True)
    assert versions("tiny", root) == [1]
    assert current(root).version == "v1"
    assert not [p for p in (root / "tiny").iterdir() if p.name.startswith(".tmp")]


def test_interrupt_while_saving_leaves_no_directory(root, labels_csv, monkeypatch):
    """Ctrl-C while the joblib file is written: the atomic save removes its temporary folder."""
    tiny_train(root, [labels_csv], evaluate=False)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("proplens.artifacts.joblib.dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tiny_train(root, [labels_csv], evaluate=False, force=True)
    assert sorted(p.name for p in (root / "tiny").iterdir()) == ["v1"]
    assert current(root).version == "v1"


def test_unevaluated_model_does_not_replace_the_default_without_force(root, labels_csv):
    """Without CV figures there is nothing to compare, so only --force promotes."""
    tiny_train(root, [labels_csv])
    kept = tiny_train(root, [labels_csv], evaluate=False)
    assert not kept.promoted and current(root).version == "v1"
    forced = tiny_train(root, [labels_csv], evaluate=False, force=True)
    assert forced.promoted and current(root).version == "v3"
    assert read_metadata(forced.directory).metrics["promotion"]["forced"] is True


def _parent(root: Path, f1: float, std: float, tc_micro_f1=None, **scores) -> Path:
    """A saved stand-in model whose card says Doubt had CV F1 ``f1`` with fold spread ``std``."""
    metrics = {"per_device": {"Doubt": {"f1": f1, "f1_fold_std": std, "folds": 5, **scores}}}
    if tc_micro_f1 is not None:
        metrics["tc_micro_f1"] = tc_micro_f1
    metadata = {
        "name": "base",
        "labels": ["Doubt"],
        "thresholds": {"Doubt": 0.5},
        "metrics": metrics,
    }
    return save_model({"stand-in": True}, metadata, root / "base" / "v1")


def _candidate(f1: float, std: float, extra: dict | None = None) -> dict:
    per_device = {"Doubt": {"f1": f1, "f1_fold_std": std, "folds": 5}, **(extra or {})}
    return {
        "format_version": 1, "name": "base", "version": "v2",
        "created": "2020-01-01T00:00:00+00:00", "labels": list(per_device),
        "thresholds": dict.fromkeys(per_device, 0.5), "training_data": {"sources": []},
        "library_versions": {}, "metrics": {"per_device": per_device},
        "artifact": {}, "parent": "base@v1", "notes": "",
    }  # fmt: skip


def test_guard_blocks_a_drop_beyond_the_cv_spread(tmp_path):
    """Doubt falling 0.40 -> 0.30 with a fold spread of 0.02 is a regression, named as such."""
    parent = _parent(tmp_path / "models", 0.40, 0.02)
    decision = promotion_decision(parent, _candidate(0.30, 0.02))
    assert not decision.promote
    assert decision.drops[0]["device"] == "Doubt"
    assert "Doubt 0.400 -> 0.300 (-0.100" in decision.message()


def test_guard_says_when_a_drop_was_measured_on_other_sentences(tmp_path):
    """A device whose labeled sentences changed (new, harder labels) still blocks, but the
    message says its two F1s come from different sentences, so the user can weigh the drop;
    with the same sentences it says nothing of the kind."""
    parent = _parent(tmp_path / "models", 0.40, 0.02, annotated_sentences=895)
    changed = _candidate(0.30, 0.02)
    changed["metrics"]["per_device"]["Doubt"]["annotated_sentences"] = 1495
    decision = promotion_decision(parent, changed)
    assert not decision.promote
    assert "measured on other sentences: 895 labeled before, 1,495 now" in decision.message()
    same = _candidate(0.30, 0.02)
    same["metrics"]["per_device"]["Doubt"]["annotated_sentences"] = 895
    assert "other sentences" not in promotion_decision(parent, same).message()


def test_guard_accepts_noise_and_new_devices(tmp_path):
    """A drop inside 2 standard errors is noise; a device new in this model never blocks."""
    parent = _parent(tmp_path / "models", 0.40, 0.05)
    # tolerance = 2 * 0.05 / sqrt(5) = 0.0447
    decision = promotion_decision(parent, _candidate(0.37, 0.05, {"New_One": {"f1": 0.1}}))
    assert decision.promote and decision.drops == []
    assert "New_One" in set(decision.comparison["device"])


def test_guard_blocks_what_it_cannot_compare(tmp_path):
    """A device the default has figures for and the new model has none for (its labels in one
    document), a parent without CV figures, and a model that lost the span classifier: none of
    them is "no drop"."""
    parent = _parent(tmp_path / "models", 0.40, 0.02)
    unmeasured = _candidate(0.40, 0.02)
    del unmeasured["metrics"]["per_device"]["Doubt"]["f1"]
    decision = promotion_decision(parent, unmeasured)
    assert not decision.promote and "no CV figure for 1 device(s)" in decision.message()
    assert "the labels of Doubt span too few documents" in decision.message()
    unseen = _candidate(0.0, None)
    unseen["metrics"]["per_device"]["Doubt"]["folds"] = 0  # no positive, no prediction: 0/0
    message = promotion_decision(parent, unseen).message()
    assert "the CV of Doubt saw no positive sentence and no prediction" in message
    assert "too few documents" not in message

    blind = save_model(
        {"stand-in": True},
        {"name": "blind", "labels": ["Doubt"], "thresholds": {"Doubt": 0.5}, "metrics": {}},
        tmp_path / "models" / "blind" / "v1",
    )
    decision = promotion_decision(blind, _candidate(0.40, 0.02))
    assert not decision.promote and "blind@v1 has no CV figures" in decision.message()

    spans_parent = _parent(tmp_path / "spans", 0.40, 0.02, tc_micro_f1=0.6)
    decision = promotion_decision(spans_parent, _candidate(0.40, 0.02))
    assert not decision.promote and "cannot classify spans" in decision.message()
    also_spans = _candidate(0.40, 0.02)
    also_spans["metrics"]["tc_micro_f1"] = 0.59
    assert promotion_decision(spans_parent, also_spans).promote


def test_guard_blocks_a_default_whose_metadata_was_edited(tmp_path):
    """Figures edited into the default's metadata.json after training are not the training
    run's: the guard compares nothing with them, in either direction, and says why."""
    parent = _parent(tmp_path / "models", 0.40, 0.02)
    assert promotion_decision(parent, _candidate(0.40, 0.02)).promote
    metadata = json.loads((parent / "metadata.json").read_text(encoding="utf-8"))
    metadata["metrics"]["per_device"]["Doubt"]["f1"] = 0.10  # lowered: anything would pass
    (parent / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    decision = promotion_decision(parent, _candidate(0.40, 0.02))
    assert not decision.promote
    assert "metadata.json of base@v1 was edited after it was trained" in decision.message()
    assert "use --force" in decision.message()


def test_guarded_retrain_is_saved_but_not_default_unless_forced(root, labels_csv, monkeypatch):
    """A retrain whose F1 collapses is saved as a new version, the old one stays current; --force
    makes it current anyway."""
    tiny_train(root, [labels_csv])
    real = training.cross_validate

    def worse(*args, **kwargs):
        metrics = real(*args, **kwargs)
        metrics["per_device"][DEVICE].update(f1=0.1, f1_fold_std=0.01)
        return metrics

    monkeypatch.setattr(training, "cross_validate", worse)
    blocked = tiny_train(root, [labels_csv])
    assert not blocked.promoted and current(root).version == "v1"
    assert f"{DEVICE} " in blocked.decision.message() and "dropped" in blocked.decision.message()
    assert (root / "tiny" / "v2" / "metadata.json").is_file()
    assert "use --force" in blocked.decision.message()
    forced = tiny_train(root, [labels_csv], force=True)
    assert forced.promoted and current(root).version == "v3"
    # the message and the card say what happened, not what could be done
    message = forced.decision.message()
    assert message.startswith("made the default with --force, although F1 dropped")
    assert "use --force" not in message and "not made the default" not in message
    promotion = read_metadata(forced.directory).metrics["promotion"]
    assert promotion["forced"] is True and promotion["reason"] == message


@given(st.floats(0, 0.5), st.floats(0, 0.5), st.integers(2, 10))
def test_tolerance_is_at_least_a_point_and_grows_with_the_spread(a, b, folds):
    """Property: the tolerated drop is >= 0.01 and never shrinks when the fold spread grows."""
    low, high = sorted((a, b))
    assert f1_drop_tolerance(low, folds) >= 0.01
    assert f1_drop_tolerance(high, folds) >= f1_drop_tolerance(low, folds)


def test_annotation_blocks_group_devices_by_their_sentences():
    """Devices annotated on the same sentences are evaluated together, a subset device alone."""
    Y = np.array([[1, 0, -1], [0, 1, 1], [0, 0, -1]])
    blocks = annotation_blocks(Y, ["A", "B", "Sub"])
    assert blocks[0][0] == ["A", "B"] and blocks[0][1].tolist() == [0, 1, 2]
    assert blocks[1][0] == ["Sub"] and blocks[1][1].tolist() == [1]


def test_new_labels_correct_base_sentences_and_add_new_ones(tmp_path, monkeypatch):
    """A label on a base sentence updates only the devices it was judged for; a new sentence is
    unannotated for every other device."""
    base = pd.DataFrame(
        {
            "document_id": ["d1", "d1"],
            "sentence_index": [0, 1],
            "start": [0, 20],
            "end": [19, 40],
            "text": ["The ferry is late.", "What a shameful plan!"],
            "devices": [[], ["Doubt"]],
            "release": "semeval2020",
            "unannotated": [[], []],
        }
    )
    new = tmp_path / "new.jsonl"
    new.write_text(
        json.dumps({"text": "Ships are waiting.", "devices": ["Loaded_Language"]}) + "\n"
    )
    labels = read_labels([new])
    labels.frame.loc[len(labels.frame)] = {
        "document_id": "d1", "sentence_index": 1, "start": 20, "end": 40,
        "text": "What a shameful plan!", "devices": ["Loaded_Language"],
        "annotated": ["Loaded_Language"], "in_corpus": True, "source": "x", "line": 2,
    }  # fmt: skip
    table = training._merge_labels(base, labels, ["Doubt", "Loaded_Language"])
    data = TrainingData(table, pd.DataFrame(), ["Doubt", "Loaded_Language"])
    Y = data.indicator()
    assert table["text"].tolist()[1] == "What a shameful plan!"
    assert Y.tolist() == [[0, -1], [1, 1], [-1, 1]]


def _corrections(*rows: tuple) -> LabelSet:
    """Labels of corpus sentences: ``(document_id, start, end, devices, annotated)`` each."""
    return LabelSet(
        pd.DataFrame(
            [
                {
                    "document_id": document_id,
                    "sentence_index": 0,
                    "start": start,
                    "end": end,
                    "text": "(corpus sentence)",
                    "devices": devices,
                    "annotated": annotated,
                    "in_corpus": True,
                    "source": "corrections.csv",
                    "line": line,
                }  # fmt: skip
                for line, (document_id, start, end, devices, annotated) in enumerate(rows, 1)
            ],
            columns=LABEL_COLUMNS,
        )
    )


def test_a_correction_keeps_the_spans_of_devices_it_did_not_judge():
    """Correcting one device of a corpus sentence says nothing about its other devices' spans:
    they stay (the span lexicon learns from them), the corrected device's spans go when it is
    judged absent, and a device judged present without a span is recorded as unmarked."""
    text = "What a shameful plan, and who believes it?"
    shameful = (7, 15, "Loaded_Language")
    believes = (26, 42, "Doubt")
    base = pd.DataFrame(
        {
            "document_id": ["d1", "d1"],
            "sentence_index": [0, 1],
            "start": [0, 50],
            "end": [42, 90],
            "text": [text, text],
            "devices": [["Doubt", "Loaded_Language"], ["Doubt", "Loaded_Language"]],
            "release": "semeval2020",
            "unannotated": [[], []],
            "spans": [[shameful, believes], [shameful, believes]],
        }
    )
    labels = _corrections(("d1", 0, 42, [], ["Doubt"]), ("d1", 50, 90, ["Slogans"], ["Slogans"]))
    devices = ["Doubt", "Loaded_Language", "Slogans"]
    table = training._merge_labels(base, labels, devices)
    assert table["devices"].tolist() == [
        ["Loaded_Language"],
        ["Doubt", "Loaded_Language", "Slogans"],
    ]
    assert table["spans"].tolist() == [[shameful], [shameful, believes]]
    assert table["unmarked"].tolist() == [[], ["Slogans"]]


def test_a_correction_removes_the_gold_spans_it_overrules():
    """A sentence judged free of a device no longer gives that device's gold spans to technique
    classification; spans of other devices, and of other sentences, stay."""
    spans = pd.DataFrame(
        {
            "document_id": ["d1", "d1", "d1", "d2"],
            "device": ["Doubt", "Loaded_Language", "Doubt", "Doubt"],
            "start": [30, 7, 60, 30],
            "end": [42, 15, 70, 42],
        }
    )
    labels = _corrections(("d1", 0, 42, [], ["Doubt"]))
    kept = training._without_corrected_spans(spans, labels)
    assert kept[["document_id", "device", "start"]].values.tolist() == [
        ["d1", "Loaded_Language", 7],
        ["d1", "Doubt", 60],
        ["d2", "Doubt", 30],
    ]


def test_default_label_files_skip_companion_files(tmp_path, monkeypatch):
    """Only ``<device>.tsv`` files are training labels; a second pass or a relabelling log beside
    them (``<device>.second_pass.tsv``, ``<device>.relabel-<date>.tsv``) is not read."""
    labels = tmp_path / "datasets" / "labels"
    labels.mkdir(parents=True)
    for name in (
        "b_device.tsv",
        "a_device.tsv",
        "a_device.second_pass.tsv",
        "a_device.relabel-2026-11.tsv",
        "README.md",
    ):
        (labels / name).write_text("document_id\n", encoding="utf-8")
    monkeypatch.setattr(config, "checkout_root", lambda: tmp_path)
    assert [p.name for p in training.default_label_files()] == ["a_device.tsv", "b_device.tsv"]


@pytest.mark.corpus
def test_project_labels_are_a_subset_device_of_the_base(corpus_dir):
    """Unverified_Figures is annotated on the sentences of its label file only (the companion
    files next to it, second pass and fresh test sample, are not training labels); SemEval
    devices on all."""
    label_file = training.default_label_files()[0]
    assert label_file.name == "unverified_figures.tsv"
    rows = len(label_file.read_text(encoding="utf-8").splitlines()) - 1  # the header
    data = load_training_data(corpus_dir)
    Y = data.indicator()
    column = data.devices.index("Unverified_Figures")
    assert rows >= 2095
    assert (Y[:, column] >= 0).sum() == rows
    blocks = annotation_blocks(Y, data.devices)
    assert len(blocks[0][0]) == 14 and blocks[1][0] == ["Unverified_Figures"]


def test_cli_train_on_new_labels(root, labels_csv, capsys):
    """`proplens train --labels FILE --no-base` trains, prints the new directory, makes it current;
    a second run without CV is saved but keeps the current model, and says so."""
    from proplens.cli import main

    args = ["train", "--name", "tiny", "--labels", str(labels_csv), "--no-base", "--no-cv"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().endswith(str(Path("tiny") / "v1"))
    assert "current model: tiny@v1" in captured.err
    assert main(args) == 0
    assert "kept the current default" in capsys.readouterr().err
    assert current(root).version == "v1"
    # the card's command reproduces the model: its name and the skipped CV included
    card = (root / "tiny" / "v2" / "README.md").read_text(encoding="utf-8")
    assert f"proplens train --name tiny --labels {labels_csv} --no-base --no-cv" in card
    assert "compared with `tiny@v1` (the default when it was trained)" in card


def test_cli_train_notes_go_into_the_model_card(root, labels_csv, tmp_path):
    """`--notes FILE` adds the file's Markdown to the card's Notes; a missing file is one line."""
    from proplens.cli import main

    notes = tmp_path / "ablation.md"
    notes.write_text("### Ablation\n\n| change | F1 |\n|---|---|\n| chars 1.4 | 0.31 |\n")
    args = ["train", "--name", "tiny", "--labels", str(labels_csv), "--no-base", "--no-cv"]
    assert main([*args, "--notes", str(notes)]) == 0
    card = (root / "tiny" / "v1" / "README.md").read_text(encoding="utf-8")
    assert "## Notes" in card and "| chars 1.4 | 0.31 |" in card
    assert main([*args, "--notes", str(tmp_path / "missing.md")]) != 0
    assert not (root / "tiny" / "v2").exists()


def test_parallel_folds_give_the_same_figures(root, labels_csv):
    """CV folds run in worker processes with n_jobs > 1; the figures must not depend on it."""
    data = load_training_data(labels=[labels_csv], base=False)
    one = training.cross_validate(data, n_jobs=1, n_splits=3)
    two = training.cross_validate(data, n_jobs=2, n_splits=3)
    assert one["per_device"] == two["per_device"]
    assert one["sentence_f1"] == two["sentence_f1"]


def test_final_fit_beside_the_cv_gives_the_sequential_model(root, labels_csv):
    """With n_jobs > 1 the final fit runs in a thread beside the CV folds; the model, its
    thresholds and its card's figures are those of the sequential run."""
    from proplens.artifacts import load_model_dir

    one = train(name="seq", labels=[labels_csv], base=False, models_root=root, n_jobs=1,
                n_splits=3)  # fmt: skip
    two = train(name="par", labels=[labels_csv], base=False, models_root=root, n_jobs=2,
                n_splits=3)  # fmt: skip
    first = load_model_dir(one.directory, trust=True)[0]["sentences"]
    second = load_model_dir(two.directory, trust=True)[0]["sentences"]
    np.testing.assert_array_equal(first.coef_, second.coef_)
    assert first.thresholds_ == second.thresholds_
    assert one.metrics["per_device"] == two.metrics["per_device"]
    assert two.metrics["fit_seconds"] > 0 and two.metrics["cv_seconds"] > 0


def test_a_failed_final_fit_beside_the_cv_writes_nothing(root, labels_csv, monkeypatch):
    """An error in the background final fit reaches the caller once the CV is done, and no
    version is written."""

    def fail(*args, **kwargs):
        raise RuntimeError("final fit failed")

    monkeypatch.setattr(training, "fit_bundle", fail)
    with pytest.raises(RuntimeError, match="final fit failed"):
        train(name="tiny", labels=[labels_csv], base=False, models_root=root, n_jobs=2,
              n_splits=3)  # fmt: skip
    assert not (root / "tiny").exists() or not list((root / "tiny").iterdir())


@pytest.mark.corpus
def test_pooled_cv_matches_each_block_run_alone(corpus_dir):
    """cross_validate runs the folds of every annotation block in one pool; each block's figures
    are those of cross_validate_block run on that block alone."""
    data = load_training_data(corpus_dir)
    keep = np.isin(data.sentences["document_id"], data.sentences["document_id"].unique()[:40])
    subset = TrainingData(
        data.sentences[keep].reset_index(drop=True),
        data.spans.iloc[:0],
        data.devices,
        data.sources,
        data.gates,
        data.feature_blocks,
    )
    pooled = training.cross_validate(subset, n_jobs=2, n_splits=3)
    blocks = annotation_blocks(subset.indicator(), subset.devices)
    assert len(blocks) == 2  # the 14 SemEval devices, and Unverified_Figures on its subset
    for devices, rows in blocks:
        alone = training.cross_validate_block(subset, devices, rows, n_jobs=1, n_splits=3)
        for j, device in enumerate(devices):
            assert pooled["per_device"][device] == training._device_scores(alone, j)


def _must_not_train(monkeypatch):
    def fit(self, X, y):
        raise AssertionError("training started")

    monkeypatch.setattr(DeviceClassifier, "fit", fit)


@pytest.mark.parametrize("name", ["bad name", "tiny@v3", "../outside"])
def test_a_bad_model_name_is_refused_before_training(root, labels_csv, monkeypatch, name):
    """The name is checked first, not after minutes of training; nothing is written."""
    _must_not_train(monkeypatch)
    with pytest.raises(ModelError):
        train(name=name, labels=[labels_csv], base=False, models_root=root, n_jobs=1)
    assert not root.exists()


def test_an_unwritable_models_folder_is_refused_before_training(root, labels_csv, monkeypatch):
    """A models root that cannot be written (here: under a file) fails before the training, as
    one ModelError, not an OSError after it."""
    _must_not_train(monkeypatch)
    blocker = root.parent / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot write models there"):
        train(name="tiny", labels=[labels_csv], base=False, models_root=blocker / "models")


def test_fewer_than_two_folds_is_a_user_error(root, labels_csv, monkeypatch, capsys):
    """n_splits=1 (or `evaluate --folds 1`) is refused before any work, as one line."""
    _must_not_train(monkeypatch)
    with pytest.raises(ValidationError, match="at least 2 folds"):
        tiny_train(root, [labels_csv], n_splits=1)
    assert main(["evaluate", "--folds", "1", "--data", str(root / "nowhere")]) == 3
    assert capsys.readouterr().err.strip() == "proplens: error: --folds must be at least 2, got 1"


def test_a_version_saved_meanwhile_by_another_run_moves_this_one_up(root, labels_csv, monkeypatch):
    """Two runs started together both aim at v1: the one that saves second becomes v2 instead of
    failing after its training, and neither overwrites the other."""
    from proplens import artifacts

    real = artifacts.save_model
    calls = []

    def racing(bundle, metadata, directory, **options):
        if not calls:  # the other run renames its v1 into place while this one writes
            real({"other": True}, {"name": "tiny", "labels": [DEVICE],
                                   "thresholds": {DEVICE: 0.5}}, directory)  # fmt: skip
        calls.append(Path(directory).name)
        return real(bundle, metadata, directory, **options)

    monkeypatch.setattr(artifacts, "save_model", racing)
    result = tiny_train(root, [labels_csv], evaluate=False, force=True)
    assert calls == ["v1", "v2"] and result.directory == root / "tiny" / "v2"
    assert read_metadata(root / "tiny" / "v2").version == "v2"
    assert read_metadata(root / "tiny" / "v1").training_data["sources"] == []
    assert current(root).version == "v2"
    assert not [p for p in (root / "tiny").iterdir() if p.name.startswith(".tmp")]


def test_guard_blocks_a_model_that_lacks_devices_of_the_default(tmp_path):
    """A --no-base model that knows one device must not silently replace a default that knows
    more: the devices it lacks block promotion (--force still can)."""
    parent = save_model(
        {"stand-in": True},
        {"name": "base", "labels": ["Doubt", "Slogans"],
         "thresholds": {"Doubt": 0.5, "Slogans": 0.5},
         "metrics": {"per_device": {"Doubt": {"f1": 0.4}, "Slogans": {"f1": 0.3}}}},
        tmp_path / "models" / "base" / "v1",
    )  # fmt: skip
    decision = promotion_decision(parent, _candidate(0.45, 0.02))
    assert not decision.promote
    assert "lacks 1 device(s) of base@v1 (Slogans)" in decision.message()


def test_sigterm_while_saving_leaves_no_temporary_folder(root, labels_csv):
    """`kill` (SIGTERM) during the save unwinds like Ctrl-C: the temporary folder is removed, no
    version appears, and the exit code is 128 + 15."""
    import subprocess
    import sys

    script = (
        "import os, signal, sys, time\n"
        "from proplens import artifacts\n"
        "from proplens.cli import main\n"
        "real = artifacts.joblib.dump\n"
        "def dump(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "    return real(*args, **kwargs)\n"
        "artifacts.joblib.dump = dump\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["train", "--name", "tiny", "--labels", str(labels_csv), "--no-base", "--no-cv"]
    done = subprocess.run(
        [sys.executable, "-c", script, *args, "--jobs", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 143, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (root / "tiny").exists() or not list((root / "tiny").iterdir())


def test_labels_that_teach_nothing_or_a_missing_corpus_stop_train_first(
    root, tmp_path, monkeypatch
):
    """An all-'none' label file, or `--corpus nodir`, fails validation before the base corpus is
    read, so no whole retrain runs on the base alone."""

    def must_not_run(*args, **kwargs):
        raise AssertionError("training data was read")

    monkeypatch.setattr(training, "load_training_data", must_not_run)
    none = tmp_path / "none.csv"
    none.write_text("text,devices\nThe council met.,none\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no labeled sentence"):
        train(name="tiny", labels=[none], base=True, models_root=root, evaluate=False)
    spans = tmp_path / "spans.csv"
    spans.write_text(f"document_id,start,end,device\na,0,5,{DEVICE}\n", encoding="utf-8")
    with pytest.raises(DataError, match="nodir: corpus folder not found"):
        train(name="tiny", labels=[spans], corpus_dir=tmp_path / "nodir", models_root=root)
    assert not root.exists()


@pytest.mark.parametrize("evaluate", [False, True])
def test_too_few_labels_to_fit_are_a_one_line_data_error(root, tmp_path, evaluate, capsys):
    """Four labeled sentences leave no vocabulary to fit (scikit-learn's ValueError): the user
    gets one line that says so, exit code 3, and nothing is written."""
    few = tmp_path / "few.csv"
    few.write_text(
        f"text,devices\nThe reckless council wrecked everything.,{DEVICE}\n"
        f"The shameful cowards lied again.,{DEVICE}\n"
        "The library opened on Tuesday.,none\nThe ferry left at noon.,none\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="too little training data to fit a model: 4 sentences"):
        tiny_train(root, [few], evaluate=evaluate)
    assert not root.exists()
    options = [] if evaluate else ["--no-cv"]
    code = main(
        ["train", "--no-base", "--labels", str(few), "--name", "tiny", "--jobs", "1", *options]
    )
    err = capsys.readouterr().err
    # with CV, the default 5 folds are refused first: each of the 4 sentences is its own document
    expected = "5 folds for 4 documents: use at most 4" if evaluate else "too little training data"
    assert code == 3 and expected in err and "Traceback" not in err
    assert not root.exists()


def test_more_folds_than_documents_is_a_user_error(root, labels_csv, monkeypatch):
    """Each block would quietly use one fold per document under an "N-fold" title."""
    _must_not_train(monkeypatch)
    data = load_training_data(labels=[labels_csv], base=False)
    documents = data.sentences["document_id"].nunique()
    with pytest.raises(ValidationError, match=f"{documents + 1} folds for {documents} documents"):
        training.cross_validate(data, n_splits=documents + 1, n_jobs=1)


def test_a_device_labeled_in_one_document_is_a_data_error():
    """A device with its own feature block, labeled in one document only, cannot be split into
    folds: scikit-learn's ValueError (a traceback from `train`) becomes one line."""
    data = TrainingData(
        sentences=pd.DataFrame({"document_id": ["a", "a"], "text": ["One.", "Two."]}),
        spans=pd.DataFrame(),
        devices=["Repetition"],
    )
    from sklearn.model_selection import GroupKFold

    message = "too little training data.*2 sentences in 1 documents"
    with pytest.raises(DataError, match=message), training._enough_data(data):
        list(GroupKFold(n_splits=1).split([[0], [1]], groups=["a", "a"]))


def test_source_commit_is_the_checkouts_head_or_nothing(tmp_path, monkeypatch):
    """Metadata records the git commit of the checkout that trains, and whether the checkout had
    changes; nothing for an installed package, a folder that is no git repository, or a machine
    without git."""
    import subprocess

    repository = tmp_path / "checkout"
    repository.mkdir()
    (repository / "a.txt").write_text("one\n", encoding="utf-8")

    def git(*args: str) -> str:
        identity = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
        done = subprocess.run(
            ["git", *identity, "-C", str(repository), *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    monkeypatch.setattr(config, "checkout_root", lambda: repository)
    assert training.source_commit() == {
        "source_commit": git("rev-parse", "HEAD"),
        "source_modified": False,
    }
    (repository / "a.txt").write_text("two\n", encoding="utf-8")
    assert training.source_commit()["source_modified"] is True

    monkeypatch.setattr(config, "checkout_root", lambda: None)
    assert training.source_commit() == {}
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(config, "checkout_root", lambda: plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert training.source_commit() == {}
    monkeypatch.setattr(config, "checkout_root", lambda: repository)
    monkeypatch.setenv("PATH", str(plain))  # no git
    assert training.source_commit() == {}


def test_cv_by_story_keeps_a_copied_article_in_its_originals_fold(root, labels_csv):
    """`evaluate --group-by story`: an article whose text is another's copy is always in the same
    fold as it, so no fold is tested on sentences it was trained on."""
    data = load_training_data(labels=[labels_csv], base=False)
    sentences = data.sentences
    original, copy = sorted(sentences["document_id"].unique())[:2]
    # the copy gets the original's sentences (and labels), as a reprinted story would
    is_copy, is_original = sentences["document_id"] == copy, sentences["document_id"] == original
    assert is_copy.sum() == is_original.sum()
    for column in ("text", "devices"):
        sentences.loc[is_copy, column] = sentences.loc[is_original, column].to_numpy()
    blocks: list = []
    metrics = training.cross_validate(
        data, n_jobs=1, n_splits=3, group_by="story", blocks_out=blocks
    )
    assert metrics["cv"] == "3-fold GroupKFold by story"
    fold_of = dict(zip(sentences["document_id"].iloc[blocks[0].rows], blocks[0].fold, strict=True))
    assert fold_of[original] == fold_of[copy]
    assert len(set(fold_of.values())) == 3
    # the block CV of one device (uf_cv.py's path) folds the same way
    block = training.cross_validate_block(
        data, [DEVICE], np.arange(len(sentences)), n_jobs=1, n_splits=3, group_by="story"
    )
    fold_of = dict(zip(sentences["document_id"], block.fold, strict=True))
    assert fold_of[original] == fold_of[copy]
    with pytest.raises(ValidationError, match="group_by must be one of article, story"):
        training.cross_validate(data, n_jobs=1, n_splits=3, group_by="topic")


def test_cli_evaluate_refuses_an_unknown_grouping_in_one_line(capsys):
    assert main(["evaluate", "--group-by", "topic", "--data", "nowhere"]) == 3
    assert capsys.readouterr().err.strip() == (
        "proplens: error: --group-by must be one of article, story, got 'topic'"
    )


def test_train_by_story_is_compared_only_with_a_model_folded_the_same_way(root, labels_csv):
    """`train --group-by story` records its folds in the card; the promotion guard will not read
    a drop between an article-folded default and a story-folded retrain (the protocol's, not the
    model's) as either a regression or a pass, and compares two story-folded models as usual."""
    first = tiny_train(root, [labels_csv])
    assert read_metadata(first.directory).metrics["cv"] == "3-fold GroupKFold by document"
    second = tiny_train(root, [labels_csv], group_by="story")
    metadata = read_metadata(second.directory)
    assert metadata.metrics["cv"] == "3-fold GroupKFold by story"
    assert not second.promoted and current(root).path == first.directory
    message = second.decision.message()
    assert "grouped by document and the new model by story" in message
    assert "retrain with --group-by article" in message
    forced = tiny_train(root, [labels_csv], group_by="story", force=True)
    assert forced.promoted and current(root).path == forced.directory
    fourth = tiny_train(root, [labels_csv], group_by="story")
    assert fourth.promoted, fourth.decision.message()
    assert read_metadata(fourth.directory).metrics["comparison"]["parent"] == "tiny@v3"


@pytest.mark.parametrize(
    "option, bad, refusal, good, cv",
    [
        # a grouping the card records, and one that does not exist
        ("--group-by", "topic", "--group-by must be one of article, story, got 'topic'", "story",
         "5-fold GroupKFold by story"),
        # a label set of a few documents needs fewer than 5 folds
        ("--folds", "11", "11 folds for 10 documents: use at most 10", "3",
         "3-fold GroupKFold by document"),
    ],
)  # fmt: skip
def test_cli_train_cv_options_reach_the_card(
    root, labels_csv, capsys, option, bad, refusal, good, cv
):
    """`train --group-by` and `--folds`: a bad value is one line and writes nothing; a good one
    is what the card's CV says, and the card's command repeats it."""
    args = ["train", "--name", "tiny", "--labels", str(labels_csv), "--no-base", "--jobs", "1"]
    assert main([*args, option, bad]) == 3
    assert refusal in capsys.readouterr().err
    assert not (root / "tiny").exists()
    assert main([*args, option, good]) == 0
    metadata = read_metadata(root / "tiny" / "v1")
    assert metadata.metrics["cv"] == cv
    assert metadata.training_data["command"].endswith(f"--no-base {option} {good}")


def test_models_diff_says_when_two_models_were_folded_differently(root, labels_csv, capsys):
    tiny_train(root, [labels_csv])
    tiny_train(root, [labels_csv], group_by="story")
    tiny_train(root, [labels_csv], group_by="story")
    assert main(["models", "diff", "tiny@v1", "tiny@v2"]) == 0
    out = capsys.readouterr().out
    assert (
        "note: tiny@v1 was cross-validated with 3-fold GroupKFold by document and tiny@v2 with "
        "3-fold GroupKFold by story" in out
    )
    assert main(["models", "diff", "tiny@v2", "tiny@v3"]) == 0
    assert "note:" not in capsys.readouterr().out


def _bridged_data(labels_csv, span_documents: dict[int, int]):
    """The tiny labels with three articles rewritten: crowd-0 tells story P, crowd-2 story Q, and
    crowd-1 half of each, so the three are one story though crowd-0 and crowd-2 share nothing.
    ``span_documents`` gives the articles with gold spans, and how many each."""
    data = load_training_data(labels=[labels_csv], base=False)
    sentences = data.sentences
    # made-up words, so that the two stories share no phrase at all
    stories = {
        name: [" ".join(f"{name}{i}w{k}" for k in range(8)) + "." for i in range(6)]
        for name in ("pell", "quor")
    }
    texts = {
        "crowd-0": stories["pell"],
        "crowd-1": stories["pell"][:3] + stories["quor"][3:],
        "crowd-2": stories["quor"],
    }
    for document, replacement in texts.items():
        rows = sentences["document_id"] == document
        assert rows.sum() == len(replacement)
        sentences.loc[rows, "text"] = replacement
    whole = sentences.groupby("document_id")["text"].agg(" ".join)
    data.spans = pd.DataFrame(
        [
            (f"crowd-{d}", "worked", "line", whole[f"crowd-{d}"], DEVICE, 0, 6)
            for d, count in span_documents.items()
            for _ in range(count)
        ],
        columns=["document_id", "span", "sentence", "document", "device", "start", "end"],
    )
    return data


def test_cv_by_story_folds_spans_with_the_stories_of_all_the_articles(
    root, labels_csv, monkeypatch
):
    """Span folds use the sentence folds' stories: crowd-0 and crowd-2 are one story through
    crowd-1, which has no spans; the span documents' own texts alone split them."""
    data = _bridged_data(labels_csv, {0: 10, 2: 10, **{d: 1 for d in range(3, 10)}})
    assert training._stories(data, "story")["crowd-2"] == "crowd-0"
    folds = []

    def recorded(frame, train, test, make_estimator=None):
        folds.append(set(frame["document_id"].iloc[test]))
        return frame["device"].to_numpy()[test]

    monkeypatch.setattr(training, "fit_span_fold", recorded)
    metrics = training.cross_validate(data, n_jobs=1, n_splits=3, group_by="story")
    assert metrics["tc_micro_f1"] == 1.0 and len(folds) == 3
    assert [fold for fold in folds if "crowd-0" in fold] == [
        fold for fold in folds if "crowd-2" in fold
    ]


def test_cv_by_story_with_fewer_span_stories_than_folds_skips_span_cv(root, labels_csv, caplog):
    """Three documents with spans but two stories (crowd-0 and crowd-1 share text): span CV is
    skipped with a warning, as with too few documents, not scikit-learn's ValueError."""
    data = _bridged_data(labels_csv, {0: 2, 1: 2, 3: 2})
    with caplog.at_level("WARNING", logger="proplens.training"):
        metrics = training.cross_validate(data, n_jobs=1, n_splits=3, group_by="story")
    assert "tc_micro_f1" not in metrics and metrics["cv"] == "3-fold GroupKFold by story"
    assert "not cross-validated: 3 folds for 2 stories with spans" in caplog.text


def test_train_on_one_story_says_so_in_one_line(root, tmp_path, capsys):
    """Labels whose articles are all one story: not "5 folds for 1 stories: use at most 1"."""
    labels = tmp_path / "copies.csv"
    rows = ["document_id,text,devices"]
    for d in "abc":
        rows += [
            f"{d},Everyone in Velm already agrees that the ferry plan is right ({d}).,{DEVICE}",
            f"{d},The Velm council met on Tuesday to discuss the ferry plan ({d}).,none",
        ]
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["train", "--name", "tiny", "--labels", str(labels), "--no-base", "--jobs", "1"]
    assert main([*args, "--group-by", "story"]) == 3
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "proplens: error: cross-validation needs at least 2 stories, found 1: its 3 documents "
        "share much of their text"
    )
    assert not (root / "tiny").exists()


def test_models_diff_notes_a_change_of_grouping_not_of_the_number_of_folds(
    root, labels_csv, capsys
):
    """3 and 4 folds by document are one grouping: no protocol note, as the promotion guard
    compares them (the note said "the two protocols'" for any two different ``cv`` texts)."""
    tiny_train(root, [labels_csv])
    second = tiny_train(root, [labels_csv], n_splits=4)
    assert second.promoted, second.decision.message()
    assert read_metadata(second.directory).metrics["cv"] == "4-fold GroupKFold by document"
    assert main(["models", "diff", "tiny@v1", "tiny@v2"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_cv_grouping_of_old_cards_and_of_cards_without_cv():
    from proplens.registry import cv_grouping

    assert cv_grouping({"cv": "5-fold GroupKFold by document", "per_device": {"a": {}}}) == (
        "document"
    )
    assert cv_grouping({"cv": "10-fold GroupKFold by story", "per_device": {"a": {}}}) == "story"
    assert cv_grouping({"per_device": {"a": {"f1": 0.5}}}) == "document"  # a card before `cv`
    assert cv_grouping({"fit_seconds": 3.0}) is None  # trained with --no-cv
