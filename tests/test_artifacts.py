"""Model directories: atomic save, verified load, trust store, model card, fingerprints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import drop_metadata_record, rewrite_metadata
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from proplens import artifacts
from proplens.artifacts import (
    FORMAT_VERSION,
    ModelMetadata,
    ModelVersionWarning,
    file_sha256,
    fingerprint_frame,
    load_model_dir,
    read_trust_file,
    render_model_card,
    save_model,
    trust_model,
)
from proplens.errors import ModelError, ProplensError

# Sentences written for these tests (fictional places and people).
SENTENCES = [
    "The reckless council of Vellmora betrayed every honest family in the valley.",
    "Only a fool would believe the disastrous plan of mayor Odrin Tass.",
    "The Vellmora council met on Tuesday to discuss the new bridge.",
    "Mayor Odrin Tass said the budget will be published next month.",
    "These shameful traitors are destroying our beloved town of Kestrow.",
    "The library in Kestrow extends its opening hours in winter.",
]
LABELS = [1, 1, 0, 0, 1, 0]


@pytest.fixture
def models_root(tmp_path, monkeypatch) -> Path:
    """A private models root, so tests never touch the checkout's models/ or trust file."""
    root = tmp_path / "models"
    monkeypatch.setenv("PROPLENS_MODELS", str(root))
    return root


@pytest.fixture(scope="module")
def fitted_pipeline():
    return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(SENTENCES, LABELS)


def make_metadata(**overrides) -> dict:
    metadata = {
        "name": "tiny",
        "version": "v1",
        "labels": ["Loaded_Language", "Name_Calling,Labeling"],
        "thresholds": {"Loaded_Language": 0.4, "Name_Calling,Labeling": 0.55},
        "metrics": {
            "micro_f1": 0.5,
            "per_device": {
                "Loaded_Language": {"precision": 0.6, "recall": 0.5, "f1": 0.545, "support": 3},
                "Name_Calling,Labeling": {"precision": 0.4, "recall": 0.5, "f1": 0.444},
            },
        },
        "training_data": {
            "sources": [
                {"name": "semeval2020", "fingerprint": "ab" * 32, "documents": 3, "sentences": 6}
            ],
            "fingerprint": "cd" * 32,
        },
    }
    metadata.update(overrides)
    return metadata


@pytest.fixture
def saved(models_root, fitted_pipeline) -> Path:
    return save_model(fitted_pipeline, make_metadata(), models_root / "tiny" / "v1")


def test_round_trip_predicts_the_same(saved, fitted_pipeline):
    """A saved model loads back into an estimator that predicts exactly like the original."""
    estimator, metadata = load_model_dir(saved)
    np.testing.assert_allclose(
        estimator.predict_proba(SENTENCES), fitted_pipeline.predict_proba(SENTENCES)
    )
    assert metadata.labels == ["Loaded_Language", "Name_Calling,Labeling"]
    assert metadata.format_version == FORMAT_VERSION
    assert metadata.artifact["sha256"] == file_sha256(saved / "model.joblib")
    assert metadata.artifact["bytes"] == (saved / "model.joblib").stat().st_size
    assert metadata.library_versions["scikit-learn"]
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "metadata.json", "model.joblib"]


def test_metadata_dict_round_trip():
    """to_dict/from_dict are inverses, so metadata.json holds everything the dataclass does."""
    metadata = ModelMetadata(name="m", version="v3", labels=["Doubt"], thresholds={"Doubt": 0.5})
    assert ModelMetadata.from_dict(metadata.to_dict()) == metadata


def test_model_card_is_written_and_describes_the_model(saved):
    """README.md is the rendered card: labels, metrics, data terms and versions are all there."""
    card = (saved / "README.md").read_text(encoding="utf-8")
    assert card.startswith("# tiny v1")
    assert "| Loaded_Language | 0.400 |" in card
    assert "| Loaded_Language | 0.600 | 0.500 | 0.545 | 3 |" in card
    assert "research use only" in card
    assert "## What it is not for" in card
    assert "scikit-learn==" in card
    assert file_sha256(saved / "model.joblib") in card


def test_custom_card_replaces_the_rendered_one(models_root):
    """A caller-supplied card is written verbatim (e.g. a hand-edited release card)."""
    directory = save_model({"w": 1}, make_metadata(), models_root / "tiny" / "v1", card="# Hi\n")
    assert (directory / "README.md").read_text(encoding="utf-8") == "# Hi\n"


def test_render_model_card_without_metrics_or_data_says_so():
    """An untested model's card says no metrics were recorded rather than showing an empty table."""
    card = render_model_card(ModelMetadata(name="m", version="v1", labels=[], thresholds={}))
    assert "No metrics were recorded" in card
    assert "No training data was recorded" in card


def test_flipped_byte_is_refused(saved):
    """A joblib file changed after saving is refused before it is unpickled."""
    model_path = saved / "model.joblib"
    data = bytearray(model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its recorded sha256: the file is corrupt"):
        load_model_dir(saved, trust=True)


def test_truncated_file_is_refused(saved):
    """A file of the wrong size (interrupted copy) is reported as such."""
    model_path = saved / "model.joblib"
    model_path.write_bytes(model_path.read_bytes()[:-10])
    with pytest.raises(ModelError, match="bytes but metadata.json records"):
        load_model_dir(saved)


def test_missing_joblib_is_refused(saved):
    """A directory without its model.joblib is reported as incomplete."""
    (saved / "model.joblib").unlink()
    with pytest.raises(ModelError, match="model.joblib: missing"):
        load_model_dir(saved)


def test_missing_directory_and_metadata(tmp_path):
    """The two most common mistakes (wrong path, not a model folder) get distinct messages."""
    with pytest.raises(ModelError, match="no such model directory"):
        load_model_dir(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="metadata.json: missing"):
        load_model_dir(tmp_path)


def test_invalid_json_names_the_file(saved):
    """Broken metadata.json is a one-line ModelError naming the file, not a JSONDecodeError."""
    (saved / "metadata.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=r"metadata\.json: not valid JSON") as caught:
        load_model_dir(saved)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("key", sorted(artifacts._FIELD_TYPES))
def test_missing_metadata_key_is_named(saved, key):
    """Every required metadata key, when missing, is named in the error."""
    rewrite_metadata(saved, lambda data: data.pop(key))
    with pytest.raises(ModelError, match=f"'{key}'"):
        load_model_dir(saved)


def test_wrong_metadata_type_is_named(saved):
    """A key of the wrong type is named with the expected and actual types."""
    rewrite_metadata(saved, lambda data: data.update(labels="Loaded_Language"))
    with pytest.raises(ModelError, match="'labels' should be list, got str"):
        load_model_dir(saved)


def test_non_numeric_threshold_is_named(saved):
    """Thresholds are read by scoring, so a non-number is caught at load time."""
    rewrite_metadata(saved, lambda data: data["thresholds"].update(Loaded_Language="high"))
    with pytest.raises(ModelError, match="thresholds.Loaded_Language"):
        load_model_dir(saved)


def test_newer_format_is_refused(saved):
    """A model from a newer proplens asks for an upgrade instead of failing obscurely."""
    rewrite_metadata(saved, lambda data: data.update(format_version=FORMAT_VERSION + 2))
    message = f"model format {FORMAT_VERSION + 2} is newer than this proplens supports; upgrade"
    with pytest.raises(ModelError, match=message):
        load_model_dir(saved)


def test_unknown_old_format_is_refused(saved):
    """A format number with no reader (0 never existed) is refused, not guessed at."""
    rewrite_metadata(saved, lambda data: data.update(format_version=0))
    with pytest.raises(ModelError, match="unknown model format 0"):
        load_model_dir(saved)


def test_every_format_up_to_current_has_a_reader():
    """Bumping FORMAT_VERSION without a reader for the new version fails here."""
    assert set(artifacts._READERS) == set(range(1, FORMAT_VERSION + 1))


def test_path_in_artifact_file_is_refused(saved):
    """artifact.file must be a plain name, so metadata cannot point the loader outside the dir."""
    rewrite_metadata(saved, lambda data: data["artifact"].update(file="../other/model.joblib"))
    with pytest.raises(ModelError, match="'artifact.file'"):
        load_model_dir(saved, trust=True)


def test_model_from_another_installation_is_untrusted_until_trusted(
    models_root, fitted_pipeline, tmp_path
):
    """A model saved elsewhere needs trust=True or an explicit trust_model call to load."""
    elsewhere = save_model(fitted_pipeline, make_metadata(), tmp_path / "other" / "tiny" / "v1")
    downloaded = tmp_path / "downloads" / "tiny" / "v1"
    shutil.copytree(elsewhere, downloaded)
    expected = "was not produced by this proplens installation; pass --trust"
    with pytest.raises(ModelError, match=expected):
        load_model_dir(downloaded)
    estimator, _ = load_model_dir(downloaded, trust=True)
    assert estimator.predict(SENTENCES[:1]).shape == (1,)
    sha = trust_model(downloaded)
    assert sha in read_trust_file(models_root / artifacts.TRUST_FILENAME)
    load_model_dir(downloaded)


def test_removing_a_hash_from_the_trust_file_revokes_trust(saved, tmp_path):
    """Trust is the hash in the trust file, not the location: copies follow the file's content."""
    copy = tmp_path / "copy" / "tiny" / "v1"
    shutil.copytree(saved, copy)
    load_model_dir(copy)  # same bytes as a model this installation saved
    (saved.parent.parent / artifacts.TRUST_FILENAME).write_text("# emptied\n", encoding="utf-8")
    for directory in (saved, copy):
        with pytest.raises(ModelError, match="was not produced by this proplens installation"):
            load_model_dir(directory)


def test_trust_file_records_hash_with_comment(saved):
    """save_model appends the hash with a comment naming the model, after a header."""
    text = (saved.parent.parent / artifacts.TRUST_FILENAME).read_text(encoding="utf-8")
    sha = file_sha256(saved / "model.joblib")
    assert text.startswith("#")
    assert f"{sha}  # tiny@v1 saved" in text


def test_trusting_twice_does_not_duplicate(saved):
    """trust_model is idempotent, so the trust file does not grow on repeated calls."""
    trust_file = saved.parent.parent / artifacts.TRUST_FILENAME
    before = trust_file.read_text(encoding="utf-8")
    trust_model(saved)
    assert trust_file.read_text(encoding="utf-8") == before


def test_trust_model_refuses_a_tampered_model(saved):
    """Only an intact model can be trusted: trust_model verifies the sha256 first."""
    with open(saved / "model.joblib", "r+b") as handle:
        handle.seek(20)
        byte = handle.read(1)
        handle.seek(20)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        trust_model(saved)


def test_package_trust_file_exists_and_parses():
    """The shipped trust list exists (the release script appends to it) and holds only hashes."""
    text = artifacts.PACKAGE_TRUST_FILE.read_text(encoding="utf-8")
    assert text.startswith("#")
    for line in text.splitlines():
        token = line.split("#", 1)[0].strip()
        assert token == "" or artifacts._SHA256_PATTERN.match(token), line


def test_every_committed_model_is_in_the_package_trust_file():
    """A fresh clone has no trust file in its models root: each model directory that ships in
    the repository loads only because the package trust list holds its hash."""
    import hashlib

    listed = {
        line.split("#", 1)[0].strip()
        for line in artifacts.PACKAGE_TRUST_FILE.read_text(encoding="utf-8").splitlines()
    }
    shipped = sorted((Path(__file__).parents[1] / "models").glob("*/v*/model.joblib"))
    assert shipped
    for path in shipped:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in listed, f"{path.parent.name}: add {digest} to trusted_models.txt"


class ExplodesWhenPickled:
    """Stands in for an estimator holding something unpicklable (an open handle, a lambda)."""

    def __reduce__(self):
        raise RuntimeError("cannot pickle this")


def test_failed_save_leaves_nothing_behind(models_root):
    """Pickling that fails halfway leaves neither the final directory nor a temporary one."""
    directory = models_root / "tiny" / "v1"
    payload = [np.arange(200_000), ExplodesWhenPickled()]  # some bytes hit disk before the error
    with pytest.raises(RuntimeError, match="cannot pickle this"):
        save_model(payload, make_metadata(), directory)
    assert not directory.exists()
    assert list(directory.parent.iterdir()) == []
    assert not (models_root / artifacts.TRUST_FILENAME).exists()


def test_invalid_metadata_is_rejected_before_writing(models_root):
    """Bad metadata fails before any file is written."""
    directory = models_root / "tiny" / "v1"
    with pytest.raises(ModelError, match="'labels'"):
        save_model({"w": 1}, make_metadata(labels="Doubt"), directory)
    assert not models_root.exists()


def test_name_and_version_come_from_the_directory(models_root):
    """Metadata without name/version takes them from <name>/v<N>, so callers cannot disagree."""
    metadata = make_metadata()
    del metadata["name"], metadata["version"]
    directory = save_model({"w": 1}, metadata, models_root / "fresh" / "v3")
    assert load_model_dir(directory)[1].ref == "fresh@v3"


def test_metadata_naming_another_model_is_refused(models_root):
    """Metadata that says tiny@v1 cannot be saved as tiny/v2: the registry would mislabel it."""
    with pytest.raises(ModelError, match="metadata names tiny@v1 but the directory is tiny/v2"):
        save_model({"w": 1}, make_metadata(), models_root / "tiny" / "v2")
    assert not (models_root / "tiny" / "v2").exists()


def test_refuses_to_overwrite(saved):
    """An existing version is never overwritten: name@version always means the same files."""
    sha = file_sha256(saved / "model.joblib")
    with pytest.raises(ModelError, match="already exists"):
        save_model({"other": 2}, make_metadata(), saved)
    assert file_sha256(saved / "model.joblib") == sha
    assert [p.name for p in saved.parent.iterdir()] == ["v1"]


def test_unpicklable_file_is_a_model_error(saved):
    """A file that verifies but cannot be unpickled gives a ModelError, not a raw pickle error."""
    model_path = saved / "model.joblib"
    model_path.write_bytes(b"this is not a pickle at all")

    def point_at_new_file(data):
        data["artifact"].update(sha256=file_sha256(model_path), bytes=model_path.stat().st_size)

    rewrite_metadata(saved, point_at_new_file)
    with pytest.raises(ModelError, match="cannot be unpickled"):
        load_model_dir(saved, trust=True)


def test_other_sklearn_version_warns(saved):
    """A model saved with another scikit-learn minor version loads with a warning."""
    rewrite_metadata(saved, lambda data: data["library_versions"].update({"scikit-learn": "0.1.0"}))
    with pytest.warns(ModelVersionWarning, match="saved with scikit-learn 0.1.0"):
        load_model_dir(saved)


def test_model_errors_are_proplens_errors():
    """The CLI catches ProplensError, so ModelError must be one."""
    assert issubclass(ModelError, ProplensError)


SENTENCE_TABLE = pd.DataFrame(
    {
        "document_id": ["a", "a", "b"],
        "sentence_index": [0, 1, 0],
        "start": [0, 40, 0],
        "end": [39, 80, 25],
        "text": ["x", "y", "z"],
        "devices": [["Doubt", "Loaded_Language"], [], ["Repetition"]],
        "release": ["proplens"] * 3,
    }
)


def test_fingerprint_ignores_order_but_not_content():
    """Reordering rows or devices keeps the fingerprint; changing an offset or label changes it."""
    base = fingerprint_frame(SENTENCE_TABLE)
    shuffled = SENTENCE_TABLE.iloc[[2, 0, 1]].copy()
    shuffled["devices"] = [["Repetition"], ["Loaded_Language", "Doubt"], []]
    assert fingerprint_frame(shuffled) == base
    moved = SENTENCE_TABLE.copy()
    moved.loc[1, "end"] = 81
    assert fingerprint_frame(moved) != base
    relabeled = SENTENCE_TABLE.copy()
    relabeled["devices"] = [["Doubt"], [], ["Repetition"]]
    assert fingerprint_frame(relabeled) != base
    assert len(base) == 64


def test_fingerprint_needs_document_ids():
    """Without document ids a fingerprint would not identify the data, so it is refused."""
    with pytest.raises(ModelError, match="document_id"):
        fingerprint_frame(pd.DataFrame({"start": [0]}))


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(len(SENTENCE_TABLE))))
def test_fingerprint_is_permutation_invariant(order):
    """Property: any row order of the same table has the same fingerprint."""
    assert fingerprint_frame(SENTENCE_TABLE.iloc[list(order)]) == fingerprint_frame(SENTENCE_TABLE)


def test_a_dict_bundle_loads_each_part_on_first_use(models_root, fitted_pipeline):
    """A bundle's parts are unpickled lazily, so scoring never pays for an unused classifier."""
    bundle = {"sentences": fitted_pipeline, "spans": LogisticRegression()}
    directory = save_model(bundle, make_metadata(), models_root / "tiny" / "v1")
    loaded, _ = load_model_dir(directory)
    assert isinstance(loaded, artifacts.PackedBundle)
    assert sorted(loaded) == ["sentences", "spans"] and loaded._loaded == {}
    np.testing.assert_allclose(
        loaded["sentences"].predict_proba(SENTENCES), fitted_pipeline.predict_proba(SENTENCES)
    )
    assert list(loaded._loaded) == ["sentences"]
    assert loaded["sentences"] is loaded["sentences"]


def test_unpickling_a_part_leaves_the_garbage_collector_as_it_was(models_root, fitted_pipeline):
    """Parts unpickle with the collector paused; it is back on afterwards (and off if it was)."""
    import gc

    directory = save_model(
        {"sentences": fitted_pipeline}, make_metadata(), models_root / "tiny" / "v1"
    )
    enabled = gc.isenabled()
    try:
        gc.enable()
        loaded, _ = load_model_dir(directory)
        assert loaded["sentences"] is not None and gc.isenabled()
        gc.disable()
        again, _ = load_model_dir(directory)
        assert again["sentences"] is not None and not gc.isenabled()
    finally:
        (gc.enable if enabled else gc.disable)()


def test_an_unreadable_bundle_part_is_a_model_error():
    """A part that does not unpickle fails with a one-line ModelError naming the part."""
    broken = artifacts.PackedBundle({"spans": b"not zlib"})
    with pytest.raises(ModelError, match="'spans' part cannot be unpickled"):
        broken["spans"]


def test_format_1_directories_still_load(models_root, fitted_pipeline):
    """Format 1 stored the estimators themselves in model.joblib; they load unchanged."""
    import joblib

    bundle = {"sentences": fitted_pipeline}
    directory = save_model({"placeholder": 0}, make_metadata(), models_root / "tiny" / "v1")
    joblib.dump(bundle, directory / "model.joblib", compress=("zlib", 3))
    rewrite_metadata(
        directory,
        lambda data: data.update(
            format_version=1,
            artifact={
                "file": "model.joblib",
                "sha256": file_sha256(directory / "model.joblib"),
                "bytes": (directory / "model.joblib").stat().st_size,
            },
        ),
    )
    loaded, metadata = load_model_dir(directory, trust=True)
    assert metadata.format_version == 1
    assert isinstance(loaded, dict)
    np.testing.assert_allclose(
        loaded["sentences"].predict_proba(SENTENCES), fitted_pipeline.predict_proba(SENTENCES)
    )


# --------------------------------------------------------------------------------------------
# metadata.json edited after saving (its digest is recorded inside model.joblib)

SHIPPED = Path(__file__).parents[1] / "models" / "ptc-default"


@pytest.fixture
def saved_bundle(models_root, fitted_pipeline) -> Path:
    """A dict bundle, as `proplens train` saves (its classifier applies no thresholds, so only the
    record can tell that metadata.json was edited)."""
    metadata = make_metadata(name="bundle")
    return save_model({"sentences": fitted_pipeline}, metadata, models_root / "bundle" / "v1")


EDITS = {
    "metric": lambda data: data["metrics"].update(micro_f1=0.9),
    "device F1": lambda data: data["metrics"]["per_device"]["Loaded_Language"].update(f1=0.9),
    "threshold": lambda data: data["thresholds"].update(Loaded_Language=0.2),
    "devices": lambda data: data["labels"].pop(),
    "notes": lambda data: data.update(notes="Checked by hand."),
    "created": lambda data: data.update(created="2020-01-01T00:00:00+00:00"),
    "added key": lambda data: data.update(reviewed_by="someone"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_metadata_json_is_refused_with_one_line(saved_bundle, edit):
    """The sha256 covers model.joblib, not metadata.json: an edited figure, threshold or note
    loaded silently and was shown as the training run's. Loading, `models use` (verify) and
    `models trust` now refuse it with one line naming the file and what to do."""
    rewrite_metadata(saved_bundle, EDITS[edit])
    expected = f"{saved_bundle / 'metadata.json'}: edited after the model was trained"
    for check in (load_model_dir, artifacts.verify_model_dir, trust_model):
        with pytest.raises(ModelError, match=expected) as refused:
            check(saved_bundle)
        message = str(refused.value)
        assert "\n" not in message
        assert message.endswith("restore the metadata.json saved with the model, or retrain")
    assert artifacts.check_metadata(saved_bundle)[1] == "edited"


def test_an_unedited_model_loads_however_its_json_is_laid_out(saved_bundle, fitted_pipeline):
    """save_model records the digest of metadata.json's content in model.joblib; the file as
    saved, or reindented with its keys reordered, is the same content and loads."""
    recorded = artifacts.read_metadata_record(saved_bundle / "model.joblib")
    data = json.loads((saved_bundle / "metadata.json").read_text(encoding="utf-8"))
    assert recorded == artifacts.metadata_digest(data)
    assert artifacts.check_metadata(saved_bundle)[1] == "as saved"
    reordered = json.dumps(dict(reversed(list(data.items()))), indent=1, ensure_ascii=True)
    (saved_bundle / "metadata.json").write_text(reordered, encoding="utf-8")
    loaded, metadata = load_model_dir(saved_bundle)
    np.testing.assert_allclose(
        loaded["sentences"].predict_proba(SENTENCES), fitted_pipeline.predict_proba(SENTENCES)
    )
    assert artifacts.check_metadata(saved_bundle) == (metadata, "as saved")


def test_a_model_saved_before_the_record_loads_as_before(saved_bundle, saved):
    """A bundle without the record (every model saved before it existed) and a bare estimator
    load and verify as before, even edited: "not recorded", not "edited"."""
    drop_metadata_record(saved_bundle, trust=True)
    for directory in (saved_bundle, saved):
        assert artifacts.check_metadata(directory)[1] == "not recorded"
        rewrite_metadata(directory, EDITS["metric"])
        artifacts.verify_model_dir(directory)
        assert load_model_dir(directory)[1].metrics["micro_f1"] == 0.9
        assert artifacts.check_metadata(directory)[1] == "not recorded"


def test_the_shipped_models_have_no_record_and_verify_as_before():
    """models/ptc-default/v1..v12 were saved before the record: they verify, unchanged."""
    for directory in sorted(SHIPPED.iterdir()):
        assert artifacts.check_metadata(directory)[1] == "not recorded"
        artifacts.verify_model_dir(directory)


def test_an_edit_is_refused_before_anything_is_unpickled(saved_bundle, monkeypatch):
    """The record is read from model.joblib's first bytes without unpickling them: loading
    refuses an edit before joblib runs, and check_metadata never unpickles."""
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("unpickled")

    rewrite_metadata(saved_bundle, EDITS["threshold"])
    monkeypatch.setattr(artifacts.joblib, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    assert artifacts.check_metadata(saved_bundle)[1] == "edited"
    with pytest.raises(ModelError, match="edited after the model was trained"):
        load_model_dir(saved_bundle)


def test_loading_checks_the_record_it_unpickles_too(saved_bundle, monkeypatch):
    """Should the first bytes ever be unreadable to the cheap reader, the record the container
    unpickles (loading reads it anyway) still refuses an edit."""
    rewrite_metadata(saved_bundle, EDITS["metric"])
    monkeypatch.setattr(artifacts, "read_metadata_record", lambda path: None)
    with pytest.raises(ModelError, match="edited after the model was trained") as refused:
        load_model_dir(saved_bundle)
    assert "\n" not in str(refused.value)


def test_reading_the_record_runs_nothing_from_the_file(tmp_path, saved):
    """read_metadata_record walks opcodes, it does not unpickle: a pickle that would create a
    folder when loaded creates none; a compressed bare estimator has no record."""
    import os
    import pickle

    folder = tmp_path / "created-by-the-pickle"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(folder),))

    hostile = tmp_path / "model.joblib"
    hostile.write_bytes(pickle.dumps({"marker": "proplens-packed-bundle", "x": Payload()}))
    assert artifacts.read_metadata_record(hostile) is None
    assert not folder.exists()
    assert artifacts.read_metadata_record(saved / "model.joblib") is None
    assert artifacts.read_metadata_record(tmp_path / "missing.joblib") is None


# --------------------------------------------------------------------------------------------
# the model card (README.md) edited after saving (its digest is recorded in metadata.json)


def test_a_saved_card_is_recorded_and_an_edited_one_is_told(saved_bundle):
    """A hand-edited README.md showed figures the training run never had, and nothing said so.
    The card's digest is now in metadata.json (inside the metadata's own record), so an edit of
    the card is told, and a checkout's Windows line ends are not an edit."""
    card = saved_bundle / "README.md"
    text = card.read_text(encoding="utf-8")
    metadata = artifacts.read_metadata(saved_bundle)
    assert metadata.card_sha256 == artifacts.card_digest(text, metadata.artifact)
    assert artifacts.check_metadata(saved_bundle)[1] == "as saved"
    assert artifacts.check_card(saved_bundle) == "as saved"
    card.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert artifacts.check_card(saved_bundle) == "as saved"
    card.write_text(text.replace("| Loaded_Language | 0.600 |", "| Loaded_Language | 0.900 |"))
    assert artifacts.check_card(saved_bundle) == "edited"
    card.write_bytes(b"\xff\xfe not UTF-8")
    assert artifacts.check_card(saved_bundle) == "edited"
    card.unlink()
    assert artifacts.check_card(saved_bundle) == "missing"
    # the card is prose: the model still loads
    assert load_model_dir(saved_bundle)[1].ref == "bundle@v1"


def test_the_card_record_covers_all_but_the_integrity_section(saved_bundle):
    """The Integrity section names model.joblib, written after the record: it is the only part
    left out, and only as the artifact renders it. The record itself is covered by the
    metadata's record, so rewriting it to match an edited card is an edited metadata.json."""
    card = saved_bundle / "README.md"
    text = card.read_text(encoding="utf-8")
    body, integrity = text.split("\n## Integrity\n")
    assert artifacts.read_metadata(saved_bundle).artifact["sha256"] in integrity
    card.write_text(body, encoding="utf-8")
    assert artifacts.check_card(saved_bundle) == "as saved"  # (metadata.json still records it)
    card.write_text(text.replace(integrity[:-2], integrity[:-2] + "!"), encoding="utf-8")
    assert artifacts.check_card(saved_bundle) == "edited"
    edited = text.replace("# bundle v1", "# bundle v1 (reviewed)")
    card.write_text(edited, encoding="utf-8")
    digest = artifacts.card_digest(edited, artifacts.read_metadata(saved_bundle).artifact)
    rewrite_metadata(saved_bundle, lambda data: data.update(card_sha256=digest))
    assert artifacts.check_card(saved_bundle) == "as saved"
    assert artifacts.check_metadata(saved_bundle)[1] == "edited"


def test_a_custom_card_is_recorded_as_written(models_root):
    directory = save_model({"w": 1}, make_metadata(), models_root / "tiny" / "v1", card="# Hi\n")
    assert artifacts.check_card(directory) == "as saved"
    (directory / "README.md").write_text("# Hi there\n", encoding="utf-8")
    assert artifacts.check_card(directory) == "edited"


def test_a_card_saved_before_the_record_is_not_recorded(saved_bundle):
    drop_metadata_record(saved_bundle)
    (saved_bundle / "README.md").write_text("# anything\n", encoding="utf-8")
    assert artifacts.check_card(saved_bundle) == "not recorded"
    assert artifacts.check_card(SHIPPED / "v12") == "not recorded"


@pytest.mark.parametrize(
    "version",
    sorted(p.name for p in (Path(__file__).parents[1] / "models" / "ptc-default").iterdir()),
)
def test_shipped_models_support_the_estimator_api(version):
    """Models saved before a DeviceClassifier parameter existed still repr, report their
    parameters (the values they were fit with) and clone; scoring never needed them, notebooks
    and `sklearn.base.clone` do."""
    from sklearn.base import clone

    from proplens.model import DeviceClassifier

    directory = Path(__file__).parents[1] / "models" / "ptc-default" / version
    sentences = load_model_dir(directory)[0]["sentences"]
    params = sentences.get_params()
    assert set(params) == set(DeviceClassifier._get_param_names())
    assert "DeviceClassifier(" in repr(sentences)
    assert clone(sentences).get_params()["tol"] == params["tol"]


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    """A models root holding tiny@v1, trained (without CV) on the tiny corpus of the retraining
    tests; copy it before changing anything."""
    from tiny_corpus import write_labels, write_taxonomy

    from proplens.training import train

    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PROPLENS_MODELS", str(folder / "models"))
        write_taxonomy(folder, monkeypatch)
        labels = write_labels(folder / "seed.csv", documents=6)
        train(
            name="tiny", labels=[labels], base=False, evaluate=False, models_root=folder / "models"
        )
    return folder / "models"


@pytest.fixture
def trained(trained_root, tmp_path, monkeypatch) -> Path:
    """A copy of tiny@v1 (its models root with it, so it stays trusted)."""
    root = tmp_path / "models"
    shutil.copytree(trained_root, root)
    monkeypatch.setenv("PROPLENS_MODELS", str(root))
    return root / "tiny" / "v1"


def test_a_trained_model_records_the_thresholds_it_applies(trained):
    """`proplens train` records each threshold the classifier applies, rounded to 6 decimals;
    that loads. A record edited to full precision is an edit of metadata.json all the same; in a
    model saved before model.joblib recorded its metadata, it loads."""
    from proplens.scoring import load_model

    applied = load_model(trained).thresholds
    recorded = json.loads((trained / "metadata.json").read_text(encoding="utf-8"))["thresholds"]
    assert recorded == {device: round(value, 6) for device, value in applied.items()}
    assert len(applied) >= 2 and any(round(v, 6) != v for v in applied.values())
    rewrite_metadata(trained, lambda data: data["thresholds"].update(applied))
    with pytest.raises(ModelError, match="metadata.json: edited after the model was trained"):
        load_model(trained)
    drop_metadata_record(trained, trust=True)
    assert load_model(trained).thresholds == applied


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda data: data["thresholds"].update(Crowd_Appeal=0.01),
            r"metadata.json: thresholds.Crowd_Appeal is 0.01 but the model applies 0\.\d+; "
            "metadata.json was edited",
        ),
        (
            lambda data: data["thresholds"].pop("Crowd_Appeal"),
            r"records no threshold for Crowd_Appeal but the model applies 0\.\d+",
        ),
        (
            lambda data: data["thresholds"].update(Doubt=0.5),
            "records thresholds.Doubt = 0.5 but the model has no such label",
        ),
    ],
    ids=["edited", "missing", "extra"],
)
def test_metadata_thresholds_the_model_does_not_apply_are_refused(trained, change, message):
    """The model card, `models diff` and `/api/model` show metadata.json's thresholds while the
    scorer applies the classifier's: an edited value loaded silently and changed nothing. Now
    loading refuses it with one line naming the device and both values (in a model saved before
    model.joblib recorded its metadata.json: a newer one refuses any edit before this check)."""
    from proplens.scoring import load_model

    drop_metadata_record(trained, trust=True)
    rewrite_metadata(trained, change)
    with pytest.raises(ModelError, match=message) as refused:
        load_model(trained)
    assert "\n" not in str(refused.value)


def test_the_cli_refuses_edited_thresholds_with_the_model_exit_code(trained, tmp_path, capsys):
    """`proplens score --model DIR` with an edited threshold: one error line, exit code 4; it
    names the edited metadata.json and says what to do."""
    from proplens.cli import main

    rewrite_metadata(trained, lambda data: data["thresholds"].update(Crowd_Appeal=0.01))
    article = tmp_path / "article.txt"
    article.write_text(" ".join(SENTENCES) + "\n", encoding="utf-8")
    code = main(["score", str(article), "--model", str(trained)])
    err = capsys.readouterr().err
    assert code == ModelError.exit_code == 4
    assert err.count("\n") == 1
    assert f"{trained / 'metadata.json'}: edited after the model was trained" in err
    assert err.rstrip().endswith("restore the metadata.json saved with the model, or retrain")


def test_a_format_1_model_is_checked_as_it_loads(trained):
    """Format 1 stores the bundle unpickled whole: its thresholds are checked at once."""
    import joblib

    bundle = dict(load_model_dir(trained)[0])
    joblib.dump(bundle, trained / "model.joblib", compress=("zlib", 3))

    def as_format_1(data, threshold):
        data["thresholds"]["Crowd_Appeal"] = threshold
        data.update(
            format_version=1,
            artifact={
                "file": "model.joblib",
                "sha256": file_sha256(trained / "model.joblib"),
                "bytes": (trained / "model.joblib").stat().st_size,
            },
        )

    applied = bundle["sentences"].thresholds_["Crowd_Appeal"]
    rewrite_metadata(trained, lambda data: as_format_1(data, applied))
    assert isinstance(load_model_dir(trained, trust=True)[0], dict)
    rewrite_metadata(trained, lambda data: as_format_1(data, 0.01))
    with pytest.raises(ModelError, match="thresholds.Crowd_Appeal is 0.01"):
        load_model_dir(trained, trust=True)


def test_card_reproduce_step_installs_from_a_checkout_at_the_recorded_commit():
    """proplens is on no package index: the card says to install it from a checkout, at the
    commit the model records (and says when the checkout had uncommitted changes)."""
    versions = {"python": "3.11.7", "proplens": "0.1.0", "scikit-learn": "1.9.1"}
    sha = "0123456789abcdef0123456789abcdef01234567"

    def card(**training) -> str:
        metadata = ModelMetadata(
            name="m", version="v1", labels=[], thresholds={}, library_versions=versions,
            training_data={"sources": [], "fingerprint": "", **training},
        )  # fmt: skip
        return render_model_card(metadata)

    recorded = card(source_commit=sha, source_modified=False)
    assert f"git checkout {sha}\npip install -e . scikit-learn==1.9.1\n" in recorded
    assert "proplens==" not in recorded and "uncommitted" not in recorded
    assert "uncommitted changes" in card(source_commit=sha, source_modified=True)
    unrecorded = card()
    assert "records no git commit" in unrecorded and "git checkout" not in unrecorded
    assert "\npip install -e . scikit-learn==1.9.1\n" in unrecorded


def test_every_command_that_loads_a_model_takes_trust(trained_root, tmp_path, monkeypatch, capsys):
    """A model copied from elsewhere loads only with --trust: in score-corpus too, which had no
    such option (the one way in was `models trust`)."""
    from proplens.cli import main

    monkeypatch.setenv("PROPLENS_MODELS", str(tmp_path / "empty-models"))
    downloaded = tmp_path / "downloads" / "tiny" / "v1"
    shutil.copytree(trained_root / "tiny" / "v1", downloaded)
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "a.txt").write_text("The ferry to Orlo is late again. Nobody knows why.\n")
    command = ["score-corpus", str(articles), "-o", str(tmp_path / "out.parquet")]
    command += ["--model", str(downloaded), "--no-progress"]
    assert main(command) == ModelError.exit_code
    assert "pass --trust" in capsys.readouterr().err
    assert main([*command, "--trust"]) == 0
    assert (tmp_path / "out.parquet").is_file()
