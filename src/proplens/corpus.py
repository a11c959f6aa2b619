"""Readers for the Propaganda Techniques Corpus releases: documents, span table, sentence table.

This module is an edge of the system: it is the only code that reads the corpus folders under
:func:`proplens.config.data_dir`. Everything downstream works on the tables it returns (see
``docs/architecture.md``):

- documents: ``dict[document_id, text]``, decoded as UTF-8 so that a BOM stays character 0;
- span table: ``document_id, device, start, end, release`` with canonical device names; news
  spans trimmed of boundary whitespace and clipped to the article (meme spans as released);
- sentence table (:meth:`Corpus.sentence_table`): one row per sentence with exact offsets and the
  devices of the spans overlapping it.

The releases share article IDs but not always byte-identical texts, and some articles appear twice
under an ID with an extra trailing "9". :func:`drop_duplicate_articles` and :func:`combine` make
sure an article is counted once.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from proplens import config
from proplens.errors import DataError
from proplens.labels import sentence_devices
from proplens.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "RELEASE_PRIORITY",
    "Corpus",
    "combine",
    "drop_duplicate_articles",
    "read_emnlp2019",
    "read_memes2021",
    "read_nlp4if2019",
    "read_semeval2020",
    "second_passes",
]

SPAN_COLUMNS = ["document_id", "device", "start", "end", "release"]
SENTENCE_COLUMNS = ["document_id", "sentence_index", "start", "end", "text", "devices", "release"]
SENTENCE_LABEL_COLUMNS = ["document_id", "line", "start", "end", "propaganda"]

#: When releases disagree about an article, the first release here wins: SemEval-2020 carries the
#: revised (v2) annotations, NLP4IF-2019 the same texts with older labels, EMNLP-2019 the oldest.
RELEASE_PRIORITY = ("semeval2020", "nlp4if2019", "emnlp2019", "memes2021", "proplens")

# How each release lays out its text. "lines": one sentence per line (SemEval-2020, NLP4IF-2019).
# "paragraphs": one paragraph or sentence per line, split further by the sentence segmenter
# (EMNLP-2019). "document": a short text (a meme) taken as one unit.
_LAYOUT = {
    "semeval2020": "lines",
    "nlp4if2019": "lines",
    "emnlp2019": "paragraphs",
    "memes2021": "document",
}

# A line's content without surrounding whitespace or BOM: the BOM of a file is part of the document
# (offsets count it) but it must not become the first character of the first sentence.
_LINE_CONTENT = re.compile(r"[^\s\ufeff](?:[^\n]*[^\s\ufeff])?")
_DOCUMENT_CONTENT = re.compile(r"[^\s\ufeff](?:.*[^\s\ufeff])?", re.DOTALL)
_ARTICLE_FILE = re.compile(r"^article(\d+)\.txt$")

Segmenter = Callable[[str], Sequence]


@dataclass(eq=False)
class Corpus:
    """Documents and their labeled spans from one release (or several, see :func:`combine`).

    ``document_releases`` says which release each document comes from (it decides how its text is
    split into sentences); ``splits`` the official split of each document where the release has
    several; ``sentence_labels`` holds sentence-level gold where a release has it (NLP4IF-2019 SLC:
    ``document_id, line, start, end, propaganda`` with 1-based line numbers counting empty lines).
    """

    documents: dict[str, str]
    spans: pd.DataFrame
    release: str
    document_releases: dict[str, str] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    sentence_labels: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        missing = [column for column in SPAN_COLUMNS if column not in self.spans.columns]
        if missing:
            raise DataError(f"span table lacks column(s): {', '.join(missing)}")
        for document_id in self.documents:
            self.document_releases.setdefault(document_id, self.release)

    def __len__(self) -> int:
        return len(self.documents)

    def __repr__(self) -> str:
        return (
            f"Corpus(release={self.release!r}, documents={len(self.documents)}, "
            f"spans={len(self.spans)})"
        )

    def sentence_table(self, segmenter: Segmenter | None = None) -> pd.DataFrame:
        """One row per sentence (see ``docs/architecture.md``), ordered by document then index.

        SemEval-2020 and NLP4IF-2019 texts hold one sentence per line: each non-empty line is a
        sentence. EMNLP-2019 lines can be whole paragraphs, so each is split with ``segmenter``
        (default :func:`proplens.segment.segment`). A sentence carries a device when a span of
        that device overlaps it.
        """
        document_ids: list[str] = []
        indices: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        releases: list[str] = []
        for document_id in sorted(self.documents):
            text = self.documents[document_id]
            release = self.document_releases[document_id]
            layout = _LAYOUT.get(release, "paragraphs")
            if layout == "paragraphs" and segmenter is None:
                from proplens.segment import segment as segmenter
            bounds = _sentence_bounds(text, layout, segmenter)
            document_ids.extend([document_id] * len(bounds))
            indices.extend(range(len(bounds)))
            starts.extend(start for start, _ in bounds)
            ends.extend(end for _, end in bounds)
            releases.extend([release] * len(bounds))
        table = pd.DataFrame(
            {
                "document_id": pd.Series(document_ids, dtype=object),
                "sentence_index": np.asarray(indices, dtype=np.int64),
                "start": np.asarray(starts, dtype=np.int64),
                "end": np.asarray(ends, dtype=np.int64),
            }
        )
        table["text"] = [
            self.documents[d][s:e] for d, s, e in zip(document_ids, starts, ends, strict=True)
        ]
        table["devices"] = sentence_devices(table, self.spans)
        table["release"] = pd.Series(releases, dtype=object)
        return table[SENTENCE_COLUMNS]

    def span_table(self) -> pd.DataFrame:
        """The labeled spans with their text.

        Columns: ``document_id, device, start, end, span_text, release``.
        """
        table = self.spans.copy()
        table["span_text"] = [
            self.documents[d][s:e]
            for d, s, e in zip(table["document_id"], table["start"], table["end"], strict=True)
        ]
        return table[["document_id", "device", "start", "end", "span_text", "release"]].reset_index(
            drop=True
        )


def _sentence_bounds(text: str, layout: str, segmenter: Segmenter | None) -> list[tuple[int, int]]:
    if layout == "document":
        return [match.span() for match in _DOCUMENT_CONTENT.finditer(text)]
    lines = [match.span() for match in _LINE_CONTENT.finditer(text)]
    if layout == "lines":
        return lines
    bounds = []
    for line_start, line_end in lines:
        for sentence in segmenter(text[line_start:line_end]):
            bounds.append((line_start + sentence.start, line_start + sentence.end))
    return bounds


# --------------------------------------------------------------------------------------------------
# reading files


def _release_dir(root: Path | str | None, folder: str, marker: str) -> Path:
    """``root/folder``, or ``root`` itself when it is the release folder (holds ``marker``)."""
    base = Path(root) if root is not None else config.data_dir()
    if (base / folder).is_dir():
        return base / folder
    if (base / marker).exists():
        return base
    raise DataError(
        f"{base / folder}: corpus folder not found (set PROPLENS_DATA to the corpus root)"
    )


def _read_text(path: Path) -> str:
    try:
        # utf-8, not utf-8-sig: the BOM is character 0 of the offsets.
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def _read_articles(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise DataError(f"{folder}: article folder not found")
    documents = {}
    for path in sorted(folder.iterdir()):
        match = _ARTICLE_FILE.match(path.name)
        if match:
            documents[match.group(1)] = _read_text(path)
    return documents


def _label_rows(path: Path, n_fields: int) -> Iterable[tuple[int, list[str]]]:
    """(1-based line number, fields) for each non-blank row of a tab-separated label file."""
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r").split("\t")
        if len(fields) != n_fields:
            raise DataError(
                f"{path}:{number}: expected {n_fields} tab-separated fields, found {len(fields)}"
            )
        yield number, fields


def _as_int(value: str, what: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{where}: {what} {value!r} is not an integer") from None


class _SpanCollector:
    """Validates span rows against their article and accumulates the span table."""

    def __init__(self, documents: dict[str, str], release: str, taxonomy: Taxonomy) -> None:
        self.documents = documents
        self.release = release
        self.taxonomy = taxonomy
        self._canonical: dict[str, str | None] = {}
        self.rows: list[tuple[str, str, int, int]] = []

    def canonical(self, name: str, where: str) -> str | None:
        if name not in self._canonical:
            try:
                self._canonical[name] = self.taxonomy.canonical(name)
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from None
        return self._canonical[name]

    def add(
        self, document_id: str, technique: str, start_text: str, end_text: str, where: str
    ) -> None:
        if document_id not in self.documents:
            raise DataError(
                f"{where}: label refers to article {document_id}, which is not in the corpus"
            )
        start = _as_int(start_text, "start offset", where)
        end = _as_int(end_text, "end offset", where)
        if start < 0 or end <= start:
            raise DataError(f"{where}: invalid span {start}-{end} (need 0 <= start < end)")
        device = self.canonical(technique, where)
        if device is None:  # a technique the taxonomy drops (Obfuscation)
            return
        text = self.documents[document_id]
        if end > len(text):
            action = "clipped" if start < len(text) else "dropped"
            warnings.warn(
                f"{where}: span {start}-{end} runs past the end of article {document_id} "
                f"({len(text)} characters); {action}",
                UserWarning,
                stacklevel=4,
            )
            end = len(text)
        # Older releases did not trim spans; a span's device belongs to its words, not to the
        # whitespace around them (which would make it overlap the neighbouring line).
        while start < end and (text[start].isspace() or text[start] == "\ufeff"):
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            self.rows.append((document_id, device, start, end))

    def frame(self) -> pd.DataFrame:
        return _span_frame(self.rows, self.release)


def _span_frame(rows: Sequence[tuple[str, str, int, int]], release: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["document_id", "device", "start", "end"])
    frame = frame.astype(
        {"document_id": object, "device": object, "start": np.int64, "end": np.int64}
    )
    frame["release"] = release
    return frame.sort_values(["document_id", "start", "end", "device"], kind="stable").reset_index(
        drop=True
    )


def _read_flc_files(paths: Iterable[Path], collector: _SpanCollector) -> None:
    for path in paths:
        for number, (document_id, technique, start, end) in _label_rows(path, 4):
            collector.add(document_id, technique, start, end, f"{path}:{number}")


def _finish(corpus: Corpus, dedupe: bool) -> Corpus:
    return drop_duplicate_articles(corpus) if dedupe else corpus


def read_semeval2020(
    root: Path | str | None = None,
    split: str = "train",
    *,
    dedupe: bool = False,
    taxonomy: Taxonomy | None = None,
) -> Corpus:
    """SemEval-2020 Task 11 (PTC v2): ``<split>-articles/`` and the TC/FLC labels of that split.

    ``root`` is the corpus root (default :func:`proplens.config.data_dir`) or the
    ``ptc-semeval2020`` folder itself. Labels come from the per-article folder
    ``<split>-labels-task-flc-tc/`` or, when absent, the single file ``<split>-task-flc-tc.labels``.
    ``split="test"`` gives the unlabeled test articles (an empty span table).
    """
    folder = _release_dir(root, "ptc-semeval2020", f"{split}-articles")
    documents = _read_articles(folder / f"{split}-articles")
    collector = _SpanCollector(documents, "semeval2020", taxonomy or load_taxonomy())
    if split != "test":
        per_article = folder / f"{split}-labels-task-flc-tc"
        single = folder / f"{split}-task-flc-tc.labels"
        if per_article.is_dir():
            _read_flc_files(sorted(per_article.glob("*.labels")), collector)
        elif single.is_file():
            _read_flc_files([single], collector)
        else:
            raise DataError(f"{per_article}: label folder not found (nor {single.name})")
    corpus = Corpus(
        documents, collector.frame(), "semeval2020", splits=dict.fromkeys(documents, split)
    )
    return _finish(corpus, dedupe)


def read_emnlp2019(
    root: Path | str | None = None,
    splits: Sequence[str] = ("train", "dev", "test"),
    *,
    dedupe: bool = False,
    taxonomy: Taxonomy | None = None,
) -> Corpus:
    """The original EMNLP-2019 PTC release: ``<split>/article<ID>.txt`` plus ``.labels.tsv``.

    Its texts separate paragraphs with blank lines, so :meth:`Corpus.sentence_table` runs the
    sentence segmenter inside each line. Untrimmed spans are trimmed; a span that runs past the
    end of its article is clipped to it, or dropped when it starts past it, with a warning naming
    the label file and line.
    """
    if isinstance(splits, str):
        splits = (splits,)
    folder = _release_dir(root, "ptc-emnlp2019", splits[0] if splits else "train")
    documents: dict[str, str] = {}
    split_of: dict[str, str] = {}
    label_files: list[Path] = []
    for split in splits:
        articles = _read_articles(folder / split)
        clash = sorted(set(articles) & set(documents))
        if clash:
            raise DataError(
                f"{folder / split}: article {clash[0]} is also in split {split_of[clash[0]]}"
            )
        documents.update(articles)
        split_of.update(dict.fromkeys(articles, split))
        label_files.extend(sorted((folder / split).glob("article*.labels.tsv")))
    collector = _SpanCollector(documents, "emnlp2019", taxonomy or load_taxonomy())
    _read_flc_files(label_files, collector)
    corpus = Corpus(documents, collector.frame(), "emnlp2019", splits=split_of)
    return _finish(corpus, dedupe)


def _line_offsets(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, 0-based list for 1-based line numbers, empty lines included."""
    offsets = []
    position = 0
    for line in text.split("\n"):
        offsets.append((position, position + len(line)))
        position += len(line) + 1
    return offsets


def read_nlp4if2019(
    root: Path | str | None = None,
    *,
    dedupe: bool = False,
    taxonomy: Taxonomy | None = None,
) -> Corpus:
    """NLP4IF-2019 train: articles, FLC spans (``train-labels-FLC/``) and SLC sentence labels.

    SLC labels come from the per-article folder ``train-labels-SLC/``: the single file
    ``train.task-SLC.labels`` of the release covers only part of the articles. They end up in
    :attr:`Corpus.sentence_labels` with the offsets of each (1-based, empty lines counted) line.
    """
    folder = _release_dir(root, "nlp4if2019-ptc", "train-articles")
    documents = _read_articles(folder / "train-articles")
    collector = _SpanCollector(documents, "nlp4if2019", taxonomy or load_taxonomy())
    flc = folder / "train-labels-FLC"
    if not flc.is_dir():
        raise DataError(f"{flc}: label folder not found")
    _read_flc_files(sorted(flc.glob("*.labels")), collector)

    slc_rows = []
    slc = folder / "train-labels-SLC"
    line_cache: dict[str, list[tuple[int, int]]] = {}
    for path in sorted(slc.glob("*.labels")) if slc.is_dir() else []:
        for number, (document_id, line_text, label) in _label_rows(path, 3):
            where = f"{path}:{number}"
            if document_id not in documents:
                raise DataError(
                    f"{where}: label refers to article {document_id}, which is not in the corpus"
                )
            if label not in ("propaganda", "non-propaganda"):
                raise DataError(
                    f"{where}: label {label!r} is neither 'propaganda' nor 'non-propaganda'"
                )
            lines = line_cache.setdefault(document_id, _line_offsets(documents[document_id]))
            line = _as_int(line_text, "line number", where)
            if not 1 <= line <= len(lines):
                raise DataError(
                    f"{where}: line {line} is outside article {document_id} ({len(lines)} lines)"
                )
            start, end = lines[line - 1]
            slc_rows.append((document_id, line, start, end, label == "propaganda"))
    sentence_labels = pd.DataFrame(slc_rows, columns=SENTENCE_LABEL_COLUMNS).astype(
        {
            "document_id": object,
            "line": np.int64,
            "start": np.int64,
            "end": np.int64,
            "propaganda": bool,
        }
    )
    corpus = Corpus(
        documents,
        collector.frame(),
        "nlp4if2019",
        splits=dict.fromkeys(documents, "train"),
        sentence_labels=sentence_labels,
    )
    return _finish(corpus, dedupe)


#: SemEval-2021 Task 6 (memes) technique names -> taxonomy names. None: no counterpart among the
#: 14 classes (Smears, Glittering generalities) or dropped (Obfuscation). Kept here rather than as
#: taxonomy aliases because only this reader uses them.
MEME_TECHNIQUES: dict[str, str | None] = {
    "Appeal to authority": "Appeal_to_Authority",
    "Appeal to fear/prejudice": "Appeal_to_fear-prejudice",
    "Black-and-white Fallacy/Dictatorship": "Black-and-White_Fallacy",
    "Causal Oversimplification": "Causal_Oversimplification",
    "Doubt": "Doubt",
    "Exaggeration/Minimisation": "Exaggeration,Minimisation",
    "Flag-waving": "Flag-Waving",
    "Glittering generalities (Virtue)": None,
    "Loaded Language": "Loaded_Language",
    "Misrepresentation of Someone's Position (Straw Man)": "Whataboutism,Straw_Men,Red_Herring",
    "Name calling/Labeling": "Name_Calling,Labeling",
    "Obfuscation, Intentional vagueness, Confusion": None,
    "Presenting Irrelevant Data (Red Herring)": "Whataboutism,Straw_Men,Red_Herring",
    "Reductio ad hitlerum": "Bandwagon,Reductio_ad_hitlerum",
    "Repetition": "Repetition",
    "Slogans": "Slogans",
    "Smears": None,
    "Thought-terminating cliché": "Thought-terminating_Cliches",
    "Whataboutism": "Whataboutism,Straw_Men,Red_Herring",
    "Bandwagon": "Bandwagon,Reductio_ad_hitlerum",
}


def read_memes2021(root: Path | str | None = None, split: str = "training") -> Corpus:
    """SemEval-2021 Task 6 meme texts with their technique spans (``data/<split>_set_task2.txt``).

    Document IDs are ``meme<ID>`` so they never collide with article IDs. Techniques without a
    counterpart in the taxonomy (see :data:`MEME_TECHNIQUES`) are left out. Each meme is one
    "sentence" in :meth:`Corpus.sentence_table`.
    """
    folder = _release_dir(root, "semeval2021-task6-memes", "data")
    path = folder / "data" / f"{split}_set_task2.txt"
    try:
        records = json.loads(_read_text(path))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    documents: dict[str, str] = {}
    rows = []
    for position, record in enumerate(records):
        where = f"{path}: meme #{position}"
        try:
            document_id = f"meme{record['id']}"
            text = record["text"]
            labels = record["labels"]
        except (KeyError, TypeError):
            raise DataError(f"{where}: expected 'id', 'text' and 'labels'") from None
        documents[document_id] = text
        for label in labels:
            technique = label.get("technique")
            if technique not in MEME_TECHNIQUES:
                raise DataError(f"{where} ({document_id}): unknown technique {technique!r}")
            device = MEME_TECHNIQUES[technique]
            start, end = int(label["start"]), int(label["end"])
            if not 0 <= start < end <= len(text):
                raise DataError(f"{where} ({document_id}): invalid span {start}-{end}")
            if device is not None:
                rows.append((document_id, device, start, end))
    return Corpus(
        documents,
        _span_frame(rows, "memes2021"),
        "memes2021",
        splits=dict.fromkeys(documents, split),
    )


# --------------------------------------------------------------------------------------------------
# duplicates across and within releases


def _priority(release: str) -> int:
    return RELEASE_PRIORITY.index(release) if release in RELEASE_PRIORITY else len(RELEASE_PRIORITY)


def _subset(corpus: Corpus, keep: Iterable[str], release: str | None = None) -> Corpus:
    keep = [document_id for document_id in corpus.documents if document_id in set(keep)]
    kept = set(keep)
    labels = corpus.sentence_labels
    return Corpus(
        documents={document_id: corpus.documents[document_id] for document_id in keep},
        spans=corpus.spans[corpus.spans["document_id"].isin(kept)].reset_index(drop=True),
        release=release or corpus.release,
        document_releases={d: corpus.document_releases[d] for d in keep},
        splits={d: corpus.splits[d] for d in keep if d in corpus.splits},
        sentence_labels=None
        if labels is None
        else labels[labels["document_id"].isin(kept)].reset_index(drop=True),
    )


def _text_key(text: str) -> str:
    return hashlib.sha1(text.lstrip("\ufeff").strip().encode("utf-8")).hexdigest()


def second_passes(document_ids: Iterable[str]) -> list[tuple[str, str]]:
    """``(first, second)`` IDs of each article held twice, sorted: a 10-digit ID ending in "9"
    whose 9-digit prefix is also present. The EMNLP-2019 and NLP4IF-2019 releases hold a few
    articles so, the second copy annotated by an independent pass (``PROVENANCE.md``)."""
    present = set(document_ids)
    return sorted(
        (d[:-1], d) for d in present if len(d) == 10 and d.endswith("9") and d[:-1] in present
    )


def drop_duplicate_articles(corpus: Corpus) -> Corpus:
    """The corpus without repeated articles, keeping one copy of each.

    Two kinds of repeats exist: 10-digit IDs ending in "9" whose 9-digit prefix is also present (a
    second annotation pass of the same text), and any texts that are identical (ignoring a BOM and
    surrounding whitespace). The copy kept comes from the highest-priority release
    (:data:`RELEASE_PRIORITY`), then the shorter ID, then the smaller ID.
    """
    order = sorted(
        corpus.documents,
        key=lambda d: (_priority(corpus.document_releases[d]), len(d), d),
    )
    second_copies = {second for _, second in second_passes(corpus.documents)}
    seen_texts: set[str] = set()
    keep = []
    for document_id in order:
        if document_id in second_copies:
            continue
        text = corpus.documents[document_id]
        if text.strip():
            key = _text_key(text)
            if key in seen_texts:
                continue
            seen_texts.add(key)
        keep.append(document_id)
    return _subset(corpus, keep)


def combine(*corpora: Corpus) -> Corpus:
    """One corpus from several releases, each article counted once.

    Article IDs are shared between releases (with slightly different texts and annotations). An ID
    present in several corpora is taken, text and spans together, from the highest-priority release
    (SemEval-2020, then NLP4IF-2019, then EMNLP-2019); then :func:`drop_duplicate_articles` removes
    the "...9" copies and identical texts.
    """
    if not corpora:
        raise DataError("combine() needs at least one corpus")
    ranked = sorted(
        corpora, key=lambda c: min((_priority(r) for r in c.document_releases.values()), default=99)
    )
    documents: dict[str, str] = {}
    releases: dict[str, str] = {}
    splits: dict[str, str] = {}
    span_parts = []
    label_parts = []
    for corpus in ranked:
        new = [d for d in corpus.documents if d not in documents]
        part = _subset(corpus, new)
        documents.update(part.documents)
        releases.update(part.document_releases)
        splits.update(part.splits)
        span_parts.append(part.spans)
        if part.sentence_labels is not None:
            label_parts.append(part.sentence_labels)
    names = list(dict.fromkeys(c.release for c in corpora))
    merged = Corpus(
        documents=documents,
        spans=pd.concat(span_parts, ignore_index=True),
        release="+".join(names),
        document_releases=releases,
        splits=splits,
        sentence_labels=pd.concat(label_parts, ignore_index=True) if label_parts else None,
    )
    return drop_duplicate_articles(merged)
