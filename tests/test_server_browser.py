"""The serve page in a real browser: paste, Analyze, highlights, legend, panel, downloads, phone.

Runs uvicorn with the real default model in a background thread on a free loopback port and drives
the system's Chromium through Playwright. A missing Chromium fails these tests (it does not skip
them), so a green run always means the page was really exercised.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

import proplens
from proplens.server import create_app

try:  # tests/ is not a package, so the sibling module is importable by its bare name
    from test_server import ARTICLE as FALLBACK_ARTICLE
except ImportError:  # pragma: no cover - when tests/ becomes a package
    from tests.test_server import ARTICLE as FALLBACK_ARTICLE

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "datasets" / "examples"
SCREENSHOTS = REPO_ROOT / "test-output"
TRANSPARENT = "rgba(0, 0, 0, 0)"
LOCAL_SCHEMES = ("blob:", "data:")


def _example_article() -> str:
    """The project's example article when there is one, else the API tests' written text."""
    examples = sorted(EXAMPLES.glob("*.txt")) if EXAMPLES.is_dir() else []
    if examples:
        return examples[0].read_text(encoding="utf-8")
    return FALLBACK_ARTICLE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def model():
    return proplens.load_model()


@pytest.fixture(scope="module")
def base_url(model):
    """uvicorn serving the real model on 127.0.0.1, stopped after the module."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        create_app(model), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="proplens-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def open_page(browser, base_url):
    """Opens the page in a fresh context; records every request and every console error."""
    contexts, requests, errors = [], [], []

    def _open(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.on("request", lambda request: requests.append(request.url))
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base_url)
        return page

    _open.requests = requests
    _open.errors = errors
    yield _open
    for context in contexts:
        context.close()
    assert errors == [], f"the page logged errors: {errors}"


@pytest.fixture(scope="module")
def expected(model) -> dict:
    """What the API says about the example article: the page must show the same."""
    result = model.score(_example_article(), document_id="pasted text").to_dict()
    flagged = [sentence for sentence in result["sentences"] if sentence["labels"]]
    assert flagged, "the example article should have at least one flagged sentence"
    return result


def _analyze(page, text: str | None = None) -> None:
    page.fill("#text", _example_article() if text is None else text)
    page.click("#analyze")
    page.wait_for_selector("#result .doc")
    # Locator waits, not wait_for_function: the page's CSP forbids the eval that the latter uses.
    expect(page.locator("#analyze")).to_be_enabled()


def _background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).backgroundColor")


def _screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS / name


def test_analyze_shows_highlights_and_the_panel(open_page, expected):
    """Paste, Analyze: the flagged sentences are highlighted and one opens the panel."""
    page = open_page(1280, 1100)
    _analyze(page)
    flagged = [sentence for sentence in expected["sentences"] if sentence["labels"]]
    status = page.locator("#status").inner_text()
    assert f"Analyzed {len(expected['sentences'])} sentence" in status
    assert f"{len(flagged)} flagged" in status
    spans = page.locator("#result .s.flagged")
    assert spans.count() == len(flagged)
    assert _background(page, "#result .s.flagged") != TRANSPARENT
    assert page.locator("#result .s").count() == len(expected["sentences"])
    assert page.locator("#result .bar-row").count() >= 1  # the document-profile chart

    first = flagged[0]
    page.locator(f'#result .s[data-index="{first["index"]}"]').click()
    panel = page.locator("#panel")
    assert panel.is_visible()
    assert panel.locator(".panel-sentence").inner_text().strip() == first["text"].strip()
    assert panel.locator(".panel-prob").inner_text().startswith("Propaganda probability: ")
    assert panel.locator(".panel-devices li").count() == len(first["devices"])
    assert panel.locator(".panel-devices li.over").count() == len(first["labels"])
    page.screenshot(path=str(_screenshot_path("serve-desktop.png")), full_page=True)
    page.keyboard.press("Escape")
    assert panel.is_hidden()


def test_legend_filters_by_device(open_page, expected):
    """A legend button keeps only its device highlighted; pressing it again restores the rest."""
    page = open_page()
    _analyze(page)
    button = page.locator("#result .legend-item").first
    device = button.get_attribute("data-device")
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    for sentence in expected["sentences"]:
        if not sentence["labels"]:
            continue
        shown = _background(page, f'#result .s[data-index="{sentence["index"]}"]') != TRANSPARENT
        assert shown == (device in sentence["labels"]), sentence["index"]
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    for sentence in expected["sentences"]:
        if sentence["labels"]:
            selector = f'#result .s[data-index="{sentence["index"]}"]'
            assert _background(page, selector) != TRANSPARENT


def test_downloads_give_the_json_and_the_report(open_page, expected):
    """The download links hold the scoring JSON and the standalone HTML report."""
    page = open_page()
    _analyze(page)
    with page.expect_download() as json_download:
        page.click("#download-json")
    assert json_download.value.suggested_filename == "pasted-text.proplens.json"
    saved = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(expected))
    with page.expect_download() as html_download:
        page.click("#download-html")
    assert html_download.value.suggested_filename == "pasted-text.report.html"
    report = Path(html_download.value.path()).read_text(encoding="utf-8")
    assert report.lstrip().startswith("<!DOCTYPE html>") and 'class="s flagged"' in report


def test_upload_and_error_messages(open_page, tmp_path):
    """A chosen file is analyzed instead of the text box; refusals are shown, not swallowed."""
    page = open_page()
    page.click("#analyze")
    assert "Paste some text or choose a file" in page.locator("#status").inner_text()

    article = tmp_path / "fennick-vale.txt"
    article.write_text(_example_article(), encoding="utf-8")
    page.set_input_files("#file", str(article))
    assert page.locator("#clear-file").is_visible()
    page.click("#analyze")
    page.wait_for_selector("#result .doc")
    assert page.locator("#result .doc-title").inner_text() == "fennick-vale.txt"

    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    page.set_input_files("#file", str(pdf))
    page.click("#analyze")
    expect(page.locator("#status")).to_contain_text("unsupported file type")
    assert "error" in page.locator("#status").get_attribute("class")
    # The browser logs the refused request; that one is expected here.
    refused = [text for text in open_page.errors if "status of 415" in text]
    assert len(refused) == 1
    open_page.errors.remove(refused[0])
    assert page.locator("#status").get_attribute("role") == "alert"
    page.click("#clear-file")
    assert page.evaluate("document.getElementById('file').files.length") == 0


def test_keyboard_only_use(open_page, expected):
    """Tab reaches the text box and Analyze; Enter on a flagged sentence opens the panel."""
    page = open_page()
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "text"
    page.keyboard.insert_text(_example_article())
    while page.evaluate("document.activeElement.id") != "analyze":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#result .doc")
    assert page.evaluate("document.activeElement.id") == "result-title"
    page.locator("#result .s.flagged").first.focus()
    page.keyboard.press("Enter")
    assert page.locator("#panel").is_visible()
    assert page.evaluate("document.activeElement.id") == "panel-title"


def test_phone_width_has_no_horizontal_scroll(open_page):
    """At 375 px the form, the result and the bottom sheet fit the screen."""
    page = open_page(375, 800)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    _analyze(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("#result .s.flagged").first.click()
    box = page.locator("#panel").bounding_box()
    assert box["x"] == 0 and box["width"] <= 375  # a bottom sheet, not a side panel
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(_screenshot_path("serve-phone.png")))


def test_page_talks_only_to_its_own_server(open_page, base_url):
    """Loading and using the page makes no request to any host but the loopback server."""
    page = open_page()
    _analyze(page)
    page.locator("#result .legend-item").first.click()
    page.locator("#result .s.flagged").first.click()
    page.goto(base_url + "docs")
    page.wait_for_load_state("networkidle")
    assert open_page.requests, "the page load itself should have been recorded"
    own_host = urlsplit(base_url).netloc
    offending = [
        url
        for url in open_page.requests
        if not url.startswith(LOCAL_SCHEMES) and urlsplit(url).netloc != own_host
    ]
    assert offending == []


def test_a_failed_analysis_removes_the_previous_result(open_page, tmp_path):
    """After a refusal, the last result and its downloads are gone: left under the error, they
    read as the result of the text now in the box."""
    page = open_page()
    _analyze(page)
    assert page.locator("#downloads").is_visible()
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.7")
    page.set_input_files("#file", str(pdf))
    page.click("#analyze")
    expect(page.locator("#status")).to_contain_text("unsupported file type")
    expect(page.locator("#analyze")).to_be_enabled()
    assert page.locator("#result .doc").count() == 0
    assert page.locator("#downloads").is_hidden()
    open_page.errors[:] = [text for text in open_page.errors if "status of 415" not in text]


def test_no_answer_from_the_server_is_said_plainly(open_page):
    """A request that gets no answer (server stopped) gives one line that says so, not the
    browser's "Failed to fetch"."""
    page = open_page()
    page.route("**/api/score", lambda route: route.abort("connectionrefused"))
    page.fill("#text", "The council met on Tuesday.")
    page.click("#analyze")
    expect(page.locator("#status")).to_have_text(
        "Could not analyze: no answer from the server (is proplens serve still running?)"
    )
    assert page.locator("#status").get_attribute("role") == "alert"
    open_page.errors[:] = [
        text for text in open_page.errors if "ERR_CONNECTION_REFUSED" not in text
    ]


def test_footer_names_the_model_and_the_proplens_version(open_page, model):
    """The footer names the model as the result and the report do (name@version), and the
    proplens version, so that a screenshot says what produced it."""
    page = open_page()
    expected = f"Model: {model.name}@{model.version} \u00b7 proplens {proplens.__version__}."
    expect(page.locator("#model-line")).to_contain_text(expected)


def test_devices_are_told_apart_without_colour(open_page, expected):
    """Each device's underline style and abbreviation reach the page (from report.css, under the
    page's Content-Security-Policy): the greens of the example article (lime, green, olive) are
    underlined in different styles, a sentence as its strongest device's legend entry, and its
    chips carry the legend's letters."""
    page = open_page()
    _analyze(page)
    sentences = page.eval_on_selector_all(
        "#result .s.flagged",
        """spans => spans.map(s => ({devices: s.dataset.devices.split('|'),
             style: getComputedStyle(s).textDecorationStyle,
             line: getComputedStyle(s).textDecorationLine,
             chips: [...s.querySelectorAll('.chip')].map(
               c => getComputedStyle(c, '::before').content)}))""",
    )
    greens = {"Exaggeration,Minimisation", "Doubt", "Unverified_Figures"}
    led = {s["devices"][0]: s["style"] for s in sentences if s["devices"][0] in greens}
    assert len(led) >= 2, "the example article should have sentences led by two of the greens"
    assert len(set(led.values())) == len(led), led
    legend = page.eval_on_selector_all(
        "#result .legend-item",
        """buttons => Object.fromEntries(buttons.map(b => [b.dataset.device, {
             style: getComputedStyle(b.querySelector('.legend-label')).textDecorationStyle,
             letters: getComputedStyle(b.querySelector('.swatch'), '::before').content}]))""",
    )
    present = [device for device in greens if expected["summary"]["devices"].get(device)]
    assert len({legend[device]["style"] for device in present}) == len(present)
    for sentence in sentences:
        assert sentence["line"] == "underline"
        assert sentence["style"] == legend[sentence["devices"][0]]["style"]
        assert sentence["chips"] == [legend[device]["letters"] for device in sentence["devices"]]
    assert all(entry["letters"] not in ("none", '""') for entry in legend.values())
