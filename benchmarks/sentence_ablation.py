"""Sentence-level devices: what the v10-v12 additions buy, and variants measured beside them.

5-fold cross-validation grouped by article over the SemEval-2020 training sentences and the 14
SemEval devices, the folds and protocol of ``proplens train`` (thresholds tuned inside every fit;
``proplens.evaluation.cross_validate_sentences``). Every added block is unsupervised and fit on
the training fold. Prints sentence-level any-device F1 (SLC), micro- and macro-F1 and
Repetition's F1 per variant. Never prints corpus text. About two minutes a variant on 2 cores.

    PROPLENS_DATA=../shared/data python benchmarks/sentence_ablation.py [--variants v9,v10]

``--documents N`` runs on the first N articles only (a smoke run). ``--group-by story`` keeps
related stories (articles sharing much of their text, ``proplens.stories``) in one outer fold.

Variants:

- ``v9``: the sentence features of v3-v9 (no document words, no Repetition block);
- ``phrases``: v9 plus Repetition's phrase-recurrence block (``PhraseRecurrence``, 2- and 3-word
  phrases); ``phrases-3`` and ``phrases-234`` the same with 3-word, or 2- to 4-word, phrases;
- ``document-all-W``: v9 plus every word of the sentence's whole document (``DocumentWords``)
  at weight W (0.6, 1.5 or 3.0);
- ``document-topK``: the same at weight 1.5 with each document's K most distinctive words only
  (30, 60 or 120, the shipped number);
- ``v10``: Repetition's block and the document's top 120 words at 1.5, the shipped features;
- ``v10+title``: v10 plus the words of the document's first line at weight 0.5 (not shipped);
- ``v10+phrase-lexicon``: v10 plus a second span lexicon over adjacent word pairs (a pair is
  inside a span when both its words are) at weight 0.3 (not shipped);
- ``v10+vectors-W``: v10 plus the mean of the sentence's static word vectors
  (``proplens.word_vectors.WordVectors``) at weight W (0.3, 0.5, 1.0 or 2.0; v11 ships 0.5);
- ``v12``: v10 plus the vectors of the words written in lower case at 0.5, the shipped features;
- ``v12+document-vectors-W``: v12 plus the word vectors of the sentence's whole document at
  weight W (0.3, 0.6, 1.0, 1.5 or 2.5; not shipped);
- ``v12+neighbour-vectors-W``: v12 plus the word vectors of the previous and next sentence at
  weight W (0.2 or 0.4; not shipped);
- ``v12-128d``: v12 with a table of 128 dimensions instead of 64 (build it first:
  ``build_word_vectors.py --dimensions 128 --output src/proplens/data/word_vectors_128.npz``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench import add_group_by_option, semeval_table
from scipy import sparse

from proplens.evaluation import cross_validate_sentences
from proplens.features import (
    WORD_TOKEN_PATTERN,
    DocumentWords,
    MaskedFeatureUnion,
    PhraseRecurrence,
    SentenceColumns,
    _dense_csr,
    _document_membership,
    _neighbour_links,
    _tfidf_weighting,
    _word_counts,
    make_sentence_features,
)
from proplens.lexicon import SpanLexicon
from proplens.model import DeviceClassifier
from proplens.training import load_training_data
from proplens.word_vectors import TABLE_FILE, WordVectors, _full_csr

REPETITION = "Repetition"
DEFAULT = object()  # the shipped number of terms per document


class TitleWords(DocumentWords):
    """TF-IDF of the words of the document's first line (its title), given to each sentence."""

    def fit(self, X, y=None):
        columns = X if isinstance(X, SentenceColumns) else SentenceColumns.from_frame(X)
        titles = [t for t, i in zip(columns.text, columns.sentence_index, strict=True) if i == 0]
        super().fit(SentenceColumns(titles, range(len(titles)), [0] * len(titles)))
        return self

    def transform_columns(self, X: SentenceColumns):
        vectorizer = self.vectorizer_
        titles = sparse.diags((np.array(X.sentence_index) == 0).astype(np.float32))
        counts = titles @ _word_counts(vectorizer, X)
        codes = X.document_codes()
        per_document = _tfidf_weighting(
            sparse.csr_matrix(_document_membership(codes) @ counts), vectorizer
        )
        return per_document[codes]


class PhraseLexicon(SpanLexicon):
    """The span lexicon over adjacent word pairs: a pair is inside a device's span when both of
    its words are."""

    def _token_table(self, X):
        tokens, inside, usable = super()._token_table(X)
        pairs = [[f"{a} {b}" for a, b in zip(t, t[1:], strict=False)] for t in tokens]
        flags = [f[:-1] & f[1:] if len(f) > 1 else f[:0] for f in inside]
        return pairs, flags, usable

    def transform_columns(self, X: SentenceColumns):
        tokens = X.tokens(WORD_TOKEN_PATTERN)
        words = np.asarray(tokens.words, dtype=object)
        bounds = np.r_[0, np.cumsum(tokens.lengths)]
        pairs = []
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            sentence = words[tokens.ids[start:end]].tolist()
            pairs.append([f"{a} {b}" for a, b in zip(sentence, sentence[1:], strict=False)])
        return _dense_csr(self._features(pairs))


def _unit_rows(summed: np.ndarray) -> sparse.csr_matrix:
    lengths = np.sqrt(np.einsum("ij,ij->i", summed, summed))
    np.divide(summed, lengths[:, None], out=summed, where=lengths[:, None] > 0)
    return _full_csr(summed)


class DocumentVectors(WordVectors):
    """The IDF-weighted mean of the word vectors of the sentence's whole document."""

    def transform_columns(self, X: SentenceColumns):
        codes = X.document_codes()
        per_document = _document_membership(codes) @ self.summed(X)
        return _unit_rows(np.asarray(per_document, dtype=np.float32)[codes])


class NeighbourVectors(WordVectors):
    """The IDF-weighted mean of the word vectors of the previous and next sentence."""

    def transform_columns(self, X: SentenceColumns):
        links = _neighbour_links(X.document_id)
        return _unit_rows(np.asarray(links @ self.summed(X), dtype=np.float32))


def _lowercase(make):
    return lambda: make(lowercase_only=True)


def features(
    document_weight: float,
    title_weight: float = 0.0,
    max_terms=DEFAULT,
    pair_lexicon=0.0,
    vectors_weight=0.0,
    lowercase_vectors=False,
    document_vectors=0.0,
    neighbour_vectors=0.0,
    vectors_table=TABLE_FILE,
):
    union = make_sentence_features(document_weight=document_weight, vectors_weight=0.0)
    if document_weight and max_terms is not DEFAULT:
        union.set_params(document__max_terms=max_terms)

    def vectors():
        return WordVectors(table=vectors_table, lowercase_only=lowercase_vectors)

    added = {
        "title": (title_weight, TitleWords),
        "pair_lexicon": (pair_lexicon, PhraseLexicon),
        "vectors": (vectors_weight, vectors),
        "document_vectors": (document_vectors, _lowercase(DocumentVectors)),
        "neighbour_vectors": (neighbour_vectors, _lowercase(NeighbourVectors)),
    }
    added = {name: (weight, make) for name, (weight, make) in added.items() if weight}
    if not added:
        return union
    blocks = list(union.transformer_list)
    for name, (_, make) in added.items():
        blocks.insert(len(blocks) - 1, (name, make()))  # the lexicon stays last
    weights = {**union.transformer_weights, **{n: w for n, (w, _) in added.items()}}
    return MaskedFeatureUnion(blocks, masker=union.masker, transformer_weights=weights)


def variant(
    document_weight: float = 0.0,
    sizes=None,
    title_weight=0.0,
    max_terms=DEFAULT,
    pair_lexicon=0.0,
    vectors_weight=0.0,
    **vector_blocks,
):
    def make(devices):
        blocks = {REPETITION: PhraseRecurrence(sizes=sizes)} if sizes else None
        return DeviceClassifier(
            devices=devices,
            n_jobs=2,
            features=features(
                document_weight,
                title_weight,
                max_terms,
                pair_lexicon,
                vectors_weight,
                **vector_blocks,
            ),
            device_features=blocks,
        )

    return make


def _v12(**vector_blocks):
    """v12's sentence features (v10 and the vectors of lower-case words at 0.5), and more."""
    return variant(
        document_weight=1.5,
        sizes=(2, 3),
        vectors_weight=0.5,
        lowercase_vectors=True,
        **vector_blocks,
    )


VARIANTS = {
    "v9": variant(),
    "phrases": variant(sizes=(2, 3)),
    "phrases-3": variant(sizes=(3,)),
    "phrases-234": variant(sizes=(2, 3, 4)),
    "document-all-0.6": variant(document_weight=0.6, max_terms=None),
    "document-all-1.5": variant(document_weight=1.5, max_terms=None),
    "document-all-3.0": variant(document_weight=3.0, max_terms=None),
    "document-top30": variant(document_weight=1.5, max_terms=30),
    "document-top60": variant(document_weight=1.5, max_terms=60),
    "document-top120": variant(document_weight=1.5),
    "v10": variant(document_weight=1.5, sizes=(2, 3)),
    "v10+title": variant(document_weight=1.5, sizes=(2, 3), title_weight=0.5),
    "v10+phrase-lexicon": variant(document_weight=1.5, sizes=(2, 3), pair_lexicon=0.3),
    "v10+vectors-0.3": variant(document_weight=1.5, sizes=(2, 3), vectors_weight=0.3),
    "v10+vectors-0.5": variant(document_weight=1.5, sizes=(2, 3), vectors_weight=0.5),
    "v10+vectors-1.0": variant(document_weight=1.5, sizes=(2, 3), vectors_weight=1.0),
    "v10+vectors-2.0": variant(document_weight=1.5, sizes=(2, 3), vectors_weight=2.0),
    "v12": _v12(),
    **{f"v12+document-vectors-{w}": _v12(document_vectors=w) for w in (0.3, 0.6, 1.0, 1.5, 2.5)},
    # a table of 128 dimensions (build_word_vectors.py --dimensions 128 --output
    # src/proplens/data/word_vectors_128.npz; not shipped)
    "v12-128d": _v12(vectors_table="word_vectors_128.npz"),
    **{f"v12+neighbour-vectors-{w}": _v12(neighbour_vectors=w) for w in (0.2, 0.4)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument(
        "--documents", type=int, default=None, help="the first N articles only (a smoke run)"
    )
    add_group_by_option(parser)
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    data = load_training_data()
    table, devices = semeval_table(data)
    if args.documents:
        keep = table["document_id"].drop_duplicates().iloc[: args.documents]
        table = table[table["document_id"].isin(keep)].reset_index(drop=True)
    print(
        f"{len(table)} sentences, {table['document_id'].nunique()} articles, 5 folds grouped by "
        f"{args.group_by}\n"
    )
    print("| variant | SLC F1 | micro-F1 | macro-F1 | Repetition F1 | seconds |")
    print("|---|---|---|---|---|---|")
    for name in names:
        started = time.perf_counter()
        report, _ = cross_validate_sentences(
            table, devices, make_estimator=VARIANTS[name], group_by=args.group_by
        )
        repetition = report.per_device["f1"].get(REPETITION, float("nan"))
        print(
            f"| {name} | {report.sentence_f1:.4f} | {report.micro_f1:.4f} | "
            f"{report.macro_f1:.4f} | {repetition:.3f} | {time.perf_counter() - started:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
