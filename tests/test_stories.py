"""Related stories: which articles a held-out fold must keep together."""

from __future__ import annotations

import numpy as np
import pytest

from proplens.stories import related_articles, story_groups

# Written for these tests: a harbour story, its rewrite, and an unrelated school story.
HARBOUR = (
    "The harbour authority opened the new ferry terminal on Monday after two years of work. "
    "Passengers waited in the rain while the first boat left the pier behind schedule. "
    "The terminal has room for four ferries and a covered hall for cyclists and walkers."
)
HARBOUR_REWRITE = (
    "Officials cut a ribbon at dawn. "
    "Passengers waited in the rain while the first boat left the pier behind schedule. "
    "The terminal has room for four ferries and a covered hall for cyclists and walkers."
)
SCHOOL = (
    "The village school will add a second science room next spring, the governors agreed. "
    "Pupils planted a row of apple trees along the playground fence during the summer term."
)
FOOTER = " Sign up for our weekly newsletter to get every story in your inbox on Friday morning."


def test_a_rewrite_sharing_passages_is_one_story_and_an_unrelated_article_is_its_own():
    stories = related_articles({"b": HARBOUR, "a": HARBOUR_REWRITE, "c": SCHOOL})
    assert stories == {"a": "a", "b": "a", "c": "c"}


def test_stories_are_transitive_and_named_by_their_smallest_id():
    second = HARBOUR_REWRITE.replace("The terminal has room", "A spokesperson said it has room")
    third = (
        "Officials cut a ribbon at dawn. A spokesperson said it has room for four ferries and a "
        "covered hall for cyclists and walkers. " + SCHOOL
    )
    # z and k share too little to be related directly; both are related to m
    assert related_articles({"z": HARBOUR, "k": third}, min_shared=0.3) == {"k": "k", "z": "z"}
    stories = related_articles({"z": HARBOUR, "m": second, "k": third}, min_shared=0.3)
    assert set(stories.values()) == {"k"}


def test_an_outlets_boilerplate_links_no_articles():
    texts = [
        f"Story number {i} tells of {topic}." + FOOTER
        for i, topic in enumerate(["a bridge", "a vote", "a storm", "a match", "a fire", "a fair"])
    ]
    stories = related_articles({str(i): t for i, t in enumerate(texts)}, max_articles=5)
    assert len(set(stories.values())) == len(texts)
    # the same footer in fewer articles than the limit is a shared passage, not boilerplate
    assert len(set(related_articles({"0": texts[0], "1": texts[1]}).values())) == 1


def test_the_share_is_of_the_shorter_article_and_has_a_floor():
    long_article = HARBOUR + " " + SCHOOL * 3
    assert related_articles({"a": HARBOUR, "b": long_article})["b"] == "a"
    assert related_articles({"a": HARBOUR, "b": SCHOOL}, min_shared=0.01)["b"] == "b"
    with pytest.raises(ValueError, match="min_shared"):
        related_articles({"a": HARBOUR}, min_shared=0)
    with pytest.raises(ValueError, match="max_articles must be at least 2, got 1"):
        related_articles({"a": HARBOUR, "b": HARBOUR_REWRITE}, max_articles=1)


def test_articles_too_short_for_a_phrase_are_their_own_story():
    assert related_articles({"a": "Yes.", "b": "Yes.", "c": ""}) == {"a": "a", "b": "b", "c": "c"}


def test_story_groups_gives_each_sentence_its_articles_story():
    ids = ["b", "b", "b", "a", "a", "a", "c", "c", 7]
    texts = [*HARBOUR.split(". "), *HARBOUR_REWRITE.split(". "), *SCHOOL.split(". "), "Hello."]
    groups = story_groups(ids, texts)
    assert groups.tolist() == ["a", "a", "a", "a", "a", "a", "c", "c", "7"]
    assert isinstance(groups, np.ndarray)


@pytest.mark.corpus
def test_known_near_duplicates_of_the_training_articles_share_a_story(corpus_dir):
    from proplens.corpus import read_semeval2020

    documents = read_semeval2020(corpus_dir, split="train").documents
    stories = related_articles(documents)
    # two pairs PROVENANCE.md names as near-duplicate stories
    assert stories["111111136"] == stories["723793978"]
    assert stories["999000125"] == stories["999001970"]
    sizes = np.unique(list(stories.values()), return_counts=True)[1]
    # most articles are a story of their own; no story swallows the corpus
    assert len(sizes) > 0.8 * len(documents)
    assert sizes.max() <= 10


def _brute_force_stories(documents, min_shared, max_articles):
    """The definition, pair by pair: the reference the indexed version must agree with."""
    import re

    def phrases(text):
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    found = {d: phrases(t) for d, t in documents.items()}
    use = {}
    for shingles in found.values():
        for shingle in shingles:
            use[shingle] = use.get(shingle, 0) + 1
    own = {d: {p for p in s if use[p] <= max_articles} for d, s in found.items()}
    ids = sorted(documents)
    story = {d: d for d in ids}
    merged = True
    while merged:  # merge until stable: the components of the relation
        merged = False
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                shared = len(own[a] & own[b])
                if shared and shared >= min_shared * min(len(own[a]), len(own[b])):
                    low = min(story[a], story[b])
                    for d in ids:
                        if story[d] in (story[a], story[b]) and story[d] != low:
                            story[d], merged = low, True
    return story


@pytest.mark.parametrize("seed", range(6))
def test_stories_agree_with_the_definition_pair_by_pair(seed):
    """Random articles built from shared passages and boilerplate, compared with a brute-force
    reading of the definition."""
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(60)]
    passages = [" ".join(rng.choices(vocabulary, k=rng.randint(3, 30))) for _ in range(12)]
    documents = {
        f"d{i:02d}": " ".join(rng.choices(passages, k=rng.randint(0, 5))) for i in range(25)
    }
    for min_shared, max_articles in ((0.2, 5), (0.05, 3), (0.6, 8)):
        expected = _brute_force_stories(documents, min_shared, max_articles)
        found = related_articles(documents, min_shared=min_shared, max_articles=max_articles)
        assert found == expected
