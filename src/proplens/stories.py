"""Related stories: articles that share so much text that a held-out fold must hold them together.

News corpora carry the same story more than once: a wire report and its rewrite, an update of an
earlier article, a long passage quoted whole. In the SemEval-2020 training articles, 1,526
sentences of six words or more also appear word for word in another article: 689 are an outlet's
boilerplate (in more than five articles), most of the other 837 are in reports and their
rewrites. Cross-validation grouped by article puts such copies on both sides of a split; a TF-IDF
model that has seen a sentence and its label then "predicts" its copy, and the figures describe
memory as well as reading. Grouping by story keeps a story's copies on one side.

Two articles are the same story when, leaving out the 5-word phrases that more than
``max_articles`` articles use (boilerplate, which any new article from that outlet carries too,
so copies of it are no leak), at least ``min_shared`` of the shorter article's 5-word phrases are
also in the other. Stories are the connected components of that relation.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["SHINGLE_WORDS", "related_articles", "story_groups"]

#: Phrase length, in words, of the shingles compared: long enough that most shared ones are
#: copied text, not idiom. The commonest idiom left ("at the end of the", in 9 of the 371
#: training articles) and an outlet's poll notice (in 74) fall to the ``max_articles`` rule.
SHINGLE_WORDS = 5
_WORD = re.compile(r"\w+")


def _shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())
    return {
        hash(tuple(words[i : i + SHINGLE_WORDS])) for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def related_articles(
    documents: Mapping[str, str], *, min_shared: float = 0.2, max_articles: int = 5
) -> dict[str, str]:
    """Map each document id to its story: the smallest id among the articles it is related to.

    An article related to no other is its own story. The comparison runs through an index of
    phrases, so its cost grows with the number of phrases two articles share, not with the
    square of the number of articles.
    """
    if not 0 < min_shared <= 1:
        raise ValueError(f"min_shared must be in (0, 1], got {min_shared}")
    ids = sorted(documents, key=str)
    shingles = {d: _shingles(documents[d]) for d in ids}
    articles_of: dict[int, list[str]] = defaultdict(list)
    for d in ids:
        for shingle in shingles[d]:
            articles_of[shingle].append(d)
    boilerplate = {s for s, where in articles_of.items() if len(where) > max_articles}
    own = {d: len(shingles[d] - boilerplate) for d in ids}
    shared: Counter[tuple[str, str]] = Counter()
    for shingle, where in articles_of.items():
        if len(where) < 2 or shingle in boilerplate:
            continue
        for i, first in enumerate(where):
            for second in where[i + 1 :]:
                shared[first, second] += 1
    parent = {d: d for d in ids}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for (first, second), count in shared.items():
        if count >= min_shared * min(own[first], own[second]):
            a, b = root(first), root(second)
            if a != b:
                # the smaller id becomes the root, so a story is named by its smallest id
                parent[max(a, b, key=str)] = min(a, b, key=str)
    return {d: root(d) for d in ids}


def story_groups(document_ids: Sequence, texts: Iterable[str], **options) -> np.ndarray:
    """One story key per row of a sentence table (``document_id`` and ``text`` columns): the
    groups for a :class:`~sklearn.model_selection.GroupKFold` that keeps related stories in one
    fold. ``options`` are those of :func:`related_articles`."""
    keys = [str(d) for d in document_ids]
    sentences: dict[str, list[str]] = defaultdict(list)
    for key, text in zip(keys, texts, strict=True):
        sentences[key].append(text)
    story = related_articles({k: "\n".join(v) for k, v in sentences.items()}, **options)
    return np.array([story[k] for k in keys], dtype=object)
