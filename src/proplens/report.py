"""Render a scored document (the scoring JSON dict) as one self-contained HTML page.

The page follows the Prta layout: a profile chart of device counts at the top, then the article with
flagged sentences highlighted in the colour of their strongest device and evidence words underlined,
a legend that filters by device, and a side panel (a bottom sheet on phones) with one sentence's
probabilities and evidence.

Colour is never the only cue (WCAG 2.1 SC 1.4.1): several of the taxonomy's colours look alike to
readers with colour-vision deficiency (its lime, green and olive, say), so every device also has an
underline style (:data:`LINE_STYLES`, see :func:`_line_styles`) and an abbreviation. The sentence
underline, the evidence underline, the legend and the top-evidence list draw that style; the
legend swatches, chart labels and a sentence's chips show the abbreviation.

All highlighting markup is built here in Python, not in the browser: offsets in the scoring JSON
are indices into a Python ``str`` (code points), while JavaScript strings count UTF-16 units, so a
single emoji before a flagged sentence would shift every highlight if the browser did the slicing.
Every piece of document text passes through :func:`markupsafe.escape`, and the page loads nothing
from the network (CSS and JS are inlined), so a report can be mailed or opened offline.

Example::

    >>> html = render_html({"document": "note.txt", "text": "", "sentences": []})
    >>> "no sentences" in html
    True
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from proplens import __version__
from proplens.errors import DataError, InputError

__all__ = ["render_html", "render_many_html"]

_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_FALLBACK_COLOUR = "#808080"
_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_NEUTRAL_FOOTER = (
    "proplens flags rhetorical devices; it does not judge whether claims are true or who is right."
)
_DEFAULT_SCORE_METHOD = (
    "Document-level score reported by the scoring model (the result does not record how it was "
    "computed)."
)


@dataclass(frozen=True)
class _DeviceStyle:
    """How one device is drawn: colour (fills next to a label: bars, swatches), a 22 % tint for
    backgrounds, an ink for lines on white (underlines, borders), and its definition. Colour is
    not the only cue: ``line`` is the style of its underlines (one of :data:`LINE_STYLES`) and
    ``abbreviation`` the letters written on its swatches and chips, in ``on`` (black or white,
    whichever reads better on ``colour``)."""

    name: str
    label: str
    colour: str
    tint: str
    ink: str
    definition: str
    line: str = "solid"
    abbreviation: str = ""
    on: str = "#000000"


@dataclass
class _ChartRow:
    style: _DeviceStyle
    count: int
    share: float | None
    width: float
    strongest: list[dict] = field(default_factory=list)


@dataclass
class _DocumentView:
    """Everything the template needs for one document, already escaped or numeric."""

    anchor: str
    name: str
    model: str
    sentence_count: int
    flagged_count: int
    flagged_share: float | None
    propaganda_score: float | None
    score_method: str
    chart: list[_ChartRow]
    legend: list[_ChartRow]
    top_evidence: list[dict]
    article: Markup
    data_json: Markup
    notes: list[str]


def render_html(result: dict, *, title: str | None = None, taxonomy: Any = None) -> str:
    """One scored document as a self-contained HTML page.

    ``result`` is the scoring JSON dict (see ``docs/architecture.md``), optionally with the full
    ``text``, ``devices_info`` and ``profile``. ``taxonomy`` (a :class:`proplens.taxonomy.Taxonomy`)
    supplies colours and definitions; without it the dict's ``devices_info`` is used, and without
    that the project taxonomy file is read.
    """
    view = _document_view(result, anchor="doc-1", taxonomy=taxonomy)
    page_title = title or f"proplens report: {view.name}"
    return _render_page(page_title, [view], model=view.model)


def render_many_html(results: list[dict], *, title: str | None = None, taxonomy: Any = None) -> str:
    """Several scored documents in one HTML file, one section each, with a table of contents."""
    if not isinstance(results, list | tuple):
        raise InputError("render_many_html expects a list of scoring results")
    views = [
        _document_view(result, anchor=f"doc-{number}", taxonomy=taxonomy)
        for number, result in enumerate(results, start=1)
    ]
    models = sorted({view.model for view in views})
    page_title = title or f"proplens report: {len(views)} documents"
    return _render_page(page_title, views, model=", ".join(models) or "unknown model")


# ---------------------------------------------------------------------------------------------
# page assembly


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@lru_cache(maxsize=1)
def _inline_assets() -> tuple[Markup, Markup]:
    # Inlined rather than linked so that the report is one file that works offline.
    css = (_TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    js = (_TEMPLATE_DIR / "report.js").read_text(encoding="utf-8")
    return Markup(css), Markup(js)


def _render_page(page_title: str, views: list[_DocumentView], *, model: str) -> str:
    css, js = _inline_assets()
    template = _environment().get_template("report.html.j2")
    return template.render(
        page_title=page_title,
        documents=views,
        model=model,
        css=css,
        js=js,
        footer=_NEUTRAL_FOOTER,
        proplens_version=__version__,
    )


# ---------------------------------------------------------------------------------------------
# one document


def _document_view(result: dict, *, anchor: str, taxonomy: Any) -> _DocumentView:
    if not isinstance(result, dict):
        raise InputError(f"a scoring result must be a JSON object, not {type(result).__name__}")
    notes: list[str] = []
    sentences = _clean_sentences(result.get("sentences") or [])
    text = result.get("text")
    if not isinstance(text, str):
        text = _text_from_sentences(sentences)
        if sentences:
            notes.append(
                "The result does not include the full text, so paragraphs are not shown; "
                "sentences are placed at their offsets."
            )
    elif not _offsets_match(text, sentences):
        text = _text_from_sentences(sentences)
        notes.append(
            "The sentence offsets do not match the included text; showing the sentences only."
        )
    if not sentences:
        notes.append(
            "This document has no sentences to score, so nothing is highlighted."
            if not text.strip()
            else "No sentences were scored in this document, so nothing is highlighted."
        )

    device_names = _device_names(result, sentences)
    styles = _device_styles(result, device_names, taxonomy)
    summary = result.get("summary") or {}
    profile = result.get("profile") or {}

    counts = _device_counts(summary, profile, sentences)
    chart = _chart_rows(counts, profile, styles)
    flagged_count = sum(1 for sentence in sentences if sentence["labels"])
    sentence_count = int(summary.get("sentences", len(sentences)))
    flagged_share = profile.get("flagged_share")
    if flagged_share is None and sentence_count:
        flagged_share = flagged_count / sentence_count
    score = profile.get("propaganda_score", summary.get("propaganda_score"))
    if sentence_count == 0:
        # The scorer reports 0.0 for a text without sentences; shown as a number, that reads as
        # "no propaganda found" when nothing was read at all.
        flagged_share = score = None
    if sentences and flagged_count == 0:
        notes.append("No sentence reached a device threshold.")

    model_info = result.get("model") or {}
    version = str(model_info.get("version", "?"))
    # registry versions are "v1", "v2", ...; older results may carry a bare number
    version = version if version.startswith("v") else f"v{version}"
    model = f"{model_info.get('name', 'unknown model')}@{version}"
    return _DocumentView(
        anchor=anchor,
        name=str(result.get("document") or "untitled document"),
        model=model,
        sentence_count=sentence_count,
        flagged_count=int(summary.get("flagged", flagged_count)),
        flagged_share=None if flagged_share is None else float(flagged_share),
        propaganda_score=None if score is None else float(score),
        score_method=str(profile.get("score_method") or _DEFAULT_SCORE_METHOD),
        chart=chart,
        legend=[row for row in chart if row.count > 0],
        top_evidence=_top_evidence(profile, styles),
        article=_article_markup(text, sentences, styles, anchor),
        data_json=_sentence_data(sentences, device_names, styles),
        notes=notes,
    )


def _clean_sentences(raw: list) -> list[dict]:
    """Sentences sorted by offset, with defaults filled in and overlaps clipped away."""
    cleaned = []
    for position, sentence in enumerate(raw):
        if not isinstance(sentence, dict):
            raise InputError(f"sentence #{position} is not a JSON object")
        try:
            start, end = int(sentence["start"]), int(sentence["end"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"sentence #{position} lacks integer start/end offsets") from None
        cleaned.append(
            {
                "index": int(sentence.get("index", position)),
                "start": start,
                "end": max(start, end),
                "text": str(sentence.get("text", "")),
                "propaganda": sentence.get("propaganda"),
                "devices": dict(sentence.get("devices") or {}),
                "labels": list(sentence.get("labels") or []),
                "evidence": list(sentence.get("evidence") or []),
            }
        )
    cleaned.sort(key=lambda sentence: (sentence["start"], sentence["end"]))
    previous_end = 0
    for sentence in cleaned:
        # Overlapping sentences cannot both be wrapped in a span; the later one gives way.
        sentence["start"] = max(sentence["start"], previous_end)
        sentence["end"] = max(sentence["end"], sentence["start"])
        previous_end = sentence["end"]
    return cleaned


def _offsets_match(text: str, sentences: list[dict]) -> bool:
    for sentence in sentences:
        if sentence["end"] > len(text):
            return False
        if sentence["text"] and text[sentence["start"] : sentence["end"]] != sentence["text"]:
            return False
    return True


def _text_from_sentences(sentences: list[dict]) -> str:
    """Rebuild a text with each sentence at its offsets (gaps become spaces)."""
    if not sentences:
        return ""
    buffer = [" "] * max(sentence["end"] for sentence in sentences)
    for sentence in sentences:
        piece = sentence["text"][: sentence["end"] - sentence["start"]]
        piece = piece.ljust(sentence["end"] - sentence["start"])
        buffer[sentence["start"] : sentence["end"]] = list(piece)
        # The rebuilt text now matches the offsets, whatever the sentence text said.
        sentence["text"] = piece
    return "".join(buffer)


# ---------------------------------------------------------------------------------------------
# devices: names, colours, counts


def _device_names(result: dict, sentences: list[dict]) -> list[str]:
    """Every device the result mentions, in the order the scoring model reports them."""
    names: dict[str, None] = {}
    for sentence in sentences:
        names.update(dict.fromkeys(sentence["devices"]))
        names.update(dict.fromkeys(sentence["labels"]))
        names.update(dict.fromkeys(e.get("device", "") for e in sentence["evidence"]))
    names.update(dict.fromkeys((result.get("summary") or {}).get("devices") or {}))
    for row in (result.get("profile") or {}).get("devices") or []:
        names[row.get("device", "")] = None
    names.pop("", None)
    return list(names)


def _device_styles(result: dict, names: list[str], taxonomy: Any) -> dict[str, _DeviceStyle]:
    """Colours, underline styles and abbreviations of ``names``.

    Styles and abbreviations are handed out in the catalogue's order (the taxonomy's, which is the
    order of the model's device list), then in ``names``' order for devices the catalogue lacks;
    every catalogue device takes part, found in this document or not, so a device is drawn the
    same way in every report of one taxonomy, whichever devices a result shows."""
    catalogue: dict[str, tuple[str, str]] = {}
    if taxonomy is not None:
        catalogue = {d.name: (d.colour, d.definition) for d in taxonomy.devices}
    elif result.get("devices_info"):
        catalogue = {
            str(info.get("name")): (str(info.get("colour", "")), str(info.get("definition", "")))
            for info in result["devices_info"]
            if isinstance(info, dict)
        }
    else:
        try:
            from proplens.taxonomy import load_taxonomy

            catalogue = {d.name: (d.colour, d.definition) for d in load_taxonomy().devices}
        except DataError:
            # A report without colours from the taxonomy is still worth having.
            catalogue = {}
    order = list(dict.fromkeys([*catalogue, *names]))
    colours = [
        colour if _HEX_COLOUR.match(colour or "") else _FALLBACK_COLOUR
        for colour, _ in (catalogue.get(name, ("", "")) for name in order)
    ]
    lines = dict(zip(order, _line_styles(tuple(colours)), strict=True))
    abbreviations = dict(zip(order, _abbreviations(tuple(order)), strict=True))
    colour_of = dict(zip(order, colours, strict=True))
    styles = {}
    for name in names:
        colour = colour_of[name]
        styles[name] = _DeviceStyle(
            name=name,
            label=_display_name(name),
            colour=colour,
            tint=_tint(colour),
            ink=_ink(colour),
            definition=catalogue.get(name, ("", "Not described in the taxonomy."))[1],
            line=lines[name],
            abbreviation=abbreviations[name],
            on=_text_on(colour),
        )
    return styles


def _display_name(name: str) -> str:
    """``Name_Calling,Labeling`` -> ``Name Calling, Labeling`` for readers."""
    return name.replace("_", " ").replace(",", ", ")


def _rgb(colour: str) -> tuple[int, int, int]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return red, green, blue


def _tint(colour: str, alpha: float = 0.22) -> str:
    red, green, blue = _rgb(colour)
    return f"rgba({red},{green},{blue},{alpha})"


def _linear(rgb: tuple[float, float, float]) -> list[float]:
    """sRGB channels (0-255) as linear-light values (0-1)."""
    return [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in rgb]  # fmt: skip


def _luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0-255 channels)."""
    linear = _linear(rgb)
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast_with_white(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio of an sRGB colour (0-255 channels) against white."""
    return 1.05 / (_luminance(rgb) + 0.05)


def _text_on(colour: str) -> str:
    """Black or white, whichever contrasts more with ``colour``: the abbreviation written on a
    swatch or chip (one of the two always reaches 4.5:1)."""
    luminance = _luminance(_rgb(colour))
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


#: WCAG 2.1's minimum contrast for graphics that carry meaning (1.4.11, non-text contrast)
LINE_CONTRAST = 3.0


def _ink(colour: str) -> str:
    """``colour`` darkened, hue kept, until a line of it on white reaches :data:`LINE_CONTRAST`.

    The taxonomy's palette is chosen for fills and tints; several of its colours (yellow, lime,
    cyan, light grey) are barely visible as a 2-3 px underline on a white page (contrast 1.3-2.7).
    Lines use this ink instead; a colour dark enough already is returned unchanged."""
    rgb = _rgb(colour)
    if _contrast_with_white(rgb) >= LINE_CONTRAST:
        return colour.lower() if len(colour) == 7 else "#{:02x}{:02x}{:02x}".format(*rgb)
    for step in range(1, 101):  # darken in 1 % steps: the lightest shade that passes
        shade = tuple(round(c * (1 - step / 100)) for c in rgb)
        if _contrast_with_white(shade) >= LINE_CONTRAST:
            return "#{:02x}{:02x}{:02x}".format(*shade)
    return "#000000"


#: The underline styles devices are drawn with (CSS ``text-decoration-style``), in cycle order.
LINE_STYLES = ("solid", "dashed", "dotted", "double", "wavy")
#: Two colours nearer than this (CIE76 colour difference, in CIELAB) to a reader with normal vision
#: or with one of the three dichromacies count as confusable when lines get their styles. About 2
#: is noticeable between patches side by side; a 2 px line in one paragraph and one in the next
#: need far more (the taxonomy's green and olive are 14 apart to a protanope).
CONFUSABLE_DISTANCE = 25.0
# How colours look without one cone type (Machado, Oliveira & Fernandes 2009, severity 1.0), as
# matrices on linear RGB: protanopia, deuteranopia, tritanopia; None is normal vision.
_VISIONS: tuple[tuple[tuple[float, ...], ...] | None, ...] = (
    None,
    ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
     (-0.003882, -0.048116, 1.051998)),
    ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
     (-0.011820, 0.042940, 0.968881)),
    ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
     (0.004733, 0.691367, 0.303900)),
)  # fmt: skip


def _lab(linear: Sequence[float]) -> tuple[float, float, float]:
    """CIELAB (D65) of a linear-light RGB colour, clipped to the sRGB gamut."""
    red, green, blue = (min(1.0, max(0.0, c)) for c in linear)
    x = (0.4124 * red + 0.3576 * green + 0.1805 * blue) / 0.95047
    y = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    z = (0.0193 * red + 0.1192 * green + 0.9505 * blue) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def _appearances(colour: str) -> list[tuple[float, float, float]]:
    """How the device's fill and ink look (CIELAB) with normal vision and each dichromacy."""
    looks = []
    for shade in (colour, _ink(colour)):
        linear = _linear(_rgb(shade))
        for matrix in _VISIONS:
            seen = linear if matrix is None else [_dot(row, linear) for row in matrix]
            looks.append(_lab(seen))
    return looks


def _dot(first: Sequence[float], second: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(first, second, strict=True))


def _closeness(first: list, second: list) -> float:
    """The smallest colour difference between two devices as any one reader sees them."""
    return min(
        sum((a - b) ** 2 for a, b in zip(one, other, strict=True)) ** 0.5
        for one, other in zip(first, second, strict=True)
    )


@lru_cache(maxsize=64)
def _line_styles(colours: tuple[str, ...]) -> tuple[str, ...]:
    """The underline style of each device, given the devices' colours in their fixed order.

    Device *n* takes ``LINE_STYLES[n % 5]`` unless an earlier device of a confusable colour
    (:data:`CONFUSABLE_DISTANCE`, for normal vision or any dichromacy, fill or ink) already has
    that style; then the next style in the cycle that no confusable earlier device has. When all
    five are taken (six or more colours alike to someone), it takes the style whose nearest
    earlier device is the least alike, and the abbreviation tells the devices apart.
    """
    looks = [_appearances(colour) for colour in colours]
    chosen: list[int] = []
    for position, seen in enumerate(looks):
        best, best_distance = position % len(LINE_STYLES), -1.0
        for turn in range(len(LINE_STYLES)):
            style = (position + turn) % len(LINE_STYLES)
            same = [looks[earlier] for earlier, taken in enumerate(chosen) if taken == style]
            distance = min([CONFUSABLE_DISTANCE, *(_closeness(seen, other) for other in same)])
            if distance > best_distance:
                best, best_distance = style, distance
        chosen.append(best)
    return tuple(LINE_STYLES[style] for style in chosen)


_MINOR_WORDS = frozenset({"a", "ad", "an", "and", "of", "the", "to"})


@lru_cache(maxsize=64)
def _abbreviations(names: tuple[str, ...]) -> tuple[str, ...]:
    """Up to three letters per device, unique among ``names``: the initials of its words
    (``Unverified_Figures`` -> ``UF``, ``Appeal_to_fear-prejudice`` -> ``AFP``); a clash takes
    the first letters of the first word, then a number."""
    taken: list[str] = []
    for name in names:
        words = [word for word in re.split(r"[\s_,\-]+", name) if word] or ["?"]
        major = [word for word in words if word.lower() not in _MINOR_WORDS] or words
        initials = "".join(word[0] for word in major).upper()
        candidates = [initials[:3], major[0][:2].title(), major[0][:3].title()]
        # one more numbered candidate than there are other names: one of them is always free
        candidates += [f"{initials[:2]}{number}" for number in range(2, len(names) + 2)]
        taken.append(next(candidate for candidate in candidates if candidate not in taken))
    return tuple(taken)


def _device_counts(summary: dict, profile: dict, sentences: list[dict]) -> dict[str, int]:
    if profile.get("devices"):
        return {row["device"]: int(row.get("count", 0)) for row in profile["devices"]}
    if summary.get("devices"):
        return {name: int(count) for name, count in summary["devices"].items()}
    return dict(Counter(label for sentence in sentences for label in sentence["labels"]))


def _chart_rows(
    counts: dict[str, int], profile: dict, styles: dict[str, _DeviceStyle]
) -> list[_ChartRow]:
    details = {row.get("device"): row for row in profile.get("devices") or []}
    largest = max(counts.values(), default=0) or 1
    rows = []
    for name, count in counts.items():
        if count <= 0 or name not in styles:
            continue
        detail = details.get(name, {})
        strongest = [
            {
                "index": int(item.get("index", 0)),
                "probability": float(item.get("probability", 0.0)),
                "text": str(item.get("text", "")),
            }
            for item in (detail.get("strongest") or [])[:3]
        ]
        share = detail.get("share")
        rows.append(
            _ChartRow(
                style=styles[name],
                count=count,
                share=None if share is None else float(share),
                width=round(100.0 * count / largest, 1),
                strongest=strongest,
            )
        )
    rows.sort(key=lambda row: (-row.count, row.style.name))
    return rows


def _top_evidence(profile: dict, styles: dict[str, _DeviceStyle]) -> list[dict]:
    items = []
    for item in (profile.get("top_evidence") or [])[:12]:
        device = str(item.get("device", ""))
        style = styles.get(device)
        items.append(
            {
                "text": str(item.get("text", "")),
                "count": int(item.get("count", 1)),
                "device": style.label if style else device,
                "colour": style.ink if style else _FALLBACK_COLOUR,
                "line": style.line if style else "solid",
            }
        )
    return items


# ---------------------------------------------------------------------------------------------
# the article markup


def _article_markup(
    text: str, sentences: list[dict], styles: dict[str, _DeviceStyle], anchor: str
) -> Markup:
    """The text as ``<p>`` paragraphs with every sentence wrapped in a ``span``.

    A paragraph break is a whitespace run holding a newline *between* sentences; a newline inside a
    sentence (a headline the segmenter merged, say) becomes ``<br>`` so no span crosses a ``<p>``.
    """
    paragraphs: list[list[str]] = [[]]
    starts = [0]  # where each paragraph begins in ``text``

    def add_gap(gap: str, offset: int) -> None:
        position = 0
        for start, end in paragraph_breaks(gap):
            paragraphs[-1].append(str(escape(gap[position:start])))
            paragraphs.append([])
            starts.append(offset + end)
            position = end
        paragraphs[-1].append(str(escape(gap[position:])))

    cursor = 0
    for sentence in sentences:
        add_gap(text[cursor : sentence["start"]], cursor)
        paragraphs[-1].append(_sentence_markup(text, sentence, styles, anchor))
        cursor = sentence["end"]
    add_gap(text[cursor:], cursor)

    # A paragraph whose first letter is Arabic or Hebrew is laid out right to left; every sentence
    # span is dir="auto" (its own direction, isolated), so its punctuation stays in its highlight.
    # (The paragraph's direction is decided here because dir="auto" on the <p> would skip the
    # sentence spans, which carry a dir of their own, and find no letter at all.)
    html = "".join(
        f"<p{_direction(text, start, stop)}>{''.join(parts)}</p>\n"
        for parts, start, stop in zip(paragraphs, starts, [*starts[1:], len(text)], strict=True)
        if "".join(parts).strip()
    )
    return Markup(html)


def _direction(text: str, start: int, stop: int) -> str:
    """`` dir="rtl"`` when the first strong character of ``text[start:stop]`` is right-to-left
    (as the Unicode bidi algorithm picks a paragraph's direction), else nothing."""
    for position in range(start, min(stop, len(text))):
        kind = unicodedata.bidirectional(text[position])
        if kind == "L":
            return ""
        if kind in ("R", "AL"):
            return ' dir="rtl"'
    return ""


def paragraph_breaks(gap: str) -> Iterator[tuple[int, int]]:
    r"""``(start, end)`` of each whitespace run of ``gap`` that holds a newline: what
    ``re.finditer(r"\s*\n\s*", gap)`` finds, in linear time. (That pattern backtracks over
    every run of spaces without a newline, quadratic in its length: a text led by 160,000
    spaces took 22 s to render, and the server answered nothing else meanwhile.)

    >>> list(paragraph_breaks("a. \n\n b.  c.\n"))
    [(2, 6), (12, 13)]
    """
    position = 0
    while (newline := gap.find("\n", position)) >= 0:
        start = newline
        while start > position and gap[start - 1].isspace():
            start -= 1
        end = newline + 1
        while end < len(gap) and gap[end].isspace():
            end += 1
        yield start, end
        position = end


def _escape_lines(fragment: str) -> str:
    return str(escape(fragment)).replace("\n", "<br>")


def _sentence_markup(
    text: str, sentence: dict, styles: dict[str, _DeviceStyle], anchor: str
) -> str:
    start, end, index = sentence["start"], sentence["end"], sentence["index"]
    labels = [label for label in sentence["labels"] if label in styles]
    if not labels:
        body = _escape_lines(text[start:end])
        return (
            f'<span class="s" id="{anchor}-s{index}" data-index="{index}" dir="auto">{body}</span>'
        )

    probabilities = sentence["devices"]
    labels.sort(key=lambda name: -float(probabilities.get(name, 0.0)))
    strongest = styles[labels[0]]
    ranked = sorted(probabilities.items(), key=lambda item: -float(item[1]))[:3]
    tooltip = " · ".join(
        f"{styles[name].label if name in styles else name} {float(p):.0%}" for name, p in ranked
    )
    body = _evidence_markup(text, start, end, sentence["evidence"], styles)
    # A chip per device, written with its abbreviation: with colour and underline style alone,
    # six of the taxonomy's colours (red to olive) cannot all be told apart by a deuteranope.
    # The letters are CSS content (attr), so the sentence's text stays the sentence.
    dots = "".join(
        f'<i class="chip" style="--c:{styles[name].colour};--on:{styles[name].on}" '
        f'data-abbr="{escape(styles[name].abbreviation)}" '
        f'title="{escape(styles[name].label)}"></i>'
        for name in labels
    )
    chips = f'<span class="chips" aria-hidden="true">{dots}</span>'
    return (
        f'<span class="s flagged" id="{anchor}-s{index}" data-index="{index}" dir="auto" '
        f'data-devices="{escape("|".join(labels))}" '
        f'style="--c:{strongest.colour};--t:{strongest.tint};--u:{strongest.ink};'
        f'--us:{strongest.line}" '
        'tabindex="0" role="button" '
        f'aria-haspopup="dialog" title="{escape(tooltip)}">{body}{chips}</span>'
    )


def _evidence_markup(
    text: str, start: int, end: int, evidence: list[dict], styles: dict[str, _DeviceStyle]
) -> str:
    """The sentence text with each evidence span wrapped in ``<mark>``.

    Spans may overlap (one word can be evidence for two devices), so the sentence is cut at every
    span boundary and each piece is marked with all devices covering it, strongest weight first.
    """
    spans = []
    for item in evidence:
        try:
            span_start, span_end = int(item["start"]), int(item["end"])
            weight = float(item.get("weight", 0.0))
        except (KeyError, TypeError, ValueError):
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        device = str(item.get("device", ""))
        # Only positive contributions point *towards* a device; a span whose recorded text
        # disagrees with the document would underline the wrong words, so it is left out.
        if span_end <= span_start or weight <= 0 or device not in styles:
            continue
        if item.get("text") and text[int(item["start"]) : int(item["end"])] != item["text"]:
            continue
        spans.append((span_start, span_end, weight, device))
    if not spans:
        return _escape_lines(text[start:end])

    cuts = sorted({start, end, *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    pieces = []
    for piece_start, piece_end in zip(cuts, cuts[1:], strict=False):
        covering = sorted(
            (span for span in spans if span[0] <= piece_start and piece_end <= span[1]),
            key=lambda span: -span[2],
        )
        fragment = _escape_lines(text[piece_start:piece_end])
        if not covering:
            pieces.append(fragment)
            continue
        devices = list(dict.fromkeys(span[3] for span in covering))
        pieces.append(
            f'<mark class="ev" data-device="{escape(devices[0])}" '
            f'data-devices="{escape("|".join(devices))}" '
            f'style="--m:{styles[devices[0]].ink};--ms:{styles[devices[0]].line}">{fragment}</mark>'
        )
    return "".join(pieces)


def _sentence_data(
    sentences: list[dict], device_names: list[str], styles: dict[str, _DeviceStyle]
) -> Markup:
    """Per-sentence numbers for the side panel, as compact JSON safe inside ``<script>``.

    Probabilities are arrays aligned with ``devices`` (not objects) to keep a 2,000-sentence
    report small; the sentence text itself is read from the page.
    """
    position = {name: number for number, name in enumerate(device_names)}
    rows = {}
    for sentence in sentences:
        probabilities = [
            round(float(sentence["devices"].get(name, 0.0)), 3) for name in device_names
        ]
        labels = [position[name] for name in sentence["labels"] if name in position]
        evidence = []
        for item in sentence["evidence"]:
            device = str(item.get("device", ""))
            if device not in position:
                continue
            weight = round(float(item.get("weight", 0.0)), 3)
            evidence.append([position[device], str(item.get("text", "")), weight])
        propaganda = sentence["propaganda"]
        rows[str(sentence["index"])] = [
            None if propaganda is None else round(float(propaganda), 3),
            probabilities,
            labels,
            evidence,
        ]
    payload = {
        "devices": [
            {"name": name, "label": styles[name].label, "colour": styles[name].colour}
            for name in device_names
        ],
        "sentences": rows,
    }
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # "</script>" or "<!--" inside a sentence must not end the script element early.
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(encoded)
