"""Sentence features: the fast vectorizers equal scikit-learn's, context and shape behave."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import FunctionTransformer, normalize

from proplens import features as features_module
from proplens.errors import ValidationError
from proplens.features import (
    WORD_TOKEN_PATTERN,
    DocumentWords,
    FastCharVectorizer,
    FastWordVectorizer,
    NeighbourWords,
    PhraseRecurrence,
    SentenceColumns,
    SentenceShape,
    SpanOccurrences,
    SpanTfidfVectorizer,
    _l2_normalize_rows,
    make_sentence_features,
    neighbour_text,
    span_left_words,
    span_right_words,
    transform_block,
)
from proplens.model import SpanClassifier

TEXTS = [
    "The mayor of Velmora opened the new library on Tuesday.",
    "This reckless, shameful plan will destroy our town!",
    "Will the council ever listen to ordinary people?",
    "The library has 4,000 books and a reading room.",
    "They lied, they lied again, and they will lie tomorrow.",
    "Ordinary people deserve better than this disgraceful council.",
    "Well-known critics said the plan's costs were modest.",
    "Residents of Quillhaven and Velmora met to discuss the bridge.",
]
UNSEEN = ["A brand-new, unheard-of zorblat appeared!", "", "Tuesday? Tuesday!"]

WORD_PARAMS = dict(
    ngram_range=(1, 2), min_df=1, sublinear_tf=True, token_pattern=WORD_TOKEN_PATTERN
)
CHAR_PARAMS = dict(analyzer="char_wb", ngram_range=(2, 5), min_df=1, sublinear_tf=True)


def frame(texts, documents=None) -> pd.DataFrame:
    documents = documents or ["d1"] * len(texts)
    index = pd.Series(documents).groupby(documents).cumcount().to_numpy()
    return pd.DataFrame({"document_id": documents, "sentence_index": index, "text": texts})


def test_token_pattern_equals_the_original_one():
    """The faster token pattern yields exactly the tokens of the pattern it replaced."""
    original = re.compile(r"(?u)\b\w[\w'’-]*\w\b|\b\w\b|[!?]")
    fast = re.compile(WORD_TOKEN_PATTERN)
    tricky = "a--b x' 'abc abc' don't well- -x- ’tis a’b’ _a_ 3.5 a-'-b !? é-à x__y"
    for text in [*TEXTS, *UNSEEN, tricky]:
        assert fast.findall(text.lower()) == original.findall(text.lower())


@pytest.mark.parametrize(
    ("fast_class", "params"),
    [(FastWordVectorizer, WORD_PARAMS), (FastCharVectorizer, CHAR_PARAMS)],
)
def test_fast_vectorizers_equal_scikit_learn(fast_class, params):
    """The vectorised transforms return scikit-learn's matrix, unseen words included."""
    fast = fast_class(**params).fit(TEXTS)
    reference = TfidfVectorizer(**params).fit(TEXTS)
    for texts in (TEXTS, UNSEEN):
        difference = fast.transform(texts) - reference.transform(texts)
        assert abs(difference).max() < 1e-6 if difference.nnz else True
        assert fast.transform(texts).shape == reference.transform(texts).shape
    assert fast.vocabulary_ == reference.vocabulary_


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcxyz -'!?\n", max_size=40), min_size=1, max_size=6))
def test_fast_word_vectorizer_matches_on_any_text(texts):
    """Property: for arbitrary text the vectorised word counts equal scikit-learn's."""
    fast = FastWordVectorizer(**WORD_PARAMS).fit(TEXTS + ["ab cd", "x y z"])
    reference = TfidfVectorizer(**WORD_PARAMS).fit(TEXTS + ["ab cd", "x y z"])
    got, want = fast.transform(texts), reference.transform(texts)
    assert np.allclose(got.toarray(), want.toarray(), atol=1e-6)


def test_fast_vectorizer_rejects_a_single_string():
    """A bare string is a common mistake (it would be read as a list of characters)."""
    fast = FastWordVectorizer(**WORD_PARAMS).fit(TEXTS)
    with pytest.raises(ValidationError):
        fast.transform("one string")


def test_fitted_vectorizer_drops_stop_words_attribute():
    """The pruned-term list is not kept, so model files stay small."""
    fast = FastWordVectorizer(**WORD_PARAMS, max_df=0.3).fit(TEXTS)
    assert not hasattr(fast, "stop_words_")


def test_neighbour_words_equal_vectorised_neighbour_text():
    """Context features equal TF-IDF of the joined previous and next sentences, per document."""
    texts = TEXTS[:5]
    documents = ["a", "a", "a", "b", "b"]
    sentences = frame(texts, documents)
    context = NeighbourWords(min_df=1, max_df=1.0).fit(sentences)
    reference = TfidfVectorizer(
        token_pattern=WORD_TOKEN_PATTERN, sublinear_tf=True, min_df=1, max_df=1.0
    ).fit(neighbour_text(sentences))
    assert np.allclose(
        context.transform(sentences).toarray(),
        reference.transform(neighbour_text(sentences)).toarray(),
        atol=1e-6,
    )
    # the last sentence of document "a" never sees the first one of document "b"
    assert neighbour_text(sentences)[2] == texts[1]


def test_sentence_shape_counts_repetition_within_a_document_only():
    """Repeated content words raise the repetition features; other documents do not count."""
    sentences = frame(
        ["Freedom matters.", "Freedom always wins.", "Freedom is here."], ["a", "a", "b"]
    )
    shape = SentenceShape().fit(sentences)
    values = shape.transform(sentences).toarray()
    names = list(shape.get_feature_names_out())
    repeat = names.index("repeat_max")
    assert values[0, repeat] > 0 and values[1, repeat] > 0
    assert values[2, repeat] == 0
    assert values.shape == (3, len(names))


def _repetition_by_counting(texts, documents):
    """The repetition counts written the plain way: per document, how many sentences hold each
    content word; per sentence, the most, the number and the sum of its words' repeats."""
    from collections import Counter

    words = [
        set(features_module._CONTENT_WORD.findall(t.lower())) - features_module._STOPWORDS
        for t in texts
    ]
    per_document = {}
    for document, found in zip(map(str, documents), words, strict=True):
        per_document.setdefault(document, Counter()).update(found)
    rows = []
    for document, found in zip(map(str, documents), words, strict=True):
        repeats = [per_document[document][w] - 1 for w in found]
        rows.append([max(repeats, default=0), sum(r > 0 for r in repeats), sum(repeats)])
    return np.log1p(np.array(rows, dtype=float).reshape(len(texts), 3))


def sentences_of_documents(words: list[str], max_words: int):
    """Hypothesis strategy: 1-12 ``(sentence, document id)`` rows, sentences of up to
    ``max_words`` of ``words``, document ids of mixed types in any order."""
    sentence = st.lists(st.sampled_from(words), max_size=max_words).map(" ".join)
    return st.lists(st.tuples(sentence, st.sampled_from(["a", "b", 7])), min_size=1, max_size=12)


def sentence_table(rows) -> tuple[list[str], list, pd.DataFrame]:
    """The texts, document ids and sentence frame of such rows."""
    texts = [text for text, _ in rows]
    documents = [document for _, document in rows]
    table = pd.DataFrame(
        {"document_id": documents, "sentence_index": range(len(rows)), "text": texts}
    )
    return texts, documents, table


@settings(max_examples=60, deadline=None)
@given(
    sentences_of_documents(
        ["Harbour", "harbour's", "bridge-builders", "Élan", "élan", "the", "never", "x9",
         "tidal_flow", "again", "über", "1999"],
        8,
    )
)  # fmt: skip
def test_repetition_counts_equal_plain_counting(rows):
    """The vectorised repetition counts equal counting sentence by sentence, with words made of
    letters of any script, stopwords, digits, underscores and mixed document ids."""
    texts, documents, table = sentence_table(rows)
    got = features_module._repetition_counts(table)
    np.testing.assert_array_equal(got, _repetition_by_counting(texts, documents))


def _phrases_by_counting(texts, documents, sizes=(2, 3)):
    """The phrase recurrence features written the plain way, sentence by sentence."""
    pattern = re.compile(WORD_TOKEN_PATTERN)

    def content(token):
        found = features_module._CONTENT_WORD.findall(token)
        return any(word not in features_module._STOPWORDS for word in found)

    phrases = []
    for text in texts:
        words = pattern.findall(text.lower())
        phrases.append(
            {
                tuple(words[i : i + size])
                for size in sizes
                for i in range(len(words) - size + 1)
                if any(content(word) for word in words[i : i + size])
            }
        )
    keys = list(map(str, documents))
    rows = []
    for i, found in enumerate(phrases):
        same = [j for j in range(len(texts)) if keys[j] == keys[i] and j != i]
        earlier = set().union(*(phrases[j] for j in same if j < i))
        later = set().union(*(phrases[j] for j in same if j > i))
        before, after = len(found & earlier), len(found & later)
        most = max((sum(p in phrases[j] for j in same) for p in found), default=0)
        share = len(found & (earlier | later)) / max(len(found), 1)
        rows.append(
            [np.log1p(before), np.log1p(after), before > 0, after > 0, np.log1p(most), share]
        )
    return np.array(rows, dtype=float).reshape(len(texts), 6)


@settings(max_examples=60, deadline=None)
@given(
    sentences_of_documents(
        ["Harbour", "harbour's", "bridge-builders", "Élan", "the", "of", "never", "x9", "again",
         "1999", "!"],
        9,
    )
)  # fmt: skip
def test_phrase_recurrence_equals_plain_counting(rows):
    """The vectorised phrase counts equal counting sentence by sentence, whatever the order of
    the documents' rows, with stopword-only phrases, digits, "!" and mixed document ids."""
    texts, documents, table = sentence_table(rows)
    got = PhraseRecurrence().fit(table).transform(table).toarray()
    np.testing.assert_allclose(got, _phrases_by_counting(texts, documents))


def test_phrase_recurrence_tells_a_phrase_s_first_use_from_its_return():
    """The first "take back control" sees later uses, the last one earlier ones; a phrase of
    stopwords ("of the") and another document's phrases do not count."""
    sentences = frame(
        [
            "We will take back control of the harbour.",
            "Nothing of the kind was promised.",
            "Take back control, they chanted, take back control!",
            "Take back control of the harbour.",
        ],
        ["a", "a", "a", "b"],
    )
    block = PhraseRecurrence().fit(sentences)
    rows = block.transform(sentences).toarray()
    named = [dict(zip(block.get_feature_names_out(), row, strict=True)) for row in rows]
    assert named[0]["any_phrase_seen_after"] == 1 and named[0]["any_phrase_seen_before"] == 0
    assert named[2]["any_phrase_seen_before"] == 1 and named[2]["any_phrase_seen_after"] == 0
    assert not any(named[1].values())  # only "of the" recurs, and it has no content word
    assert not any(named[3].values())  # its phrases recur in another document only
    columns = SentenceColumns.from_frame(sentences)
    assert np.array_equal(block.transform_columns(columns).toarray(), rows)


def test_phrase_recurrence_evidence_is_the_repeated_phrase():
    """Evidence points at the phrases another sentence of the document says too (whatever the
    case), overlapping ones merged into one span, and at nothing when nothing recurs."""
    block = PhraseRecurrence().fit(frame(TEXTS))
    text = "They chanted: Take back control of the HARBOUR!"
    document = ["We must take back control now.", text, "Of the harbour?"]
    spans = block.evidence_spans(text, document)
    assert [text[start:end] for start, end in spans] == ["Take back control", "of the HARBOUR"]
    assert block.evidence_spans(text, [text, "Nothing of the sort."]) == []
    assert block.evidence_spans(text, [text, text]) == [(0, len(text))]  # all of it, said twice
    with pytest.raises(ValidationError, match="phrase sizes"):
        PhraseRecurrence(sizes=(1, 2)).fit(frame(TEXTS))


def test_document_words_equal_vectorising_each_whole_document():
    """Every sentence gets its document's row: the TF-IDF of the document's text, the
    vocabulary and document frequencies counted over documents, not sentences."""
    documents = ["a"] * 3 + ["b"] * 3 + ["c"] * 2
    sentences = frame(TEXTS, documents)
    block = DocumentWords(min_df=2, max_df=1.0).fit(sentences)
    whole = [" ".join(t for t, d in zip(TEXTS, documents, strict=True) if d == k) for k in "abc"]
    reference = TfidfVectorizer(
        token_pattern=WORD_TOKEN_PATTERN, min_df=2, max_df=1.0, sublinear_tf=True
    ).fit(whole)
    assert block.vectorizer_.vocabulary_ == reference.vocabulary_
    expected = reference.transform(whole).toarray()[[0, 0, 0, 1, 1, 1, 2, 2]]
    got = block.transform(sentences).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    columns = SentenceColumns.from_frame(sentences)
    assert np.array_equal(block.transform_columns(columns).toarray(), got)


def test_document_words_keep_each_documents_most_distinctive_terms():
    """With ``max_terms``, each document's row keeps its largest TF-IDF values only, scaled back
    to unit length; a document with fewer terms keeps them all."""
    documents = ["a"] * 3 + ["b"] * 3 + ["c"] * 2
    sentences = frame(TEXTS, documents)
    full = DocumentWords(min_df=1, max_df=1.0).fit(sentences).transform(sentences).toarray()
    top = DocumentWords(min_df=1, max_df=1.0, max_terms=3).fit(sentences)
    rows = top.transform(sentences).toarray()
    for row, whole in zip(rows, full, strict=True):
        kept = np.flatnonzero(row)
        assert len(kept) == min(3, np.count_nonzero(whole))
        assert whole[kept].min() >= np.sort(whole)[-3]
        np.testing.assert_allclose(np.linalg.norm(row), 1.0, rtol=1e-6)
    wide = DocumentWords(min_df=1, max_df=1.0, max_terms=10_000).fit(sentences)
    np.testing.assert_allclose(wide.transform(sentences).toarray(), full, rtol=1e-6)
    with pytest.raises(ValidationError, match="max_terms"):
        DocumentWords(max_terms=0).fit(sentences)


def test_document_words_min_df_counts_documents():
    """A word said in many sentences of one document is still in one document only; with no
    word in enough documents, the block has no columns rather than failing."""
    sentences = frame(
        ["Harbour tolls again.", "Harbour tolls rise.", "Harbour tolls fall.", "Quiet day."],
        ["a", "a", "a", "b"],
    )
    block = DocumentWords(min_df=2, max_df=1.0).fit(sentences)
    assert block.vectorizer_ is None  # no word is in two documents: a block without columns
    assert block.transform(sentences).shape == (4, 0)
    assert len(block.get_feature_names_out()) == 0
    shared = sentences.assign(text=sentences["text"].str.replace("Quiet day", "Harbour day"))
    block = DocumentWords(min_df=2, max_df=1.0).fit(shared)
    assert list(block.get_feature_names_out()) == ["harbour"]
    rows = block.transform(shared).toarray()
    assert np.all(rows[:, 0] > 0)  # each of its sentences gets its document's row


def test_a_model_trains_on_documents_too_few_for_the_document_block():
    """Two documents cannot give the document block a vocabulary (min_df 3): the model trains
    and scores with the block left empty."""
    from proplens.model import DeviceClassifier

    sentences = frame(TEXTS, ["a"] * 4 + ["b"] * 4)
    labels = np.array([[0], [1], [0], [0], [1], [1], [0], [0]])
    model = DeviceClassifier(devices=["Loaded_Language"], threshold_folds=2, min_positive=2)
    model.fit(sentences, labels)
    assert model.block_slices_["document"].stop == model.block_slices_["document"].start
    assert model.predict_all_proba(sentences).shape == (8, 2)


def test_sentence_features_clone_and_are_deterministic():
    """The union clones (sklearn convention) and two fits give identical matrices."""
    features = make_sentence_features()
    sentences = frame(TEXTS * 2, ["a"] * 8 + ["b"] * 8)
    first = clone(features).fit_transform(sentences)
    second = clone(features).fit_transform(sentences)
    assert (first != second).nnz == 0
    assert features.transformer_list[0][0] == "words"
    assert first.shape[0] == len(sentences)


# --- fast paths of the scorer: same matrices as the frame-based transforms ------------------


def test_sentence_columns_give_the_frame_transform_of_every_block():
    """transform_block on plain lists equals each fitted block's transform of the DataFrame."""
    documents = ["a"] * 4 + ["b"] * 4 + ["c"] * 3
    fitted_on = frame(TEXTS + TEXTS[:3], documents)
    union = make_sentence_features().fit(fitted_on)
    texts = [*UNSEEN[:1], *TEXTS[2:6], "Zorblat! Zorblat again, 12 zorblats?", UNSEEN[2]]
    sentences = frame(texts, ["x", "x", "x", "y", "y", "y", "z"])
    columns = SentenceColumns.from_frame(sentences)
    for name, transformer in union.transformer_list:
        want = transformer.transform(sentences).tocsr()
        got = transform_block(transformer, columns).tocsr()
        assert got.shape == want.shape, name
        assert np.array_equal(got.toarray(), want.toarray()), name


def test_transform_block_falls_back_to_the_frame_for_other_transformers():
    """A transformer without a fast path receives the DataFrame, with the usual columns."""
    seen = []

    def record(sentences):
        seen.append(sentences)
        return np.zeros((len(sentences), 1))

    columns = SentenceColumns(["One.", "Two."], ["d", "d"], [0, 1])
    out = transform_block(FunctionTransformer(record), columns)
    assert out.shape == (2, 1)
    assert isinstance(seen[0], pd.DataFrame)
    assert seen[0]["text"].tolist() == ["One.", "Two."]
    assert seen[0]["sentence_index"].tolist() == [0, 1]


def test_l2_normalisation_equals_scikit_learn_bit_for_bit():
    """The in-place row normalisation repeats scikit-learn's arithmetic exactly."""
    rng = np.random.default_rng(0)
    matrix = sparse.random(30, 50, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    keep = np.ones(30, dtype=np.float32)
    keep[3] = 0  # an empty row stays empty
    matrix = sparse.csr_matrix(sparse.diags(keep) @ matrix)
    want = normalize(matrix.copy(), norm="l2")
    got = matrix.copy()
    _l2_normalize_rows(got)
    assert np.array_equal(got.toarray(), want.toarray())
    assert got.dtype == np.float32


def test_unseen_word_rows_are_cached_within_a_bound(monkeypatch):
    """Unseen words' n-gram rows are reused, the cache never exceeds its cap, output unchanged."""
    monkeypatch.setattr(features_module, "UNSEEN_WORD_CACHE_SIZE", 3)
    fast = FastCharVectorizer(**CHAR_PARAMS).fit(TEXTS)
    reference = TfidfVectorizer(**CHAR_PARAMS).fit(TEXTS)
    batches = [UNSEEN, ["zorblat glimmerfax quandrel vosk", "vosk vosk!"], UNSEEN]
    for texts in batches:
        assert np.allclose(
            fast.transform(texts).toarray(), reference.transform(texts).toarray(), atol=1e-6
        )
        assert len(fast._unseen_rows) <= 3


def test_lookup_caches_are_not_pickled():
    """Tables derived on first use stay out of model files and are rebuilt after loading."""
    fast = FastCharVectorizer(**CHAR_PARAMS).fit(TEXTS)
    words = FastWordVectorizer(**WORD_PARAMS).fit(TEXTS)
    before = fast.transform(UNSEEN).toarray(), words.transform(UNSEEN).toarray()
    assert "_unseen_rows" in vars(fast) and "_word_codes" in vars(words)
    fast_copy, words_copy = pickle.loads(pickle.dumps(fast)), pickle.loads(pickle.dumps(words))
    assert "_unseen_rows" not in vars(fast_copy) and "_word_codes" not in vars(words_copy)
    assert "_unseen_rows" in vars(fast)  # pickling leaves the live object alone
    assert np.array_equal(fast_copy.transform(UNSEEN).toarray(), before[0])
    assert np.array_equal(words_copy.transform(UNSEEN).toarray(), before[1])


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_lower_casing_keeps_the_whitespace_split(text):
    """SentenceShape counts words from the lower-cased split: lower() never moves whitespace."""
    columns = SentenceColumns([text], ["d"], [0])
    assert columns.tokens(None).lengths.tolist() == [len(text.split())]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ABZabz AÁÉ\u0130\u212a\U0001d400\ud800\n-'")))
    | st.text()
)
def test_three_capitals_by_translation_equal_the_regex(text):
    """The byte test for three capitals in a row answers as the regex does: on capitals next to
    accented and other non-ASCII capitals, a lone surrogate, and any text."""
    expected = re.search("[A-Z][A-Z]{2}", text) is not None
    assert features_module._has_three_capitals(text) == expected


def _span_rows(document: str, spans: list[str]) -> pd.DataFrame:
    """A span frame for ``spans``, each found at its first occurrence after the previous one."""
    starts, at = [], 0
    for span in spans:
        at = document.index(span, at)
        starts.append(at)
        at += 1
    return pd.DataFrame(
        {
            "span": spans,
            "sentence": [document] * len(spans),
            "document": [document] * len(spans),
            "start": starts,
            "end": [start + len(span) for start, span in zip(starts, spans, strict=True)],
        }
    )


def test_span_occurrences_tell_the_first_use_of_a_phrase_from_its_return():
    """The first "make it great" sees one later use, the second one earlier use; a phrase said
    once recurs nowhere; counting ignores case."""
    document = "Make it great. They said it twice: make it great! A lone phrase here."
    frame = _span_rows(document, ["Make it great", "make it great", "A lone phrase"])
    occurrences = SpanOccurrences().fit(frame)
    rows = occurrences.transform(frame).toarray()
    named = [dict(zip(occurrences.get_feature_names_out(), row, strict=True)) for row in rows]
    assert (named[0]["before"], named[0]["after"]) == (0, 1)
    assert (named[1]["before"], named[1]["after"]) == (1, 0)
    assert named[0]["short_recurs"] == 1 and named[0]["long_recurs"] == 0
    assert not any(named[2].values())


def test_span_neighbour_words_are_the_tokens_just_outside_the_span():
    """Punctuation counts as a token (a quotation mark or colon next to a span says much), and
    the window stops at three tokens and at 40 characters."""
    document = "Critics call the plan a “historic betrayal” of the workers, again."
    frame = _span_rows(document, ["historic betrayal"])
    assert span_left_words(frame) == ["plan a “"]
    assert span_right_words(frame) == ["” of the"]
    at_edges = _span_rows("Critics", ["Critics"])
    assert span_left_words(at_edges) == [""] and span_right_words(at_edges) == [""]


def test_span_classifier_reads_the_words_around_a_span():
    """Two identical spans with different devices are told apart only by their neighbours."""
    document = " ".join(
        ["so-called experts here.", "real experts here."] * 3 + ["the experts here."]
    )
    starts = [m.start() + m.group().index("experts") for m in re.finditer(r"\S+ experts", document)]
    frame = pd.DataFrame(
        {
            "span": ["experts"] * len(starts),
            "sentence": ["experts here."] * len(starts),
            "document": [document] * len(starts),
            "start": starts,
            "end": [start + len("experts") for start in starts],
        }
    )
    devices = ["Name_Calling", "Appeal_to_Authority"] * 3 + ["Appeal_to_Authority"]
    model = SpanClassifier().fit(frame, devices)
    assert list(model.predict(frame.iloc[[0, 1]])) == ["Name_Calling", "Appeal_to_Authority"]


def test_span_vectorizer_leaves_no_columns_when_no_term_is_frequent_enough():
    """A retrain on a few spans: no neighbour word occurs twice, so that block has no columns
    (not a crash), and it transforms new text to zero columns too."""
    vectorizer = SpanTfidfVectorizer(min_df=2)
    assert vectorizer.fit_transform(["alpha", "beta"]).shape == (2, 0)
    assert vectorizer.transform(["alpha gamma"]).shape == (1, 0)
    assert list(vectorizer.get_feature_names_out()) == []
    assert SpanTfidfVectorizer().fit_transform(["", ""]).shape == (2, 0)
    assert SpanTfidfVectorizer(min_df=2, max_df=0.5).fit_transform(["a b", "a c"]).shape == (2, 0)
    with pytest.raises(ValueError, match="analyzer"):  # other errors are not swallowed
        SpanTfidfVectorizer(analyzer="nonsense").fit(["alpha"])


def test_span_classifier_fits_two_spans_at_the_document_edges():
    frame = _span_rows("Liars. Heroes", ["Liars", "Heroes"])
    model = SpanClassifier().fit(frame, ["Name_Calling", "Flag-Waving"])
    assert list(model.predict(frame)) == ["Name_Calling", "Flag-Waving"]


# --- equivalences the fast paths rely on ----------------------------------------------------

#: characters that stress whitespace splitting and word boundaries: every kind of whitespace
#: str.split() knows, word characters of several scripts, digits, marks and punctuation
_CHUNK_ALPHABET = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
    "\u200b\ufeff\x00aAzZ_éİıß0٣¹½-'’!?%.,;\"“”()#@\u0301\u0307😀"
)
_CHUNK_TEXTS = st.text(alphabet=_CHUNK_ALPHABET, max_size=40) | st.lists(
    st.sampled_from(["one", "two", "hundreds", "Mr.", "al-Assad", "don't", "7%", " ", "\n", "-"]),
    max_size=12,
).map("".join)
_CHUNK_PATTERNS = [
    WORD_TOKEN_PATTERN,
    r"\d|%|\b(?:one|two|three|hundred|hundreds)\b",
    r"(?u)\b\w\w+\b",
    r"[a-z]+(?:-[a-z]+)*",
    r"\d+(?:[.,]\d+)*%?",
    r"(?:o|t)(?:ne|wo)+?",
]


def test_no_whitespace_is_a_word_character():
    """``\\w`` and ``\\d`` match no character ``str.split()`` splits on (every code point checked):
    what lets a pattern built of them keep to whitespace chunks."""
    spaces = [c for c in map(chr, range(0x110000)) if c.isspace()]
    assert features_module._whitespace() == "".join(spaces)
    assert not [c for c in spaces if re.match(r"[\w\d]", c)]


@pytest.mark.parametrize("pattern", _CHUNK_PATTERNS)
def test_chunk_patterns_are_recognised(pattern):
    assert features_module.matches_within_chunks(pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"\w+\s\w+", r".", r"[^a]", r"\S+", r"\w*", r"\b", r"(?i)one", r"(?i:one)", r"^\w", r"\w$",
     r"a(?=b)", r"(?<=a)b", r"(a)\1", r"[\x00-\x7f]", r"\Ba", r"[", r"\W"],
)  # fmt: skip
def test_other_patterns_are_not(pattern):
    assert not features_module.matches_within_chunks(pattern)


@settings(max_examples=300, deadline=None)
@given(_CHUNK_TEXTS)
def test_chunk_patterns_find_in_chunks_what_they_find_in_the_text(text):
    """A recognised pattern's matches in a text are its matches in the text's whitespace chunks,
    one chunk after the other (a pattern that spans whitespace is not recognised, and differs)."""
    for pattern in _CHUNK_PATTERNS:
        regex = re.compile(pattern)
        chunks = text.split()
        assert regex.findall(text) == [m for chunk in chunks for m in regex.findall(chunk)]
        assert (regex.search(text) is None) == all(regex.search(c) is None for c in chunks)
    spanning = re.compile(r"\w \w")  # not recognised: its match spans a space
    assert spanning.findall("a b") and not spanning.findall("a") + spanning.findall("b")


@settings(max_examples=200, deadline=None)
@given(st.lists(_CHUNK_TEXTS, max_size=6))
def test_word_tokens_from_chunks_equal_tokens_from_texts(texts):
    """The shared word tokens, taken from the whitespace chunks, are the tokens ``re.findall``
    finds in each lower-cased text, numbered alike."""
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    got = columns.tokens(WORD_TOKEN_PATTERN)
    findall = re.compile(WORD_TOKEN_PATTERN).findall
    want = features_module.Tokens([findall(text.lower()) for text in texts])
    assert got.words == want.words
    assert got.ids.tolist() == want.ids.tolist() and got.ids.dtype == want.ids.dtype
    assert got.lengths.tolist() == want.lengths.tolist()
    assert got.lengths.dtype == want.lengths.dtype


@settings(max_examples=200, deadline=None)
@given(st.lists(_CHUNK_TEXTS | st.text(alphabet="AbİıΣσςẞ \u00a0\n.Ⅻ", max_size=20), max_size=6))
def test_lower_cased_chunks_from_the_chunks_as_written_equal_splitting_lower_cased_texts(texts):
    """The chunks the char block reads are derived from the chunks as written, lower-cased one
    distinct chunk at a time: the same chunks, numbered alike, as splitting each lower-cased
    text (dotted capital I, final sigma and Unicode whitespace included)."""
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    got = columns.tokens(None)
    want = features_module.Tokens([text.lower().split() for text in texts])
    assert got.words == want.words
    assert got.ids.tolist() == want.ids.tolist()
    assert got.lengths.tolist() == want.lengths.tolist()
    written = columns.chunks_as_written()
    assert written.words == features_module.Tokens([text.split() for text in texts]).words


def test_row_cache_returns_the_computed_rows_and_keeps_to_its_size():
    """Rows come back as computed, whatever the cache held; it never holds more than its size,
    and when full starts again from the batch at hand (or empty if that does not fit)."""
    calls = []

    def compute(words):
        calls.append(list(words))
        indptr = np.cumsum([0] + [len(w) for w in words])
        indices = np.array([ord(c) % 50 for w in words for c in w], dtype=np.int32)
        data = np.array([float(ord(c)) for w in words for c in w], dtype=np.float32)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(words), 50))

    cache = features_module._RowCache(4)
    steps = [  # (batch, words computed, words cached afterwards)
        (["ab", "c"], ["ab", "c"], 2),
        (["c", "def", ""], ["def", ""], 4),
        (["ghij", "ab"], ["ghij"], 2),  # full: the batch's two words stay
        (["k", "l", "m", "n", "o"], ["k", "l", "m", "n", "o"], 0),  # more than fits
        (["k", "ab", "ghij"], ["k", "ab", "ghij"], 3),
        (["ghij"], None, 3),
        ([], None, 3),
    ]
    for words, computed, size in steps:
        calls.clear()
        lengths, indices, data = cache.rows(words, compute)
        assert lengths.tolist() == [len(w) for w in words]
        assert indices.tolist() == [ord(c) % 50 for w in words for c in w]
        assert data.tolist() == [float(ord(c)) for w in words for c in w]
        assert indices.dtype == np.int32 and data.dtype == np.float32
        assert calls == ([computed] if computed else [])
        assert len(cache) == size


def test_unseen_word_rows_equal_the_rows_computed_afresh():
    fast = FastCharVectorizer(**CHAR_PARAMS).fit(TEXTS)
    words = ["zorblat", "velmora", "glimmerfax!", "q"]
    fresh = fast._ngram_rows(words)
    for _ in range(2):  # computed, then cached
        lengths, indices, data = fast._unseen_word_rows(words)
        assert lengths.tolist() == np.diff(fresh.indptr).tolist()
        assert indices.tolist() == fresh.indices.tolist() and data.tolist() == fresh.data.tolist()


def test_dense_csr_equals_scipy():
    rng = np.random.default_rng(3)
    dense = rng.choice([0.0, 0.0, 1.5, -2.0, np.nan, 1e-300], size=(40, 7))
    dense[5] = 0.0
    for matrix in (dense, np.zeros((0, 7)), np.zeros((3, 0)), np.zeros((4, 5))):
        got, want = features_module._dense_csr(matrix), sparse.csr_matrix(matrix)
        assert got.shape == want.shape
        for name in ("data", "indices", "indptr"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


@pytest.mark.parametrize("canonical", [True, False])
def test_sparse_product_equals_scipy(canonical):
    """The same arrays as scipy's product, in the kernel's order of indices, for canonical and
    for unsorted, duplicated input."""
    rng = np.random.default_rng(5)
    a = sparse.random(30, 40, density=0.15, format="csr", dtype=np.float32, random_state=rng)
    b = sparse.random(40, 60, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    if not canonical:
        a = sparse.csr_matrix(
            (np.r_[a.data, a.data[:5]], np.r_[a.indices, a.indices[:5]],
             np.r_[a.indptr[:-1], a.indptr[-1] + 5]), shape=a.shape,
        )  # fmt: skip
        a.indices[: a.indptr[1]] = a.indices[: a.indptr[1]][::-1].copy()
    for left, right in ((a, b), (a[:0], b), (sparse.csr_matrix((3, 40), dtype=np.float32), b)):
        got, want = features_module._sparse_product(left, right), sparse.csr_matrix(left @ right)
        assert got.shape == want.shape
        for name in ("data", "indices", "indptr"):
            x, y = getattr(got, name), getattr(want, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name


def test_sparse_product_falls_back_when_scipys_kernel_changes(monkeypatch):
    """The kernel is scipy's private API: a scipy whose kernel takes other arguments, or has none,
    gets the public product, with the same matrix."""
    rng = np.random.default_rng(6)
    a = sparse.random(20, 30, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    b = sparse.random(30, 10, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    want = sparse.csr_matrix(a @ b).toarray()

    def changed_kernel(*arguments):
        raise TypeError("csr_matmat() takes 12 positional arguments")

    for kernel in (changed_kernel, None):
        monkeypatch.setattr(features_module, "_CSR_MATMAT", kernel)
        assert np.array_equal(features_module._sparse_product(a, b).toarray(), want)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["Jobs", "jobs", "take", "back", "control", "the", "!"]),
                         max_size=8).map(" ".join), max_size=6))  # fmt: skip
def test_sentences_saying_counts_each_phrase_once_per_sentence(document):
    findall = re.compile(WORD_TOKEN_PATTERN).findall
    want: dict = {}
    for text in document:
        words = [w.lower() for w in findall(text)]
        for phrase in {tuple(words[i : i + n]) for n in (2, 3) for i in range(len(words) - n + 1)}:
            want[phrase] = want.get(phrase, 0) + 1
    features_module._sentences_saying.cache_clear()
    assert dict(features_module._sentences_saying(tuple(document), (2, 3))) == want
