"""New labels: every format reads into one shape, and every kind of problem is reported with
file and line before anything is trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens import config
from proplens.cli import main
from proplens.errors import DataError, InputError, ValidationError
from proplens.labeling import add_device, detect_format, read_labels, validate_labels
from proplens.taxonomy import load_taxonomy

DEVICE = "Loaded_Language"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    """A corpus folder with two short documents written for these tests."""
    docs = tmp_path / "docs"
    docs.mkdir()
    write(docs / "a.txt", "The Velm council met on Monday. Its reckless plan will ruin Orlo.\n")
    write(docs / "b.txt", "Ferries to Pellin run twice a day. The harbour opens at six.\n")
    return docs


def _problems(paths, corpus_dir=None) -> list[str]:
    """What ``validate_labels`` reports for ``paths``, one message per problem."""
    return [str(p) for p in validate_labels(paths, corpus_dir=corpus_dir).problems]


def test_csv_sentences_read_with_defaults(tmp_path):
    """A CSV of text + devices: 'none' is a negative, an empty cell is skipped, the file's devices
    are what each row is labeled for."""
    path = write(
        tmp_path / "new.csv",
        "text,devices\n"
        "The reckless scheme will gut Orlo.,Loaded_Language\n"
        "The council met on Tuesday.,none\n"
        "Nobody has looked at this one yet.,\n",
    )
    labels = read_labels([path])
    assert len(labels) == 2 and labels.skipped == 1
    assert labels.devices == [DEVICE]
    assert labels.counts() == {DEVICE: {"positive": 1, "negative": 1}}
    assert labels.frame["annotated"].tolist() == [[DEVICE], [DEVICE]]
    assert labels.sources[0]["label_counts"][DEVICE] == {"positive": 1, "negative": 1}
    assert len(labels.sources[0]["fingerprint"]) == 64


def test_jsonl_sentences_keep_document_order(tmp_path):
    """JSONL rows sharing a document id become that document's sentences, in file order."""
    rows = [
        {"text": "Harbour fees rose again.", "devices": [], "document_id": "d1"},
        {"text": "What a shameful, greedy decision!", "devices": [DEVICE], "document_id": "d1"},
        {"text": "Ships wait outside Pellin.", "devices": [], "annotated": ["Doubt"]},
    ]
    path = write(tmp_path / "new.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    frame = read_labels([path]).frame
    assert frame["document_id"].tolist()[:2] == ["d1", "d1"]
    assert frame["sentence_index"].tolist()[:2] == [0, 1]
    assert frame["annotated"].tolist()[2] == ["Doubt"]


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    """Unknown device, empty text, duplicate and conflict are all listed, each with its line."""
    first = write(
        tmp_path / "one.csv",
        "text,devices\n"
        "A plain sentence about ferries.,none\n"
        "Another line.,Not_A_Device;Loaded_Language\n"
        '"   ",Loaded_Language\n'
        "A plain sentence about ferries.,none\n",
    )
    second = write(
        tmp_path / "two.csv", "text,devices\nA  plain sentence about FERRIES.,Loaded_Language\n"
    )
    report = validate_labels([first, second])
    messages = [str(p) for p in report.problems]
    assert not report.ok and report.labels is None
    assert any(f"{first}:3: unknown device 'Not_A_Device'" in m for m in messages)
    assert any(f"{first}:4: empty text" in m for m in messages)
    assert any(f"{first}:5:" in m and "duplicate of one.csv:2" in m for m in messages)
    assert any(f"{second}:2:" in m and "conflicting labels with one.csv:2" in m for m in messages)
    with pytest.raises(ValidationError, match="nothing was trained"):
        read_labels([first, second])


def test_standoff_spans_label_every_sentence_of_the_document(tmp_path, folder):
    """A span marks the sentences it overlaps; the document's other sentences are negatives."""
    text = (folder / "a.txt").read_text(encoding="utf-8")
    start = text.index("reckless")
    path = write(
        tmp_path / "spans.tsv",
        f"document_id\tstart\tend\tdevice\na.txt\t{start}\t{start + 8}\t{DEVICE}\n",
    )
    frame = read_labels([path], corpus_dir=folder).frame
    assert frame["text"].tolist() == [
        "The Velm council met on Monday.",
        "Its reckless plan will ruin Orlo.",
    ]
    assert frame["devices"].tolist() == [[], [DEVICE]]
    for row in frame.itertuples():
        assert text[row.start : row.end] == row.text


def test_standoff_offsets_outside_the_text_and_missing_documents(tmp_path, folder):
    """Offsets past the end, reversed or empty offsets (inside the document, so "outside" would
    point at the wrong number) and unknown documents are reported by line."""
    path = write(
        tmp_path / "spans.csv",
        f"document_id,start,end,device\na.txt,5,999,{DEVICE}\nb.txt,9,3,{DEVICE}\nzz.txt,0,4,{DEVICE}\n"
        f"b.txt,7,7,{DEVICE}\n",
    )
    messages = _problems([path], corpus_dir=folder)
    assert messages == [
        f"{path}:2: offsets 5-999 are outside document a.txt (66 characters)",
        f"{path}:3: end 3 is before start 9",
        f"{path}:4: document 'zz.txt' not found in {folder}",
        f"{path}:5: empty span 7-7 (end must be after start)",
    ]
    # looked for in the default folder (no corpus given), a document not found says which option
    # names another folder
    defaults = _problems([path])
    assert len(defaults) == 4 and all("not found in" in m for m in defaults)
    assert all(m.endswith("; name their folder with --corpus") for m in defaults)
    sentence = write(
        tmp_path / "sentence.tsv",
        f"document_id\tstart\tend\tdevice\tlabel\na.txt\t0\t0\t{DEVICE}\t1\n",
    )
    problems = _problems([sentence], corpus_dir=folder)
    assert problems == [f"{sentence}:2: empty span 0-0 (end must be after start)"]


def test_sentence_standoff_must_cover_a_whole_sentence(tmp_path, folder):
    """With a label column a row labels one sentence, so its offsets must be exactly a sentence."""
    path = write(
        tmp_path / "sent.tsv",
        f"document_id\tstart\tend\tdevice\tlabel\na.txt\t0\t31\t{DEVICE}\t0\n"
        f"a.txt\t0\t10\t{DEVICE}\t1\na.txt\t32\t65\t{DEVICE}\t2\n",
    )
    report = validate_labels([path], corpus_dir=folder)
    messages = [str(p) for p in report.problems]
    assert any(":3: offsets 0-10 are not a whole sentence" in m for m in messages)
    assert any(":4: label must be 0 or 1" in m for m in messages)
    assert len(messages) == 2


def test_label_studio_choices_spans_and_unfinished_tasks(tmp_path):
    """Choices label the task's text; spans label the sentences they overlap; a task without an
    annotation is skipped; a span outside the text is a problem."""
    text = "Tolls went up again. This greedy, shameful grab must stop."
    greedy = text.index("greedy")
    tasks = [
        {"id": 1, "data": {"text": "Boats wait at Pellin.", "device": DEVICE},
         "annotations": [{"result": [{"type": "choices", "value": {"choices": ["none"]}}]}]},
        {"id": 2, "data": {"text": text},
         "annotations": [{"result": [{"type": "labels", "value": {
             "start": greedy, "end": greedy + 6, "labels": [DEVICE]}}]}]},
        {"id": 3, "data": {"text": "Not labeled yet."}, "annotations": []},
    ]  # fmt: skip
    path = write(tmp_path / "export.json", json.dumps(tasks))
    assert detect_format(path) == "label-studio"
    labels = read_labels([path])
    assert labels.skipped == 1
    assert labels.frame["devices"].tolist() == [[], [], [DEVICE]]
    assert labels.frame["text"].tolist()[1:] == ["Tolls went up again.", text[21:]]
    tasks[1]["annotations"][0]["result"][0]["value"]["end"] = 500
    bad = write(tmp_path / "bad.json", json.dumps(tasks))
    assert any(":2: span" in problem for problem in _problems([bad]))
    for end, message in ((greedy, f"empty span {greedy}-{greedy}"), (3, "end 3 is before start")):
        tasks[1]["annotations"][0]["result"][0]["value"]["end"] = end
        bad = write(tmp_path / "bad.json", json.dumps(tasks))
        problems = _problems([bad])
        assert len(problems) == 1 and f"{bad}:2: {message}" in problems[0], problems


def test_add_device_writes_the_taxonomy_atomically(tmp_path, monkeypatch):
    """`labels add` appends a device that the taxonomy then knows; a second add is refused."""
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PROPLENS_TAXONOMY", str(taxonomy))
    add_device("Crowd_Appeal", "Claims everyone already agrees.", "All of Velm agrees.")
    assert "Crowd_Appeal" in load_taxonomy()
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(DataError, match="already exists"):
        add_device("Crowd_Appeal", "again", "again")
    with pytest.raises(ValidationError, match="regex"):
        add_device("Other_Device", "d", "e", requires="(unclosed")
    with pytest.raises(ValidationError, match="device name None"):
        add_device(None, "d", "e")
    with pytest.raises(ValidationError, match="aliases must be a list"):
        add_device("Other_Device", "d", "e", aliases="abc")
    with pytest.raises(ValidationError, match="must be text"):
        add_device("Other_Device", None, "e")
    assert "Other_Device" not in load_taxonomy()


def test_cli_validate_lists_problems_and_exits_non_zero(tmp_path, capsys):
    """`proplens labels validate` prints each problem and fails; a clean file prints counts."""
    bad = write(tmp_path / "bad.csv", "text,devices\nOne.,Nope\n,Doubt\n")
    assert main(["labels", "validate", str(bad)]) == ValidationError.exit_code
    captured = capsys.readouterr()
    assert "bad.csv:2: unknown device 'Nope'" in captured.err
    assert "bad.csv:3: empty text" in captured.err
    good = write(tmp_path / "good.csv", "text,devices\nWhat a disgraceful plan!,Loaded_Language\n")
    assert main(["labels", "validate", str(good)]) == 0
    assert "Loaded_Language: 1 positive, 0 negative" in capsys.readouterr().out


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.booleans()),
        min_size=1,
        max_size=12,
        unique_by=lambda t: t[0],
    )
)
def test_counts_match_the_rows(rows):
    """Property: positives counted equal the rows that list the device, negatives the rest."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        lines = [f"Sentence number {n} about Orlo.,{DEVICE if yes else 'none'}" for n, yes in rows]
        path = write(Path(folder) / "p.csv", "text,devices\n" + "\n".join(lines) + "\n")
        report = validate_labels([path])
    positives = sum(yes for _, yes in rows)
    if positives == 0:  # a file naming no device labels nothing, and validation says so
        assert [p.message.split(":")[0] for p in report.problems] == ["no labeled sentence"]
    else:
        counts = report.raise_for_problems().counts()
        assert counts[DEVICE] == {"positive": positives, "negative": len(rows) - positives}


def test_corpus_articles_are_named_by_id_whether_given_by_id_or_path(tmp_path):
    """`article7.txt` and `7` name one article, split one sentence per line like the corpus, so
    its labels land on the corpus sentences instead of duplicating them."""
    docs = tmp_path / "articles"
    docs.mkdir()
    write(docs / "article7.txt", "\ufeffFerry fees rise\n\nThe reckless plan, they said. Again.\n")
    path = write(
        tmp_path / "spans.csv",
        f"path,start,end,device\narticle7.txt,19,27,{DEVICE}\n",
    )
    frame = read_labels([path], corpus_dir=docs).frame
    assert frame["document_id"].tolist() == ["7", "7"]
    assert frame["in_corpus"].all()
    assert frame["text"].tolist() == ["Ferry fees rise", "The reckless plan, they said. Again."]
    assert frame["devices"].tolist() == [[], [DEVICE]]


def test_cli_labels_add(tmp_path, capsys):
    """`proplens labels add` writes the device into the given taxonomy file."""
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    example = "Insiders in Velm say the plan is doomed."
    args = ["labels", "add", "Vague_Sourcing", "--definition", "Unnamed sources."]
    args += ["--example", example, "--taxonomy", str(taxonomy)]
    assert main(args) == 0
    assert "added Vague_Sourcing" in capsys.readouterr().out
    assert load_taxonomy(taxonomy)["Vague_Sourcing"].example.startswith("Insiders in Velm")
    assert main(args) == DataError.exit_code


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path):
    """Excel's "CSV UTF-8" starts the file with a BOM: the first header is still a column name
    (document_id kept, text found), and BOM-prefixed JSONL and Label Studio files read too."""
    bom = "\ufeff"
    first = write(
        tmp_path / "excel.csv",
        f"{bom}document_id,text,devices\nd1,What a disgraceful plan!,{DEVICE}\n",
    )
    assert read_labels([first]).frame["document_id"].tolist() == ["d1"]
    text_first = write(tmp_path / "excel2.csv", f"{bom}text,devices\nShameful greed.,{DEVICE}\n")
    assert len(read_labels([text_first])) == 1
    jsonl = write(tmp_path / "b.jsonl", bom + json.dumps({"text": "Greedy!", "devices": [DEVICE]}))
    assert len(read_labels([jsonl])) == 1
    task = {"data": {"text": "Greedy!"}, "annotations": [{"result": [
        {"value": {"choices": [DEVICE]}}]}]}  # fmt: skip
    export = write(tmp_path / "b.json", bom + json.dumps([task]))
    assert len(read_labels([export])) == 1


def test_a_sentence_file_without_a_devices_column_is_a_problem(tmp_path):
    """A misnamed column ('label' for 'devices') must not read as "every row not labeled yet"."""
    path = write(tmp_path / "misnamed.csv", f"text,label\nWhat a disgraceful plan!,{DEVICE}\n")
    problems = _problems([path])
    assert problems == [f"{path}:1: missing column 'devices' (device names, 'none', or empty)"]


def test_malformed_label_studio_results_are_problems_not_crashes(tmp_path):
    """A result whose value is null or a string, and choices/labels given as a string or a
    number, are reported with the task number (a string names one device)."""

    def task(value):
        text = f"Tolls went up again, by {len(tasks)} crowns."
        return {"data": {"text": text}, "annotations": [{"result": [value]}]}

    tasks: list = []

    for value in (
        None,
        "choices",
        {"choices": 3},
        {"start": 0, "end": 5, "labels": 7},
        {"choices": DEVICE},
    ):
        tasks.append(task({"value": value}))
    path = write(tmp_path / "odd.json", json.dumps(tasks))
    problems = _problems([path])
    assert [p.split(":")[1] for p in problems] == ["1", "2", "3", "4"]
    ok = write(tmp_path / "ok.json", json.dumps(tasks[4:]))
    assert read_labels([ok]).frame["devices"].tolist() == [[DEVICE]]


def test_conflicts_are_found_across_document_names_and_formats(tmp_path, folder):
    """One sentence labeled 1 as "a.txt" and 0 as "a" (the same file), or by offsets in one
    file and by its text in another, is a conflict."""
    text = (folder / "a.txt").read_text(encoding="utf-8")
    start = text.index("Its reckless")
    end = start + len("Its reckless plan will ruin Orlo.")
    header = "document_id\tstart\tend\tdevice\tlabel\n"
    names = write(
        tmp_path / "names.tsv",
        f"{header}a.txt\t{start}\t{end}\t{DEVICE}\t1\na\t{start}\t{end}\t{DEVICE}\t0\n",
    )
    problems = _problems([names], corpus_dir=folder)
    assert len(problems) == 1 and "names.tsv:3:" in problems[0]
    assert "conflicting labels with names.tsv:2" in problems[0]
    offsets = write(tmp_path / "offsets.tsv", f"{header}a.txt\t{start}\t{end}\t{DEVICE}\t1\n")
    as_text = write(
        tmp_path / "text.csv",
        f"text,devices,annotated\nits  reckless plan will ruin Orlo.,none,{DEVICE}\n",
    )
    for files in ([offsets, as_text], [as_text, offsets]):
        problems = _problems(files, corpus_dir=folder)
        assert len(problems) == 1 and "conflicting labels with" in problems[0]
    agreeing = write(
        tmp_path / "same.csv", f"text,devices\nIts reckless plan will ruin Orlo.,{DEVICE}\n"
    )
    problems = _problems([offsets, agreeing], corpus_dir=folder)
    assert len(problems) == 1 and "duplicate of offsets.tsv:2" in problems[0]


def test_conflicts_are_found_across_files_with_the_same_name(tmp_path):
    """Two exports both called labels.csv (one per week) are two files: a sentence labeled
    differently on the same line of each is a conflict; the same file given twice is refused."""
    week1, week2 = tmp_path / "week1", tmp_path / "week2"
    week1.mkdir()
    week2.mkdir()
    one = write(week1 / "labels.csv", f"text,devices\nWhat a disgraceful plan!,{DEVICE}\n")
    two = write(
        week2 / "labels.csv",
        f"text,devices\nWhat a disgraceful plan!,none\nShameful greed at the port.,{DEVICE}\n",
    )
    problems = _problems([one, two])
    assert len(problems) == 1 and "conflicting labels with labels.csv:2" in problems[0]
    twice = _problems([one, one])
    assert len(twice) == 1 and "given more than once" in twice[0]


def test_add_device_refuses_a_colour_reports_cannot_draw(tmp_path, monkeypatch):
    """`--colour 'not a colour'` is refused at once instead of silently turning grey in reports."""
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    before = taxonomy.read_text(encoding="utf-8")
    with pytest.raises(ValidationError, match="hex colour"):
        add_device("Crowd_Appeal", "d", "e", colour="not a colour", path=taxonomy)
    assert taxonomy.read_text(encoding="utf-8") == before
    assert add_device("Crowd_Appeal", "d", "e", colour="#aa6e28", path=taxonomy).colour == "#aa6e28"


def test_labels_commands_match_the_module_docstring(capsys):
    """`proplens labels --help` lists exactly the commands cli_labels' docstring promises."""
    import re

    from proplens import cli_labels

    promised = re.search(r"``proplens labels ([a-z|]+)``", cli_labels.__doc__).group(1).split("|")
    assert sorted(c.name for c in cli_labels.labels_app.registered_commands) == sorted(promised)
    assert main(["labels", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"│ {command} " in out for command in promised)


def test_add_device_refuses_a_name_differing_only_in_case(tmp_path):
    """`labels add crowd_appeal` next to Crowd_Appeal is one line naming it; nothing is written."""
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    add_device("Crowd_Appeal", "d", "e", path=taxonomy)
    before = taxonomy.read_text(encoding="utf-8")
    with pytest.raises(ValidationError, match="differs only in case from Crowd_Appeal"):
        add_device("crowd_appeal", "d", "e", path=taxonomy)
    with pytest.raises(ValidationError, match="from Loaded_Language"):
        add_device("LOADED_LANGUAGE", "d", "e", path=taxonomy)
    assert taxonomy.read_text(encoding="utf-8") == before


def test_a_file_without_a_labeled_sentence_is_a_problem(tmp_path, capsys):
    """Only 'none' rows (no device named), only unlabeled rows, or a header alone teach nothing:
    validation says so, so `train` cannot run a whole retrain on the base corpus alone."""
    files = {
        "none.csv": "text,devices\nThe council met.,none\nFerries run twice a day.,none\n",
        "unlabeled.csv": "text,devices\nThe council met.,\n",
        "header.csv": "text,devices\n",
        "empty.json": "[]",
    }
    for name, text in files.items():
        path = write(tmp_path / name, text)
        problems = _problems([path])
        assert len(problems) == 1 and f"{name}: no labeled sentence" in problems[0], problems
    assert main(["labels", "validate", str(tmp_path / "none.csv")]) == ValidationError.exit_code
    assert "add an 'annotated' column" in capsys.readouterr().err
    annotated = write(
        tmp_path / "annotated.csv", f"text,devices,annotated\nThe council met.,none,{DEVICE}\n"
    )
    assert read_labels([annotated]).counts() == {DEVICE: {"positive": 0, "negative": 1}}


def test_a_missing_corpus_folder_is_one_line_naming_it(tmp_path, capsys):
    """`--corpus nodir` is refused naming the folder, not silently replaced by the file's folder."""
    path = write(tmp_path / "spans.csv", f"document_id,start,end,device\na,0,5,{DEVICE}\n")
    with pytest.raises(DataError, match="nodir: corpus folder not found"):
        validate_labels([path], corpus_dir=tmp_path / "nodir")
    code = main(["labels", "validate", str(path), "--corpus", str(tmp_path / "nodir")])
    err = capsys.readouterr().err
    assert code == DataError.exit_code and len(err.strip().splitlines()) == 1
    assert str(tmp_path / "nodir") in err


def test_label_studio_annotations_or_result_not_a_list_are_problems(tmp_path):
    """`"annotations": "oops"` and a result given as an object are reported with the task
    number instead of being skipped or read as one region."""
    text = "Tolls went up again."
    tasks = [
        {"data": {"text": text}, "annotations": "oops"},
        {"data": {"text": text + " Twice."}, "completions": {"result": []}},
        {"data": {"text": text + " Again."},
         "annotations": [{"result": {"value": {"choices": [DEVICE]}}}]},
        {"data": {"text": text + " Once more."},
         "annotations": [{"result": [{"value": {"choices": [DEVICE]}}]}]},
    ]  # fmt: skip
    path = write(tmp_path / "odd.json", json.dumps(tasks))
    problems = _problems([path])
    assert [p.split(":")[1] for p in problems] == ["1", "2", "3"]
    assert "'annotations' should be a list" in problems[0]
    assert "result should be a list" in problems[2]


def _add_devices_slowly(taxonomy: str, names: list[str], start) -> list[int]:
    """Process-pool worker: `proplens labels add` each name into ``taxonomy``, with a pause
    between reading the file and writing it back (widens the window a lost update needs)."""
    import time

    from proplens import taxonomy as taxonomy_module
    from proplens.cli import main as cli_main

    write = taxonomy_module.write_text_atomic

    def slow_write(path, text, **options):
        time.sleep(0.05)
        return write(path, text, **options)

    taxonomy_module.write_text_atomic = slow_write
    start.wait(timeout=120)  # every worker begins together
    codes = []
    for name in names:
        args = ["labels", "add", name, "--definition", "A device added in a race."]
        codes.append(
            cli_main([*args, "--example", "Everyone in Velm agrees.", "--taxonomy", taxonomy])
        )
    return codes


def test_concurrent_labels_add_loses_no_device(tmp_path):
    """Four processes running `labels add` into one taxonomy at the same time: every device
    arrives (the read-modify-write is locked; without the lock the last writer wins), the file
    stays valid TOML, and no temporary file is left beside it (only the hidden lock file, which
    .gitignore ignores)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    before = load_taxonomy(taxonomy).names
    workers = 4
    names = [[f"Race_Device_{w}_{i}" for i in range(5)] for w in range(workers)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        start = manager.Barrier(workers)
        jobs = pool.map(_add_devices_slowly, [str(taxonomy)] * workers, names, [start] * workers)
        codes = list(jobs)
    assert codes == [[0] * 5] * workers
    after = load_taxonomy(taxonomy).names
    assert after[: len(before)] == before
    assert sorted(after[len(before) :]) == sorted(n for group in names for n in group)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".taxonomy.toml.lock", "taxonomy.toml"]


def test_label_studio_items_that_are_not_objects_are_problems(tmp_path, monkeypatch, capsys):
    """A string or number where an annotation (or a result region) belongs was dropped silently:
    the task was read from the other annotations, or as "no device". Each is a problem with the
    file, the task number and its position, and `train` refuses the file and writes nothing."""
    text = "Tolls went up again, and the greedy council will bleed every family dry."
    good = {"result": [{"type": "choices", "value": {"choices": [DEVICE]}}]}
    tasks = [
        {"id": 1, "data": {"text": text}, "annotations": ["oops"]},
        {"id": 2, "data": {"text": text + " Twice."}, "annotations": [good, 3]},
        {"id": 3, "data": {"text": text + " Again."}, "completions": [None, good]},
        {"id": 4, "data": {"text": text + " Once more."},
         "annotations": [{"result": ["Loaded_Language", good["result"][0]]}]},
        {"id": 5, "data": {"text": "The harbour opens at six."}, "annotations": [good]},
    ]  # fmt: skip
    path = write(tmp_path / "export.json", json.dumps(tasks))
    problems = _problems([path])
    assert problems == [
        f"{path}:1: annotations[0] should be an annotation object, got 'oops'",
        f"{path}:2: annotations[1] should be an annotation object, got 3",
        f"{path}:3: completions[0] should be an annotation object, got None",
        f"{path}:4: result[0] should be a region object, got 'Loaded_Language'",
    ]
    with pytest.raises(ValidationError, match="4 problem"):
        read_labels([path])
    assert main(["labels", "validate", str(path)]) == ValidationError.exit_code
    assert "annotations[0] should be an annotation object" in capsys.readouterr().err
    models = tmp_path / "models"
    monkeypatch.setenv("PROPLENS_MODELS", str(models))
    args = ["train", "--name", "odd", "--labels", str(path), "--no-base", "--no-cv"]
    assert main(args) == ValidationError.exit_code
    assert not models.exists() or not any(models.rglob("*"))
    ok = write(tmp_path / "ok.json", json.dumps(tasks[4:]))
    assert read_labels([ok]).frame["devices"].tolist() == [[DEVICE]]


def test_jsonl_values_of_the_wrong_type_are_named(tmp_path):
    """JSONL devices given as a string (the docs ask for a list; a string was read like a CSV
    cell and accepted) and a text that is not a string (reported as "empty text") are each one
    line saying what is wrong, and the file is refused."""
    rows = [
        {"text": "Who could doubt the harbour plan?", "devices": "Doubt"},
        {"text": 123, "devices": ["Doubt"]},
        {"text": "What a shameful, greedy decision!", "devices": [DEVICE]},
    ]
    path = write(tmp_path / "typed.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    problems = _problems([path])
    assert problems == [
        f"{path}:1: devices must be a list of device names, got 'Doubt'",
        f"{path}:2: text must be a string, got 123",
    ]
    task = {"data": {"text": 7}, "annotations": [{"result": [{"value": {"choices": [DEVICE]}}]}]}
    export = write(tmp_path / "typed.json", json.dumps([task]))
    problems = _problems([export])
    assert problems == [f"{export}:1: data.text must be a string, got 7"]
    # `train` reads its labels with read_labels, so it now refuses such a file before training
    only_string = write(tmp_path / "string.jsonl", json.dumps(rows[0]) + "\n")
    with pytest.raises(ValidationError, match="devices must be a list of device names"):
        read_labels([only_string])


def test_a_folder_or_an_empty_file_is_named_as_such(tmp_path, capsys):
    """A folder was reported as "label file not found" and a blank CSV as stand-off labels
    missing their columns: each is one line saying what the path really is."""
    folder = tmp_path / "labels.csv"
    folder.mkdir()
    files = {
        "zero.csv": "",
        "blank.tsv": "  \n\n\t\n",
        "bom.csv": "\ufeff\n",
        "zero.jsonl": "",
        "zero.json": " \n",
    }
    paths = [write(tmp_path / name, text) for name, text in files.items()]
    problems = _problems([folder, *paths])
    assert problems == [f"{folder}: is a folder, not a label file"] + [
        f"{path}: empty file" for path in paths
    ]
    # a folder is an input that cannot be read, as for every command (exit code 2)
    assert main(["labels", "validate", str(folder)]) == InputError.exit_code
    err = capsys.readouterr().err
    assert "is a folder, not a label file" in err and "Traceback" not in err


def test_cli_validate_warns_about_a_device_with_one_class(tmp_path, capsys):
    """Labels with only positives (or only negatives) for a device pass validation, since the
    base corpus may hold the other class, but `labels validate` warns: trained on them alone the
    device's regression learns a constant."""
    positives = write(
        tmp_path / "positives.csv",
        "text,devices\nWho could doubt the harbour plan?,Doubt\nCan anyone trust Velm?,Doubt\n",
    )
    assert main(["labels", "validate", str(positives)]) == 0
    captured = capsys.readouterr()
    assert "Doubt: 2 positive, 0 negative" in captured.out
    assert captured.err.strip().splitlines() == [
        "proplens: warning: Doubt: no negative example; a model cannot learn it from these "
        "labels alone"
    ]
    negatives = write(
        tmp_path / "negatives.csv", "text,devices,annotated\nThe council met.,none,Doubt\n"
    )
    assert main(["labels", "validate", str(negatives)]) == 0
    assert "warning: Doubt: no positive example" in capsys.readouterr().err
    both = write(
        tmp_path / "both.csv", "text,devices\nWho could doubt it?,Doubt\nThe council met.,none\n"
    )
    assert main(["labels", "validate", str(both)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_dropped_technique_in_a_label_file_is_a_problem(tmp_path):
    """Obfuscation is dropped by the taxonomy: silently skipped, its row counted as a negative of
    the file's other devices."""
    path = write(
        tmp_path / "dropped.csv",
        f"text,devices\nWhat a disgraceful plan!,{DEVICE}\n"
        'Nobody can say what it means.,"Obfuscation,Intentional_Vagueness,Confusion"\n',
    )
    messages = _problems([path])
    assert len(messages) == 1 and "dropped.csv:3:" in messages[0]
    assert "a technique the taxonomy drops" in messages[0]


def test_a_label_studio_choice_outside_the_tasks_device_is_a_problem(tmp_path):
    """A task judged for one device whose annotator chose another: like a CSV row whose device
    is not in its 'annotated' list, a problem (it was a silent negative)."""
    other = "Doubt" if DEVICE != "Doubt" else "Loaded_Language"
    tasks = [
        {"id": 7, "data": {"text": "Boats wait at Pellin.", "device": DEVICE},
         "annotations": [{"result": [{"type": "choices", "value": {"choices": [other]}}]}]},
    ]  # fmt: skip
    path = write(tmp_path / "export.json", json.dumps(tasks))
    problems = _problems([path])
    assert len(problems) == 1 and f"devices {other} are not among the task's" in problems[0]


def test_a_missing_label_file_exits_like_any_missing_input(tmp_path, capsys, monkeypatch):
    """A missing label file is an input that cannot be read: exit code 2 and one line, as for
    `proplens score missing.txt` (it was 3, the code of malformed labels), whichever command
    reads it. It is still a ValidationError: nothing was trained."""
    monkeypatch.setenv("PROPLENS_MODELS", str(tmp_path / "models"))
    missing = tmp_path / "missing.csv"
    commands = [
        ["labels", "validate", str(missing)],
        ["train", "--labels", str(missing), "--no-base", "--no-cv"],
        ["suggest", "-d", DEVICE, "--from", str(tmp_path), "--exclude", str(missing), "-o",
         str(tmp_path / "picks.csv")],
    ]  # fmt: skip
    for command in commands:
        assert main(command) == InputError.exit_code == 2, command
        *progress, error = capsys.readouterr().err.strip().splitlines()
        assert all(line.endswith("…") for line in progress), progress  # train says what it does
        assert error.startswith("proplens: error:") and "missing.csv: label file not found" in error
    assert not (tmp_path / "models").exists() and not (tmp_path / "picks.csv").exists()
    with pytest.raises(ValidationError, match="missing.csv: label file not found") as raised:
        read_labels([missing])
    assert isinstance(raised.value, InputError)

    # with malformed labels in another file, every problem is still listed
    bad = write(tmp_path / "bad.csv", "text,devices\nOne.,Nope\n")
    assert main(["labels", "validate", str(missing), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing.csv: label file not found" in err and "bad.csv:2: unknown device" in err
    # malformed labels alone are still a data error
    assert main(["labels", "validate", str(bad)]) == ValidationError.exit_code == 3
    capsys.readouterr()

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("proplens.labeling._is_blank", denied)
    assert main(["labels", "validate", str(bad)]) == 2
    assert "bad.csv: cannot read (Permission denied)" in capsys.readouterr().err


def test_a_sentence_labeled_in_two_files_is_one_row(tmp_path, folder):
    """A document's sentence labeled for one device in one file and for another in a second is
    one sentence: as two rows, training would read each as the other's neighbour."""
    text = (folder / "a.txt").read_text(encoding="utf-8")
    start = text.index("Its reckless")
    end = text.index("Orlo.") + len("Orlo.")
    spans = write(
        tmp_path / "spans.tsv",
        f"document_id\tstart\tend\tdevice\na.txt\t{start}\t{start + 12}\t{DEVICE}\n",
    )
    picks = write(
        tmp_path / "picks.csv",
        "document_id,sentence_index,start,end,text,devices,annotated\n"
        f"a.txt,1,{start},{end},{text[start:end]},none,Doubt\n",
    )
    frame = read_labels([spans, picks], corpus_dir=folder).frame
    assert frame["text"].tolist() == ["The Velm council met on Monday.", text[start:end]]
    assert frame["sentence_index"].tolist() == [0, 1]
    assert frame["annotated"].tolist() == [[DEVICE], ["Doubt", DEVICE]]
    assert frame["devices"].tolist() == [[], [DEVICE]]


def test_sentence_positions_are_checked_and_rows_without_one_go_after(tmp_path):
    """`sentence_index`, `start` and `end` (what `suggest` writes) must be whole numbers, with
    both offsets or neither; a row of the document without a position goes after those with one,
    in file order."""
    bad = write(
        tmp_path / "bad.csv",
        "document_id,sentence_index,start,end,text,devices\n"
        f"d,two,,,Harbour fees rose.,{DEVICE}\n"
        f"d,3,10,,Ferries wait.,{DEVICE}\n"
        f"d,3,-4,9,Boats wait.,{DEVICE}\n"
        f"d,3,40,12,Orlo waits.,{DEVICE}\n",
    )
    problems = _problems([bad])
    assert problems == [
        f"{bad}:2: sentence_index must be a whole number of at least 0, got 'two'",
        f"{bad}:3: give both start and end (the sentence's offsets), or neither",
        f"{bad}:4: start must be a whole number of at least 0, got '-4'",
        f"{bad}:5: end 12 is before start 40",
    ]
    mixed = write(
        tmp_path / "mixed.csv",
        "document_id,sentence_index,text,devices\n"
        f"d,,Added by hand.,none\n"
        f"d,7,What a shameful plan!,{DEVICE}\n"
        f"d,2,Fees rose.,none\n"
        f"e,,Another document.,{DEVICE}\n",
    )
    frame = read_labels([mixed]).frame
    assert frame["sentence_index"].tolist() == [8, 7, 2, 0]
