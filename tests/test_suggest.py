"""The labeling loop: pick uncertain, non-repetitive sentences, export them, label them, import
them and retrain."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tiny_corpus import DEVICE, is_positive, texts_of, write_folder, write_labels, write_taxonomy

from proplens import config
from proplens.artifacts import read_metadata
from proplens.cli import main
from proplens.labeling import read_labels, sentence_bounds
from proplens.registry import current
from proplens.scoring import load_model, sentence_frame
from proplens.suggest import suggest, uncertainty, write_suggestions
from proplens.training import load_training_data, train


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A models root with v1 of a tiny model trained on the test device alone."""
    models = tmp_path / "models"
    monkeypatch.setenv("PROPLENS_MODELS", str(models))
    monkeypatch.setattr(config, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    write_taxonomy(tmp_path, monkeypatch)
    labels = write_labels(tmp_path / "seed.csv", documents=6)
    train(name="tiny", labels=[labels], base=False, models_root=models, evaluate=True, n_splits=3)
    return tmp_path, labels


@given(st.floats(0.01, 0.99), st.floats(0.0, 0.5))
def test_uncertainty_is_zero_at_the_threshold_and_grows_away_from_it(threshold, step):
    """Property: distance in log-odds is 0 at the threshold and increases moving away from it."""
    assert uncertainty(np.array([threshold]), threshold)[0] == pytest.approx(0.0, abs=1e-9)
    near, far = np.clip([threshold + step / 2, threshold + step], 0, 1)
    assert uncertainty(np.array([far]), threshold)[0] >= uncertainty(np.array([near]), threshold)[0]


def test_picks_are_the_most_uncertain_and_never_near_duplicates(setup):
    """The first pick is the sentence closest to the threshold; no two picks are copies."""
    tmp_path, _ = setup
    model = load_model()
    frame = pd.DataFrame(
        {
            "document_id": ["d"] * 4,
            "sentence_index": range(4),
            "start": 0,
            "end": 0,
            "text": [
                "Everyone in Velm already agrees that the tram line is right.",
                "everyone in  velm already agrees that the tram line is right.",
                "Maybe the Quill assembly will read the tram line, some say.",
                "The Velm council met on Tuesday to discuss the tram line.",
            ],
        }
    )
    picks = suggest(DEVICE, frame, n=4, model=model)
    proba = model.sentence_model.predict_proba(frame)[:, 0]
    distance = uncertainty(proba, model.thresholds[DEVICE])
    assert picks["text"].iloc[0] == frame["text"].iloc[int(np.argmin(distance))]
    normalised = [" ".join(t.lower().split()) for t in picks["text"]]
    assert len(normalised) == len(set(normalised)) == 3
    assert (picks["annotated"] == DEVICE).all() and (picks["devices"] == "").all()


def test_whole_loop_suggest_label_import_retrain(setup, capsys):
    """suggest -> CSV and Label Studio files -> a labeler fills them -> train --labels -> v2 with
    more sentences, the filled file among its sources, and the default model updated."""
    tmp_path, seed = setup
    folder = write_folder(tmp_path / "unlabeled")
    out = tmp_path / "picks.csv"
    code = main(["suggest", "--device", DEVICE, "--from", str(folder), "-n", "8", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    tasks = json.loads(out.with_suffix(".label_studio.json").read_text(encoding="utf-8"))
    assert len(tasks) == 8 and tasks[0]["data"]["device"] == DEVICE
    assert out.with_suffix(".label_studio.label_config.xml").is_file()

    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    already = texts_of(seed)
    for row in rows:  # the labeler: the oracle decides, skipping one row to leave it unlabeled
        row["devices"] = DEVICE if is_positive(row["text"]) else "none"
    rows[-1]["devices"] = ""
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(row for row in rows if row["text"] not in already)
    labeled = read_labels([out])
    assert labeled.skipped == 1 and labeled.devices == [DEVICE]

    result = train(name="tiny", labels=[seed, out], base=False, evaluate=True, n_splits=3)
    metadata = read_metadata(result.directory)
    assert result.directory.name == "v2" and current().version == "v2"
    assert any("picks.csv" in s["name"] for s in metadata.training_data["sources"])
    counts = metadata.training_data["label_counts"][DEVICE]
    assert counts["positive"] + counts["negative"] == 36 + len(labeled)

    # the next round must not write its picks over this round's labels
    labeled_text = out.read_text(encoding="utf-8")
    for extra in (["--exclude", str(out)], []):
        code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "4", "-o", str(out),
                     *extra])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 3 and ("also an --exclude file" in err or "labeled row(s)" in err)
        assert out.read_text(encoding="utf-8") == labeled_text


def test_label_studio_tasks_come_back_as_labels(setup):
    """The exported task file, once annotated in Label Studio, imports with the device declared."""
    tmp_path, _ = setup
    picks = suggest(DEVICE, [write_folder(tmp_path / "docs")], n=4)
    paths = write_suggestions(picks, tmp_path / "p.csv", tmp_path / "p.json")
    tasks = json.loads(paths[1].read_text(encoding="utf-8"))
    for task in tasks:
        choice = DEVICE if is_positive(task["data"]["text"]) else "none"
        task["annotations"] = [{"result": [{"type": "choices", "value": {"choices": [choice]}}]}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    labels = read_labels([export])
    assert len(labels) == 4 and labels.devices == [DEVICE]
    expected = [[DEVICE] if is_positive(t["data"]["text"]) else [] for t in tasks]
    assert labels.frame["devices"].tolist() == expected
    # each task says where its sentence is in its article, and the label goes back there
    where = ["document_id", "sentence_index", "start", "end"]
    assert labels.frame[where].to_dict("records") == picks[where].to_dict("records")


def test_a_device_the_model_does_not_know_uses_its_gate(setup, monkeypatch):
    """Cold start: for a device only declared in the taxonomy, picks are the gated sentences."""
    from proplens.labeling import add_device

    tmp_path, _ = setup
    add_device("Ferry_Talk", "Talks about ferries.", "The ferry is late.", requires=r"\bferry\b")
    frame = pd.DataFrame(
        {
            "document_id": ["d"] * 3,
            "sentence_index": range(3),
            "start": 0,
            "end": 0,
            "text": ["The ferry plan is late again.", "The tram line is late.", "A ferry sank."],
        }
    )
    picks = suggest("Ferry_Talk", frame, n=5)
    assert sorted(picks["text"]) == ["A ferry sank.", "The ferry plan is late again."]
    assert picks["probability"].isna().all()


def test_unknown_device_is_a_user_error(setup, capsys, monkeypatch):
    """Asking for a device the taxonomy lacks says how to declare it, and writes nothing."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    code = main(["suggest", "--device", "Nope", "--from", str(folder)])
    assert code != 0 and "proplens labels add" in capsys.readouterr().err
    assert not (tmp_path / "suggestions.csv").exists()


def test_output_that_cannot_be_written_is_one_line(setup, capsys):
    """`-o` naming a folder, or a file under a file, is a one-line error, not a traceback."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    for out in (tmp_path / "docs", blocker / "picks.csv"):
        code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "2", "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("proplens: error:") and str(out) in err


def test_an_invalid_exclude_file_is_named_as_such(tmp_path, monkeypatch, capsys):
    """`--exclude bad.csv` says the exclude file is invalid (not "nothing was trained"), before
    any model is loaded or any file written."""
    monkeypatch.setenv("PROPLENS_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setattr(config, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")
    write_taxonomy(tmp_path, monkeypatch)
    folder = write_folder(tmp_path / "docs")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,devices\nOne sentence here.,Nope\n", encoding="utf-8")
    out = tmp_path / "picks.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "--exclude", str(bad), "-o",
                 str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3 and "in the --exclude file(s), nothing was suggested" in err
    assert "bad.csv:2: unknown device 'Nope'" in err and "trained" not in err
    assert not out.exists()


def test_an_output_not_named_csv_is_refused_before_anything_runs(setup, capsys):
    """`-o picks.json` would write CSV that `train --labels picks.json` reads as JSON."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs")
    out = tmp_path / "picks.json"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "2", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3 and "must be a .csv file" in err and not out.exists()


def _fill(path, *, order=None):
    """The labeler: the oracle fills every row; ``order`` sorts the rows first (a labeler may)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["devices"] = DEVICE if is_positive(row["text"]) else "none"
    if order is not None:
        rows.sort(key=order)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_picks_keep_their_place_in_their_article(setup, capsys):
    """Neighbouring-sentence features read the rows around a sentence, so the picks of one
    article come back in the article's order at their own offsets, whatever order the file has
    them in (they were renumbered in file order, each the other's neighbour)."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "unlabeled")
    out = tmp_path / "picks.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "24", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    # last sentence of each article first: file order is the reverse of article order
    rows = _fill(out, order=lambda row: -int(row["sentence_index"]))
    assert len({row["document_id"] for row in rows}) > 1 and len(rows) > 8

    labels = read_labels([out])
    table = load_training_data(labels=labels, base=False).sentences
    assert len(table) == len(rows)
    for document_id, rows_of_document in table.groupby("document_id", sort=False):
        text = (folder / document_id).read_text(encoding="utf-8")
        article = sentence_frame(text)
        picked = article[article["text"].isin(set(rows_of_document["text"]))]
        assert rows_of_document["text"].tolist() == picked["text"].tolist()
        assert rows_of_document["sentence_index"].tolist() == picked["sentence_index"].tolist()
        assert rows_of_document["start"].tolist() == picked["start"].tolist()
        assert rows_of_document["end"].tolist() == picked["end"].tolist()


def test_files_given_one_by_one_stay_apart(setup):
    """`--from a.txt --from b.txt` named every sentence's document ".", one document on import."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs", documents=2)
    picks = suggest(DEVICE, [folder / "story-0.txt", folder / "story-1.txt"], n=12)
    assert set(picks["document_id"]) == {"story-0.txt", "story-1.txt"}


def _binary(path):
    path.write_bytes(bytes(range(256)) * 8)  # control bytes throughout: "a binary file"
    return path


def test_an_unreadable_file_is_skipped_with_a_warning(setup, capsys):
    """`suggest --from FOLDER` aborted on a binary .txt in the folder (exit 2, nothing written);
    like `score` it now names the file on stderr, says how many it skipped, and picks from the
    other documents."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs", documents=2)
    _binary(folder / "bad.txt")
    out = tmp_path / "picks.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "4", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert warnings == [
        f"proplens: warning: {folder / 'bad.txt'}: looks like a binary file, not text; skipped",
        "proplens: warning: 1 unreadable document(s) skipped; the picks come from the others",
    ]
    with open(out, encoding="utf-8", newline="") as handle:
        documents = {row["document_id"] for row in csv.DictReader(handle)}
    assert documents and documents <= {"story-0.txt", "story-1.txt"}
    assert "4 sentences for Crowd_Appeal" in captured.out


def test_many_unreadable_files_are_named_up_to_a_few_then_counted(setup, capsys):
    """Seven unreadable files: five named, one line for the other two, one with the total."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs", documents=1)
    for number in range(7):
        _binary(folder / f"bad-{number}.txt")
    out = tmp_path / "picks.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-n", "2", "-o", str(out)])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert code == 0 and len(warnings) == 7 and out.is_file()
    assert all(
        line.endswith("looks like a binary file, not text; skipped") for line in warnings[:5]
    )
    assert warnings[5:] == [
        "proplens: warning: 2 more unreadable document(s) skipped",
        "proplens: warning: 7 unreadable document(s) skipped; the picks come from the others",
    ]


def test_no_readable_document_is_one_error_line_and_nothing_written(setup, capsys):
    """Only when nothing at all can be read does `suggest` fail: one line, exit 2, no files."""
    tmp_path, _ = setup
    folder = tmp_path / "binary"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        _binary(folder / name)
    out = tmp_path / "picks.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("proplens: error: no document could be read: 2 inputs failed (first: ")
    assert not list(tmp_path.glob("picks*"))
    code = main(["suggest", "-d", DEVICE, "--from", str(folder / "a.txt"), "-o", str(out)])
    binary = f"{folder / 'a.txt'}: looks like a binary file, not text"
    assert code == 2 and capsys.readouterr().err == f"proplens: error: {binary}\n"


def test_the_api_warns_of_unreadable_files_or_hands_them_over(setup):
    """`suggest()` skips what it cannot read too: a UserWarning each, or the list of errors
    to ``on_unreadable``."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs", documents=1)
    _binary(folder / "bad.txt")
    with pytest.warns(UserWarning, match="bad.txt: looks like a binary file, not text; skipped"):
        picks = suggest(DEVICE, [folder], n=2)
    assert set(picks["document_id"]) == {"story-0.txt"}
    handed: list = []
    suggest(DEVICE, [folder], n=2, on_unreadable=handed.extend)
    assert [str(error) for error in handed] == [
        f"{folder / 'bad.txt'}: looks like a binary file, not text"
    ]


def test_picks_from_corpus_articles_land_on_the_corpus_sentences(setup, monkeypatch):
    """A pick from a PTC article (`article<ID>.txt`, one sentence per line) is that article's
    sentence: trained with the base corpus its label sets the corpus row, between its real
    neighbours, instead of adding a second copy of it as a document of its own."""
    import random

    from tiny_corpus import sentence

    tmp_path, _ = setup
    data = tmp_path / "data"
    articles = data / "ptc-semeval2020" / "train-articles"
    articles.mkdir(parents=True)
    rng = random.Random(5)
    kinds = ["pos", "neg", "neg", "pos", "neg", "neg", "pos", "neg"]
    lines = {article: [sentence(kind, rng) for kind in kinds] for article in ("7", "8")}
    lines["7"][2] += " " + sentence("neg", rng)  # one line, two sentences: the line is the unit
    texts = {article: "\n".join(lines_of) + "\n" for article, lines_of in lines.items()}
    texts["7"] = "\ufeff" + texts["7"]  # a BOM is character 0 of the corpus's offsets
    for article, text in texts.items():
        (articles / f"article{article}.txt").write_text(text, encoding="utf-8")
    flc = data / "ptc-semeval2020" / "train-task-flc-tc.labels"
    flc.write_text("7\tLoaded_Language\t1\t9\n", encoding="utf-8")
    monkeypatch.setenv("PROPLENS_DATA", str(data))

    picks = suggest(DEVICE, [articles], n=16)
    assert lines["7"][2] in set(picks["text"])
    for pick in picks.itertuples():
        text = texts[pick.document_id.removeprefix("article").removesuffix(".txt")]
        assert (pick.start, pick.end) in sentence_bounds(text, lines=True)
    out = tmp_path / "picks.csv"
    write_suggestions(picks, out)
    rows = _fill(out, order=lambda row: -int(row["sentence_index"]))

    labels = read_labels([out])  # found in the default corpus folder: no --corpus needed
    assert labels.frame["in_corpus"].all()
    assert set(labels.frame["document_id"]) == {"7", "8"}
    table = load_training_data(data, label_files=[], labels=labels).sentences
    assert len(table) == sum(len(lines_of) for lines_of in lines.values())  # no row added
    judged = {row["text"]: row["devices"] == DEVICE for row in rows}
    for row in table.itertuples():
        text = texts[row.document_id]
        assert text[row.start : row.end] == row.text
        if row.text in judged:
            assert DEVICE not in row.unannotated
            assert (DEVICE in row.devices) == judged[row.text]
        else:
            assert DEVICE in row.unannotated
    assert table["text"].tolist() == [line for article in ("7", "8") for line in lines[article]]


def test_standoff_exclude_files_resolve_in_the_corpus_folder(setup, capsys):
    """Stand-off labels name documents, not text: `--corpus` says where they are (as for `train`
    and `labels validate`), and without it a document not found is one line naming the option."""
    tmp_path, _ = setup
    folder = write_folder(tmp_path / "docs", documents=2)
    text = (folder / "story-0.txt").read_text(encoding="utf-8")
    first = sentence_frame(text).iloc[0]
    spans = tmp_path / "spans.tsv"  # a span labels every sentence of its document
    spans.write_text(
        f"document_id\tstart\tend\tdevice\nstory-0.txt\t{first.start}\t{first.end}\t{DEVICE}\n",
        encoding="utf-8",
    )
    out = tmp_path / "picks.csv"
    base = ["suggest", "-d", DEVICE, "--from", str(folder), "-n", "12", "-o", str(out)]

    code = main([*base, "--exclude", str(spans)])
    err = capsys.readouterr().err
    assert code == 3 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "pass --corpus FOLDER" in err and "document 'story-0.txt' not found" in err

    code = main([*base, "--exclude", str(spans), "--corpus", str(folder)])
    assert code == 0, capsys.readouterr().err
    with open(out, encoding="utf-8", newline="") as handle:
        documents = {row["document_id"] for row in csv.DictReader(handle)}
    assert documents == {"story-1.txt"}  # story-0's sentences are all labeled already

    other = tmp_path / "other.csv"
    code = main(["suggest", "-d", DEVICE, "--from", str(folder), "--corpus", str(folder), "-o",
                 str(other)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "needs --exclude FILE" in err and not other.exists()
