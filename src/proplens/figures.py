"""Features for ``Unverified_Figures``: is there a figure, is it something else, is it sourced?

The guideline (``datasets/guidelines/unverified-figures.md``) decides a sentence in three steps:
is there a quantity; is every number something other than a figure (a date, a duration, an age,
an ordinal, part of a name, an identifier); is the figure attributed in the same or an adjacent
sentence. Bag-of-words features learn these slowly from 895 labeled sentences, so this module
writes them down as dense, label-free features that a linear model can weigh directly.

Neighbouring sentences are read from the ``prev_text``/``next_text`` columns when the frame has
them (training adds them from the full document, so a frame holding only the labeled sentences
still sees the true neighbours), otherwise from the previous/next row of the same document.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

__all__ = ["FigureCues", "add_neighbour_columns", "make_figure_features", "masked_text"]

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|trillion|dozen"
)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec"
)
_UNITS = r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|nights?)"

_P = {
    "number": r"\d[\d,.]*\d|\d",
    "number_word": rf"\b(?:{_NUMBER_WORDS})s?\b",
    "money": r"[$£€¥]\s?\d|\b\d[\d,.]*\s?(?:dollars|pounds|euros|rupees|yuan)\b",
    "big": r"\b(?:million|billion|trillion)s?\b",
    "percent": r"\d\s?%|\bper ?cent\b|\bpercentage\b",
    "fraction": r"\b(?:half|third|quarter|fifth|tenth)s?\b|\bone in (?:\w+)\b"
    r"|\btimes (?:as|more)\b",
    "vague": r"\b(?:dozens|hundreds|thousands|millions|billions|tens of thousands)\s+of\b",
    "measure": r"\b\d[\d,.]*\s?(?:km|kilomet|miles?|tonnes?|tons?|kg|acres?|hectares?|barrels?|"
    r"gallons?|litres?|feet|metres?|meters?)",
    "year": r"\b(?:1[6-9]|20)\d\d(?:s|'s)?\b",
    "date": rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b",
    "duration": rf"\b(?:\d[\d,.]*|{_NUMBER_WORDS}|a|an|few|several)[\s-]+{_UNITS}\b",
    "time": r"\b\d{1,2}(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|\b\d{1,2}:\d\d\b",
    "age": r"\b\d+-year-old\b|\baged? \d+|\bin (?:his|her|their) \d0s\b",
    "ordinal": r"\b\d+(?:st|nd|rd|th)\b|\b(?:first|second|third|fourth|fifth|tenth|No\.\s?\d)\b",
    "name_number": r"\b[A-Z][A-Za-z]*[- ]?\d+\b|\b\d+/\d+\b|\b[A-Z]+-\d+\b",
    "identifier": r"\b(?:H\.R\.|S\.|Article|Section|Chapter|Psalm|Page|p\.)\s?\d|\d{3}[-.]\d{3,4}",
    "citation": r"\[\d+\]|\bSource:",
}
_ATTRIBUTION = {
    "according_to": r"\baccording to\b",
    "said": r"\b(?:said|says|say|told|tells|stated|states|added|explained|noted|claimed|claims)\b",
    "reported": r"\b(?:reported|reports|reporting|wrote|writes|estimated|estimates|found|shows?|"
    r"showed|revealed|announced|published|released|confirmed|testified)\b",
    "source_noun": r"\b(?:data|figures|statistics|study|survey|poll|census|report|analysis|"
    r"documents|records|officials|spokes(?:man|woman|person)|ministry|department|agency|bureau)\b",
    "quote": r"[\"“”]",
    "hedge": r"\b(?:reportedly|allegedly|it is (?:estimated|believed)|some say|experts)\b",
}
_COMPILED = {name: re.compile(p, re.IGNORECASE) for name, p in _P.items()}
_COMPILED["name_number"] = re.compile(_P["name_number"])  # case matters: "Boeing 737"
_ATTR = {name: re.compile(p, re.IGNORECASE) for name, p in _ATTRIBUTION.items()}
_NOT_FIGURE = ("year", "date", "duration", "time", "age", "ordinal", "name_number", "identifier")
_FIGURE = re.compile(
    rf"{_P['money']}|{_P['percent']}|{_P['vague']}|{_P['measure']}|\d[\d,.]*\d|\d|"
    rf"\b(?:{_NUMBER_WORDS})s?\b",
    re.IGNORECASE,
)


def _spans(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _bare_figures(text: str) -> int:
    """Figures left once dates, durations, ages, ordinals, names and identifiers are removed."""
    covered = [span for name in _NOT_FIGURE for span in _spans(_COMPILED[name], text)]
    count = 0
    for start, end in _spans(_FIGURE, text):
        if not any(s <= start and end <= e for s, e in covered):
            token = text[start:end].lower()
            if token in ("one", "ones"):  # "one of the", "no one": rarely a figure
                continue
            count += 1
    return count


def masked_text(text: str) -> str:
    """The sentence with each number replaced by a shape token (``0``, ``00``, ``0,000``...), so
    word n-grams generalise across values ("$ 00 million" rather than "$ 14 million")."""
    return re.sub(r"\d", "0", text)


def _neighbours(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    if "prev_text" in frame.columns and "next_text" in frame.columns:
        return frame["prev_text"].fillna("").tolist(), frame["next_text"].fillna("").tolist()
    texts = frame["text"].tolist()
    documents = frame["document_id"].tolist()
    previous = [
        texts[i - 1] if i > 0 and documents[i - 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    following = [
        texts[i + 1] if i + 1 < len(texts) and documents[i + 1] == documents[i] else ""
        for i in range(len(texts))
    ]
    return previous, following


def add_neighbour_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``prev_text``/``next_text`` from the rows around each sentence; do this on
    the whole table before taking a subset, so the subset keeps its true neighbours."""
    previous, following = _neighbours(
        frame.drop(columns=["prev_text", "next_text"], errors="ignore")
    )
    return frame.assign(prev_text=previous, next_text=following)


class FigureCues(TransformerMixin, BaseEstimator):
    """Dense counts of quantity, non-figure and attribution patterns (log-scaled), for the
    sentence and, for attribution, its previous and next sentence."""

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self

    def transform(self, X: pd.DataFrame):
        previous, following = _neighbours(X)
        rows = []
        for text, before, after in zip(X["text"].tolist(), previous, following, strict=True):
            row = [len(_COMPILED[name].findall(text)) for name in _P]
            bare = _bare_figures(text)
            row += [bare, bare > 0]
            sourced = []
            for context in (text, before, after):
                counts = [len(pattern.findall(context)) for pattern in _ATTR.values()]
                row += counts
                # hedges ("reportedly") are not sources; the rest are
                sourced.append(sum(counts[:-1]) > 0)
            # Conjunctions a linear model cannot form itself: the guideline's decision is
            # "a figure AND no source nearby".
            row += [
                bare > 0 and not any(sourced),
                bare > 0 and sourced[0],
                bare > 0 and not sourced[0] and (sourced[1] or sourced[2]),
                bare > 0 and _ATTR["according_to"].search(text) is not None,
            ]
            rows.append(row)
        return sparse.csr_matrix(np.log1p(np.asarray(rows, dtype=float)))

    def get_feature_names_out(self, input_features=None):
        names = [f"has_{name}" for name in _P] + ["bare_figures", "any_bare_figure"]
        for where in ("same", "previous", "next"):
            names += [f"{where}_{name}" for name in _ATTRIBUTION]
        names += ["figure_unsourced", "figure_sourced_here", "figure_sourced_nearby"]
        names += ["figure_according_to"]
        return np.array(names, dtype=object)


def sentence_text(frame: pd.DataFrame) -> pd.Series:
    return frame["text"]


def masked_sentences(frame: pd.DataFrame) -> list[str]:
    return [masked_text(t) for t in frame["text"]]


def context_text(frame: pd.DataFrame) -> list[str]:
    previous, following = _neighbours(frame)
    return [f"{a} {b}" for a, b in zip(previous, following, strict=True)]


def make_figure_features(*, cue_weight: float = 1.0) -> FeatureUnion:
    """Features for Unverified_Figures: masked word n-grams, neighbour words and figure cues.

    The first block is named ``"words"`` (plain sentence words) so that evidence can still point
    at words of the input.
    """
    return FeatureUnion(
        [
            (
                "words",
                Pipeline(
                    [
                        ("select", FunctionTransformer(sentence_text)),
                        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                    ]
                ),
            ),
            (
                "masked",
                Pipeline(
                    [
                        ("select", FunctionTransformer(masked_sentences)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                ngram_range=(1, 3),
                                min_df=2,
                                sublinear_tf=True,
                                token_pattern=r"(?u)\b\w[\w,.]*\w\b|\b\w\b|[$£€%\"“”]",
                            ),
                        ),
                    ]
                ),
            ),
            (
                "context",
                Pipeline(
                    [
                        ("select", FunctionTransformer(context_text)),
                        ("tfidf", TfidfVectorizer(min_df=2, sublinear_tf=True)),
                    ]
                ),
            ),
            ("cues", FigureCues()),
        ],
        transformer_weights={"context": 0.5, "cues": cue_weight},
    )
