"""The editable taxonomy file: names, aliases, gates and safe edits."""

from __future__ import annotations

import pytest

from proplens import config
from proplens.cli import main
from proplens.errors import DataError, ValidationError
from proplens.taxonomy import Device, load_taxonomy

SEMEVAL_NAMES = {
    "Appeal_to_Authority",
    "Appeal_to_fear-prejudice",
    "Bandwagon,Reductio_ad_hitlerum",
    "Black-and-White_Fallacy",
    "Causal_Oversimplification",
    "Doubt",
    "Exaggeration,Minimisation",
    "Flag-Waving",
    "Loaded_Language",
    "Name_Calling,Labeling",
    "Repetition",
    "Slogans",
    "Thought-terminating_Cliches",
    "Whataboutism,Straw_Men,Red_Herring",
}


def test_fourteen_semeval_classes_plus_project_devices():
    """The shipped taxonomy has exactly the 14 SemEval-2020 names and the project's own device."""
    taxonomy = load_taxonomy()
    semeval = {d.name for d in taxonomy.devices if d.origin == "semeval2020"}
    assert semeval == SEMEVAL_NAMES
    assert "Unverified_Figures" in taxonomy
    for device in taxonomy.devices:
        assert device.definition and device.example and device.colour.startswith("#")


@pytest.mark.corpus
def test_names_match_the_corpus_technique_list(corpus_dir):
    """Our names are spelled exactly as the SemEval-2020 organisers' list."""
    listed = corpus_dir / "ptc-semeval2020" / "propaganda-techniques-names-semeval2020task11.txt"
    names = {
        line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()
    }
    assert names == SEMEVAL_NAMES


def test_eighteen_names_map_onto_fourteen():
    """EMNLP-2019/NLP4IF-2019 names map onto the merged classes; Obfuscation is dropped."""
    taxonomy = load_taxonomy()
    assert taxonomy.canonical("Straw_Men") == "Whataboutism,Straw_Men,Red_Herring"
    assert taxonomy.canonical("Red_Herring") == "Whataboutism,Straw_Men,Red_Herring"
    assert taxonomy.canonical("Bandwagon") == "Bandwagon,Reductio_ad_hitlerum"
    assert taxonomy.canonical("Reductio_ad_hitlerum") == "Bandwagon,Reductio_ad_hitlerum"
    assert taxonomy.canonical("Obfuscation,Intentional_Vagueness,Confusion") is None
    assert taxonomy.canonical("Doubt") == "Doubt"
    with pytest.raises(DataError, match="unknown device"):
        taxonomy.canonical("Loaded_language")


def test_gate_of_unverified_figures():
    """Unverified_Figures requires a quantity; the gate matches digits and number words only."""
    import re

    gate = re.compile(load_taxonomy().gates["Unverified_Figures"], re.IGNORECASE)
    assert gate.search("Over 40,000 residents left.")
    assert gate.search("Thousands of people marched.")
    assert not gate.search("The mayor spoke at length about the plan.")


def test_add_device_and_save_round_trip(tmp_path):
    """A device added with with_device survives save and load; duplicates are refused."""
    taxonomy = load_taxonomy()
    added = taxonomy.with_device(
        Device("Euphemism", "Soft words for hard facts.", "Collateral damage.")
    )
    path = added.save(tmp_path / "taxonomy.toml")
    again = load_taxonomy(path)
    assert again.names == added.names
    assert again["Unverified_Figures"].requires == taxonomy["Unverified_Figures"].requires
    with pytest.raises(DataError, match="already exists"):
        again.with_device(Device("Doubt", "x", "y"))


def test_malformed_files_name_the_problem(tmp_path):
    """Broken TOML, missing fields and duplicate names give one-line DataErrors."""
    bad = tmp_path / "t.toml"
    bad.write_text("[[device]\nname=", encoding="utf-8")
    with pytest.raises(DataError, match="not valid TOML"):
        load_taxonomy(bad)
    bad.write_text('[[device]]\nname = "X"\n', encoding="utf-8")
    with pytest.raises(DataError, match="lacks definition, example"):
        load_taxonomy(bad)
    bad.write_text('[[device]]\nname="X"\ndefinition="d"\nexample="e"\n' * 2, encoding="utf-8")
    with pytest.raises(DataError, match="duplicate"):
        load_taxonomy(bad)


def test_saving_where_it_cannot_be_written_is_a_data_error(tmp_path):
    """`labels add` into a folder that cannot be written is one DataError, not an OSError."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot write"):
        load_taxonomy().save(blocker / "taxonomy.toml")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("propaganda", "'propaganda' is already the any-device label of every model$"),
        ("Propaganda", "any-device label of every model \\(as 'propaganda'; case is ignored\\)"),
        ("none", "'none' is already the label-file word for \"no device\"$"),
        ("NONE", "label-file word for \"no device\" \\(as 'none'; case is ignored\\)"),
        ("No_Device", 'label-file word for "no device"'),
    ],
)
def test_with_device_refuses_reserved_words(name, message):
    """A device "propaganda" would share the model's any-device column name, and a label file
    reads "none" (any case) as "no device", so such a device could never be labeled."""
    with pytest.raises(ValidationError, match=message):
        load_taxonomy().with_device(Device(name, "d", "e"))


@pytest.mark.parametrize(
    ("device", "message"),
    [
        (Device("Doubting", "d", "e", aliases=("Doubt",)), "'Doubt' is already a device name$"),
        (
            Device("Doubting", "d", "e", aliases=("slogans",)),
            "'slogans' is already a device name \\(as 'Slogans'; case is ignored\\)",
        ),
        (
            Device("Herring", "d", "e", aliases=("Red_Herring",)),
            "'Red_Herring' is already an alias of Whataboutism,Straw_Men,Red_Herring$",
        ),
        (
            Device("reductio_ad_hitlerum", "d", "e"),
            "already an alias of Bandwagon,Reductio_ad_hitlerum "
            "\\(as 'Reductio_ad_hitlerum'; case is ignored\\)",
        ),
        (
            Device("Obfuscation,Intentional_Vagueness,Confusion", "d", "e"),
            "is already a dropped technique name",
        ),
    ],
)
def test_with_device_refuses_spellings_taken_in_any_case(device, message):
    """Label files resolve a spelling to the first device that has it (dropped names first), so a
    second owner would silently get none of its labels; a spelling differing only in case would
    split one technique over two devices."""
    with pytest.raises(ValidationError, match=message):
        load_taxonomy().with_device(device)


def test_with_device_checks_the_aliases_are_names():
    """A string of aliases would be saved as one alias per letter; an alias holding a label-file
    separator or None could never be matched (None used to fail with a TypeError on save)."""
    taxonomy = load_taxonomy()
    with pytest.raises(ValidationError, match="aliases must be a list of names, got 'abc'"):
        taxonomy.with_device(Device("Euphemism", "d", "e", aliases="abc"))
    for alias in ("Soft;Words", " Soft_Words", None):
        with pytest.raises(ValidationError, match=f"alias {alias!r}: use letters, digits"):
            taxonomy.with_device(Device("Euphemism", "d", "e", aliases=(alias,)))
    # the device's own name in another case is a harmless extra spelling
    added = taxonomy.with_device(Device("Euphemism", "d", "e", aliases=("euphemism", "Soft_Words")))
    assert added.canonical("Soft_Words") == "Euphemism"


@pytest.mark.parametrize("name", ["reductio_ad_hitlerum", "propaganda", "none"])
def test_labels_add_refuses_an_ambiguous_name_and_writes_nothing(name, tmp_path, capsys):
    """`proplens labels add` exits with the validation code and one line; the file is unchanged."""
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    before = taxonomy.read_text(encoding="utf-8")
    args = ["labels", "add", name, "--definition", "d", "--example", "e"]
    assert main([*args, "--taxonomy", str(taxonomy)]) == ValidationError.exit_code
    assert f"'{name}' is already" in capsys.readouterr().err
    assert taxonomy.read_text(encoding="utf-8") == before


def _copy_of_the_shipped_taxonomy(tmp_path, text=None):
    path = tmp_path / "taxonomy.toml"
    shipped = config.taxonomy_path().read_bytes().decode("utf-8")
    path.write_bytes((shipped if text is None else text(shipped)).encode("utf-8"))
    return path


def test_labels_add_keeps_the_hand_written_file_byte_for_byte(tmp_path, capsys):
    """`labels add` appends its table: the comments written by hand (the field notes, those on
    Repetition and Unverified_Figures) and the key order stay as they were, byte for byte, and
    the file reads back as its devices plus the new one, with hard strings intact."""
    taxonomy = _copy_of_the_shipped_taxonomy(tmp_path)
    before = taxonomy.read_bytes()
    comments = [line for line in before.decode().splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 16
    definition = 'Says "all of Velm" agrees,\nas C:\\ said; naïve – ünïcode\ttab, 40 % (sic).'
    example = "Everyone's on board: «Velm agrees»\\n, so sign — now."
    args = ["labels", "add", "Crowd_Appeal", "--definition", definition, "--example", example]
    code = main([*args, "--requires", r"\bVelm\b", "--taxonomy", str(taxonomy)])
    assert code == 0, capsys.readouterr().err
    after = taxonomy.read_bytes()
    assert after.startswith(before)
    assert after[len(before) :].startswith(b'\n[[device]]\nname = "Crowd_Appeal"\n')
    old, new = load_taxonomy(), load_taxonomy(taxonomy)
    assert new.devices[:-1] == old.devices and new.dropped == old.dropped
    added = new["Crowd_Appeal"]
    assert (added.definition, added.example, added.requires) == (definition, example, r"\bVelm\b")
    assert (added.origin, added.colour, added.aliases) == ("proplens", "#808080", ())


@pytest.mark.parametrize(
    ("ending", "kept"),
    [
        (lambda text: text.rstrip("\n"), "figures"),  # the last line lacks its newline
        (lambda text: text + "# a note at the end, no newline", "# a note at the end"),
        (lambda text: text.replace("\n", "\r\n"), "\r\n\r\n[[device]]\r\n"),
    ],
    ids=["no-trailing-newline", "comment-without-newline", "crlf"],
)
def test_labels_add_appends_to_any_ending_of_the_file(ending, kept, tmp_path):
    """Without a trailing newline (or ending in a comment) the table still starts on a line of
    its own; CRLF files get CRLF lines. The old bytes are kept and the file parses."""
    from proplens.labeling import add_device

    taxonomy = _copy_of_the_shipped_taxonomy(tmp_path, ending)
    before = taxonomy.read_bytes()
    add_device("Crowd_Appeal", "Claims everyone agrees.", "All of Velm agrees.", path=taxonomy)
    after = taxonomy.read_bytes()
    assert after.startswith(before) and kept.encode() in after
    assert load_taxonomy(taxonomy).names[-2:] == ["Unverified_Figures", "Crowd_Appeal"]
    assert load_taxonomy(taxonomy)["Crowd_Appeal"].example == "All of Velm agrees."


def test_a_file_a_table_cannot_be_appended_to_is_left_as_it_was(tmp_path, monkeypatch):
    """Devices written as an inline array cannot take a `[[device]]` table after them, and a
    table that would not read back as the device given is refused too: one DataError each, the
    file unchanged, no temporary file left."""
    from proplens import taxonomy as taxonomy_module
    from proplens.taxonomy import append_device

    inline = tmp_path / "taxonomy.toml"
    inline.write_text('device = [{name = "Doubt", definition = "d", example = "e"}]\n', "utf-8")
    with pytest.raises(DataError, match="would not be valid TOML.*nothing was written"):
        append_device(Device("Crowd_Appeal", "d", "e"), inline)
    assert inline.read_text(encoding="utf-8").startswith("device = [{")

    shipped = _copy_of_the_shipped_taxonomy(tmp_path)
    before = shipped.read_bytes()
    render = taxonomy_module._device_table
    monkeypatch.setattr(
        taxonomy_module, "_device_table", lambda device: render(device).replace("#808080", "#000")
    )
    with pytest.raises(DataError, match="would not read back as its devices plus the new one"):
        append_device(Device("Crowd_Appeal", "d", "e"), shipped)
    assert shipped.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taxonomy.toml"]
