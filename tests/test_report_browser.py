"""The HTML report in a real browser: highlights, legend filter, side panel, phone layout, offline.

Drives the system's Chromium through Playwright. A missing Chromium fails these tests (CI installs
it) instead of skipping them, so a green run always means the page was really exercised.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proplens.report import render_html
from proplens.taxonomy import load_taxonomy

try:  # tests/ is not a package, so the sibling module is importable by its bare name
    from test_report import RTL_PARAGRAPHS, SAMPLE_PARAGRAPHS, build_result, every_device_result
except ImportError:  # pragma: no cover - when tests/ becomes a package
    from tests.test_report import (
        RTL_PARAGRAPHS,
        SAMPLE_PARAGRAPHS,
        build_result,
        every_device_result,
    )

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO_ROOT / "test-output"
TRANSPARENT = "rgba(0, 0, 0, 0)"


@pytest.fixture(scope="module")
def report_url(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(build_result()), encoding="utf-8")
    return path.as_uri()


@pytest.fixture
def open_report(browser, report_url):
    """Opens the report in a fresh context and records every request the page makes."""
    contexts, requests = [], []

    def _open(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.on("request", lambda request: requests.append(request.url))
        contexts.append(context)
        page = context.new_page()
        page.goto(report_url)
        return page

    _open.requests = requests
    yield _open
    for context in contexts:
        context.close()


def _background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).backgroundColor")


def test_highlights_are_visible(open_report):
    """Every flagged sentence is on screen with a coloured background and underline."""
    page = open_report()
    spans = page.locator(".s.flagged")
    assert spans.count() == 5
    for number in range(5):
        assert spans.nth(number).is_visible()
        colour = spans.nth(number).evaluate("el => getComputedStyle(el).backgroundColor")
        assert colour != TRANSPARENT
    # Evidence words are underlined in the device colour.
    decoration = page.eval_on_selector("mark.ev", "el => getComputedStyle(el).textDecorationLine")
    assert decoration == "underline"


def test_legend_click_keeps_only_that_device(open_report):
    """Clicking a legend item un-highlights other devices; clicking it again restores them."""
    page = open_report()
    assert page.locator(".legend-reset").is_hidden()
    doubt = page.locator('.legend-item[data-device="Doubt"]')
    doubt.click()
    assert doubt.get_attribute("aria-pressed") == "true"
    assert _background(page, '.s[data-index="7"]') != TRANSPARENT
    for other in ("2", "4", "6", "9"):
        assert _background(page, f'.s[data-index="{other}"]') == TRANSPARENT
    assert page.locator(".legend-reset").is_visible()
    page.locator(".legend-reset").click()
    assert page.locator(".legend-reset").is_hidden()
    doubt.click()

    doubt.click()
    assert doubt.get_attribute("aria-pressed") == "false"
    assert _background(page, '.s[data-index="2"]') != TRANSPARENT

    # The keyboard works too: focus the button, press Space, then reset with "Show all".
    page.locator('.legend-item[data-device="Loaded_Language"]').focus()
    page.keyboard.press("Space")
    assert _background(page, '.s[data-index="7"]') == TRANSPARENT
    page.locator(".legend-reset").click()
    assert _background(page, '.s[data-index="7"]') != TRANSPARENT


def test_clicking_a_sentence_opens_the_panel(open_report):
    """The panel shows the sentence, its probability, every device's bar and the evidence."""
    page = open_report(1280, 1300)  # tall enough for the whole sample in one screenshot
    assert page.locator("#panel").is_hidden()
    page.locator('.s[data-index="9"]').click()
    panel = page.locator("#panel")
    assert panel.is_visible()
    assert "Our bay, our boats, our future." in panel.locator(".panel-sentence").inner_text()
    assert panel.locator(".panel-prob").inner_text() == "Propaganda probability: 83%"
    rows = panel.locator(".panel-devices li")
    assert rows.count() == len(load_taxonomy().devices)
    assert "Slogans" in rows.nth(0).inner_text() and "83%" in rows.nth(0).inner_text()
    assert "Flag-Waving" in rows.nth(1).inner_text()
    assert panel.locator(".panel-devices li.over").count() == 2
    evidence = panel.locator(".panel-evidence").inner_text()
    assert "our future" in evidence and "+0.50" in evidence and "Our bay" in evidence
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(_screenshot_path("report-desktop.png")))

    page.keyboard.press("Escape")
    assert panel.is_hidden()


def test_keyboard_opens_the_panel(open_report):
    """A flagged sentence is reachable with Tab and opens the panel with Enter."""
    page = open_report()
    page.locator('.s[data-index="2"]').focus()
    page.keyboard.press("Enter")
    assert page.locator("#panel").is_visible()
    assert "disgraceful mess" in page.locator(".panel-sentence").inner_text()
    assert page.evaluate("document.activeElement.id") == "panel-title"


def test_phone_width_has_no_horizontal_scroll(open_report):
    """At 375 px the page fits the screen, with and without the bottom sheet open."""
    page = open_report(375, 800)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(_screenshot_path("report-phone.png")), full_page=True)
    page.locator('.s[data-index="4"]').click()
    assert page.locator("#panel").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("#panel").bounding_box()
    assert box["x"] == 0 and box["width"] <= 375  # a bottom sheet, not a side panel
    # The chosen sentence stays visible above the sheet.
    sentence = page.locator('.s[data-index="4"]').bounding_box()
    assert sentence["y"] >= 0 and sentence["y"] + sentence["height"] <= box["y"]
    page.screenshot(path=str(_screenshot_path("report-phone-panel.png")))


def test_report_makes_no_network_requests(open_report):
    """Opening and using the report fetches nothing beyond the file itself."""
    page = open_report()
    page.locator('.legend-item[data-device="Slogans"]').click()
    page.locator('.s[data-index="9"]').click()
    page.wait_for_load_state("networkidle")
    assert open_report.requests, "the page load itself should have been recorded"
    offending = [url for url in open_report.requests if not url.startswith(("file:", "data:"))]
    assert offending == []


def _screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS / name


def test_example_article_report_in_the_browser(browser, default_model, example_text, tmp_path):
    """The shipped model's report of the project's example article: one highlight per flagged
    sentence, evidence marks, offline; saved as the screenshot the README refers to."""
    result = default_model.score(example_text, document_id="datasets/examples/harbour-bridge.txt")
    path = tmp_path / "example.html"
    path.write_text(render_html(result.to_dict()), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 1400})
    requests = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.goto(path.as_uri())
    assert page.locator(".s.flagged").count() == result.summary["flagged"] > 0
    assert page.locator("mark.ev").count() > 0
    page.screenshot(path=str(_screenshot_path("example-report.png")), full_page=True)
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    context.close()


def _report_page(browser, tmp_path, result, width: int = 1280, height: int = 900):
    path = tmp_path / "report.html"
    path.write_text(render_html(result), encoding="utf-8")
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(path.as_uri())
    return page


def test_printing_keeps_the_colours_and_the_legend(open_report):
    """Browsers print no backgrounds unless the page asks: the chart bars, the swatches and the
    highlights would vanish, and with the legend hidden no colour could be told apart."""
    page = open_report()
    page.emulate_media(media="print")
    for selector in (".bar", ".swatch", ".s.flagged"):
        adjust = page.eval_on_selector(
            selector,
            "el => { const style = getComputedStyle(el);"
            " return style.printColorAdjust || style.webkitPrintColorAdjust; }",
        )
        assert adjust == "exact", selector
    legend = page.locator(".legend")
    assert legend.is_visible()
    assert legend.evaluate("el => getComputedStyle(el).position") == "static"
    assert page.locator(".legend-item").first.is_visible()
    assert page.locator("#panel").is_hidden()


def _many_device_result() -> dict:
    """Forty sentences, each of the taxonomy's devices flagged once: a legend of many rows."""
    names = [device.name for device in load_taxonomy().devices]
    paragraphs = [SAMPLE_PARAGRAPHS[1], SAMPLE_PARAGRAPHS[2]] * 5
    labelled = {2 * number + 1: {name: (0.7, [])} for number, name in enumerate(names)}
    return build_result(paragraphs, labelled)


@pytest.mark.parametrize("width", [1280, 800])
def test_strongest_links_land_below_the_sticky_legend(browser, tmp_path, width):
    """A "strongest" link scrolls its sentence to the top of the window; the sticky legend (four
    rows at 800 px) covered it, as it covered the sentence the bottom sheet scrolls to."""
    page = _report_page(browser, tmp_path, _many_device_result(), width, 700)
    link = page.locator('.strongest a[href="#doc-1-s9"]')
    link.click()
    page.wait_for_timeout(100)
    legend_bottom = page.eval_on_selector(".legend", "el => el.getBoundingClientRect().bottom")
    assert legend_bottom > 100  # several rows: the fixed scroll margin was too small
    top = page.eval_on_selector("#doc-1-s9", "el => el.getBoundingClientRect().top")
    assert top >= legend_bottom
    if width < 1000:  # the bottom sheet scrolls the chosen sentence up too
        page.evaluate("window.scrollTo(0, 0)")
        page.locator('.s[data-index="13"]').click()
        legend_bottom = page.eval_on_selector(".legend", "el => el.getBoundingClientRect().bottom")
        top = page.eval_on_selector("#doc-1-s13", "el => el.getBoundingClientRect().top")
        assert top >= legend_bottom
    page.context.close()


def test_right_to_left_sentence_keeps_its_punctuation_in_its_highlight(browser, tmp_path):
    """In an Arabic paragraph the first sentence is on the right, and a flagged sentence's final
    full stop is drawn inside its highlight (laid out left to right, it was drawn apart)."""
    result = build_result(RTL_PARAGRAPHS, {2: {"Unverified_Figures": (0.8, ["40,000"])}})
    page = _report_page(browser, tmp_path, result, 900)
    first = page.locator('.s[data-index="1"]').bounding_box()
    flagged = page.locator('.s[data-index="2"]')
    assert flagged.evaluate("el => el.getClientRects().length") == 1
    box = flagged.bounding_box()
    assert first["x"] > box["x"]  # read right to left: the first sentence is on the right
    stop = flagged.evaluate(
        """el => { const range = document.createRange();
                   // the sentence's last text (its chips come after it)
                   const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
                   let node = null; while (walker.nextNode()) node = walker.currentNode;
                   range.setStart(node, node.length - 1); range.setEnd(node, node.length);
                   return range.getBoundingClientRect().toJSON(); }"""
    )
    assert box["x"] - 1 <= stop["x"] and stop["x"] + stop["width"] <= box["x"] + box["width"] + 1
    page.context.close()


def _underline(page, selector: str) -> dict:
    return page.eval_on_selector(
        selector,
        "el => { const style = getComputedStyle(el); return {line: style.textDecorationLine,"
        " style: style.textDecorationStyle, colour: style.textDecorationColor}; }",
    )


def test_confusable_devices_are_underlined_in_different_styles(browser, tmp_path):
    """The three greens (lime, green, olive: alike to a colour-blind reader) are drawn with
    different underline styles, in the text, in the legend and in print; the legend swatches
    show the devices' abbreviations; filtering by one device still removes the others' lines."""
    page = _report_page(browser, tmp_path, every_device_result(), 1280, 1000)
    greens = ["Exaggeration,Minimisation", "Doubt", "Unverified_Figures"]

    def cues() -> dict[str, str]:
        found = {d: _underline(page, f'.s.flagged[data-devices="{d}"]')["style"] for d in greens}
        assert len(set(found.values())) == 3, found
        for device in greens:
            sentence = _underline(page, f'.s.flagged[data-devices="{device}"]')
            label = _underline(page, f'.legend-item[data-device="{device}"] .legend-label')
            mark = _underline(page, f'mark.ev[data-device="{device}"]')
            assert sentence["line"] == label["line"] == mark["line"] == "underline", device
            assert sentence["colour"] != TRANSPARENT
            assert sentence["style"] == label["style"] == mark["style"], device
        return found

    on_screen = cues()
    assert set(on_screen.values()) <= {"solid", "dashed", "dotted", "double", "wavy"}
    swatch = page.eval_on_selector(
        '.legend-item[data-device="Unverified_Figures"] .swatch',
        "el => getComputedStyle(el, '::before').content",
    )
    assert swatch == '"UF"'
    chip = page.eval_on_selector(
        '.s.flagged[data-devices="Doubt"] .chip', "el => getComputedStyle(el, '::before').content"
    )
    assert chip == '"D"'
    page.locator(".legend").screenshot(path=str(_screenshot_path("report-device-styles.png")))

    page.locator('.legend-item[data-device="Doubt"]').click()
    assert _underline(page, '.s.flagged[data-devices="Doubt"]')["line"] == "underline"
    assert _underline(page, '.s.flagged[data-devices="Unverified_Figures"]')["line"] == "none"
    page.locator(".legend-reset").click()

    page.emulate_media(media="print")
    assert cues() == on_screen
    page.context.close()
