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
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["SHINGLE_WORDS", "related_articles", "stories_by_document", "story_groups"]

#: Phrase length, in words, of the shingles compared: long enough that most shared ones are
#: copied text, not idiom. The commonest idiom left ("at the end of the", in 9 of the 371
#: training articles) and an outlet's poll notice (in 74) fall to the ``max_articles`` rule.
SHINGLE_WORDS = 5
_WORD = re.compile(r"\w+")


def _shingles(text: str) -> np.ndarray:
    """The distinct hashed 5-word phrases of ``text``, sorted (``hash`` fits in an int64)."""
    words = _WORD.findall(text.lower())
    count = len(words) - SHINGLE_WORDS + 1
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    found = (hash(tuple(words[i : i + SHINGLE_WORDS])) for i in range(count))
    return np.unique(np.fromiter(found, dtype=np.int64, count=count))


def related_articles(
    documents: Mapping[str, str], *, min_shared: float = 0.2, max_articles: int = 5
) -> dict[str, str]:
    """Map each document id to its story: the smallest id among the articles it is related to.

    An article related to no other is its own story. Phrases are compared as one sorted array of
    (phrase, article) rows, not as a set per article, so memory peaks near 60 bytes a phrase
    (about 120 MB for 2,000 articles of 1,000 words), and only articles that share a phrase are
    ever paired, so the cost does not grow with the square of the number of articles.
    """
    if not 0 < min_shared <= 1:
        raise ValueError(f"min_shared must be in (0, 1], got {min_shared}")
    if max_articles < 2:  # a phrase in two articles would count as boilerplate: nothing links
        raise ValueError(f"max_articles must be at least 2, got {max_articles}")
    ids = sorted(documents, key=str)
    phrases = [_shingles(documents[d]) for d in ids]
    article = np.repeat(np.arange(len(ids), dtype=np.int64), [len(p) for p in phrases])
    hashes = np.concatenate(phrases) if phrases else np.empty(0, dtype=np.int64)
    # stable: the rows of one phrase keep the articles' order, so each pair below is (lower, higher)
    order = np.argsort(hashes, kind="stable")
    hashes, article = hashes[order], article[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])[: len(hashes)]
    sizes = np.diff(np.r_[starts, len(hashes)])
    boilerplate = np.repeat(sizes > max_articles, sizes)
    own = np.bincount(article[~boilerplate], minlength=len(ids))
    pairs = [np.empty(0, dtype=np.int64)]
    for size in range(2, max_articles + 1):
        # the articles of every phrase that exactly ``size`` articles use, one row per phrase
        rows = article[starts[sizes == size][:, None] + np.arange(size)]
        for i in range(size):
            for j in range(i + 1, size):
                pairs.append(rows[:, i] * len(ids) + rows[:, j])
    pair, shared = np.unique(np.concatenate(pairs), return_counts=True)
    first, second = pair // max(len(ids), 1), pair % max(len(ids), 1)
    related = shared >= min_shared * np.minimum(own[first], own[second])
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(first[related].tolist(), second[related].tolist(), strict=True):
        a, b = root(a), root(b)
        if a != b:
            # the lower index (the smaller id: ids are sorted) becomes the root, so a story is
            # named by its smallest id
            parent[max(a, b)] = min(a, b)
    return {d: ids[root(i)] for i, d in enumerate(ids)}


def stories_by_document(document_ids: Sequence, texts: Iterable[str], **options) -> dict[str, str]:
    """Each document's story, from the rows of a sentence table (``document_id`` and ``text``
    columns; a document is its rows' texts joined), keyed by ``str(document_id)``. ``options``
    are those of :func:`related_articles`."""
    sentences: dict[str, list[str]] = defaultdict(list)
    for document, text in zip(document_ids, texts, strict=True):
        sentences[str(document)].append(text)
    return related_articles({k: "\n".join(v) for k, v in sentences.items()}, **options)


def story_groups(document_ids: Sequence, texts: Iterable[str], **options) -> np.ndarray:
    """One story key per row of a sentence table: the groups for a
    :class:`~sklearn.model_selection.GroupKFold` that keeps related stories in one fold (see
    :func:`stories_by_document`)."""
    keys = [str(d) for d in document_ids]
    story = stories_by_document(keys, texts, **options)
    return np.array([story[k] for k in keys], dtype=object)
