"""Entity masking: the gazetteer, the masker's case rules, features that ignore within-kind swaps,
evidence that still points at the input's words, and old models that score as before."""

from __future__ import annotations

import importlib.util
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from conftest import REPO_ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens.entities import (
    DEFAULT_KINDS,
    EntityMasker,
    load_gazetteer,
    map_to_masked,
    map_to_original,
)
from proplens.errors import ValidationError
from proplens.evidence import EvidenceMapper
from proplens.features import (
    MaskedFeatureUnion,
    SentenceColumns,
    make_sentence_features,
    mask_frame,
)
from proplens.lexicon import SpanLexicon
from proplens.model import DeviceClassifier
from proplens.scoring import Model

ALL_KINDS = (*DEFAULT_KINDS, "nationality")
MASKER = EntityMasker().fit()
WITH_NATIONALITIES = EntityMasker(kinds=ALL_KINDS).fit()


def load_bench():
    """benchmarks/bench.py as a module (its entity lists are what the swap checks use)."""
    spec = importlib.util.spec_from_file_location("bench", REPO_ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load_bench()


def mask(text: str, masker: EntityMasker = MASKER) -> str:
    return masker.mask([text])[0]


# -- the gazetteer ------------------------------------------------------------------------------


def test_gazetteer_is_far_larger_than_the_benchmark_list_and_covers_every_kind():
    gazetteer = load_gazetteer()
    sizes = {kind: len(names) for kind, (_, names) in gazetteer.kinds.items()}
    assert set(sizes) == set(ALL_KINDS)
    benchmark = sum(len(names) for names in BENCH.ENTITIES.values())
    assert sum(sizes.values()) > 20 * benchmark
    # all UN members are countries of the list (a few, spelled as the UN does, for spot checks)
    countries = set(gazetteer.kinds["country"][1])
    assert {"Tuvalu", "Eswatini", "Timor-Leste", "North Macedonia", "Côte d'Ivoire"} <= countries
    assert len(countries) > 193


def test_no_name_belongs_to_two_kinds_and_tokens_are_distinct():
    gazetteer = load_gazetteer()
    seen: dict[str, str] = {}
    for kind, (_, names) in gazetteer.kinds.items():
        for name in names:
            assert seen.setdefault(name, kind) == kind, f"{name!r}: {seen[name]} and {kind}"
    tokens = [token for token, _ in gazetteer.kinds.values()]
    assert len(set(tokens)) == len(tokens)
    # a token is no name itself, and masking it again changes nothing
    assert MASKER.mask(tokens) == tokens


def test_every_name_of_the_benchmark_list_is_masked_and_no_invented_name_is():
    listed = [name for names in BENCH.ENTITIES.values() for name in names]
    assert all(mask(name) != name for name in listed)
    unlisted = [name for names in BENCH.UNLISTED_ENTITIES.values() for name in names]
    assert len(unlisted) >= 20
    for masker in (MASKER, WITH_NATIONALITIES):
        assert masker.mask(unlisted) == unlisted
        # not even inside a sentence next to a listed name
        sentence = f"{unlisted[0]} met Trump and {unlisted[8]} in Moscow."
        expected = f"{unlisted[0]} met Xpersonx and {unlisted[8]} in Xplacex."
        assert masker.mask([sentence])[0] == expected


def test_names_that_are_the_rhetoric_are_never_masked():
    for word in ["Hitler", "Nazi", "Nazis", "Stalin", "Soviet", "Muslim", "Christian", "Jewish"]:
        assert mask(word, WITH_NATIONALITIES) == word


# -- case and boundary rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The turkey and the labour market.", "The turkey and the labour market."),
        ("Turkey and Labour disagree.", "Xcountryx and Xpartyx disagree."),
        ("They may ask who told us.", "They may ask who told us."),
        ("The WHO and the US agree.", "The Xorganisationx and the Xcountryx agree."),
        ("LET US PRAY", "LET US PRAY"),
        ("WHO IS RESPONSIBLE?", "WHO IS RESPONSIBLE?"),
        ("TRUMP MEETS CNN", "Xpersonx MEETS Xorganisationx"),
        ("McTrump and Trumpism, anti-Trump", "McTrump and Trumpism, anti-Xpersonx"),
        ("Putin’s and Putin's men", "Xpersonx’s and Xpersonx's men"),
        ("A Labour Day parade in New Mexico.", "A Labour Day parade in New Mexico."),
        ("Papua New Guinea and Guinea-Bissau", "Xcountryx and Xcountryx"),
        ("The U.S.-led coalition", "The Xcountryx-led coalition"),
        ("Bashar al-Assad and al-Qaeda", "Xpersonx and Xpartyx"),
        ("President Donald Trump Jr. spoke", "President Xpersonx spoke"),
        ("Americans and Russians", "Americans and Russians"),
    ],
)
def test_case_and_boundary_rules(text, expected):
    assert mask(text) == expected


def test_nationalities_are_masked_only_when_asked():
    assert mask("Russian diplomats", WITH_NATIONALITIES) == "Xnationalityx diplomats"
    assert mask("Russian diplomats") == "Russian diplomats"
    # a longer name wins over the nationality inside it
    assert mask("Native American tribes", WITH_NATIONALITIES) == "Native American tribes"


def test_unknown_kind_is_a_one_line_error():
    with pytest.raises(ValidationError, match="unknown entity kind"):
        EntityMasker(kinds=["country", "planet"]).fit()


def test_within_kind_swaps_of_part_of_a_name_give_the_same_text():
    """Swapping a surname inside a full name ("Donald Trump" -> "Donald Putin") is still one
    person, and so is a first name that is a name itself ("Hillary" + another surname)."""
    base = mask("President Donald Trump met Hillary Clinton.")
    assert mask("President Donald Putin met Hillary Merkel.") == base
    assert base == "President Xpersonx met Xpersonx."


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["the", "Trump", "labour", "US", "and", "Iran", ",", "\x00"]),
                max_size=12))  # fmt: skip
def test_one_pass_over_many_texts_equals_masking_each(words):
    texts = [" ".join(words), "Putin said", "", " ".join(reversed(words))]
    assert MASKER.mask(texts) == [mask(text) for text in texts]


# -- offsets --------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["The", "Putin", "met", "Kim Jong Un", "in", "Washington,",
                                 "U.S.", "of", "the", "European Union", "al-Assad's"]),
                min_size=1, max_size=10))  # fmt: skip
def test_edits_map_every_word_back_to_the_input(words):
    text = " ".join(words)
    masked, edits = MASKER.mask_with_edits(text)
    assert masked == mask(text)
    for original_start, original_end, masked_start, masked_end in edits:
        assert masked[masked_start:masked_end].startswith("X")
        assert map_to_original(masked_start, edits, end=False) == original_start
        assert map_to_original(masked_end, edits, end=True) == original_end
        assert map_to_masked(original_start, edits, end=False) == masked_start
    # every character outside a token is the input's character at the mapped position
    inside = np.zeros(len(masked), dtype=bool)
    for _, _, masked_start, masked_end in edits:
        inside[masked_start:masked_end] = True
    for position in np.flatnonzero(~inside):
        assert masked[position] == text[map_to_original(int(position), edits, end=False)]


# two listed names (masked) in a neutral sentence; the name-calling is aimed at invented people
SPAN_TEXT = (
    "After Vladimir Putin met Emmanuel Macron, a Velm columnist called the Orlo councillors "
    "traitors."
)


def test_labeled_spans_move_with_the_words_they_cover():
    text = SPAN_TEXT
    start, name = text.index("traitors"), text.index("Emmanuel Macron")
    frame = pd.DataFrame(
        {"document_id": ["d"], "sentence_index": [0], "text": [text],
         "spans": [[(start, start + 8, "Name_Calling,Labeling"), (name, name + 15, "Doubt")]]}
    )  # fmt: skip
    moved = mask_frame(frame, MASKER)
    new_text = moved["text"].iat[0]
    (a, b, _), (c, d, _) = moved["spans"].iat[0]
    assert new_text[a:b] == "traitors"
    assert new_text[c:d] == "Xpersonx"
    assert frame["text"].iat[0] == text  # the input frame is left alone


# -- features -------------------------------------------------------------------------------------

LOADED = ["reckless", "shameful", "disgraceful", "corrupt"]
# listed names from several sides, only ever in neutral roles: the loaded words in the positive
# sentences are aimed at the invented Orlo board
PEOPLE = ["Putin", "Macron", "Biden", "Modi"]
COUNTRIES = ["Russia", "France", "Canada", "India"]


def corpus(n_documents: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    rows, labels = [], []
    for d in range(n_documents):
        for i in range(4):
            person, country = PEOPLE[(d + i) % 4], COUNTRIES[(d * 3 + i) % 4]
            if i % 2 == 0:
                text = f"The {LOADED[(d + i) % 4]} Orlo board met {person} in {country} today!"
                label = [1]
            else:
                text = f"The Orlo board met {person} in {country} on Tuesday."
                label = [0]
            rows.append((f"d{d}", i, text))
            labels.append(label)
    frame = pd.DataFrame(rows, columns=["document_id", "sentence_index", "text"])
    return frame, np.array(labels, dtype=np.int8)


def swapped(frame: pd.DataFrame) -> pd.DataFrame:
    """Each person and country of the corpus replaced by another of its kind."""
    swap = {**dict(zip(PEOPLE, PEOPLE[1:] + PEOPLE[:1], strict=True)),
            **dict(zip(COUNTRIES, COUNTRIES[::-1], strict=True))}  # fmt: skip
    pattern = re.compile(r"\b(" + "|".join(swap) + r")\b")
    return frame.assign(text=[pattern.sub(lambda m: swap[m.group()], t) for t in frame["text"]])


@pytest.fixture(scope="module")
def masked_model():
    frame, Y = corpus()
    model = DeviceClassifier(
        devices=["Loaded_Language"],
        features=make_sentence_features(mask_entities=True),
        threshold_folds=2,
        min_positive=2,
    )
    return model.fit(frame, Y), frame


def test_masking_is_a_fitted_option_of_the_features():
    assert isinstance(make_sentence_features(), MaskedFeatureUnion)  # the default
    plain = make_sentence_features(mask_entities=False)
    assert type(plain).__name__ == "FeatureUnion"
    union = make_sentence_features(mask_entities=True, entity_kinds=["person"])
    assert isinstance(union, MaskedFeatureUnion)
    assert union.get_params()["masker__kinds"] == ["person"]
    with pytest.raises(ValidationError):
        make_sentence_features(mask_entities=False, entity_kinds=["person"])


def test_within_kind_swaps_leave_every_feature_block_identical(masked_model):
    model, frame = masked_model
    other = swapped(frame)
    assert (other["text"] != frame["text"]).all()
    before, after = model.transform_features(frame), model.transform_features(other)
    assert (before != after).nnz == 0
    assert np.array_equal(model.predict_all_proba(frame), model.predict_all_proba(other))


def test_without_masking_the_same_swap_changes_the_features():
    frame, Y = corpus()
    features = make_sentence_features(chars=False, lexicon=False, mask_entities=False).fit(frame)
    assert (features.transform(frame) != features.transform(swapped(frame))).nnz > 0


def test_frames_and_sentence_columns_score_alike_and_mask_once(masked_model, monkeypatch):
    model, frame = masked_model
    columns = SentenceColumns.from_frame(frame)
    calls = []
    masker = model.features_.masker_
    original = type(masker).mask
    monkeypatch.setattr(
        type(masker), "mask", lambda self, texts: calls.append(len(texts)) or original(self, texts)
    )
    words = model.block_features(columns, "words")
    proba = model.predict_all_proba(columns, blocks={"words": words})
    assert calls == [len(frame)]  # one pass, shared by every block and by the second call
    assert np.array_equal(proba, model.predict_all_proba(frame))


def test_masked_features_pickle_without_the_compiled_regex(masked_model):
    model, frame = masked_model
    model.predict_all_proba(frame)  # builds the regex
    state = model.features_.masker_.__getstate__()
    assert "_matcher" not in state
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.predict_all_proba(frame), model.predict_all_proba(frame))


def test_span_lexicon_learns_from_spans_moved_onto_the_masked_text():
    text = SPAN_TEXT
    start = text.index("traitors")
    frame = pd.DataFrame(
        {"document_id": [f"d{i}" for i in range(4)], "sentence_index": [0] * 4, "text": [text] * 4,
         "spans": [[(start, start + 8, "Name_Calling,Labeling")]] * 4}
    )  # fmt: skip
    lexicon = SpanLexicon(min_count=1).fit(mask_frame(frame, MASKER))
    column = lexicon.vocabulary_
    assert lexicon.log_ratio_[column["traitors"], 0] > 0
    assert lexicon.log_ratio_[column["xpersonx"], 0] <= 0


# -- evidence -------------------------------------------------------------------------------------


def test_evidence_shows_the_input_words_around_a_masked_name(masked_model):
    model, _ = masked_model
    mapper = EvidenceMapper.from_features(model.features_)
    text = "The shameful Orlo board met Obama in Germany today!"
    sentence = pd.DataFrame({"document_id": ["x"], "sentence_index": [0], "text": [text]})
    row = model.block_features(sentence, "words")[0]
    offset = 17
    evidence = mapper.explain(text, offset, row, model.coef_[:, [1]], ["Loaded_Language"],
                              top=10, min_weight=0)  # fmt: skip
    assert evidence
    for item in evidence:
        assert text[item.start - offset : item.end - offset] == item.text
        assert "Xpersonx" not in item.text and "Xcountryx" not in item.text
    shown = {item.text for item in evidence}
    assert "Germany today" in shown  # the model's phrase "xcountryx today", in the input's words
    # the scorer's path: offsets into the whole document, words of the input
    document = "Calm day. " + text
    scored = Model({"sentences": model}).score(document, threshold=0.0)
    for found in (e for s in scored.sentences for e in s.evidence):
        assert document[found.start : found.end] == found.text


def test_evidence_mapper_knows_the_masker_only_of_masked_features(masked_model):
    model, _ = masked_model
    assert EvidenceMapper.from_features(model.features_).masker is model.features_.masker_
    frame, Y = corpus()
    plain = make_sentence_features(chars=False, mask_entities=False).fit(frame.assign(spans=None))
    assert EvidenceMapper.from_features(plain).masker is None


# -- old models -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_models_trained_without_masking_read_the_text_unchanged(version):
    from proplens.artifacts import load_model_dir

    bundle, _ = load_model_dir(REPO_ROOT / "models" / "ptc-default" / version)
    classifier = bundle["sentences"]
    assert not hasattr(classifier.features_, "mask_input")
    frame = pd.DataFrame(
        {"document_id": ["a"] * 3, "sentence_index": [0, 1, 2],
         "text": ["Putin spoke to reporters in Geneva.", "The FBI met Trump.", "Rain on Tuesday."]}
    )  # fmt: skip
    assert classifier._feature_input(frame) is frame
    columns = SentenceColumns.from_frame(frame)
    assert classifier._feature_input(columns) is columns
    # the features of the text as written: a name swapped within its kind changes them
    assert EvidenceMapper.from_features(classifier.features_).masker is None
    other = frame.assign(text=frame["text"].str.replace("Putin", "Macron"))
    assert (classifier.transform_features(frame) != classifier.transform_features(other)).nnz > 0
