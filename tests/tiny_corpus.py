"""A tiny corpus written for the retraining tests: a fictional device in fictional towns.

``Crowd_Appeal`` ("everyone already agrees") is declared in a copy of the taxonomy, so the tests
exercise the path a newsroom takes for a device of its own. Sentences are built from templates so
that a linear model can learn the device from a few dozen of them in well under a second.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

DEVICE = "Crowd_Appeal"
PLACES = ["Velm", "Orlo", "Pellin", "Tarnwick", "Ostry", "Brenna", "Quill", "Marrow", "Dunhal"]
THINGS = ["ferry plan", "bridge toll", "school budget", "harbour levy", "market rule", "tram line"]
POSITIVE = [
    "Everyone in {place} already agrees that the {thing} is right.",
    "All sensible families in {place} have signed up for the {thing}.",
    "The whole of {place} is behind the {thing}, so join them now.",
    "Nobody in {place} doubts the {thing} any more, and neither should you.",
]
NEGATIVE = [
    "The {place} council met on Tuesday to discuss the {thing}.",
    "A report on the {thing} was sent to the {place} assembly.",
    "Work on the {thing} in {place} begins after the spring rains.",
    "The {thing} will be reviewed by {place} officials next month.",
    "Residents of {place} can read the {thing} at the library.",
]


def sentence(kind: str, rng: random.Random) -> str:
    template = rng.choice(POSITIVE if kind == "pos" else NEGATIVE)
    return template.format(place=rng.choice(PLACES), thing=rng.choice(THINGS))


def write_taxonomy(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the project taxonomy with the test device added through ``labels add``."""
    from proplens import config
    from proplens.labeling import add_device

    path = tmp_path / "taxonomy.toml"
    path.write_text(config.taxonomy_path().read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PROPLENS_TAXONOMY", str(path))
    add_device(
        DEVICE, "Claiming that everyone already agrees.", "All of Velm agrees, so should you."
    )
    return path


def texts_of(path: Path) -> set[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["text"] for row in csv.DictReader(handle)}


def write_labels(
    path: Path,
    *,
    documents: int = 10,
    per_document: int = 6,
    seed: int = 0,
    avoid: set[str] | None = None,
) -> Path:
    """A sentence-label CSV (text, devices, document_id) with one positive in three; sentences in
    ``avoid`` (e.g. another file's) are not repeated, since validation rejects duplicates."""
    rng = random.Random(seed)
    seen: set[str] = set(avoid or ())
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["document_id", "text", "devices"])
        for document in range(documents):
            for position in range(per_document):
                kind = "pos" if position % 3 == 0 else "neg"
                text = sentence(kind, rng)
                while text in seen:
                    text = sentence(kind, rng)
                seen.add(text)
                writer.writerow(
                    [f"{path.stem}-{document}", text, DEVICE if kind == "pos" else "none"]
                )
    return path


def write_folder(folder: Path, *, documents: int = 4, seed: int = 1) -> Path:
    """Unlabeled documents for ``suggest``: a mix of both kinds of sentences, one text file each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for document in range(documents):
        kinds = ["pos", "neg", "neg", "pos", "neg", "neg"]
        text = " ".join(sentence(kind, rng) for kind in kinds)
        (folder / f"story-{document}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def is_positive(text: str) -> bool:
    """The oracle labeler of the tests: a sentence built from a POSITIVE template."""
    markers = ("already agrees", "have signed up", "is behind the", "doubts the")
    return any(marker in text for marker in markers)


#: Project-written articles in the SemEval-2020 layout (title, empty line, one sentence per line)
#: and their spans: (device, quoted text).
DEV_ARTICLES = {
    "900000001": (
        "Harbour vote delayed\n\nThe council postponed its vote on the harbour plan.\n"
        "These spineless bureaucrats have betrayed every family in town!\n"
        "Can anyone still trust their promises?\nThe next meeting is on Tuesday.\n",
        [
            ("Name_Calling,Labeling", "spineless bureaucrats"),
            ("Loaded_Language", "betrayed"),
            ("Doubt", "Can anyone still trust their promises?"),
        ],
    ),
    "900000002": (
        "Ferry timetable\n\nThe ferry will run twice a day from June.\n"
        "Only a fool would back this disgraceful, shameful budget.\n",
        [("Loaded_Language", "disgraceful, shameful"), ("Name_Calling,Labeling", "a fool")],
    ),
}


def write_dev_release(root):
    """A SemEval-2020 folder whose dev split holds DEV_ARTICLES and their gold spans."""
    folder = root / "ptc-semeval2020"
    (folder / "dev-articles").mkdir(parents=True)
    (folder / "dev-labels-task-flc-tc").mkdir()
    for article, (text, spans) in DEV_ARTICLES.items():
        (folder / "dev-articles" / f"article{article}.txt").write_text(text, encoding="utf-8")
        rows = [
            f"{article}\t{device}\t{text.index(quoted)}\t{text.index(quoted) + len(quoted)}\n"
            for device, quoted in spans
        ]
        labels = folder / "dev-labels-task-flc-tc" / f"article{article}.task-flc-tc.labels"
        labels.write_text("".join(rows), encoding="utf-8")
    return root
