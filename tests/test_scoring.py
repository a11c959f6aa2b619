"""Scoring with the shipped default model: offsets, probabilities, labels, evidence, profile."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proplens.errors import InputError, ValidationError
from proplens.scoring import SCORE_METHOD

NEUTRAL = "The council will hold a public hearing on the proposal on Thursday."
LOADED = "These treacherous, corrupt cowards have betrayed every decent family in this country!"


def test_one_row_per_sentence_and_offsets_slice_back(default_model, example_text):
    """Every sentence's offsets slice the input back to its text, in order, without overlap."""
    result = default_model.score(example_text)
    assert len(result.sentences) == 19
    previous_end = 0
    for s in result.sentences:
        assert example_text[s.start : s.end] == s.text
        assert s.start >= previous_end
        previous_end = s.end
    assert len(result.to_frame()) == len(result.sentences)


#: project-written sentences with figures next to loaded words: the any-device label and
#: Unverified_Figures meet in them
FIGURE_TEXT = (
    "The reckless council wasted 40 million dollars on a useless, shameful bridge.\n"
    "Thousands of furious residents were betrayed by these corrupt cowards.\n"
    "Prices in Velm rose by 35 percent last year.\n"
    "The ferry carried 1,200 passengers, the harbour office said.\n"
)
# Scored alone with the tuned thresholds, v12 flags this sentence by its any-device probability
# (0.57 over 0.22) while no device reaches its threshold: it is labeled by the fallback.
FALLBACK_TEXT = "We all know what they are really up to."


def expected_labels(sentence, cut: dict, any_device_devices: list[str], tuned: dict) -> set[str]:
    """The documented rule: devices at or over their thresholds; when the any-device
    probability reaches its threshold and none of the devices it stands for does, the most
    likely of those as well, unless its threshold is not the tuned one."""
    over = {d for d, p in sentence.devices.items() if p >= cut[d]}
    if sentence.propaganda >= cut["propaganda"] and not over & set(any_device_devices):
        likeliest = max(any_device_devices, key=sentence.devices.get)
        if cut[likeliest] == tuned[likeliest]:
            over.add(likeliest)
    return over


def test_probabilities_and_labels_follow_thresholds(default_model, example_text):
    """Probabilities lie in [0, 1]; the labels follow the rule above, with the tuned thresholds
    and with thresholds a user sets (the fallback holds for both, for devices left as tuned)."""
    fallbacks = 0
    tuned = dict(default_model.thresholds)
    for threshold in (None, 0.6, {"Slogans": 0.99}, {"Doubt": 0.05}, tuned):
        cut = dict(tuned)
        if isinstance(threshold, float):
            cut = dict.fromkeys(cut, threshold)
        elif threshold:
            cut.update(threshold)
        texts = [example_text + FIGURE_TEXT, FALLBACK_TEXT]
        for s in (
            s for r in default_model.score_many(texts, threshold=threshold) for s in r.sentences
        ):
            assert 0.0 <= s.propaganda <= 1.0
            assert set(s.devices) == set(default_model.devices)
            expected = expected_labels(s, cut, default_model.any_device_devices, tuned)
            assert set(s.labels) == expected
            fallbacks += any(s.devices[d] < cut[d] for d in s.labels)
    assert fallbacks  # the fallback was exercised


def test_a_threshold_set_by_hand_is_a_floor_for_its_device(default_model, example_text):
    """No label below a threshold the user set: one overall value, or one device's. The
    fallback sentence, labeled below the tuned threshold of its likeliest device, loses that
    label when the user sets the device's threshold, and keeps it when the user passes the tuned
    thresholds themselves."""
    texts = [example_text + FIGURE_TEXT, FALLBACK_TEXT]

    def sentences(threshold=None):
        return [
            s for r in default_model.score_many(texts, threshold=threshold) for s in r.sentences
        ]

    tuned = sentences()
    fallback = tuned[-1]
    cut = default_model.thresholds
    below = [d for d in fallback.labels if fallback.devices[d] < cut[d]]
    assert below, "the fallback sentence should be labeled by the fallback"
    for threshold in (0.6, dict.fromkeys(below, 0.6)):
        hand_set = set(cut) if isinstance(threshold, float) else set(threshold)
        value = 0.6
        scored = sentences(threshold)
        for s in scored:
            assert all(s.devices[d] >= value for d in s.labels if d in hand_set), threshold
        assert not set(below) & set(scored[-1].labels)
    assert [s.labels for s in sentences(dict(cut))] == [s.labels for s in tuned]


def test_the_fallback_label_is_a_device_the_any_device_label_stands_for(default_model):
    """Unverified_Figures is annotated on a sample of the training sentences and is not part
    of the any-device label: it is never given as a fallback, only by its own threshold."""
    assert "Unverified_Figures" in default_model.devices
    assert "Unverified_Figures" not in default_model.any_device_devices
    assert "Loaded_Language" in default_model.any_device_devices
    cut = default_model.thresholds
    for s in default_model.score(FIGURE_TEXT).sentences:
        if "Unverified_Figures" in s.labels:
            assert s.devices["Unverified_Figures"] >= cut["Unverified_Figures"]


def test_an_any_device_threshold_of_one_turns_the_fallback_off(default_model, example_text):
    """Exactly the devices at or over their thresholds, nothing added."""
    cut = default_model.thresholds
    result = default_model.score(example_text, threshold={"propaganda": 1.0})
    for s in result.sentences:
        assert set(s.labels) == {d for d, p in s.devices.items() if p >= cut[d]}


def test_one_device_threshold_leaves_the_other_devices_labels_alone(default_model, example_text):
    """Raising Slogans' threshold can only take Slogans away (and then give the sentence its
    fallback); a sentence without Slogans keeps exactly its labels."""
    tuned = default_model.score(example_text + FIGURE_TEXT).sentences
    raised = default_model.score(example_text + FIGURE_TEXT, threshold={"Slogans": 0.99})
    for before, after in zip(tuned, raised.sentences, strict=True):
        if "Slogans" not in before.labels:
            assert after.labels == before.labels


def test_loaded_sentence_scores_higher_than_neutral_one(default_model):
    """The model separates an obviously loaded sentence from a procedural one."""
    neutral, loaded = default_model.score_many([NEUTRAL, LOADED])
    assert loaded.sentences[0].propaganda > neutral.sentences[0].propaganda + 0.2
    assert loaded.sentences[0].labels


def test_evidence_points_at_words_of_the_sentence(default_model, example_text):
    """Evidence offsets slice the document to the evidence text, inside its sentence, for a
    device the sentence is labeled with, with a positive weight."""
    result = default_model.score(example_text)
    evidence = [(s, e) for s in result.sentences for e in s.evidence]
    assert evidence, "the example article should yield some evidence"
    for s, e in evidence:
        assert example_text[e.start : e.end] == e.text
        assert s.start <= e.start < e.end <= s.end
        assert e.device in s.labels
        assert e.weight > 0


def test_json_schema_of_a_document(default_model, example_text):
    """``to_dict`` carries the documented keys and survives a JSON round trip."""
    data = json.loads(default_model.score(example_text, document_id="a.txt").to_json())
    assert data["document"] == "a.txt"
    assert set(data["model"]) == {"name", "version"}
    assert set(data["summary"]) == {"sentences", "flagged", "propaganda_score", "devices"}
    first = data["sentences"][0]
    assert set(first) == {
        "index",
        "start",
        "end",
        "text",
        "propaganda",
        "devices",
        "labels",
        "evidence",
    }
    assert data["summary"]["flagged"] == sum(1 for s in data["sentences"] if s["labels"])
    assert data["profile"]["score_method"] == SCORE_METHOD


def test_document_score_is_mean_sentence_probability(default_model, example_text):
    """The documented propaganda score: the mean of the sentences' any-device probabilities."""
    result = default_model.score(example_text)
    mean = sum(s.propaganda for s in result.sentences) / len(result.sentences)
    assert result.summary["propaganda_score"] == pytest.approx(mean, abs=1e-4)


def test_empty_text_gives_zero_sentences_and_a_note(default_model):
    """Whitespace-only input is valid: no sentences, score 0, and a note saying why."""
    result = default_model.score("  \n\n ")
    assert result.sentences == []
    assert result.summary["propaganda_score"] == 0.0
    assert "empty" in result.note


def test_higher_threshold_never_predicts_more_labels(default_model, example_text):
    """Monotone thresholds: raising the cut-off can only remove labels."""
    counts = [
        sum(len(s.labels) for s in default_model.score(example_text, threshold=t).sentences)
        for t in (0.1, 0.3, 0.5, 0.7, 0.9)
    ]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > counts[-1]


def test_devices_restrict_the_output(default_model, example_text):
    """--devices: only the named devices appear in probabilities and labels, and the labels are
    the full output's, filtered (a restricted view invents none)."""
    text = example_text + FIGURE_TEXT
    full = default_model.score(text).sentences
    for shown in (["Loaded_Language", "Doubt"], ["Slogans"], ["Unverified_Figures"]):
        result = default_model.score(text, devices=shown)
        for s, whole in zip(result.sentences, full, strict=True):
            assert set(s.devices) == set(shown)
            assert s.labels == [d for d in whole.labels if d in shown]


def test_unknown_device_and_bad_threshold_are_rejected(default_model):
    """Typos in device names or thresholds outside [0, 1] are errors, not silently ignored."""
    with pytest.raises(ValidationError, match="unknown device"):
        default_model.score("A sentence.", devices=["Loaded_language"])
    with pytest.raises(ValidationError):
        default_model.score("A sentence.", threshold=1.5)
    with pytest.raises(InputError):
        default_model.score_many([b"bytes are not text"])


def test_api_misuse_is_a_clear_proplens_error(default_model):
    """A str where a list is expected would be read letter by letter; per-device thresholds
    outside [0, 1] or not numbers would silently mute a device or fail deep in NumPy."""
    with pytest.raises(InputError, match="list of texts"):
        default_model.score_many("One document. Two sentences.")
    with pytest.raises(ValidationError, match="list of device names"):
        default_model.score("A sentence.", devices="Doubt")
    for value in (5, -0.1, float("nan"), "0.3", True):
        with pytest.raises(ValidationError, match="threshold for Doubt"):
            default_model.score("A sentence.", threshold={"Doubt": value})
    assert default_model.score("A sentence.", threshold={"Doubt": 0.3}).sentences
    with pytest.raises(InputError, match="expected text"):
        default_model.classify_span(None, 0, 3)
    for value in ([0.5], "0.5", True):
        with pytest.raises(ValidationError, match="threshold: expected a number"):
            default_model.score("A sentence.", threshold=value)
    for texts in (None, b"bytes"):
        with pytest.raises(InputError, match="expected a list of texts"):
            default_model.score_many(texts)
    with pytest.raises(InputError, match="document_ids"):
        default_model.score_many(["One.", "Two."], document_ids="xy")
    from types import MappingProxyType

    as_dict = default_model.score("It is what it is.", threshold={"Doubt": 0.01})
    as_mapping = default_model.score(
        "It is what it is.", threshold=MappingProxyType({"Doubt": 0.01})
    )
    assert as_mapping.to_dict() == as_dict.to_dict()


def test_score_many_matches_score(default_model, example_text):
    """Batching changes nothing: each document scores as it would alone."""
    texts = [example_text, LOADED, NEUTRAL]
    batch = default_model.score_many(texts, evidence=True)
    for text, result in zip(texts, batch, strict=True):
        alone = default_model.score(text)
        assert [s.propaganda for s in result.sentences] == pytest.approx(
            [s.propaganda for s in alone.sentences]
        )
        assert [s.labels for s in result.sentences] == [s.labels for s in alone.sentences]


def test_scored_sentences_are_the_segmenters_in_every_document_of_a_batch(default_model):
    """The scorer reads the segmenter's offsets and numbers the sentences itself: each document
    of a batch gets exactly ``segment()``'s sentences (index, offsets, text), an empty one none."""
    from proplens.segment import segment

    texts = ["Mr. Okafor left. Dr. Velm stayed!\nTitle line", "", "\ufeffOne. Two? Three…", LOADED]
    for text, result in zip(texts, default_model.score_many(texts), strict=True):
        expected = [(s.index, s.start, s.end, s.text) for s in segment(text)]
        assert [(s.index, s.start, s.end, s.text) for s in result.sentences] == expected
    assert len(segment(texts[0])) == 3 and segment(texts[1]) == []


def test_classify_span(default_model, example_text):
    """Span mode returns one of the devices with probabilities that sum to one."""
    start = example_text.index("spineless bureaucrats")
    prediction = default_model.classify_span(
        example_text, start, start + len("spineless bureaucrats")
    )
    assert prediction.device in default_model.devices
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValidationError):
        default_model.classify_span(example_text, 10, 5)
    with pytest.raises(ValidationError):
        default_model.classify_span(example_text, 0, len(example_text) + 1)
    with pytest.raises(ValidationError, match="only whitespace"):
        default_model.classify_span("a    b", 1, 4)
    with pytest.raises(ValidationError, match="span 2: offsets 1..2 hold only whitespace"):
        default_model.classify_spans("a \n b", [(0, 1), (1, 2)])


def test_classify_spans_gives_each_span_what_classify_span_gives_it(default_model, example_text):
    """One transform for many spans changes no answer; offsets may be numpy integers (a
    DataFrame's columns); a bad pair is named by its position."""
    phrases = ["spineless bureaucrats", "Marlow first, Marlow always!", "Harbour"]
    spans = [(example_text.index(p), example_text.index(p) + len(p)) for p in phrases]
    together = default_model.classify_spans(example_text, np.array(spans))
    for (start, end), prediction in zip(spans, together, strict=True):
        alone = default_model.classify_span(example_text, start, end)
        assert prediction.device == alone.device
        assert prediction.probabilities == pytest.approx(alone.probabilities)
    assert default_model.classify_spans(example_text, []) == []
    with pytest.raises(ValidationError, match=r"span 2: offsets must satisfy .* got 9..4"):
        default_model.classify_spans(example_text, [spans[0], (9, 4)])
    with pytest.raises(InputError, match="span 1: expected a \\(start, end\\) pair"):
        default_model.classify_spans(example_text, [(1, 2, 3)])
    with pytest.raises(InputError, match="list of"):
        default_model.classify_spans(example_text, "0 5")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_text_scores_with_valid_offsets(default_model, text):
    """Property: for arbitrary Unicode, offsets slice back and probabilities lie in [0, 1]."""
    result = default_model.score(text)
    for s in result.sentences:
        assert text[s.start : s.end] == s.text
        assert 0.0 <= s.propaganda <= 1.0
        assert all(0.0 <= p <= 1.0 for p in s.devices.values())
        for e in s.evidence:
            assert text[e.start : e.end] == e.text


def test_flagged_sentences_are_explained_by_their_words(default_model, example_text):
    """Evidence covers the blocks made of words (word and character n-grams, the span lexicon,
    a device's own cues): nearly every label of the example has a phrase behind it, and a loaded
    word or an unsourced figure is named."""
    result = default_model.score(example_text)
    labels = [(s, d) for s in result.sentences for d in s.labels]
    explained = [(s, d) for s, d in labels if any(e.device == d for e in s.evidence)]
    assert len(explained) >= 0.9 * len(labels)

    sentence = "Critics call the programme a disgraceful failure."
    evidence = default_model.score(sentence, devices=["Loaded_Language"]).sentences[0].evidence
    assert evidence[0].text == "disgraceful"

    sentence = "Over 40,000 residents have left the district since the new road opened."
    scored = default_model.score(sentence, devices=["Unverified_Figures"]).sentences[0]
    assert scored.labels == ["Unverified_Figures"]
    assert scored.evidence[0].text == "40,000"
