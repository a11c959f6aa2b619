"""Tests for proplens.report: the self-contained HTML report (no browser needed)."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proplens.report import paragraph_breaks, render_html, render_many_html
from proplens.taxonomy import load_taxonomy

# A short fictional news item written for these tests (no corpus text).
SAMPLE_PARAGRAPHS = [
    ["Harbour council approves new ferry timetable"],
    [
        "The council of Marlow Bay voted on Tuesday to change the ferry timetable from next "
        "spring.",
        "Councillor Edda Brannigan called the old schedule a disgraceful mess that insults every "
        "commuter.",
        "The new timetable adds two morning crossings and removes one late service.",
        "Without the late ferry, no family on the island will ever feel safe again, said Tomas "
        "Ferrier of the Residents' Association.",
    ],
    [
        "The operator, Bayline Ferries, said passenger numbers after 10 p.m. had fallen for three "
        "years.",
        "Nearly half of all crossings now run almost empty.",
        "Can anyone trust a company that changes its story every winter?",
        "The council said it would review the timetable after six months.",
    ],
    [
        'Ms Brannigan urged residents to back the plan: "Our bay, our boats, our future."',
        "The next council meeting is on 14 March.",
    ],
]

# sentence position -> {device: (probability, [evidence words])}; other devices get low scores.
SAMPLE_LABELS = {
    2: {"Loaded_Language": (0.86, ["disgraceful", "insults"])},
    4: {
        "Appeal_to_fear-prejudice": (0.74, ["safe"]),
        "Exaggeration,Minimisation": (0.61, ["ever"]),
    },
    6: {"Unverified_Figures": (0.68, ["Nearly half"])},
    7: {"Doubt": (0.79, ["trust", "story"])},
    9: {"Slogans": (0.83, ["our future"]), "Flag-Waving": (0.57, ["Our bay"])},
}


def build_result(paragraphs=SAMPLE_PARAGRAPHS, labelled=SAMPLE_LABELS, *, prefix: str = "") -> dict:
    """A scoring result dict, consistent with the architecture schema, for a written text."""
    device_names = [device.name for device in load_taxonomy().devices]
    text = prefix + "\n\n".join(" ".join(paragraph) for paragraph in paragraphs)
    sentences = []
    cursor = 0
    for position, sentence_text in enumerate(s for paragraph in paragraphs for s in paragraph):
        start = text.index(sentence_text, cursor)
        end = start + len(sentence_text)
        cursor = end
        chosen = labelled.get(position, {})
        devices = {name: round(0.02 + 0.01 * (i % 5), 3) for i, name in enumerate(device_names)}
        evidence = []
        for device, (probability, words) in chosen.items():
            devices[device] = probability
            for rank, word in enumerate(words):
                word_start = text.index(word, start)
                evidence.append(
                    {
                        "device": device,
                        "start": word_start,
                        "end": word_start + len(word),
                        "text": word,
                        "weight": round(0.5 - 0.1 * rank, 2),
                    }
                )
        sentences.append(
            {
                "index": position,
                "start": start,
                "end": end,
                "text": sentence_text,
                "propaganda": max(devices.values()) if chosen else 0.08,
                "devices": devices,
                "labels": list(chosen),
                "evidence": evidence,
            }
        )
    counts = {name: 0 for name in device_names}
    for sentence in sentences:
        for label in sentence["labels"]:
            counts[label] += 1
    flagged = sum(1 for sentence in sentences if sentence["labels"])
    return {
        "document": "marlow-bay-ferries.txt",
        "model": {"name": "ptc-test", "version": "3"},
        "text": text,
        "summary": {
            "sentences": len(sentences),
            "flagged": flagged,
            "propaganda_score": round(flagged / max(len(sentences), 1), 2),
            "devices": counts,
        },
        "sentences": sentences,
        "profile": {
            "flagged_share": flagged / max(len(sentences), 1),
            "propaganda_score": round(flagged / max(len(sentences), 1), 2),
            "score_method": "share of sentences with at least one device over its threshold",
            "devices": [
                {
                    "device": name,
                    "count": count,
                    "share": count / max(len(sentences), 1),
                    "strongest": [
                        {"index": s["index"], "probability": s["devices"][name], "text": s["text"]}
                        for s in sentences
                        if name in s["labels"]
                    ],
                }
                for name, count in counts.items()
                if count
            ],
            "top_evidence": [
                {"text": e["text"], "device": e["device"], "count": 1}
                for s in sentences
                for e in s["evidence"]
            ],
        },
    }


@pytest.fixture
def sample_result() -> dict:
    return build_result()


# ------------------------------------------------------------------------------------------
# a tiny DOM so that tests look at elements, not at string fragments

VOID = {"meta", "br", "input", "img", "link", "hr", "wbr", "source", "col", "area", "base"}


class _Node:
    def __init__(self, tag: str, attrs: dict, parent: _Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, _Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str, cls: str | None = None) -> list[_Node]:
        return [
            node
            for node in self.iter()
            if node.tag == tag and (cls is None or cls in node.attrs.get("class", "").split())
        ]


class _TreeBuilder(HTMLParser):
    """Builds a tree and fails on any mismatched or unclosed tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {}, None)
        self.current = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.current.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.current.tag}>")
            return
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> _Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.errors == []
    assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
    return builder.root


def flagged_spans(root: _Node) -> list[_Node]:
    return [node for node in root.find_all("span", "s") if "flagged" in node.attrs["class"]]


def article_of(root: _Node) -> _Node:
    (article,) = root.find_all("article")
    return article


# ------------------------------------------------------------------------------------------


def test_report_is_well_formed_html(sample_result):
    """Every tag closes in order, so browsers build the tree the report intends."""
    html = render_html(sample_result)
    assert html.startswith("<!DOCTYPE html>")
    root = parse(html)
    assert len(root.find_all("html")) == 1
    assert root.find_all("title")[0].text() == "proplens report: marlow-bay-ferries.txt"


def test_report_makes_no_external_references(sample_result):
    """The report must work offline and leak nothing: no external src/href, @import or url()."""
    html = render_html(sample_result)
    assert re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html, re.I) is None
    assert "@import" not in html
    assert re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.I) is None
    # The sample text has no URLs, so nothing at all should mention http.
    assert "http://" not in html and "https://" not in html


def test_url_in_document_text_stays_text(sample_result):
    """A URL in the article is shown as escaped text, never turned into a link or resource."""
    paragraphs = [*SAMPLE_PARAGRAPHS, ["Details are at https://example.org/ferry?a=1&b=2 today."]]
    html = render_html(build_result(paragraphs))
    assert "https://example.org/ferry?a=1&amp;b=2" in html
    assert re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I) is None


def test_script_in_document_text_is_escaped():
    """Document text is untrusted: a <script> in it (even in evidence) must not become markup."""
    paragraphs = [
        ["Plain opening sentence about the harbour."],
        ["The mayor said <script>alert('x')</script> was a disgraceful joke.</script>"],
    ]
    result = build_result(paragraphs, {1: {"Loaded_Language": (0.9, ["disgraceful", "<script>"])}})
    result["document"] = "<img src=x onerror=alert(1)>.txt"
    html = render_html(result)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
    assert "<img src=x" not in html
    root = parse(html)
    # Only the report's own two scripts exist: the sentence data and the behaviour.
    assert len(root.find_all("script")) == 2
    data = json.loads(root.find_all("script", "doc-data")[0].text())
    assert data["sentences"]["1"][3][1][1] == "<script>"


def test_highlights_one_span_per_flagged_sentence(sample_result):
    """The number of highlighted sentences equals the number of sentences with labels."""
    root = parse(render_html(sample_result))
    spans = flagged_spans(root)
    expected = [s["index"] for s in sample_result["sentences"] if s["labels"]]
    assert [int(span.attrs["data-index"]) for span in spans] == expected
    for span in spans:
        sentence = sample_result["sentences"][int(span.attrs["data-index"])]
        assert span.text() == sentence["text"]
        assert span.attrs["tabindex"] == "0"


def test_highlight_uses_colour_of_strongest_device(sample_result):
    """A sentence with several devices is coloured by its most probable one and gets chips."""
    taxonomy = load_taxonomy()
    root = parse(render_html(sample_result))
    slogan_sentence = next(s for s in flagged_spans(root) if s.attrs["data-index"] == "9")
    assert f"--c:{taxonomy['Slogans'].colour}" in slogan_sentence.attrs["style"]
    assert slogan_sentence.attrs["data-devices"] == "Slogans|Flag-Waving"
    assert len(slogan_sentence.find_all("i", "chip")) == 2
    assert "Slogans 83%" in slogan_sentence.attrs["title"]


def test_lines_reach_the_contrast_graphics_need_on_white(sample_result):
    """Underlines and evidence underlines are drawn in each device's ink: its colour darkened,
    hue kept, to WCAG's 3:1 against white. The taxonomy's yellow, lime and cyan were 1.3-1.8:1,
    barely visible as a 3 px line; fills (swatches, bars, tints) keep the taxonomy's colour."""
    from proplens.report import LINE_CONTRAST, _contrast_with_white, _ink, _rgb

    taxonomy = load_taxonomy()
    pale = [d.colour for d in taxonomy.devices if _contrast_with_white(_rgb(d.colour)) < 2]
    assert pale, "the shipped palette has pale colours; this test is about them"
    for colour in [d.colour for d in taxonomy.devices] + ["#ffffff", "#fff", "#000000"]:
        ink = _ink(colour)
        assert _contrast_with_white(_rgb(ink)) >= LINE_CONTRAST
        red, green, blue = _rgb(colour)
        ink_red, ink_green, ink_blue = _rgb(ink)
        if max(red, green, blue):  # same hue: every channel scaled by one factor
            factor = max(ink_red, ink_green, ink_blue) / max(red, green, blue)
            for channel, inked in ((red, ink_red), (green, ink_green), (blue, ink_blue)):
                assert abs(channel * factor - inked) <= 2
    assert _ink("#2356A8") == "#2356a8"  # dark enough already: unchanged
    root = parse(render_html(sample_result))
    for span in flagged_spans(root):
        style = span.attrs["style"]
        colour = re.search(r"--c:(#[0-9a-fA-F]+)", style).group(1)
        assert f"--u:{_ink(colour)}" in style
    for mark in root.find_all("mark", "ev"):
        ink = re.search(r"--m:(#[0-9a-fA-F]+)", mark.attrs["style"]).group(1)
        assert _contrast_with_white(_rgb(ink)) >= LINE_CONTRAST
    css = resources.files("proplens").joinpath("templates", "report.css").read_text()
    assert "text-decoration: underline var(--u, var(--c)) var(--us, solid)" in css
    assert "text-decoration: underline var(--m) var(--ms, solid)" in css


def test_evidence_marks_cover_the_evidence_words(sample_result):
    """Each <mark> wraps exactly the evidence words, inside the sentence they belong to."""
    root = parse(render_html(sample_result))
    marks = {(m.text(), m.attrs["data-device"]) for m in root.find_all("mark", "ev")}
    expected = {(e["text"], e["device"]) for s in sample_result["sentences"] for e in s["evidence"]}
    assert marks == expected
    for span in flagged_spans(root):
        sentence = sample_result["sentences"][int(span.attrs["data-index"])]
        marked = {m.text() for m in span.find_all("mark")}
        assert marked == {e["text"] for e in sentence["evidence"]}


def test_overlapping_evidence_marks_stay_nested_correctly():
    """Two devices pointing at overlapping words still give well-formed marks on the right text."""
    paragraphs = [["A truly disgraceful plan."]]
    result = build_result(paragraphs, {0: {"Loaded_Language": (0.9, ["truly disgraceful"])}})
    start = result["text"].index("disgraceful plan")
    result["sentences"][0]["labels"].append("Doubt")
    result["sentences"][0]["devices"]["Doubt"] = 0.6
    result["sentences"][0]["evidence"].append(
        {
            "device": "Doubt",
            "start": start,
            "end": start + 16,
            "text": "disgraceful plan",
            "weight": 1.0,
        }
    )
    root = parse(render_html(result))
    marks = [(m.text(), m.attrs["data-devices"]) for m in root.find_all("mark")]
    assert marks == [
        ("truly ", "Loaded_Language"),
        ("disgraceful", "Doubt|Loaded_Language"),
        (" plan", "Doubt"),
    ]


def test_evidence_with_wrong_text_is_not_marked(sample_result):
    """An evidence span whose recorded text disagrees with the document is left unmarked."""
    sentence = sample_result["sentences"][2]
    sentence["evidence"][0]["start"] += 1
    sentence["evidence"][0]["end"] += 1
    root = parse(render_html(sample_result))
    assert "disgraceful" not in {m.text() for m in root.find_all("mark")}
    assert "insults" in {m.text() for m in root.find_all("mark")}


def test_non_bmp_characters_keep_highlights_on_the_right_words():
    """Emoji and flags before a highlight must not shift it (offsets count code points)."""
    result = build_result(prefix="Ferry news 🌊🚢🇳🇴 𝒜𝒷𝒸\n\n")
    assert result["text"][result["sentences"][2]["start"] :].startswith("Councillor")
    root = parse(render_html(result))
    marks = {m.text() for m in root.find_all("mark")}
    assert {"disgraceful", "insults", "safe", "Nearly half", "Our bay"} <= marks
    spans = flagged_spans(root)
    assert spans[0].text() == result["sentences"][2]["text"]
    assert "🌊🚢🇳🇴" in article_of(root).text()


def test_paragraphs_are_preserved(sample_result):
    """Blank lines between sentences become separate paragraphs, in order."""
    root = parse(render_html(sample_result))
    paragraphs = article_of(root).find_all("p")
    assert [p.text() for p in paragraphs] == [" ".join(p) for p in SAMPLE_PARAGRAPHS]


def test_header_shows_summary_and_score_method(sample_result):
    """The header gives the counts, the score and how that score is computed."""
    html = render_html(sample_result)
    root = parse(html)
    numbers = {
        dt.text(): dd.text()
        for div in root.find_all("dl", "numbers")[0].find_all("div")
        for dt, dd in [(div.find_all("dt")[0], div.find_all("dd")[0])]
    }
    assert numbers == {"Sentences": "11", "Flagged": "5 (45%)", "Propaganda score": "0.45"}
    assert "share of sentences with at least one device over its threshold" in html
    assert "ptc-test@v3" in html


def test_chart_bars_follow_device_counts(sample_result):
    """The profile chart has one bar per device found, widest for the most frequent device."""
    root = parse(render_html(sample_result))
    rows = root.find_all("li", "bar-row")
    labels = [row.find_all("span", "bar-label")[0].text() for row in rows]
    assert len(labels) == 7 and "Loaded Language" in labels
    widths = [
        float(re.search(r"width:([\d.]+)%", row.find_all("span", "bar")[0].attrs["style"])[1])
        for row in rows
    ]
    assert widths == [100.0] * 7  # every device occurs once in the sample
    strongest_links = rows[0].find_all("a")
    assert strongest_links and strongest_links[0].attrs["href"].startswith("#doc-1-s")


def test_legend_buttons_are_keyboard_usable_filters(sample_result):
    """Each device present gets a <button> with aria-pressed and its definition as a title."""
    taxonomy = load_taxonomy()
    root = parse(render_html(sample_result))
    buttons = root.find_all("button", "legend-item")
    assert {b.attrs["data-device"] for b in buttons} == {
        d for s in sample_result["sentences"] for d in s["labels"]
    }
    for button in buttons:
        assert button.attrs["aria-pressed"] == "false"
        assert button.attrs["title"] == taxonomy[button.attrs["data-device"]].definition


def test_devices_info_in_result_overrides_colours(sample_result):
    """Colours and definitions travel with the result when the scorer includes them."""
    sample_result["devices_info"] = [
        {"name": "Loaded_Language", "definition": "Custom wording.", "colour": "#123456"}
    ]
    html = render_html(sample_result)
    assert "--c:#123456" in html and "Custom wording." in html


def test_bad_colour_cannot_inject_css(sample_result):
    """A colour from a hand-edited taxonomy is used only when it is a plain hex colour."""
    sample_result["devices_info"] = [
        {"name": "Loaded_Language", "definition": "x", "colour": "red;}body{display:none"}
    ]
    html = render_html(sample_result)
    assert "display:none" not in html
    assert "--c:#808080" in html


def test_missing_profile_and_evidence_still_render(sample_result):
    """Older or minimal results (no profile, no evidence, no text) still give a usable report."""
    del sample_result["profile"]
    del sample_result["text"]
    for sentence in sample_result["sentences"]:
        del sentence["evidence"]
    root = parse(render_html(sample_result))
    assert len(flagged_spans(root)) == 5
    assert root.find_all("mark") == []
    assert len(root.find_all("li", "bar-row")) == 7
    assert "does not include the full text" in root.text()


def test_mismatched_offsets_fall_back_to_sentences(sample_result):
    """Offsets that do not slice the text back to each sentence are reported, not trusted."""
    sample_result["text"] = "Something else entirely. " + sample_result["text"]
    root = parse(render_html(sample_result))
    assert "do not match the included text" in root.text()
    assert [s.text() for s in flagged_spans(root)][0] == sample_result["sentences"][2]["text"]


def test_zero_sentences_render_with_a_note():
    """An empty document gives a clear note instead of an empty or broken page."""
    result = {
        "document": "empty.txt",
        "model": {"name": "ptc-test", "version": "3"},
        "summary": {"sentences": 0, "flagged": 0, "propaganda_score": 0.0, "devices": {}},
        "sentences": [],
        "text": "",
    }
    root = parse(render_html(result))
    assert "no sentences to score" in root.text()
    assert flagged_spans(root) == []
    assert root.find_all("button", "legend-item") == []


def test_two_thousand_sentences_render_fast():
    """A long document must stay quick to render (under a second) and keep every highlight."""
    paragraph = [SAMPLE_PARAGRAPHS[1], SAMPLE_PARAGRAPHS[2]]
    paragraphs = paragraph * 250  # 8 sentences each -> 2,000 sentences
    labelled = {i: {"Loaded_Language": (0.7, ["disgraceful"])} for i in range(1, 2000, 8)}
    result = build_result(paragraphs, labelled)
    assert len(result["sentences"]) == 2000
    render_html(result)  # warm the template cache; the measured run is the steady state
    started = time.perf_counter()
    html = render_html(result)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"rendering 2,000 sentences took {elapsed:.2f} s"
    assert html.count('class="s flagged"') == 250
    assert len(html) < 3_000_000


def test_neutral_footer_and_title_override(sample_result):
    """The footer states what the tool does not judge; a title argument replaces the default."""
    html = render_html(sample_result, title="Ferry story")
    root = parse(html)
    assert root.find_all("title")[0].text() == "Ferry story"
    footer = root.find_all("footer")[0].text()
    assert (
        "proplens flags rhetorical devices; it does not judge whether claims are true or who is "
        "right." in footer
    )
    assert "ptc-test@v3" in footer


def test_explicit_taxonomy_argument_wins(sample_result):
    """A taxonomy passed by the caller supplies colours even when the result has devices_info."""
    taxonomy = load_taxonomy()
    sample_result["devices_info"] = [{"name": "Doubt", "definition": "x", "colour": "#000000"}]
    html = render_html(sample_result, taxonomy=taxonomy)
    assert f"--c:{taxonomy['Doubt'].colour}" in html
    assert "--c:#000000" not in html


def test_many_documents_get_their_own_sections(sample_result):
    """Several results share one file with unique anchors and one set of scripts."""
    second = build_result(SAMPLE_PARAGRAPHS[:2], {2: SAMPLE_LABELS[2]})
    second["document"] = "second.txt"
    root = parse(render_many_html([sample_result, second]))
    sections = root.find_all("section", "doc")
    assert [s.attrs["id"] for s in sections] == ["doc-1", "doc-2"]
    assert [len(flagged_spans(s)) for s in sections] == [5, 1]
    ids = [node.attrs["id"] for node in root.iter() if "id" in node.attrs]
    assert len(ids) == len(set(ids))
    assert [a.text() for a in root.find_all("nav")[0].find_all("a")] == [
        "marlow-bay-ferries.txt",
        "second.txt",
    ]


def test_non_dict_result_is_a_user_error():
    """Passing something that is not a scoring result gives a one-line InputError."""
    from proplens.errors import InputError

    with pytest.raises(InputError, match="JSON object"):
        render_html(["not", "a", "result"])  # type: ignore[arg-type]


_WORDS = st.text(
    alphabet=st.sampled_from(list("abcdefgh<>&\"'é🌊🇳🇴𝒜\u200d")), min_size=1, max_size=8
)


@settings(max_examples=60, deadline=None)
@given(
    sentences=st.lists(st.lists(_WORDS, min_size=1, max_size=5), min_size=1, max_size=6),
    flagged=st.sets(st.integers(min_value=0, max_value=5)),
    separators=st.lists(st.sampled_from([" ", "\n\n", "  \n"]), min_size=6, max_size=6),
)
def test_highlights_and_marks_slice_back_to_the_text(sentences, flagged, separators):
    """Whatever the characters, each highlight shows its sentence and each mark its evidence."""
    pieces, result_sentences, cursor = [], [], 0
    for position, words in enumerate(sentences):
        sentence_text = " ".join(words)
        start = cursor
        pieces.append(sentence_text)
        cursor += len(sentence_text)
        first = words[0]
        labelled = position in flagged
        result_sentences.append(
            {
                "index": position,
                "start": start,
                "end": cursor,
                "text": sentence_text,
                "propaganda": 0.9 if labelled else 0.1,
                "devices": {"Doubt": 0.9 if labelled else 0.1},
                "labels": ["Doubt"] if labelled else [],
                "evidence": [
                    {
                        "device": "Doubt",
                        "start": start,
                        "end": start + len(first),
                        "text": first,
                        "weight": 0.3,
                    }
                ]
                if labelled
                else [],
            }
        )
        pieces.append(separators[position])
        cursor += len(separators[position])
    result = {"document": "generated", "text": "".join(pieces), "sentences": result_sentences}
    root = parse(render_html(result))
    spans = flagged_spans(root)
    expected = [s for s in result_sentences if s["labels"]]
    assert [span.text() for span in spans] == [s["text"].replace("\n", "") for s in expected]
    assert [m.text() for m in root.find_all("mark")] == [s["evidence"][0]["text"] for s in expected]


def test_report_renders_without_a_taxonomy_file(sample_result, monkeypatch, tmp_path):
    """A missing taxonomy costs the colours and definitions, not the report."""
    monkeypatch.setenv("PROPLENS_TAXONOMY", str(tmp_path / "missing.toml"))
    root = parse(render_html(sample_result))
    spans = flagged_spans(root)
    assert len(spans) == 5
    assert all("--c:#808080" in span.attrs["style"] for span in spans)


@given(
    st.lists(st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u2028", "a", "b."]), max_size=40)
)
def test_paragraph_breaks_are_the_whitespace_runs_the_regex_finds(parts):
    """The linear scan finds what ``\\s*\\n\\s*`` found, on text made of whitespace kinds."""
    gap = "".join(parts)
    expected = [m.span() for m in re.finditer(r"\s*\n\s*", gap)]
    assert list(paragraph_breaks(gap)) == expected


def _numbers(root: _Node) -> dict[str, str]:
    return {
        dt.text(): dd.text()
        for div in root.find_all("dl", "numbers")[0].find_all("div")
        for dt, dd in [(div.find_all("dt")[0], div.find_all("dd")[0])]
    }


def test_empty_document_shows_no_score_rather_than_zero():
    """The scorer gives an empty text a propaganda_score of 0.0; printed as "0.00" and "0 (0%)"
    that reads as "nothing found" when nothing was read, so the header says n/a."""
    result = {
        "document": "empty.txt",
        "model": {"name": "ptc-test", "version": "3"},
        "summary": {"sentences": 0, "flagged": 0, "propaganda_score": 0.0, "devices": {}},
        "profile": {"sentences": 0, "flagged_share": 0.0, "propaganda_score": 0.0},
        "sentences": [],
        "text": "",
    }
    numbers = _numbers(parse(render_html(result)))
    assert numbers == {"Sentences": "0", "Flagged": "0", "Propaganda score": "n/a"}


def test_header_says_what_the_scores_do_not_mean(sample_result):
    """Next to the numbers (not only in the footer), the reader learns they are a model's
    estimates of rhetoric that can be wrong, not a judgement of truth; the chart's and panel's
    bare numbers say what they are."""
    root = parse(render_html(sample_result))
    (header,) = root.find_all("header", "doc-header")
    caveat = header.find_all("p", "caveat")[0].text()
    assert "can miss a device or flag a plain sentence" in caveat
    assert "does not judge whether the claims are true" in caveat
    assert "strongest sentences (device probability)" in root.find_all("ul", "chart")[0].text()
    (chart_title,) = [h for h in root.find_all("h2") if "Devices in this document" in h.text()]
    assert "share of all sentences" in chart_title.text()
    (panel,) = root.find_all("aside")
    assert "log-odds" in panel.text()


RTL_PARAGRAPHS = [
    ["عنوان المقال"],
    ["هؤلاء الخونة دمروا بلادنا إلى الأبد!", "قال الوزير إن 40,000 شخص غادروا."],
    ['The spineless traitors said "שלום" and left.', "English again."],
]


def test_right_to_left_paragraphs_are_laid_out_right_to_left():
    """An Arabic paragraph is dir="rtl" (the page is lang="en", so it would be laid out left to
    right, its sentences in the wrong order); every sentence is its own bidi run (dir="auto")."""
    result = build_result(RTL_PARAGRAPHS, {1: {"Loaded_Language": (0.8, ["الأبد"])}})
    paragraphs = article_of(parse(render_html(result))).find_all("p")
    assert [p.attrs.get("dir") for p in paragraphs] == ["rtl", "rtl", None]
    spans = [span for p in paragraphs for span in p.find_all("span", "s")]
    assert len(spans) == 5 and all(span.attrs["dir"] == "auto" for span in spans)
    # A paragraph led by digits or punctuation takes the direction of its first letter.
    led = build_result([["«40,000» غادروا المدينة."], ["2,000 people left."]], {})
    assert [p.attrs.get("dir") for p in article_of(parse(render_html(led))).find_all("p")] == [
        "rtl",
        None,
    ]


# ------------------------------------------------------------------------------------------
# colour is not the only cue (WCAG 2.1 SC 1.4.1)

LINE_STYLES = {"solid", "dashed", "dotted", "double", "wavy"}
# Devices of the shipped taxonomy whose colours look alike: the lime, green and olive (and the
# yellow, whose ink darkens to an olive) to anyone with a red-green deficiency; blue, purple and
# magenta to a protanope; grey, teal and cyan; red, brown and maroon.
CONFUSABLE = [
    ("Exaggeration,Minimisation", "Doubt", "Unverified_Figures", "Repetition"),
    ("Flag-Waving", "Causal_Oversimplification", "Slogans"),
    ("Appeal_to_Authority", "Whataboutism,Straw_Men,Red_Herring", "Appeal_to_fear-prejudice"),
    ("Loaded_Language", "Black-and-White_Fallacy", "Thought-terminating_Cliches"),
]


def every_device_result() -> dict:
    """Forty sentences, each of the taxonomy's devices flagged once with its first word as
    evidence: a legend with every device."""
    names = [device.name for device in load_taxonomy().devices]
    paragraphs = [SAMPLE_PARAGRAPHS[1], SAMPLE_PARAGRAPHS[2]] * 5
    sentences = [sentence for paragraph in paragraphs for sentence in paragraph]
    labelled = {
        2 * number + 1: {name: (0.7, [sentences[2 * number + 1].split()[0]])}
        for number, name in enumerate(names)
    }
    return build_result(paragraphs, labelled)


def _variable(node: _Node, name: str) -> str:
    return re.search(rf"--{name}:([a-z]+)", node.attrs["style"]).group(1)


def legend_cues(root: _Node) -> dict[str, tuple[str, str]]:
    """device -> (underline style of its legend label, abbreviation on its legend swatch)"""
    cues = {}
    for button in root.find_all("button", "legend-item"):
        (label,) = button.find_all("span", "legend-label")
        (swatch,) = button.find_all("i", "swatch")
        assert swatch.attrs["aria-hidden"] == "true"  # the label is read, not the letters
        cues[button.attrs["data-device"]] = (_variable(label, "us"), swatch.attrs["data-abbr"])
    return cues


def test_legend_gives_every_device_an_underline_style_and_an_abbreviation():
    """Each legend entry shows, besides the colour, the device's underline style (drawn under its
    name) and a unique abbreviation on its swatch; the chart's swatches carry the same letters."""
    taxonomy = load_taxonomy()
    root = parse(render_html(every_device_result()))
    cues = legend_cues(root)
    assert set(cues) == set(taxonomy.names)
    assert {line for line, _ in cues.values()} == LINE_STYLES  # all five styles are used
    abbreviations = [abbreviation for _, abbreviation in cues.values()]
    assert len(set(abbreviations)) == len(abbreviations)
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]{0,2}", a) for a in abbreviations), abbreviations
    assert cues["Unverified_Figures"][1] == "UF" and cues["Doubt"][1] == "D"
    label_to_name = {name.replace("_", " ").replace(",", ", "): name for name in taxonomy.names}
    rows = root.find_all("li", "bar-row")
    assert len(rows) == len(taxonomy.names)
    for row in rows:
        (label,) = row.find_all("span", "bar-label")
        (swatch,) = label.find_all("i", "swatch")
        assert swatch.attrs["data-abbr"] == cues[label_to_name[label.text()]][1]


def test_sentences_and_evidence_draw_their_devices_underline_style(sample_result):
    """A flagged sentence is underlined in its strongest device's style and an evidence word in
    its device's style, the styles the legend shows; each flagged sentence has a chip per device
    with the legend's abbreviation (a one-device sentence too: colour and style alone cannot
    separate six of the palette's colours for a deuteranope)."""
    for result in (every_device_result(), sample_result):
        root = parse(render_html(result))
        cues = legend_cues(root)
        spans = flagged_spans(root)
        assert spans
        for span in spans:
            devices = span.attrs["data-devices"].split("|")
            assert _variable(span, "us") == cues[devices[0]][0]
            chips = span.find_all("i", "chip")
            assert [chip.attrs["data-abbr"] for chip in chips] == [cues[d][1] for d in devices]
        marks = root.find_all("mark", "ev")
        assert marks
        for mark in marks:
            assert _variable(mark, "ms") == cues[mark.attrs["data-device"]][0]
        labels = {name.replace("_", " ").replace(",", ", "): name for name in cues}
        for item in root.find_all("span", "te"):
            assert _variable(item, "us") == cues[labels[item.attrs["title"]]][0]
    # The Slogans sentence also holds Flag-Waving evidence: each mark has its own device's style.
    root = parse(render_html(sample_result))
    cues = legend_cues(root)
    (slogan,) = [span for span in flagged_spans(root) if span.attrs["data-index"] == "9"]
    marks = {mark.text(): _variable(mark, "ms") for mark in slogan.find_all("mark", "ev")}
    assert marks == {"our future": cues["Slogans"][0], "Our bay": cues["Flag-Waving"][0]}
    assert cues["Slogans"][0] != cues["Flag-Waving"][0]


def test_confusable_colours_get_different_underline_styles():
    """The greens (Exaggeration/Minimisation, Doubt, Unverified Figures) and the other groups of
    look-alike colours never share an underline style, and devices that do share one are far
    apart in colour for normal vision and each simulated dichromacy."""
    from proplens.report import CONFUSABLE_DISTANCE, _appearances, _closeness

    cues = legend_cues(parse(render_html(every_device_result())))
    greens = ["Exaggeration,Minimisation", "Doubt", "Unverified_Figures"]
    assert len({cues[name][0] for name in greens}) == 3
    for group in CONFUSABLE:
        styles = [cues[name][0] for name in group]
        assert len(set(styles)) == len(styles), dict(zip(group, styles, strict=True))
    colours = {device.name: device.colour for device in load_taxonomy().devices}
    # the measure does see the greens as confusable: what the styles are assigned against
    looks = {name: _appearances(colour) for name, colour in colours.items()}
    assert _closeness(looks["Doubt"], looks["Unverified_Figures"]) < CONFUSABLE_DISTANCE
    assert _closeness(looks["Doubt"], looks["Exaggeration,Minimisation"]) < CONFUSABLE_DISTANCE
    sharing = [
        _closeness(looks[first], looks[second])
        for first in colours
        for second in colours
        if first < second and cues[first][0] == cues[second][0]
    ]
    assert sharing and min(sharing) > 15


def test_underline_styles_do_not_depend_on_the_devices_a_result_shows(sample_result):
    """Styles follow the taxonomy's order (the model's device list), not the devices one result
    happens to include: a result scored for two devices draws them as the full one does."""
    full = legend_cues(parse(render_html(sample_result)))
    keep = {"Doubt", "Unverified_Figures"}
    for sentence in sample_result["sentences"]:
        sentence["devices"] = {k: v for k, v in sentence["devices"].items() if k in keep}
        sentence["labels"] = [label for label in sentence["labels"] if label in keep]
        sentence["evidence"] = [e for e in sentence["evidence"] if e["device"] in keep]
    summary, profile = sample_result["summary"], sample_result["profile"]
    summary["devices"] = {k: v for k, v in summary["devices"].items() if k in keep}
    profile["devices"] = [row for row in profile["devices"] if row["device"] in keep]
    profile["top_evidence"] = [e for e in profile["top_evidence"] if e["device"] in keep]
    restricted = legend_cues(parse(render_html(sample_result)))
    assert set(restricted) == keep
    assert restricted == {name: full[name] for name in keep}
    # and every document of a multi-document report draws a device alike
    root = parse(render_many_html([every_device_result(), sample_result]))
    first, second = (legend_cues(section) for section in root.find_all("section", "doc"))
    assert second == {name: first[name] for name in keep}


def test_abbreviations_are_unique_and_escaped():
    """Clashing initials fall back to more letters, then a number; a device name from a result is
    untrusted, so its abbreviation is escaped like everything else."""
    from proplens.report import _abbreviations

    names = ("Doubt", "Distraction", "Dog_Whistle", "Dodge", "D")
    assert _abbreviations(names) == ("D", "Di", "DW", "Do", "D2")
    assert _abbreviations(("Appeal_to_fear-prejudice", "Appeal_to_Authority")) == ("AFP", "AA")
    name = '"><script>alert(1)</script>'
    result = build_result(SAMPLE_PARAGRAPHS, {})
    result["sentences"][1].update(labels=[name], devices={name: 0.9})
    result["summary"]["devices"], result["profile"]["devices"] = {}, []  # counted from labels
    html = render_html(result)
    assert "<script>alert" not in html
    root = parse(html)
    assert len(root.find_all("script")) == 2
    (button,) = root.find_all("button", "legend-item")
    assert button.find_all("i", "swatch")[0].attrs["data-abbr"] == '"'
    assert flagged_spans(root)[0].find_all("i", "chip")[0].attrs["data-abbr"] == '"'
