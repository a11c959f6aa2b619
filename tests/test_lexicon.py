"""The span lexicon: word-in-span rates learned from labeled spans, cross-fit on training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proplens.features import WORD_TOKEN_PATTERN, SentenceColumns, make_sentence_features
from proplens.lexicon import _TOP, SpanLexicon, _top_ranks, sentence_spans

# Sentences written for these tests (fictional places and people).
PLAIN = [
    "The council of Vellmora met on Tuesday to discuss the bridge.",
    "Mayor Odrin Tass said the budget will be published next month.",
    "The library in Kestrow extends its opening hours in winter.",
    "Residents of Kestrow asked about parking near the market.",
]


def _frame(documents: int = 6) -> pd.DataFrame:
    """Documents of two plain sentences and one where 'shameful' is labeled Loaded_Language."""
    rows = []
    for d in range(documents):
        loaded = f"These shameful plans from council {d} will ruin the valley."
        start = loaded.index("shameful")
        rows += [
            (f"doc{d}", 0, PLAIN[d % 4], []),
            (f"doc{d}", 1, loaded, [(start, start + len("shameful"), "Loaded_Language")]),
            (f"doc{d}", 2, PLAIN[(d + 1) % 4], []),
        ]
    return pd.DataFrame(rows, columns=["document_id", "sentence_index", "text", "spans"])


def test_sentence_spans_clip_to_each_sentence():
    sentences = pd.DataFrame(
        {"document_id": ["a", "a", "b"], "start": [0, 10, 0], "end": [9, 30, 5]}
    )
    spans = pd.DataFrame(
        {"document_id": ["a", "b"], "start": [5, 2], "end": [15, 3], "device": ["Doubt", "Slogans"]}
    )
    assert sentence_spans(sentences, spans) == [
        [(5, 9, "Doubt")],
        [(0, 5, "Doubt")],
        [(2, 3, "Slogans")],
    ]


def test_a_word_inside_spans_raises_its_device_only():
    lexicon = SpanLexicon().fit(_frame())
    columns = SentenceColumns(["What a shameful decision."], ["new"], [0])
    features = lexicon.transform_columns(columns).toarray()[0]
    names = list(lexicon.get_feature_names_out())
    assert features[names.index("span_rate_max_Loaded_Language")] > 1.0
    assert features[names.index("span_rate_max_any")] > 1.0
    plain = lexicon.transform_columns(SentenceColumns([PLAIN[2]], ["new"], [0])).toarray()[0]
    assert plain[names.index("span_rate_max_Loaded_Language")] < 0.5


def test_training_rows_never_see_their_own_labels():
    """fit_transform cross-fits by document: a word labeled in one document only tells that
    document's rows nothing, though the lexicon fit on everything knows it."""
    frame = _frame()
    text = "Their monstrous scheme failed."
    start = text.index("monstrous")
    frame.loc[len(frame)] = ["doc0", 3, text, [(start, start + 9, "Loaded_Language")]]
    frame.loc[len(frame)] = ["doc0", 4, text, [(start, start + 9, "Loaded_Language")]]
    lexicon = SpanLexicon(folds=3)
    crossed = lexicon.fit_transform(frame).toarray()
    column = list(lexicon.get_feature_names_out()).index("span_rate_max_Loaded_Language")
    assert crossed[len(frame) - 1, column] == pytest.approx(0.0)
    refit = lexicon.transform(frame.iloc[[len(frame) - 1]]).toarray()
    assert refit[0, column] > 1.0


def test_rows_without_spans_are_left_out_of_the_fit():
    frame = _frame()
    with_none = pd.concat(
        [frame, pd.DataFrame([["extra", 0, "A shameful shameful shameful day.", None]],
                             columns=frame.columns)],
        ignore_index=True,
    )  # fmt: skip
    a = SpanLexicon().fit(frame)
    b = SpanLexicon().fit(with_none)
    assert a.vocabulary_ == b.vocabulary_
    np.testing.assert_array_equal(a.log_ratio_, b.log_ratio_)


def test_without_spans_the_block_is_constant():
    frame = _frame().drop(columns="spans")
    lexicon = SpanLexicon()
    assert lexicon.fit_transform(frame).nnz == 0
    names = list(lexicon.get_feature_names_out())
    assert names == ["span_rate_max_any", f"span_rate_top{_TOP}_any"]


def _reference(lexicon: SpanLexicon, tokens: list[list[str]]) -> np.ndarray:
    """The definition, one sentence at a time: max and mean of the top 3 ratios (unknown = 1)."""
    width = len(lexicon.devices_) + 1
    ratios = np.exp(lexicon.log_ratio_.astype(np.float64))
    out = np.zeros((len(tokens), 2 * width))
    for row, sentence in enumerate(tokens):
        known = [lexicon.vocabulary_[w] for w in sentence if w in lexicon.vocabulary_]
        if not known:
            continue
        unknown = min(len(sentence) - len(known), _TOP)
        candidates = np.vstack([ratios[known], np.ones((unknown, width))])
        top = -np.sort(-candidates, axis=0)[: min(len(sentence), _TOP)]
        out[row, :width] = np.log(top[0])
        out[row, width:] = np.log(top.mean(axis=0))
    return out


def test_vectorised_features_match_the_definition():
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(40)]
    lexicon = SpanLexicon()
    lexicon.devices_ = ["A", "B"]
    lexicon.vocabulary_ = {w: i for i, w in enumerate(vocabulary[:25])}
    # ties on purpose: equal ratios must be struck out one at a time
    lexicon.log_ratio_ = rng.choice([-1.0, 0.0, 0.5, 1.5], size=(25, 3)).astype(np.float32)
    texts = [" ".join(rng.choice(vocabulary, size=rng.integers(0, 9))) for _ in range(300)]
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    tokens = columns.tokens(WORD_TOKEN_PATTERN)
    split = np.split(tokens.ids, np.cumsum(tokens.lengths)[:-1])
    expected = _reference(lexicon, [[tokens.words[i] for i in ids] for ids in split])
    np.testing.assert_allclose(lexicon.transform_columns(columns).toarray(), expected, atol=1e-9)


def test_the_default_features_include_the_lexicon():
    features = make_sentence_features()
    assert "lexicon" in dict(features.transformer_list)
    assert features.transformer_weights["lexicon"] == pytest.approx(0.3)


def test_an_unmarked_device_leaves_its_columns_only():
    """A sentence corrected to have a device no span marks says nothing about which of its words
    carry it: it is left out of that device's rates and of "any device", and still counts for the
    other devices (here as a sentence without Doubt)."""
    frame = _frame()
    frame["unmarked"] = [[] for _ in range(len(frame))]
    text = "Nobody believes the shameful report about the doubtful figures."
    start = text.index("shameful")
    frame.loc[len(frame)] = ["doc9", 0, text, [(start, start + 8, "Loaded_Language")], ["Doubt"]]
    frame.loc[len(frame)] = ["doc9", 1, "Doubtful claims again.", [(0, 8, "Doubt")], []]
    both = SpanLexicon().fit(frame)
    names = list(both.get_feature_names_out())
    assert "span_rate_max_Doubt" in names
    without = frame.copy()
    without.at[len(frame) - 2, "spans"] = None  # the old behaviour: the whole sentence left out
    whole = SpanLexicon().fit(without)
    doubt, loaded = both.devices_.index("Doubt"), both.devices_.index("Loaded_Language")
    any_ = len(both.devices_)
    word = both.vocabulary_["shameful"]
    # Doubt and "any device" are fit exactly as if the sentence were not there ...
    for column in (doubt, any_):
        assert both.base_rate_[column] == whole.base_rate_[column]
        assert both.log_ratio_[word, column] == whole.log_ratio_[word, column]
    # ... while Loaded_Language counts its span: one more occurrence of "shameful" inside a span
    assert both.log_ratio_[word, loaded] != whole.log_ratio_[word, loaded]
    assert both.base_rate_[loaded] != whole.base_rate_[loaded]


def _random_lexicon(rng, values, words: int = 30, devices: int = 3) -> SpanLexicon:
    lexicon = SpanLexicon()
    lexicon.devices_ = [f"D{d}" for d in range(devices)]
    lexicon.vocabulary_ = {f"w{i}": i for i in range(words)}
    lexicon.log_ratio_ = rng.choice(values, size=(words, devices + 1)).astype(np.float32)
    return lexicon


@pytest.mark.parametrize("seed", range(4))
def test_ranked_features_equal_the_plain_computation_bit_for_bit(seed, monkeypatch):
    """The features picked by rank equal, to the last bit, those computed from the ratios
    themselves (``_features_reference``, the computation before ranks): ties, unknown words,
    repeated words, sentences shorter and far longer than ``_TOP``, ratios below and above 1."""
    rng = np.random.default_rng(seed)
    values = [-3.0, -0.7, -0.1, 0.0, 0.2, 0.2000001, 1.3, 4.0] if seed % 2 else rng.normal(size=9)
    lexicon = _random_lexicon(rng, values)
    vocabulary = [f"w{i}" for i in range(45)]  # a third of the words unknown
    sizes = rng.choice([0, 1, 2, 3, 4, 7, 60], size=400)
    texts = [" ".join(rng.choice(vocabulary[: rng.integers(1, 46)], size=n)) for n in sizes]
    columns = SentenceColumns(texts, ["d"] * len(texts), list(range(len(texts))))
    tokens = columns.tokens(WORD_TOKEN_PATTERN)
    fast = lexicon._features_from_ids(tokens.words, tokens.ids, tokens.lengths)
    monkeypatch.setattr(SpanLexicon, "_ranked_ratios", lambda self: None)
    plain = lexicon._features_from_ids(tokens.words, tokens.ids, tokens.lengths)
    assert fast.tobytes() == plain.tobytes()
    assert np.isfinite(fast).all() and (fast != 0).any()


def _top_ranks_plainly(ranks, starts):
    """The ``_TOP`` largest ranks of each row and group, read off each group's sorted ranks."""
    ends = [*starts[1:], ranks.shape[1]]
    top = [np.full((ranks.shape[0], len(starts)), -1, dtype=ranks.dtype) for _ in range(_TOP)]
    for column, (start, end) in enumerate(zip(starts, ends, strict=True)):
        for row in range(ranks.shape[0]):
            for place, rank in enumerate(sorted(ranks[row, start:end], reverse=True)[:_TOP]):
                top[place][row, column] = rank
    return top


@pytest.mark.parametrize(
    ("largest", "groups"),
    [(0, 50), (6, 300), (2**15 - 1, 300), (2**22, 1200)],  # the last needs 64-bit sort keys
)
def test_top_ranks_are_each_groups_largest_ranks(largest, groups):
    """The sorted keys give each group's largest ranks, repeated ranks counted twice and -1 for
    the places a small group cannot fill, whatever the size of the ranks and the groups."""
    rng = np.random.default_rng(groups)
    sizes = rng.choice([1, 2, 3, 4, 9], size=groups)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    group = np.repeat(np.arange(groups), sizes)
    dtype = np.int16 if largest < 2**15 else np.int32
    # few distinct values, so that groups hold ties
    values = np.unique(np.r_[0, largest, rng.integers(0, largest + 1, size=4)])
    ranks = rng.choice(values, size=(3, int(sizes.sum()))).astype(dtype)
    fast = _top_ranks(ranks, starts, group)
    for got, expected in zip(fast, _top_ranks_plainly(ranks, starts), strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_rank_tables_follow_refits_and_stay_out_of_pickles():
    import pickle

    rng = np.random.default_rng(1)
    lexicon = _random_lexicon(rng, [0.0, 1.0, 2.0])
    first = lexicon._ranked_ratios()
    assert lexicon._ranked_ratios() is first  # built once
    lexicon.log_ratio_ = lexicon.log_ratio_ + np.float32(1)  # as a refit replaces it
    assert lexicon._ranked_ratios() is not first
    assert "_ranked" in vars(lexicon)
    assert "_ranked" not in vars(pickle.loads(pickle.dumps(lexicon)))
    lexicon.log_ratio_[0, 0] = np.nan  # no smoothing and a word never counted for a device
    lexicon.log_ratio_ = lexicon.log_ratio_.copy()
    assert lexicon._ranked_ratios() is None
