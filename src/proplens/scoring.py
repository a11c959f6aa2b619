"""Scoring documents: probabilities -> sentence labels -> document profile, as explainable objects.

:class:`Model` wraps a fitted :class:`~proplens.model.DeviceClassifier` (and, when present, a
:class:`~proplens.model.SpanClassifier`) with the metadata of its model directory. Its
:meth:`Model.score` returns a :class:`DocumentScore`: one :class:`SentenceScore` per sentence with
character offsets into the input, the probability of every device, the devices over threshold and
the words that pushed each label up, plus a summary and a document profile.

How the document's ``propaganda_score`` is computed: the mean, over its sentences, of the
any-device probability, i.e. the expected share of sentences that use at least one of the
devices the any-device label stands for (below).

A sentence's labels are the devices whose probability reaches their threshold. When the
any-device probability reaches its threshold while none of the devices it stands for does, the
sentence is labeled with the most likely of those devices as well (the *fallback*), so that a
sentence the any-device label flags says which device it most resembles. A threshold the user
changes is a floor for its device: the fallback never names a device below a threshold set by
hand (such a sentence gets no fallback label). The any-device label stands for the devices
annotated on every training sentence (the 14 SemEval devices); a project device labeled on a
sample of them, such as Unverified_Figures, is labeled by its own threshold only. A sentence is
*flagged* when it has a label. Restricting the devices shown (``devices=``) filters these labels
and changes none of them (the summary counts the labels shown); to see device thresholds applied
without the fallback, set the any-device threshold to 1 (``threshold={"propaganda": 1.0}``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path

import numpy as np
import pandas as pd

from proplens._gc import collector_paused
from proplens.errors import InputError, ModelError, ValidationError
from proplens.evidence import MIN_WEIGHT, Evidence, SentenceAttribution
from proplens.features import SentenceColumns, span_line
from proplens.segment import segment, sentence_spans

__all__ = [
    "DocumentScore",
    "Model",
    "SCORE_METHOD",
    "SentenceScore",
    "SpanPrediction",
    "document_profile",
    "load_model",
    "sentence_frame",
]

SCORE_METHOD = (
    "mean over sentences of the any-device probability (the expected share of sentences that "
    "use at least one of the devices it stands for: the 14 SemEval devices in the shipped model, "
    "not Unverified_Figures)"
)


#: the feature blocks made of a sentence's own words, which evidence points into
_WORD_BLOCKS = ("words", "chars", "lexicon", "vectors")


def sentence_frame(text: str, document_id: str = "<text>") -> pd.DataFrame:
    """Segment ``text`` into the sentence frame the model reads (offsets into ``text``)."""
    sentences = segment(text)
    return pd.DataFrame(
        {
            "document_id": [document_id] * len(sentences),
            "sentence_index": [s.index for s in sentences],
            "start": [s.start for s in sentences],
            "end": [s.end for s in sentences],
            "text": [s.text for s in sentences],
        }
    )


@dataclass
class SentenceScore:
    """One sentence: offsets into the document, probabilities, labels over threshold, evidence."""

    index: int
    start: int
    end: int
    text: str
    propaganda: float
    devices: dict[str, float]
    labels: list[str]
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.labels)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "propaganda": round(self.propaganda, 4),
            "devices": {name: round(p, 4) for name, p in self.devices.items()},
            "labels": list(self.labels),
            "evidence": [e.to_dict() for e in self.evidence],
        }


def document_profile(sentences: Sequence[SentenceScore], devices: Sequence[str]) -> dict:
    """The rhetoric of a whole document: shares, per-device counts and strongest examples."""
    n = len(sentences)
    flagged = sum(1 for s in sentences if s.flagged)
    score = float(np.mean([s.propaganda for s in sentences])) if n else 0.0
    per_device = []
    for device in devices:
        holders = [s for s in sentences if device in s.labels]
        strongest = sorted(holders, key=lambda s: -s.devices.get(device, 0.0))[:3]
        per_device.append(
            {
                "device": device,
                "count": len(holders),
                "share": round(len(holders) / n, 4) if n else 0.0,
                "strongest": [
                    {"index": s.index, "probability": round(s.devices[device], 4), "text": s.text}
                    for s in strongest
                ],
            }
        )
    per_device.sort(key=lambda d: (-d["count"], d["device"]))
    phrases = Counter(
        (e.text.lower(), e.device) for s in sentences for e in s.evidence if e.device in s.labels
    )
    return {
        "sentences": n,
        "flagged": flagged,
        "flagged_share": round(flagged / n, 4) if n else 0.0,
        "propaganda_score": round(score, 4),
        "score_method": SCORE_METHOD,
        "devices": per_device,
        "top_evidence": [
            {"text": text, "device": device, "count": count}
            for (text, device), count in phrases.most_common(10)
        ],
    }


@dataclass
class DocumentScore:
    """A scored document. ``to_dict()`` is the JSON schema of ``proplens score --format json``."""

    document: str
    text: str
    model: dict
    sentences: list[SentenceScore]
    devices: list[str]
    note: str | None = None

    @property
    def summary(self) -> dict:
        counts = {d: sum(1 for s in self.sentences if d in s.labels) for d in self.devices}
        n = len(self.sentences)
        return {
            "sentences": n,
            "flagged": sum(1 for s in self.sentences if s.flagged),
            "propaganda_score": round(float(np.mean([s.propaganda for s in self.sentences])), 4)
            if n
            else 0.0,
            "devices": counts,
        }

    @property
    def profile(self) -> dict:
        return document_profile(self.sentences, self.devices)

    def to_dict(self, *, include_text: bool = True) -> dict:
        out = {
            "document": self.document,
            "model": dict(self.model),
            "summary": self.summary,
            "sentences": [s.to_dict() for s in self.sentences],
            "profile": self.profile,
        }
        if self.note:
            out["note"] = self.note
        if include_text:
            out["text"] = self.text
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(**kwargs), ensure_ascii=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per sentence: offsets, text, probabilities, labels and evidence."""
        rows = []
        for s in self.sentences:
            row = {
                "document": self.document,
                "index": s.index,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "propaganda": s.propaganda,
            }
            row.update(s.devices)
            row["labels"] = list(s.labels)
            # each word once: a word that raised two labels is listed once per device in
            # ``evidence`` of the JSON (and the CSV's evidence_json)
            row["evidence"] = list(dict.fromkeys(e.text for e in s.evidence))
            rows.append(row)
        columns = ["document", "index", "start", "end", "text", "propaganda", *self.devices]
        return pd.DataFrame(rows, columns=[*columns, "labels", "evidence"])


def _labels_with_fallback(
    proba: np.ndarray, cut: np.ndarray, scope: list[int], tuned: np.ndarray
) -> np.ndarray:
    """``(n, 1 + k)`` booleans: the labels of each sentence (column 0 unused).

    A device is a label when its probability reaches its threshold. A sentence whose any-device
    probability reaches its threshold while none of the ``scope`` columns (the devices the
    any-device label stands for) does gets the most likely of them as well, unless that device's
    threshold in ``cut`` is not its ``tuned`` one: a threshold the user changed is a floor for
    that device's labels, never undercut by the fallback.
    """
    labeled = proba >= cut
    labeled[:, 0] = False
    if scope:
        scope_columns = np.asarray(scope)
        in_scope = proba[:, scope_columns]
        needs = (proba[:, 0] >= cut[0]) & ~(in_scope >= cut[scope_columns]).any(axis=1)
        rows = np.flatnonzero(needs)
        likeliest = scope_columns[in_scope[rows].argmax(axis=1)]
        keep = cut[likeliest] == tuned[likeliest]
        labeled[rows[keep], likeliest[keep]] = True
    return labeled


def _check_threshold(threshold) -> float | dict | None:
    """``threshold`` as the classifier takes it: None, one number, or ``{label: number}``
    (any mapping). Per-label values must be numbers in [0, 1]; one overall value is checked for
    its range on use."""
    if threshold is None:
        return None
    if not isinstance(threshold, Mapping):
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
            raise ValidationError(
                "threshold: expected a number in [0, 1] or {device: number}, "
                f"got {type(threshold).__name__}"
            )
        return threshold
    for device, value in threshold.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or not 0.0 <= value <= 1.0
        ):
            raise ValidationError(
                f"threshold for {device}: must be a number in [0, 1], got {value!r}"
            )
    return dict(threshold)


@dataclass(frozen=True)
class SpanPrediction:
    """The device a given span most resembles, with the probability of every device."""

    device: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "device": self.device,
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
        }


class Model:
    """A loaded proplens model: score documents, classify spans.

    >>> import proplens
    >>> model = proplens.load_model()
    >>> text = "The council met on Tuesday. Its reckless, disastrous plan will ruin us all!"
    >>> result = model.score(text)
    >>> [s.text for s in result.sentences]
    ['The council met on Tuesday.', 'Its reckless, disastrous plan will ruin us all!']
    >>> 0.0 <= result.sentences[1].propaganda <= 1.0
    True
    """

    def __init__(self, bundle: dict, metadata=None, path: Path | None = None):
        if "sentences" not in bundle:
            raise ModelError("model bundle lacks its sentence classifier")
        self.sentence_model = bundle["sentences"]
        self._bundle = bundle
        self.metadata = metadata
        self.path = path
        self.devices: list[str] = list(self.sentence_model.labels_[1:])
        self.any_device_devices: list[str] = self._any_device_devices()
        self._attribution = SentenceAttribution(
            self.sentence_model.features_, self.sentence_model.block_slices_
        )

    @property
    def span_model(self):
        """The span (TC) classifier, or None; a saved model unpickles it on first use only."""
        return self._bundle.get("spans")

    # -- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return getattr(self.metadata, "name", None) or "unsaved"

    @property
    def version(self) -> str:
        return getattr(self.metadata, "version", None) or "0"

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.sentence_model.thresholds_)

    def __repr__(self) -> str:
        return f"Model({self.name}@{self.version}, devices={len(self.devices)})"

    def _any_device_devices(self) -> list[str]:
        """The devices whose union the any-device probability estimates (the fallback label
        is one of them). A classifier fitted before it recorded them: the devices annotated on
        every training sentence, as its card counts them; with no card, every device."""
        recorded = getattr(self.sentence_model, "any_device_devices_", None)
        if recorded is not None:
            return [d for d in self.devices if d in set(recorded)]
        per_device = (getattr(self.metadata, "metrics", None) or {}).get("per_device") or {}
        counts = [(per_device.get(d) or {}).get("annotated_sentences") for d in self.devices]
        if counts and all(isinstance(c, int | float) for c in counts):
            return [d for d, c in zip(self.devices, counts, strict=True) if c == max(counts)]
        return list(self.devices)

    # -- scoring -------------------------------------------------------------------------------
    def _check_devices(self, devices: Sequence[str] | None) -> list[str]:
        if devices is None:
            return list(self.devices)
        if isinstance(devices, str):  # would be read letter by letter
            raise ValidationError(f"devices: expected a list of device names, got {devices!r}")
        unknown = [d for d in devices if d not in self.devices]
        if unknown:
            raise ValidationError(
                f"unknown device(s): {', '.join(unknown)}; this model knows: "
                f"{', '.join(self.devices)}"
            )
        return [d for d in self.devices if d in set(devices)]

    def score(
        self,
        text: str,
        *,
        document_id: str = "<text>",
        threshold: float | dict | None = None,
        devices: Sequence[str] | None = None,
        evidence: bool = True,
    ) -> DocumentScore:
        """Score one document. Offsets in the result index into ``text`` exactly as given."""
        return self.score_many(
            [text],
            document_ids=[document_id],
            threshold=threshold,
            devices=devices,
            evidence=evidence,
        )[0]

    # Scoring makes a few container objects per word and sentence, and the results keep most of
    # them: the cyclic garbage collector, triggered by allocation counts, traverses them and the
    # model again and again and frees nothing (about 0.3 s of 2.5 s on the SemEval corpus).
    @collector_paused()
    def score_many(
        self,
        texts: Sequence[str],
        *,
        document_ids: Sequence[str] | None = None,
        threshold: float | dict | None = None,
        devices: Sequence[str] | None = None,
        evidence: bool = False,
    ) -> list[DocumentScore]:
        """Score several documents with one feature transform (much faster than one by one).

        Unlike :meth:`score`, evidence is off unless ``evidence=True``: probabilities and labels
        are the same either way, and a batch rarely needs every label explained. Documents
        without ``document_ids`` are named ``<text 0>``, ``<text 1>``, ...
        """
        if isinstance(texts, str):  # would be scored letter by letter
            raise InputError("texts: expected a list of texts, got one str (use score() for one)")
        if isinstance(texts, bytes | bytearray) or not isinstance(texts, Iterable):
            raise InputError(f"texts: expected a list of texts, got {type(texts).__name__}")
        if isinstance(document_ids, str | bytes):  # would be split letter by letter
            raise InputError("document_ids: expected a list of ids, got one str")
        texts = list(texts)
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"document {position}: expected text, got {type(text).__name__}")
        ids = (
            list(document_ids)
            if document_ids is not None
            else [f"<text {i}>" for i in range(len(texts))]
        )
        if len(ids) != len(texts):
            raise ValidationError(f"{len(ids)} document ids for {len(texts)} texts")
        shown = self._check_devices(devices)
        threshold = _check_threshold(threshold)
        cut = self.sentence_model.threshold_vector(threshold)
        # Plain lists rather than a DataFrame: for one article, building and reading a frame
        # cost more than the features (the transformers read SentenceColumns directly).
        segmented = [sentence_spans(text) for text in texts]
        sizes = [len(spans) for spans in segmented]
        total = sum(sizes)
        model_info = {"name": self.name, "version": self.version}
        if total == 0:
            return [
                DocumentScore(d, t, model_info, [], shown, note="no sentences: the text is empty")
                for d, t in zip(ids, texts, strict=True)
            ]
        sentence_texts = [text[start:end] for text, spans in zip(texts, segmented, strict=True)
                          for start, end in spans]  # fmt: skip
        columns = SentenceColumns(
            sentence_texts,
            [str(i) for i, size in enumerate(sizes) for _ in range(size)],
            [index for size in sizes for index in range(size)],
        )
        sentence_model = self.sentence_model
        # Evidence reads the blocks made of the sentence's words; they are computed once and
        # shared with the probabilities, and so are the device blocks' shares of the log-odds.
        blocks = sentence_model.block_matrices(columns, _WORD_BLOCKS) if evidence else None
        device_parts: dict | None = {} if evidence else None
        proba = sentence_model.predict_all_proba(columns, blocks=blocks, device_parts=device_parts)
        column = {label: i for i, label in enumerate(sentence_model.labels_)}
        shown_columns = [column[d] for d in shown]
        # Python lists: indexing a numpy array element by element costs more than the whole loop.
        # The shown devices' probabilities and threshold tests are sliced out for all sentences
        # at once, so that each sentence only zips them with the device names.
        any_proba = proba[:, 0].tolist()
        shown_proba = proba[:, shown_columns].tolist()
        labeled = _labels_with_fallback(
            proba,
            cut,
            [column[d] for d in self.any_device_devices],
            tuned=self.sentence_model.threshold_vector(),
        )[:, shown_columns]
        some_labeled = labeled.any(axis=1).tolist()
        labeled = labeled.tolist()
        if evidence:
            parts_at = {
                device: dict(zip(rows.tolist(), values.tolist(), strict=True))
                for device, (rows, values) in device_parts.items()
            }
            # (sentence, its row, its document's texts), for one batch of explanations
            explained: list[tuple] = []
        results = []
        row = 0
        for doc_id, text, spans, size in zip(ids, texts, segmented, sizes, strict=True):
            sentences = []
            # what a device block's evidence may read (the phrases the document repeats)
            document = tuple(sentence_texts[row : row + size]) if evidence else ()
            for index, (start, end) in enumerate(spans):
                r = row + index
                values = shown_proba[r]
                labels = list(compress(shown, labeled[r])) if some_labeled[r] else []
                # the row holds one value per shown device: a strict zip would check it for
                # nothing, and keyword arguments cost more than the fields in their order
                # (index, start, end, text, propaganda, devices, labels): a quarter of this loop
                shown_values = dict(zip(shown, values, strict=False))
                sentence = SentenceScore(
                    index, start, end, sentence_texts[r], any_proba[r], shown_values, labels
                )
                if evidence and labels:
                    explained.append((sentence, r, document))
                sentences.append(sentence)
            results.append(DocumentScore(doc_id, text, model_info, sentences, shown))
            row += size
        if evidence and explained:
            rows = [r for _, r, _ in explained]
            found = self._attribution.explain_many(
                [s.text for s, _, _ in explained],
                [s.start for s, _, _ in explained],
                {name: matrix[rows] for name, matrix in blocks.items()},
                sentence_model.coef_,
                [s.labels for s, _, _ in explained],
                column,
                extra=[
                    self._block_evidence(s, r, document, parts_at) for s, r, document in explained
                ],
            )
            for (sentence, _, _), evidence_of in zip(explained, found, strict=True):
                sentence.evidence = evidence_of
        return results

    def _block_evidence(self, sentence: SentenceScore, row: int, document, parts_at: dict) -> dict:
        """``{device: [(start, end, weight)]}``: where a device's own feature block points, when
        its share of the log-odds reaches the evidence threshold (the figures of a sentence the
        Unverified_Figures cues flag, the phrases of the article a sentence repeats), the share
        split evenly among those places. ``document`` holds the texts of the article's
        sentences."""
        found = {}
        for device in sentence.labels:
            share = parts_at.get(device, {}).get(row)
            block = (getattr(self.sentence_model, "device_blocks_", None) or {}).get(device)
            spans_of = getattr(block, "evidence_spans", None)
            if share is None or share < MIN_WEIGHT or spans_of is None:
                continue
            spans = spans_of(sentence.text, document)
            if spans:
                found[device] = [(start, end, share / len(spans)) for start, end in spans]
        return found

    def classify_span(self, text: str, start: int, end: int) -> SpanPrediction:
        """The device the span ``text[start:end]`` most resembles (SemEval-2020 TC subtask)."""
        return self._classify(text, [(start, end)], label="span offsets")[0]

    def classify_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> list[SpanPrediction]:
        """The device each ``(start, end)`` span of ``text`` most resembles, in one transform
        (what SemEval-2020 TC asks of every span of an article)."""
        # any iterable of pairs: a list of tuples, a two-column array, zip(starts, ends)
        if isinstance(spans, str | bytes):
            raise InputError("spans: expected a list of (start, end) pairs, got one str")
        try:
            spans = list(spans)
        except TypeError:
            raise InputError("spans: expected a list of (start, end) pairs") from None
        pairs = []
        for position, span in enumerate(spans):
            pair = None if isinstance(span, str | bytes) else _as_tuple(span)
            if pair is None or len(pair) != 2:
                raise InputError(f"span {position + 1}: expected a (start, end) pair, got {span!r}")
            pairs.append(pair)
        return self._classify(text, pairs, label="span {n}: offsets")

    def _classify(self, text: str, spans: list, label: str) -> list[SpanPrediction]:
        if not isinstance(text, str):
            raise InputError(f"expected text, got {type(text).__name__}")
        if self.span_model is None:
            raise ModelError(f"model {self.name}@{self.version} has no span classifier")
        checked = []
        for position, (start, end) in enumerate(spans):
            # numpy integers too: offsets often come from a DataFrame column
            whole = all(
                isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (start, end)
            )
            if not whole or not 0 <= start < end <= len(text):
                raise ValidationError(
                    f"{label.format(n=position + 1)} must satisfy 0 <= start < end <= "
                    f"{len(text)}, got {start}..{end}"
                )
            if not text[start:end].strip():
                # nothing to classify: any device the model named would be a guess
                raise ValidationError(
                    f"{label.format(n=position + 1)} {start}..{end} hold only whitespace"
                )
            checked.append((int(start), int(end)))
        spans = checked
        if not spans:
            return []
        # the span's line is its sentence, as in the corpus the classifier learned from
        rows = [(text[s:e], span_line(text, s, e), text, s, e) for s, e in spans]
        frame = pd.DataFrame(rows, columns=["span", "sentence", "document", "start", "end"])
        proba = self.span_model.predict_proba(frame)
        classes = [str(c) for c in self.span_model.classes_]
        predictions = []
        for row in proba.tolist():
            probabilities = dict(zip(classes, row, strict=True))
            predictions.append(
                SpanPrediction(max(probabilities, key=probabilities.get), probabilities)
            )
        return predictions


def _as_tuple(value) -> tuple | None:
    try:
        return tuple(value)
    except TypeError:
        return None


def load_model(path: str | Path | None = None, *, trust: bool = False) -> Model:
    """Load a model directory (default: the current model of the registry).

    ``path`` may be a model directory or a registry reference ``name[@version]``. Loading verifies
    the directory (format version, sha256 of the joblib file, trust) before unpickling anything.
    """
    from proplens.artifacts import load_model_dir
    from proplens.registry import resolve

    if path is not None and not (isinstance(path, str) or hasattr(path, "__fspath__")):
        raise ModelError(f"load_model: give a model directory or NAME[@VERSION], not {path!r}")
    directory = resolve(path)
    bundle, metadata = load_model_dir(directory, trust=trust)
    if not isinstance(bundle, Mapping):
        raise ModelError(f"{directory}: not a proplens model bundle")
    return Model(bundle, metadata, directory)
