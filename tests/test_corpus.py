"""Tests for proplens.corpus: tiny synthetic releases for edge cases, the real corpus for counts.

Synthetic texts are written for these tests (fictional places and people). Tests marked ``corpus``
read the real releases from ``proplens.config.data_dir()`` and fail when it is missing.
"""

from __future__ import annotations

import json
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from proplens.corpus import (
    combine,
    drop_duplicate_articles,
    read_emnlp2019,
    read_memes2021,
    read_nlp4if2019,
    read_semeval2020,
    second_passes,
)
from proplens.errors import DataError

BOM = "\ufeff"
ARTICLE_A = (
    BOM + "Storm closes Brindle harbour\n"
    "\n"
    "The mayor of Brindle called the storm a total catastrophe.\n"
    "Fishing boats stayed in port on Monday.\n"
)
ARTICLE_B = "Ferry timetable changes\n\nThe ferry will run twice a day from June.\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def _span(text: str, fragment: str) -> tuple[int, int]:
    start = text.index(fragment)
    return start, start + len(fragment)


def _semeval_release(root: Path, rows_a: list[str] | None = None) -> Path:
    folder = root / "ptc-semeval2020"
    _write(folder / "train-articles" / "article100000001.txt", ARTICLE_A)
    _write(folder / "train-articles" / "article100000002.txt", ARTICLE_B)
    start, end = _span(ARTICLE_A, "total catastrophe")
    rows_a = rows_a or [f"100000001\tLoaded_Language\t{start}\t{end}"]
    labels = folder / "train-labels-task-flc-tc"
    _write(labels / "article100000001.task-flc-tc.labels", "\n".join(rows_a) + "\n")
    _write(labels / "article100000002.task-flc-tc.labels", "")
    _write(folder / "test-articles" / "article200000001.txt", ARTICLE_B)
    return root


# --- synthetic: SemEval-2020 layout ---------------------------------------------------------


def test_semeval_reads_documents_and_spans(tmp_path):
    """Documents keep their exact text (BOM included) and spans keep their offsets."""
    corpus = read_semeval2020(_semeval_release(tmp_path))
    assert corpus.documents["100000001"] == ARTICLE_A
    assert list(corpus.spans.columns) == ["document_id", "device", "start", "end", "release"]
    (span,) = corpus.spans.itertuples(index=False)
    assert (span.document_id, span.device) == ("100000001", "Loaded_Language")
    assert ARTICLE_A[span.start : span.end] == "total catastrophe"


def test_release_folder_can_be_given_directly(tmp_path):
    """root may be the corpus root or the release folder itself."""
    _semeval_release(tmp_path)
    assert len(read_semeval2020(tmp_path / "ptc-semeval2020")) == 2


def test_sentence_table_lines_offsets_and_bom(tmp_path):
    """Non-empty lines are sentences; the BOM stays char 0 but is not part of sentence 0."""
    table = read_semeval2020(_semeval_release(tmp_path)).sentence_table()
    first = table[table.document_id == "100000001"]
    assert first.text.tolist() == [
        "Storm closes Brindle harbour",
        "The mayor of Brindle called the storm a total catastrophe.",
        "Fishing boats stayed in port on Monday.",
    ]
    assert first.start.iloc[0] == 1
    assert first.sentence_index.tolist() == [0, 1, 2]
    assert first.devices.tolist() == [[], ["Loaded_Language"], []]
    assert list(table.columns) == [
        "document_id",
        "sentence_index",
        "start",
        "end",
        "text",
        "devices",
        "release",
    ]


def test_span_table_carries_span_text(tmp_path):
    """TC work needs the fragment text next to its device."""
    table = read_semeval2020(_semeval_release(tmp_path)).span_table()
    assert table.span_text.tolist() == ["total catastrophe"]


def test_single_label_file_is_used_when_folder_missing(tmp_path):
    """Some copies ship only train-task-flc-tc.labels; the reader falls back to it."""
    folder = tmp_path / "ptc-semeval2020"
    _write(folder / "train-articles" / "article100000002.txt", ARTICLE_B)
    start, end = _span(ARTICLE_B, "twice a day")
    _write(folder / "train-task-flc-tc.labels", f"100000002\tRepetition\t{start}\t{end}\n")
    corpus = read_semeval2020(tmp_path)
    assert corpus.span_table().span_text.tolist() == ["twice a day"]


def test_test_split_has_documents_only(tmp_path):
    """split='test' gives unlabeled articles for demos and throughput runs."""
    corpus = read_semeval2020(_semeval_release(tmp_path), split="test")
    assert list(corpus.documents) == ["200000001"]
    assert corpus.spans.empty
    assert corpus.sentence_table().devices.map(len).sum() == 0


def test_aliases_map_and_obfuscation_is_dropped(tmp_path):
    """18-technique names map onto the 14 classes; the dropped class leaves no span."""
    start, end = _span(ARTICLE_A, "total catastrophe")
    rows = [
        f"100000001\tWhataboutism\t{start}\t{end}",
        f"100000001\tObfuscation,Intentional_Vagueness,Confusion\t{start}\t{end}",
    ]
    corpus = read_semeval2020(_semeval_release(tmp_path, rows))
    assert corpus.spans.device.tolist() == ["Whataboutism,Straw_Men,Red_Herring"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("100000001\tLoaded_Language\t12", "expected 4 tab-separated fields, found 3"),
        ("100000001\tLoaded_Language\ttwelve\t20", "start offset 'twelve' is not an integer"),
        ("100000001\tLoaded_Language\t20\t12", "invalid span 20-12"),
        ("100000001\tLoaded_Lingo\t12\t20", "unknown device 'Loaded_Lingo'"),
        ("999999999\tLoaded_Language\t12\t20", "article 999999999, which is not in the corpus"),
    ],
)
def test_bad_label_rows_name_file_and_line(tmp_path, row, message):
    """A broken label file must point at the exact file and line to fix."""
    start, end = _span(ARTICLE_A, "total catastrophe")
    rows = [f"100000001\tLoaded_Language\t{start}\t{end}", row]
    _semeval_release(tmp_path, rows)
    with pytest.raises(DataError) as info:
        read_semeval2020(tmp_path)
    text = str(info.value)
    assert "article100000001.task-flc-tc.labels:2: " in text
    assert message in text
    assert "\n" not in text


def test_missing_corpus_folder(tmp_path):
    """A wrong PROPLENS_DATA gives a pointer to the setting, not a traceback."""
    with pytest.raises(DataError, match="PROPLENS_DATA"):
        read_semeval2020(tmp_path)


def test_non_utf8_article_is_a_data_error(tmp_path):
    """Offsets are defined on UTF-8 text; another encoding must be reported, not guessed."""
    _semeval_release(tmp_path)
    bad = tmp_path / "ptc-semeval2020" / "train-articles" / "article100000002.txt"
    bad.write_bytes("Caf\u00e9 news".encode("latin-1"))
    with pytest.raises(DataError, match="article100000002.txt: not valid UTF-8"):
        read_semeval2020(tmp_path)


# --- synthetic: EMNLP-2019 layout ------------------------------------------------------------

EMNLP_TEXT = (
    "Council votes on new park\n"
    "\n"
    "The council of Ostravel voted on Tuesday. The new park will open in May.\n"
    "\n"
    "Residents cheered the plan.\n"
)


@dataclass
class _Piece:
    start: int
    end: int


def _split_on_full_stops(text: str) -> list[_Piece]:
    """A predictable stand-in segmenter: sentences end at '. '."""
    pieces, start = [], 0
    while (cut := text.find(". ", start)) != -1:
        pieces.append(_Piece(start, cut + 1))
        start = cut + 2
    pieces.append(_Piece(start, len(text)))
    return pieces


def _emnlp_release(root: Path, rows: list[str]) -> Path:
    folder = root / "ptc-emnlp2019" / "train"
    _write(folder / "article300000001.txt", EMNLP_TEXT)
    _write(folder / "article300000001.labels.tsv", "\n".join(rows) + "\n")
    (root / "ptc-emnlp2019" / "dev").mkdir()
    return root


def test_emnlp_paragraphs_are_segmented_and_spans_trimmed(tmp_path):
    """Paragraph lines are split into sentences; untrimmed spans lose their boundary whitespace."""
    start, end = _span(EMNLP_TEXT, "The new park")
    _emnlp_release(tmp_path, [f"300000001\tSlogans\t{start - 1}\t{end + 1}"])
    corpus = read_emnlp2019(tmp_path, splits=("train", "dev"))
    assert corpus.span_table().span_text.tolist() == ["The new park"]
    table = corpus.sentence_table(segmenter=_split_on_full_stops)
    assert table.text.tolist() == [
        "Council votes on new park",
        "The council of Ostravel voted on Tuesday.",
        "The new park will open in May.",
        "Residents cheered the plan.",
    ]
    # Untrimmed, the span would start at the space and touch the previous sentence too.
    assert table.devices.tolist() == [[], [], ["Slogans"], []]
    assert corpus.splits == {"300000001": "train"}


def test_emnlp_default_segmenter_keeps_offsets(tmp_path):
    """With the project segmenter every sentence still slices back out of the document."""
    corpus = read_emnlp2019(_emnlp_release(tmp_path, []), splits=("train",))
    table = corpus.sentence_table()
    assert len(table) >= 3
    for row in table.itertuples():
        assert corpus.documents[row.document_id][row.start : row.end] == row.text


def test_span_past_end_is_clipped_with_warning(tmp_path):
    """Old releases have spans running past the article; clip them and say where."""
    start = EMNLP_TEXT.index("cheered")
    rows = [f"300000001\tLoaded_Language\t{start}\t{len(EMNLP_TEXT) + 5}"]
    _emnlp_release(tmp_path, rows)
    with pytest.warns(UserWarning, match=r"article300000001\.labels\.tsv:1: .*clipped"):
        corpus = read_emnlp2019(tmp_path, splits=("train",))
    assert corpus.span_table().span_text.tolist() == ["cheered the plan."]


def test_span_entirely_past_end_is_dropped_with_warning(tmp_path):
    """A span starting after the end cannot be clipped to anything; it is dropped, loudly."""
    rows = [f"300000001\tDoubt\t{len(EMNLP_TEXT) + 2}\t{len(EMNLP_TEXT) + 9}"]
    _emnlp_release(tmp_path, rows)
    with pytest.warns(UserWarning, match="dropped"):
        corpus = read_emnlp2019(tmp_path, splits=("train",))
    assert corpus.spans.empty


# --- synthetic: NLP4IF-2019 layout -----------------------------------------------------------


def _nlp4if_release(root: Path, slc_rows: list[str]) -> Path:
    folder = root / "nlp4if2019-ptc"
    _write(folder / "train-articles" / "article100000001.txt", ARTICLE_A)
    start, end = _span(ARTICLE_A, "total catastrophe")
    _write(
        folder / "train-labels-FLC" / "article100000001.task-FLC.labels",
        f"100000001\tLoaded_Language\t{start}\t{end}\n",
    )
    _write(
        folder / "train-labels-SLC" / "article100000001.task-SLC.labels",
        "\n".join(slc_rows) + "\n",
    )
    return root


def test_nlp4if_slc_lines_are_one_based_and_count_empty_lines(tmp_path):
    """Line 3 is the third line of the file, counting the empty line 2."""
    rows = [
        "100000001\t1\tnon-propaganda",
        "100000001\t2\tnon-propaganda",
        "100000001\t3\tpropaganda",
        "100000001\t4\tnon-propaganda",
    ]
    corpus = read_nlp4if2019(_nlp4if_release(tmp_path, rows))
    labels = corpus.sentence_labels
    third = labels[labels.line == 3].iloc[0]
    assert ARTICLE_A[third.start : third.end] == (
        "The mayor of Brindle called the storm a total catastrophe."
    )
    assert labels.propaganda.tolist() == [False, False, True, False]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("100000001\t9\tpropaganda", "line 9 is outside article 100000001"),
        ("100000001\t2\tmaybe", "label 'maybe'"),
    ],
)
def test_nlp4if_bad_slc_rows(tmp_path, row, message):
    """Sentence labels pointing nowhere, or with unknown values, are file:line errors."""
    _nlp4if_release(tmp_path, ["100000001\t1\tnon-propaganda", row])
    with pytest.raises(DataError, match=message) as info:
        read_nlp4if2019(tmp_path)
    assert "article100000001.task-SLC.labels:2: " in str(info.value)


# --- synthetic: duplicates and combining -------------------------------------------------------


def _dup_release(root: Path) -> Path:
    folder = root / "ptc-semeval2020"
    _write(folder / "train-articles" / "article100000001.txt", ARTICLE_A)
    _write(folder / "train-articles" / "article1000000019.txt", ARTICLE_A + "Extra line.\n")
    _write(folder / "train-articles" / "article100000002.txt", ARTICLE_B)
    _write(folder / "train-articles" / "article100000003.txt", ARTICLE_B)
    rows = "1000000019\tDoubt\t1\t6\n100000003\tDoubt\t1\t6\n100000002\tSlogans\t1\t6\n"
    _write(folder / "train-task-flc-tc.labels", rows)
    return root


def test_drop_duplicate_articles(tmp_path):
    """'...9' copies and identical texts go; the 9-digit / first ID stays, with its spans only."""
    corpus = read_semeval2020(_dup_release(tmp_path))
    deduped = drop_duplicate_articles(corpus)
    assert sorted(deduped.documents) == ["100000001", "100000002"]
    assert deduped.spans.document_id.tolist() == ["100000002"]
    assert sorted(read_semeval2020(tmp_path, dedupe=True).documents) == sorted(deduped.documents)


def test_second_passes_pairs_an_id_with_its_copy_ending_in_9():
    """Only a 10-digit ID ending in "9" whose 9-digit prefix is present is a second pass."""
    ids = ["761874505", "7618745059", "222222229", "2222222299", "333333339", "12345", "123459"]
    assert second_passes(ids) == [("222222229", "2222222299"), ("761874505", "7618745059")]
    assert second_passes([]) == []


def test_combine_prefers_semeval_and_counts_each_article_once(tmp_path):
    """An article in two releases is taken, text and spans, from the preferred release only."""
    _semeval_release(tmp_path)
    emnlp = tmp_path / "ptc-emnlp2019" / "train"
    older_text = ARTICLE_A.replace("total catastrophe", "big disaster")
    _write(emnlp / "article100000001.txt", older_text)
    _write(emnlp / "article1000000019.txt", older_text)
    _write(emnlp / "article300000001.txt", EMNLP_TEXT)
    start, end = _span(older_text, "big disaster")
    _write(emnlp / "article100000001.labels.tsv", f"100000001\tDoubt\t{start}\t{end}\n")
    _write(emnlp / "article1000000019.labels.tsv", f"1000000019\tDoubt\t{start}\t{end}\n")
    _write(emnlp / "article300000001.labels.tsv", "")
    semeval = read_semeval2020(tmp_path)
    emnlp_corpus = read_emnlp2019(tmp_path, splits=("train",))

    merged = combine(emnlp_corpus, semeval)

    assert sorted(merged.documents) == ["100000001", "100000002", "300000001"]
    assert merged.documents["100000001"] == ARTICLE_A
    assert merged.spans.device.tolist() == ["Loaded_Language"]
    assert merged.document_releases["300000001"] == "emnlp2019"
    table = merged.sentence_table(segmenter=_split_on_full_stops)
    assert set(table.release) == {"semeval2020", "emnlp2019"}


def test_memes_reader_maps_technique_names(tmp_path):
    """Meme technique names map onto taxonomy classes; those without a counterpart are left out."""
    records = [
        {
            "id": "7",
            "text": "KEEP CALM\n\nAND VOTE FOR NOBODY",
            "labels": [
                {"start": 0, "end": 9, "technique": "Slogans", "text_fragment": "KEEP CALM"},
                {"start": 11, "end": 30, "technique": "Smears", "text_fragment": "x"},
                {"start": 11, "end": 30, "technique": "Bandwagon", "text_fragment": "x"},
            ],
        }
    ]
    _write(
        tmp_path / "semeval2021-task6-memes" / "data" / "training_set_task2.txt",
        json.dumps(records),
    )
    corpus = read_memes2021(tmp_path)
    assert corpus.spans.device.tolist() == ["Slogans", "Bandwagon,Reductio_ad_hitlerum"]
    (sentence,) = corpus.sentence_table().itertuples()
    assert sentence.text == "KEEP CALM\n\nAND VOTE FOR NOBODY"
    assert sentence.document_id == "meme7"


# --- the real corpus ---------------------------------------------------------------------------


def _read_recording_warnings(reader, root):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corpus = reader(root)
    return corpus, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def semeval(corpus_dir):
    return read_semeval2020(corpus_dir)


@pytest.fixture(scope="module")
def emnlp(corpus_dir):
    return _read_recording_warnings(read_emnlp2019, corpus_dir)


@pytest.fixture(scope="module")
def nlp4if(corpus_dir):
    return _read_recording_warnings(read_nlp4if2019, corpus_dir)


# Technique counts of SemEval-2020 train, from PROVENANCE.md.
SEMEVAL_TRAIN_DEVICES = {
    "Loaded_Language": 2123,
    "Name_Calling,Labeling": 1058,
    "Repetition": 621,
    "Doubt": 493,
    "Exaggeration,Minimisation": 466,
    "Appeal_to_fear-prejudice": 294,
    "Flag-Waving": 229,
    "Causal_Oversimplification": 209,
    "Appeal_to_Authority": 144,
    "Slogans": 129,
    "Black-and-White_Fallacy": 107,
    "Whataboutism,Straw_Men,Red_Herring": 107,
    "Thought-terminating_Cliches": 76,
    "Bandwagon,Reductio_ad_hitlerum": 72,
}


@pytest.mark.corpus
def test_semeval_train_counts(semeval):
    """371 articles, 6,128 spans over 357 articles, technique counts as documented."""
    assert len(semeval.documents) == 371
    assert len(semeval.spans) == 6128
    assert semeval.spans.document_id.nunique() == 357
    assert semeval.spans.device.value_counts().to_dict() == SEMEVAL_TRAIN_DEVICES


@pytest.mark.corpus
def test_semeval_test_articles(corpus_dir):
    """The 89 test articles left in the folder come without labels."""
    corpus = read_semeval2020(corpus_dir, split="test")
    assert len(corpus.documents) == 89
    assert corpus.spans.empty


@pytest.mark.corpus
def test_semeval_sentence_table_is_fast(corpus_dir):
    """Reading all of SemEval train into sentences must stay interactive (< 2 s)."""
    started = time.perf_counter()
    table = read_semeval2020(corpus_dir).sentence_table()
    assert time.perf_counter() - started < 2.0
    assert table.document_id.nunique() == 371


@pytest.mark.corpus
def test_emnlp_counts_after_hold_back(emnlp):
    """Folder counts after the dev hold-back: 290/57/36 articles, 6,475 rows minus 16 Obfuscation
    minus the one span lying wholly past the end of 776368676."""
    corpus, _ = emnlp
    splits = list(corpus.splits.values())
    assert (splits.count("train"), splits.count("dev"), splits.count("test")) == (290, 57, 36)
    assert len(corpus.spans) == 6475 - 16 - 1


@pytest.mark.corpus
def test_nlp4if_counts_after_hold_back(nlp4if):
    """347 articles (3 dev-duplicates removed), 6,006 rows minus 11 Obfuscation minus 1 past end."""
    corpus, _ = nlp4if
    assert len(corpus.documents) == 347
    assert len(corpus.spans) == 6006 - 11 - 1
    assert len(corpus.sentence_labels) == 16852
    assert corpus.sentence_labels.document_id.nunique() == 347


@pytest.mark.corpus
def test_spans_past_end_warn_with_file_and_line(emnlp, nlp4if):
    """The known over-long spans are reported by label file and line, then clipped or dropped."""
    _, emnlp_warnings = emnlp
    assert len(emnlp_warnings) == 1
    assert "article776368676.labels.tsv:36: span 4187-4225" in emnlp_warnings[0]
    _, nlp4if_warnings = nlp4if
    assert len(nlp4if_warnings) == 3
    for article in ("723844295", "765029945", "776368676"):
        assert any(f"article{article}.task-FLC.labels:" in w for w in nlp4if_warnings)
    corpus, _ = nlp4if
    assert corpus.spans.end.max() <= max(len(t) for t in corpus.documents.values())
    for row in corpus.spans.itertuples():
        assert row.end <= len(corpus.documents[row.document_id])


@pytest.mark.corpus
@pytest.mark.parametrize("article", ["705409419", "712382330"])
def test_bom_articles_keep_offsets(semeval, corpus_dir, article):
    """Decoding must not strip the BOM: spans equal the label file's offsets and read cleanly."""
    text = semeval.documents[article]
    assert text[0] == BOM
    label_file = corpus_dir / "ptc-semeval2020" / "train-labels-task-flc-tc"
    raw = sorted(
        (int(start), int(end))
        for line in (label_file / f"article{article}.task-flc-tc.labels").read_text().splitlines()
        for _, _, start, end in [line.split("\t")]
    )
    spans = semeval.spans[semeval.spans.document_id == article]
    assert sorted(zip(spans.start, spans.end, strict=True)) == raw
    for start, end in raw:  # v2 spans are trimmed; a one-off shift would expose whitespace
        assert not text[start].isspace() and not text[end - 1].isspace()
    sentences = semeval.sentence_table()
    first = sentences[(sentences.document_id == article) & (sentences.sentence_index == 0)]
    assert first.start.item() == 1


@pytest.mark.corpus
def test_every_sentence_slices_back_out_of_its_document(semeval, emnlp, nlp4if):
    """The offset invariant on every sentence of every release; no sentence starts with a BOM."""
    for corpus in (semeval, emnlp[0], nlp4if[0]):
        table = corpus.sentence_table()
        documents = corpus.documents
        assert all(
            documents[d][s:e] == t
            for d, s, e, t in zip(
                table.document_id, table.start, table.end, table.text, strict=True
            )
        )
        assert not table.text.str.startswith(BOM).any()
        assert (table.text.str.strip() == table.text).all()


@pytest.mark.corpus
def test_sentence_devices_match_spans_on_a_sample(semeval):
    """Sentence devices equal the overlap rule recomputed by hand on 300 random sentences."""
    table = semeval.sentence_table()
    spans_by_document = {d: group for d, group in semeval.spans.groupby("document_id")}
    rng = random.Random(11)
    for position in rng.sample(range(len(table)), 300):
        row = table.iloc[position]
        group = spans_by_document.get(row.document_id)
        expected = set()
        if group is not None:
            hits = (group.start < row.end) & (group.end > row.start)
            expected = set(group.device[hits])
        assert set(row.devices) == expected
        assert row.devices == sorted(row.devices)
    labeled = table.devices.map(bool).mean()
    assert 0.2 < labeled < 0.4  # measured 0.285: about one sentence in four carries a device


@pytest.mark.corpus
def test_nlp4if_sentence_labels_agree_with_span_overlap(nlp4if):
    """SLC gold should mostly equal 'the line overlaps an FLC span' (measured 98.8% on non-empty
    lines); a big drop would mean misaligned line numbers or offsets."""
    from proplens.labels import sentence_devices

    corpus, _ = nlp4if
    labels = corpus.sentence_labels
    text_of = corpus.documents
    non_empty = labels[
        [
            text_of[d][s:e].strip() != ""
            for d, s, e in zip(labels.document_id, labels.start, labels.end, strict=True)
        ]
    ]
    overlaps = [bool(devices) for devices in sentence_devices(non_empty, corpus.spans)]
    agreement = (non_empty.propaganda.to_numpy() == overlaps).mean()
    assert agreement > 0.97
    assert not labels[~labels.index.isin(non_empty.index)].propaganda.any()


@pytest.mark.corpus
def test_duplicates_and_combine_on_real_releases(semeval, emnlp, nlp4if):
    """The 12 '...9' copies go; combined, every shared article counts once and SemEval wins."""
    assert len(drop_duplicate_articles(emnlp[0])) == 383 - 12
    assert len(drop_duplicate_articles(nlp4if[0])) == 347 - 12
    merged = combine(emnlp[0], nlp4if[0], semeval)
    assert len(merged) == 371  # after the hold-back every remaining article is a SemEval train one
    assert set(merged.document_releases.values()) == {"semeval2020"}
    assert len(merged.spans) == 6128


@pytest.mark.corpus
def test_memes_training_set(corpus_dir):
    """688 memes; 1,498 spans minus those of techniques without a taxonomy counterpart."""
    corpus = read_memes2021(corpus_dir)
    assert len(corpus) == 688
    assert len(corpus.spans) == 1259
