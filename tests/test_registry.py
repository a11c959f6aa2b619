"""Model versions: numbering, the current pointer, rollback, listing, diff and resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import drop_metadata_record, rewrite_metadata

from proplens import config, registry
from proplens.artifacts import save_model
from proplens.errors import ModelError
from proplens.registry import (
    ModelRef,
    current,
    diff,
    list_models,
    next_version_dir,
    parse_ref,
    resolve,
    rollback,
    use,
)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An empty models root set through PROPLENS_MODELS, with no bundled models to fall back on."""
    models_root = tmp_path / "models"
    monkeypatch.setenv("PROPLENS_MODELS", str(models_root))
    monkeypatch.setattr(config, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    return models_root


def add_model(
    name: str,
    *,
    labels=("Doubt", "Loaded_Language"),
    thresholds=None,
    f1=None,
    micro_f1=0.4,
    tc_micro_f1=None,
    metrics=None,
    root: Path | None = None,
) -> Path:
    """Save a tiny stand-in model as the next version of ``name`` (the registry never unpickles).

    ``metrics`` replaces the whole metrics dict (``micro_f1``, ``f1`` and ``tc_micro_f1`` then
    play no part)."""
    thresholds = thresholds if thresholds is not None else {label: 0.5 for label in labels}
    f1 = f1 if f1 is not None else {label: 0.3 for label in labels}
    metadata = {
        "name": name,
        "labels": list(labels),
        "thresholds": thresholds,
        "metrics": {"micro_f1": micro_f1, "per_device": {d: {"f1": v} for d, v in f1.items()}},
    }
    if metrics is not None:
        metadata["metrics"] = metrics
    if tc_micro_f1 is not None and metrics is None:
        metadata["metrics"]["tc_micro_f1"] = tc_micro_f1
    directory = next_version_dir(name, root)
    metadata["version"] = directory.name
    return save_model({"weights": list(labels)}, metadata, directory)


def pointer(root: Path) -> dict:
    return json.loads((root / "current.json").read_text(encoding="utf-8"))


def test_next_version_counts_up_from_v1(root):
    """Versions are v1, v2, ... in the order models are saved."""
    assert next_version_dir("ptc-default") == root / "ptc-default" / "v1"
    add_model("ptc-default")
    assert next_version_dir("ptc-default") == root / "ptc-default" / "v2"


def test_next_version_never_reuses_an_incomplete_version(root):
    """A leftover v5 folder (say, a half-copied model) still reserves its number."""
    add_model("ptc-default")
    (root / "ptc-default" / "v5").mkdir()
    assert next_version_dir("ptc-default").name == "v6"


def test_next_version_orders_numerically(root):
    """v10 comes after v9, not after v1 (string order would reuse v2)."""
    for number in (1, 9, 10):
        (root / "m" / f"v{number}").mkdir(parents=True)
    assert next_version_dir("m").name == "v11"


@pytest.mark.parametrize("bad", ["", "../escape", "has space", "m@v1", "-dash-first"])
def test_next_version_rejects_bad_names(root, bad):
    """Model names become folder names, so anything that is not a plain name is refused."""
    with pytest.raises(ModelError):
        next_version_dir(bad)


def test_parse_ref_forms(root):
    """name@vN, name@N and bare name (newest) all find the right directory."""
    add_model("m")
    add_model("m")
    assert parse_ref("m@v1") == ModelRef("m", "v1", root / "m" / "v1")
    assert parse_ref("m@1") == parse_ref("m@v1")
    assert parse_ref("m") == ModelRef("m", "v2", root / "m" / "v2")
    assert str(parse_ref("m")) == "m@v2"


def test_parse_ref_unknown_lists_available(root):
    """A typo gets an error that lists what does exist."""
    add_model("m")
    with pytest.raises(ModelError, match="available: m@v1"):
        parse_ref("n")
    with pytest.raises(ModelError, match="no model 'm@v7'"):
        parse_ref("m@v7")
    with pytest.raises(ModelError, match="version should look like v1"):
        parse_ref("m@latest")


def test_current_falls_back_to_newest_default(root):
    """Without current.json the newest ptc-default is the default model."""
    assert current() is None
    add_model("other")
    assert current() is None
    add_model("ptc-default")
    add_model("ptc-default")
    assert str(current()) == "ptc-default@v2"


def test_current_falls_back_to_bundled_models(root, tmp_path, monkeypatch):
    """An installed wheel with an empty user models root uses the model bundled in the package."""
    bundled = tmp_path / "bundled"
    add_model("ptc-default", root=bundled)
    monkeypatch.setattr(config, "bundled_models_dir", lambda: bundled)
    found = current()
    assert found == ModelRef("ptc-default", "v1", bundled / "ptc-default" / "v1")
    assert resolve(None) == bundled / "ptc-default" / "v1"


def test_use_and_rollback(root):
    """use pushes the previous default onto history; rollback pops it back."""
    add_model("ptc-default")
    add_model("ptc-default")
    add_model("experiment")
    assert str(use("ptc-default@v1")) == "ptc-default@v1"
    assert pointer(root)["history"][0]["version"] == "v2"  # the implicit default before
    use("experiment")
    assert str(current()) == "experiment@v1"
    assert [(h["name"], h["version"]) for h in pointer(root)["history"]] == [
        ("ptc-default", "v2"),
        ("ptc-default", "v1"),
    ]
    assert str(rollback()) == "ptc-default@v1"
    assert str(current()) == "ptc-default@v1"
    assert str(rollback()) == "ptc-default@v2"
    with pytest.raises(ModelError, match="no earlier model to roll back to"):
        rollback()
    assert str(current()) == "ptc-default@v2"


def test_use_the_current_model_again_does_not_grow_history(root):
    """Re-selecting the current model is a no-op for history, so rollback stays meaningful."""
    add_model("m")
    use("m@v1")
    use("m@v1")
    assert pointer(root)["history"] == []


def test_history_entries_record_when(root):
    """Each history entry says when it was replaced, for `proplens models list` and audits."""
    add_model("m")
    add_model("m")
    use("m@v1")
    use("m@v2")
    entry = pointer(root)["history"][-1]
    assert entry["name"] == "m" and entry["version"] == "v1"
    assert entry["at"].endswith("+00:00")


def test_use_unknown_model_changes_nothing(root):
    """A failed use leaves current.json as it was."""
    add_model("m")
    use("m")
    before = (root / "current.json").read_text(encoding="utf-8")
    with pytest.raises(ModelError):
        use("m@v9")
    assert (root / "current.json").read_text(encoding="utf-8") == before


@pytest.mark.parametrize("damage", ["metadata", "artifact"])
def test_a_model_that_cannot_load_is_not_made_the_default(root, damage, capsys):
    """`models use` checks what loading checks (metadata, artifact size and hash): a broken
    version would otherwise fail every later command."""
    add_model("m")
    use("m")
    before = (root / "current.json").read_text(encoding="utf-8")
    broken = add_model("m")
    if damage == "metadata":
        (broken / "metadata.json").write_text("{bad", encoding="utf-8")
    else:
        with (broken / "model.joblib").open("ab") as artifact:
            artifact.write(b"tampered")
    for ref in ("m@v2", "m"):
        with pytest.raises(ModelError, match="m@v2 is not made the default"):
            use(ref)
    assert (root / "current.json").read_text(encoding="utf-8") == before
    from proplens.cli import main

    assert main(["models", "use", "m@v2"]) == 4
    assert "is not made the default" in capsys.readouterr().err


def test_pointer_writes_leave_no_temporary_files(root):
    """current.json is replaced atomically and its temporary file is gone afterwards."""
    add_model("m")
    add_model("m")
    use("m@v1")
    use("m@v2")
    rollback()
    assert not [p.name for p in root.iterdir() if p.name.startswith(".tmp-")]


def test_dangling_pointer_is_an_error_and_use_repairs_it(root):
    """current.json naming a deleted model is reported, not silently replaced by another model."""
    add_model("m")
    (root / "current.json").write_text(
        json.dumps({"name": "m", "version": "v4", "history": []}), encoding="utf-8"
    )
    with pytest.raises(ModelError, match="points to m@v4"):
        current()
    use("m@v1")
    assert str(current()) == "m@v1"


def test_malformed_pointer_is_an_error(root):
    """A hand-edited current.json that is not the expected object names the file."""
    root.mkdir(parents=True)
    (root / "current.json").write_text('["m", "v1"]', encoding="utf-8")
    with pytest.raises(ModelError, match="current.json"):
        current()


def test_list_models(root):
    """One row per version, with the current flag and micro F1 from the metadata."""
    add_model("ptc-default", micro_f1=0.31)
    add_model("ptc-default", micro_f1=0.35)
    add_model("experiment", labels=("Doubt",))
    use("ptc-default@v1")
    table = list_models()
    assert list(zip(table["name"], table["version"], strict=True)) == [
        ("experiment", "v1"),
        ("ptc-default", "v1"),
        ("ptc-default", "v2"),
    ]
    assert table["current"].tolist() == [False, True, False]
    assert table["micro_f1"].tolist()[1:] == [0.31, 0.35]
    assert table["labels"].tolist() == [1, 2, 2]
    assert (table["problem"] == "").all()


def test_list_models_shows_broken_models(root):
    """A model whose metadata cannot be read still appears, with the reason."""
    directory = add_model("m")
    (directory / "metadata.json").write_text("{", encoding="utf-8")
    table = list_models()
    assert len(table) == 1
    assert "not valid JSON" in table.loc[0, "problem"]


def test_cli_lists_a_broken_model_with_dashes_not_nan(root, capsys):
    """The columns a broken version lacks show "-"; the readable rows keep whole numbers."""
    from proplens.cli import main

    add_model("m")
    (add_model("m") / "metadata.json").write_text("{", encoding="utf-8")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "2.0" not in out and " 2 " in out
    assert _cells(out, "m@v2")[2:5] == ["-", "-", "-"]


# What training records: --no-cv keeps only timings; a CV that saw no positive and no prediction
# of any device writes micro F1 0.0 and, per device, F1 0.0 over 0 folds (0/0, not a measurement).
NO_CV_METRICS = {"fit_seconds": 3.1, "train_seconds": 3.2, "promotion": {"promoted": False}}
UNSEEN = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "folds": 0}
EMPTY_CV_METRICS = {
    "cv": "5-fold GroupKFold by document",
    "micro_f1": 0.0,
    "macro_f1": 0.0,
    "per_device": {"Doubt": dict(UNSEEN), "Loaded_Language": dict(UNSEEN)},
}


def _cells(out: str, ref: str) -> list[str]:
    """The cells of the `models list` row of ``ref``."""
    line = next(line for line in out.splitlines() if f" {ref} " in line)
    return [cell.strip() for cell in line.split("│")[1:-1]]


@pytest.mark.parametrize(
    "metrics",
    [
        NO_CV_METRICS,
        EMPTY_CV_METRICS,
        {"micro_f1": None, "per_device": {}},
        {"micro_f1": float("nan")},
        {"micro_f1": float("inf")},
        {"micro_f1": 1.5},
        {"micro_f1": True},
    ],
    ids=["no-cv", "cv-saw-nothing", "null", "nan", "inf", "not-a-proportion", "bool"],
)
def test_a_model_without_a_micro_f1_figure_shows_none(root, capsys, metrics):
    """`models list` showed 0.000 for a CV that measured nothing (and inf or 1.500 for values
    that are no F1): a model without a figure shows "-", and list_models holds None (NaN)."""
    from proplens.cli import main

    add_model("m", micro_f1=0.31)
    add_model("m", metrics=metrics)
    table = list_models()
    assert table.loc[0, "micro_f1"] == 0.31 and pd.isna(table.loc[1, "micro_f1"])
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert _cells(out, "m@v1")[4] == "0.310"
    assert _cells(out, "m@v2")[3:5] == ["2", "-"]


def test_a_cv_that_measured_some_devices_keeps_its_micro_f1(root):
    """Only a CV that saw nothing of every device lacks a micro figure; a real 0.0 stays."""
    seen = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 4, "folds": 3}
    add_model("m", metrics={**EMPTY_CV_METRICS, "per_device": {"Doubt": seen, "Slogans": UNSEEN}})
    assert list_models().loc[0, "micro_f1"] == 0.0


def test_diff_of_a_model_without_cv_shows_no_figures(root, capsys):
    """`models diff` against a model trained without CV, or whose CV saw nothing, printed its
    micro F1 and per-device F1 as 0.000 and a drop of the whole F1; it shows "-" and says why."""
    from proplens.cli import main

    add_model("m", f1={"Doubt": 0.2, "Loaded_Language": 0.5}, micro_f1=0.4, tc_micro_f1=0.6)
    add_model("m", metrics=NO_CV_METRICS)
    add_model("m", metrics=EMPTY_CV_METRICS)
    for after in ("m@v2", "m@v3"):
        table = diff("m@v1", after)
        assert table.attrs["micro_f1"] == (0.4, None)
        assert table.attrs["tc_micro_f1"] == (0.6, None)
        assert table["f1_after"].isna().all() and table["f1_change"].isna().all()
        assert table["f1_before"].tolist() == [0.2, 0.5]
        assert main(["models", "diff", "m@v1", after]) == 0
        out = capsys.readouterr().out
        assert "0.000" not in out
        assert f"micro F1: 0.400 -> - ({after}: no cross-validated figure)" in out
        assert "TC micro F1 (gold spans): 0.600 -> -" in out
        rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
        assert rows["Doubt"][1:4] == ["0.200", "-", "-"]
    assert diff("m@v2", "m@v1").attrs["micro_f1"] == (None, 0.4)


def test_diff_of_a_device_its_cv_never_saw_shows_no_figure(root):
    """A device with F1 0.0 over 0 folds has no figure; its neighbours keep theirs."""
    add_model("m", f1={"Doubt": 0.2, "Loaded_Language": 0.5})
    seen = {"f1": 0.25, "support": 9, "folds": 5}
    add_model(
        "m", metrics={"micro_f1": 0.3, "per_device": {"Doubt": seen, "Loaded_Language": UNSEEN}}
    )
    table = diff("m@v1", "m@v2").set_index("device")
    assert table.loc["Doubt", "f1_change"] == pytest.approx(0.05)
    assert pd.isna(table.loc["Loaded_Language", "f1_after"])
    assert pd.isna(table.loc["Loaded_Language", "f1_change"])
    assert table.attrs["micro_f1"] == (0.4, 0.3)


@pytest.mark.parametrize("per_device", [None, [], "Doubt", {"Doubt": 0.3}])
def test_diff_with_malformed_per_device_figures_is_no_traceback(root, capsys, per_device):
    """A metadata.json whose per_device is not a map of maps made `models diff` end in an
    AttributeError traceback; the figures it cannot read are shown as missing."""
    from proplens.cli import main

    add_model("m")
    metadata_file = add_model("m") / "metadata.json"  # by hand: saving renders the figures
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    metadata["metrics"] = {"micro_f1": 0.35, "per_device": per_device}
    metadata_file.write_text(json.dumps(metadata), encoding="utf-8")
    assert diff("m@v1", "m@v2")["f1_after"].isna().all()
    assert main(["models", "diff", "m@v1", "m@v2"]) == 0
    assert "micro F1: 0.400 -> 0.350" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("pointer_text", "reason"),
    [("{", "not valid JSON"), ('{"name": "m", "version": "v9", "history": []}', "m@v9")],
)
def test_cli_list_says_why_no_model_is_current(root, capsys, pointer_text, reason):
    """A broken or dangling current.json left `models list` without a current mark and without
    a word; the list still shows, with one warning line on stderr."""
    from proplens.cli import main

    add_model("m")
    (root / "current.json").write_text(pointer_text, encoding="utf-8")
    table = list_models()
    assert not table["current"].any() and reason in table.attrs["current_problem"]
    assert main(["models", "list"]) == 0
    out, err = capsys.readouterr()
    assert _cells(out, "m@v1")[0] == ""
    assert err.startswith("proplens: warning: no model is marked current: ")
    assert reason in err and len(err.splitlines()) == 1
    use("m@v1")
    assert list_models().attrs["current_problem"] == ""


def test_list_shows_the_bundled_default_when_it_is_the_one_in_use(
    root, tmp_path, monkeypatch, capsys
):
    """An installed wheel scores with its bundled model while the user's models folder is empty:
    `models list` showed an empty table. It lists the model in use, marked, with its path."""
    from proplens.cli import main

    bundled = tmp_path / "bundled"
    add_model("ptc-default", root=bundled)
    monkeypatch.setattr(config, "bundled_models_dir", lambda: bundled)
    table = list_models()
    assert table[["name", "version", "current"]].values.tolist() == [["ptc-default", "v1", True]]
    assert table.loc[0, "path"] == str(bundled / "ptc-default" / "v1")
    assert main(["models", "list"]) == 0
    assert _cells(capsys.readouterr().out, "ptc-default@v1")[0] == "*"
    add_model("m")
    assert list_models()["name"].tolist() == ["m", "ptc-default"]


def test_cli_list_of_an_empty_models_folder_says_so(root, capsys):
    """No models at all: one line naming the folder instead of a table with no rows."""
    from proplens.cli import main

    assert main(["models", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == (
        f"proplens: warning: no models in {root} (train one with `proplens train`)"
    )


def test_list_models_of_empty_root(root):
    """An empty or missing root is an empty table with the documented columns."""
    table = list_models()
    assert table.empty
    assert list(table.columns) == [
        "name", "version", "created", "labels", "micro_f1", "current", "metadata", "card",
        "path", "problem",
    ]  # fmt: skip


def test_diff(root):
    """diff reports F1 changes, added and removed devices, and changed thresholds."""
    add_model(
        "m",
        labels=("Doubt", "Repetition", "Slogans"),
        thresholds={"Doubt": 0.5, "Repetition": 0.5, "Slogans": 0.5},
        f1={"Doubt": 0.2, "Repetition": 0.4, "Slogans": 0.1},
        micro_f1=0.3,
    )
    add_model(
        "m",
        labels=("Doubt", "Repetition", "Loaded_Language"),
        thresholds={"Doubt": 0.5, "Repetition": 0.45, "Loaded_Language": 0.5},
        f1={"Doubt": 0.25, "Repetition": 0.4, "Loaded_Language": 0.6},
        micro_f1=0.4,
    )
    table = diff("m@v1", "m@v2").set_index("device")
    assert table.loc["Doubt", "change"] == ""
    assert table.loc["Doubt", "f1_change"] == pytest.approx(0.05)
    assert table.loc["Repetition", "change"] == "threshold changed"
    assert table.loc["Repetition", "threshold_after"] == 0.45
    assert table.loc["Slogans", "change"] == "removed"
    assert table.loc["Loaded_Language", "change"] == "added"
    assert table.loc["Loaded_Language", "f1_after"] == 0.6
    assert list(table.index) == ["Doubt", "Repetition", "Slogans", "Loaded_Language"]
    assert table.attrs["micro_f1"] == (0.3, 0.4)
    assert table.attrs["tc_micro_f1"] == (None, None)  # neither has a span classifier


def test_diff_compares_technique_classification_too(root, capsys):
    """A retrain that changes only the span classifier shows in `models diff`."""
    from proplens.cli import main

    add_model("m", tc_micro_f1=0.589)
    add_model("m", tc_micro_f1=0.601)
    assert diff("m@v1", "m@v2").attrs["tc_micro_f1"] == (0.589, 0.601)
    assert main(["models", "diff", "m@v1", "m@v2"]) == 0
    assert "TC micro F1 (gold spans): 0.589 -> 0.601" in capsys.readouterr().out


def test_resolve(root, tmp_path):
    """resolve accepts nothing (current), a directory, a name folder or a reference."""
    first = add_model("ptc-default")
    second = add_model("ptc-default")
    assert resolve(None) == second
    assert resolve(first) == first
    assert resolve(str(first)) == first
    assert resolve(root / "ptc-default") == second
    assert resolve("ptc-default@v1") == first
    assert resolve("ptc-default") == second


def test_resolve_errors(root, tmp_path):
    """Unknown references and paths give errors that say what exists."""
    with pytest.raises(ModelError, match="no model found"):
        resolve(None)
    add_model("m")
    with pytest.raises(ModelError, match="available: m@v1"):
        resolve("nope")
    with pytest.raises(ModelError, match="no such model directory"):
        resolve(tmp_path / "missing" / "v1")
    with pytest.raises(ModelError, match="not a model directory"):
        resolve(tmp_path)


def test_registry_uses_models_dir_by_default(root):
    """Without an explicit root every function works on PROPLENS_MODELS."""
    add_model("m")
    assert registry._root(None) == root
    assert (root / "m" / "v1" / "metadata.json").is_file()


def test_an_unwritable_models_folder_is_one_model_error(root, monkeypatch, capsys):
    """`models use` / `rollback` on a read-only models folder: one line and exit 4, no OSError
    traceback, and current.json unchanged."""
    import errno

    from proplens.cli import main

    add_model("m")
    add_model("m")
    use("m@v1")
    use("m@v2")
    before = (root / "current.json").read_text(encoding="utf-8")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(registry.tempfile, "mkstemp", read_only)
    with pytest.raises(ModelError, match="cannot write"):
        use("m@v1")
    assert main(["models", "rollback"]) == ModelError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("proplens: error:") and "Read-only file system" in err
    assert "Traceback" not in err
    assert (root / "current.json").read_text(encoding="utf-8") == before


def test_an_empty_version_or_a_non_path_model_is_one_model_error(root, tmp_path, capsys):
    """`--model m@` does not silently load the newest version; `load_model(5)` is no TypeError."""
    from proplens.cli import main
    from proplens.scoring import load_model

    add_model("m")
    for ref in ("m@", "m@ "):
        with pytest.raises(ModelError, match="give a version after '@'"):
            resolve(ref)
    with pytest.raises(ModelError, match="give a model directory or NAME"):
        load_model(5)
    document = tmp_path / "a.txt"
    document.write_text("The council met on Tuesday.\n", encoding="utf-8")
    assert main(["score", "--model", "m@", str(document)]) == ModelError.exit_code
    assert "give a version after '@'" in capsys.readouterr().err


def test_rollback_skips_history_entries_whose_directory_was_deleted(root, caplog):
    """A deleted earlier default is skipped (with a warning) instead of failing every rollback;
    when every earlier default is gone the error says to use `models use`, and nothing changes."""
    import shutil

    for _ in range(3):
        add_model("m")
    use("m@v1")
    use("m@v2")
    use("m@v3")
    shutil.rmtree(root / "m" / "v2")
    assert str(rollback()) == "m@v1"
    assert "skipped m@v2" in caplog.text
    assert pointer(root)["history"] == []
    use("m@v3")
    shutil.rmtree(root / "m" / "v1")
    before = (root / "current.json").read_text(encoding="utf-8")
    with pytest.raises(ModelError, match=r"m@v1 deleted\); `proplens models use"):
        rollback()
    assert (root / "current.json").read_text(encoding="utf-8") == before


def test_rollback_never_rolls_back_to_the_current_model(root):
    """A history whose last entry is the current model (a hand-edited current.json) used to
    'roll back' to it, changing nothing; that entry is passed over for the one before it."""
    import json

    for _ in range(2):
        add_model("m")
    use("m@v1")
    use("m@v2")
    edited = pointer(root)
    edited["history"].append({"name": "m", "version": "v2"})
    (root / "current.json").write_text(json.dumps(edited), encoding="utf-8")
    assert str(rollback()) == "m@v1"
    use("m@v2")
    only_itself = {"name": "m", "version": "v2", "history": [{"name": "m", "version": "v2"}]}
    (root / "current.json").write_text(json.dumps(only_itself), encoding="utf-8")
    with pytest.raises(ModelError, match=r"no earlier model to roll back to; `proplens models"):
        rollback()


def test_cli_rollback_prints_the_skipped_versions_on_stderr(root, capsys, caplog):
    """`proplens models rollback` told about deleted versions it skipped only through `logging`
    (not shown, or shown as a log record, depending on the process's logging set-up). The CLI
    prints each as one `proplens: warning:` line on stderr, after the rollback is done."""
    import shutil

    from proplens.cli import main

    for _ in range(4):
        add_model("m")
    for ref in ("m@v1", "m@v2", "m@v3", "m@v4"):
        use(ref)
    shutil.rmtree(root / "m" / "v2")
    shutil.rmtree(root / "m" / "v3")
    assert main(["models", "rollback"]) == 0
    out, err = capsys.readouterr()
    assert out == "current model: m@v1\n"
    assert err.splitlines() == [
        "proplens: warning: skipped m@v3 in the rollback history: its directory was deleted",
        "proplens: warning: skipped m@v2 in the rollback history: its directory was deleted",
    ]
    assert not [r for r in caplog.records if r.name == "proplens.registry"]  # said once
    assert current(root).version == "v1"
    use("m@v4")
    add_model("m")
    use("m@v5")
    shutil.rmtree(root / "m" / "v4")
    warnings: list[str] = []  # the library API: the caller chooses where warnings go
    assert str(rollback(warn=warnings.append)) == "m@v1"
    assert warnings == ["skipped m@v4 in the rollback history: its directory was deleted"]
    assert not [r for r in caplog.records if r.name == "proplens.registry"]


def test_cli_models_diff_prints_one_row_per_device(root, capsys, monkeypatch):
    """`models diff` prints each device on one line with both F1s, the change, the threshold
    and whether it was added or removed, in an 80-column terminal and with the longest device
    name (a frame printed as text used to be wrapped into scrambled columns)."""
    from proplens.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    long_name = "Whataboutism,Straw_Men,Red_Herring"
    add_model("m", labels=("Doubt", long_name), f1={"Doubt": 0.2, long_name: 0.1}, micro_f1=0.3)
    add_model(
        "m",
        labels=("Doubt", "Loaded_Language"),
        thresholds={"Doubt": 0.45, "Loaded_Language": 0.5},
        f1={"Doubt": 0.25, "Loaded_Language": 0.6},
        micro_f1=0.4,
    )
    assert main(["models", "diff", "m@v1", "m@v2"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "0.200" in lines["Doubt"] and "0.250" in lines["Doubt"] and "+0.050" in lines["Doubt"]
    assert "0.500 -> 0.450" in lines["Doubt"]
    assert "0.100" in lines[long_name] and "removed" in lines[long_name]
    assert "0.600" in lines["Loaded_Language"] and "added" in lines["Loaded_Language"]
    assert "micro F1: 0.300 -> 0.400" in out


# --------------------------------------------------------------------------------------------
# metadata.json edited after saving


def test_list_marks_a_model_whose_metadata_was_edited(root, capsys, monkeypatch):
    """`models list` showed a micro F1 edited into metadata.json as the training run's. The row
    now says the metadata was edited and shows no figure; a model saved before the record is
    "not recorded"; `models use` refuses the edited one."""
    from proplens.cli import main

    add_model("m", micro_f1=0.31)
    edited = add_model("m", micro_f1=0.35)
    old = drop_metadata_record(add_model("m", micro_f1=0.33))
    for directory in (edited, old):
        rewrite_metadata(directory, lambda data: data["metrics"].update(micro_f1=0.99))
    table = list_models()
    assert table["metadata"].tolist() == ["as saved", "edited", "not recorded"]
    assert table["micro_f1"].tolist()[0::2] == [0.31, 0.99] and pd.isna(table.loc[1, "micro_f1"])
    assert table["labels"].tolist() == [2, 2, 2]
    assert table.loc[1, "problem"].startswith("metadata.json edited after training")
    assert table.loc[[0, 2], "problem"].tolist() == ["", ""]
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models", "list"]) == 0
    cells = _cells(capsys.readouterr().out, "m@v2")
    assert cells[4] == "-" and "metadata.json edited after training" in cells[5]
    with pytest.raises(ModelError, match="m@v2 is not made the default: .*edited after"):
        use("m@v2")
    assert not (root / "current.json").exists()


def test_list_of_the_shipped_models_is_as_before():
    """models/ptc-default/v1..v12 predate the record: listed as before, "not recorded"."""
    shipped = Path(__file__).parents[1] / "models"
    table = list_models(shipped)
    assert (table["metadata"] == "not recorded").all() and (table["card"] == "not recorded").all()
    assert (table["problem"] == "").all() and table["micro_f1"].notna().all()


def test_list_marks_a_model_whose_card_was_edited(root, capsys, monkeypatch):
    """A hand-edited model card (README.md) showed figures the training run never had. `models
    list` now says so in the problem column, and still shows the figures of metadata.json, which
    is as saved. Of a model whose metadata.json was edited, nothing is said of the card."""
    from proplens.cli import main

    add_model("m", micro_f1=0.31)
    card_edited = add_model("m", micro_f1=0.35)
    card_missing = add_model("m", micro_f1=0.33)
    both = add_model("m", micro_f1=0.32)
    for directory in (card_edited, both):
        card = directory / "README.md"
        card.write_text(card.read_text(encoding="utf-8").replace("0.35", "0.45"), "utf-8")
    (card_missing / "README.md").unlink()
    rewrite_metadata(both, lambda data: data.update(notes="edited"))
    table = list_models()
    assert table["card"].tolist()[:3] == ["as saved", "edited", "missing"]
    assert pd.isna(table.loc[3, "card"])
    assert table["micro_f1"].tolist()[:3] == [0.31, 0.35, 0.33]
    assert table.loc[1, "problem"] == "README.md (the model card) edited after training: restore it"
    assert table.loc[2, "problem"] == "README.md (the model card) missing: restore it"
    assert table.loc[3, "problem"].startswith("metadata.json edited after training")
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models", "list"]) == 0
    cells = _cells(capsys.readouterr().out, "m@v2")
    assert cells[4] == "0.350" and "model card) edited after training" in cells[5]
    use("m@v2")  # the model is as trained: it may be the default


def test_diff_says_which_model_has_edited_metadata(root, caplog):
    """`models diff` compares what each metadata.json records (the promotion guard reads it);
    one line per edited model says that its figures are not the training run's."""
    add_model("m", f1={"Doubt": 0.2, "Loaded_Language": 0.3})
    after = add_model("m", f1={"Doubt": 0.25, "Loaded_Language": 0.3})
    unedited = diff("m@v1", "m@v2")
    assert unedited.attrs["metadata"] == ("as saved", "as saved")
    rewrite_metadata(after, lambda data: data["metrics"]["per_device"]["Doubt"].update(f1=0.6))
    warnings: list[str] = []
    table = diff("m@v1", "m@v2", warn=warnings.append).set_index("device")
    assert table.attrs["metadata"] == ("as saved", "edited")
    assert table.loc["Doubt", "f1_after"] == 0.6
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert warnings[0].startswith(f"{after / 'metadata.json'}: edited after the model was trained")
    assert "so the figures and thresholds compared here are not the training run's" in warnings[0]
    assert warnings[0].endswith("restore the metadata.json saved with the model, or retrain")
    assert not [r for r in caplog.records if r.name == "proplens.registry"]
    diff("m@v2", "m@v1")  # without warn: logged
    assert [r.getMessage() for r in caplog.records if r.name == "proplens.registry"] == warnings
    drop_metadata_record(after)
    assert diff("m@v1", "m@v2").attrs["metadata"] == ("as saved", "not recorded")
