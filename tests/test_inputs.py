"""Tests for proplens.inputs: every way a user document can be good or bad."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from proplens.errors import InputError
from proplens.inputs import Document, decode_bytes, iter_documents, read_document, read_stdin

ARTICLE = (
    "The old harbour bridge in Valdmere reopened on Tuesday.\n"
    "Engineers replaced the corroded steel cables.\n"
)

NEWS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Harbour bridge reopens in Valdmere</title></head>
<body>
<header><nav><ul>
  <li><a href="/">Home</a></li><li><a href="/local">Local</a></li>
  <li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li>
</ul></nav></header>
<div class="ad-banner">Buy two garden gnomes and get a third free at Pellow's Hardware!</div>
<main>
<article>
<h1>Harbour bridge reopens in Valdmere after repairs</h1>
<p>The old harbour bridge in the town of Valdmere reopened to traffic on Tuesday morning after
eight months of repairs.</p>
<p>Engineers replaced the corroded steel cables and laid a new surface on the main deck.
The town council said the work finished two weeks ahead of schedule.</p>
<p>Local baker Orla Finnick, who crosses the bridge every day, said the detour had added
forty minutes to her deliveries. "It feels like getting an hour of my life back," she said.</p>
<p>A small ceremony with a brass band is planned for Saturday afternoon.</p>
</article>
</main>
<aside class="sidebar"><h3>Most read</h3><ul><li><a href="/a">Ten soup recipes</a></li></ul></aside>
<footer><p>Copyright 2024 Valdmere Gazette. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> | <a href="/contact">Contact us</a></p></footer>
</body>
</html>
"""

NAV_ONLY_PAGE = (
    '<html><body><nav><a href="/">Home</a> <a href="/s">Sport</a></nav>'
    "<script>var tracking = 1;</script></body></html>"
)


def _one_line(error: InputError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


# --- plain text and encodings ------------------------------------------------------------------


def test_reads_utf8_text_file(tmp_path):
    """The ordinary case: a UTF-8 .txt file becomes a text Document with the path as id."""
    path = tmp_path / "story.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    document = read_document(path)
    assert document == Document(id=str(path), text=ARTICLE, source="text")


def test_utf8_bom_stays_character_zero(tmp_path):
    """Offsets must agree with the corpus convention: the BOM is char 0, not stripped."""
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode("utf-8"))
    text = read_document(path).text
    assert text[0] == "\ufeff"
    assert text[1:] == ARTICLE


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    """Word and Notepad save UTF-16 with a BOM; it must not be mistaken for binary (NUL bytes)."""
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    path = tmp_path / "wide.txt"
    path.write_bytes(bom + ARTICLE.encode(codec))
    assert read_document(path).text == "\ufeff" + ARTICLE


def test_cp1252_legacy_file(tmp_path):
    """Old newsroom files in Windows-1252 (curly quotes, accents) decode to the right characters."""
    original = "The café owner said: \u201cwe\u2019re open\u201d \u2014 naïve façade, 5 €.\n"
    path = tmp_path / "legacy.txt"
    path.write_bytes(original.encode("cp1252"))
    assert read_document(path).text == original


def test_latin1_legacy_file(tmp_path):
    """Latin-1 files (no curly quotes) decode too."""
    original = "Señor Ibáñez visited Zürich and Åre in the spring.\n"
    path = tmp_path / "latin.txt"
    path.write_bytes(original.encode("latin-1"))
    assert read_document(path).text == original


@pytest.mark.parametrize("codec", ["koi8_r", "cp1251"])
def test_cyrillic_legacy_file_is_not_read_as_accented_latin(tmp_path, codec):
    """KOI8-R or Windows-1251 bytes also decode as cp1252, to accented Latin letters only; the
    share of accented letters tells them apart from Western text."""
    original = "Правительство объявило о новых мерах для жителей города.\n"
    path = tmp_path / "cyrillic.txt"
    path.write_bytes(original.encode(codec))
    assert read_document(path).text == original


def test_empty_file_is_an_empty_document(tmp_path):
    """A 0-byte file is valid input (zero sentences), not an error."""
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert read_document(path) == Document(id=str(path), text="", source="text")


def test_markdown_and_suffixless_files_are_text(tmp_path):
    """Notes in .md and files without a suffix are read as plain text."""
    for name in ("notes.md", "README"):
        path = tmp_path / name
        path.write_text(ARTICLE, encoding="utf-8")
        assert read_document(path).text == ARTICLE


# --- bad inputs -------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    """A typo in a path gives a one-line error naming it."""
    path = tmp_path / "nope.txt"
    with pytest.raises(InputError) as info:
        read_document(path)
    assert _one_line(info.value) == f"{path}: file not found"


@pytest.mark.parametrize("address", ["https://example.org/news/1", "http://example.org"])
def test_a_web_address_is_named_as_such(address):
    """proplens never goes online: a URL is not "file not found" but says what to do instead."""
    with pytest.raises(InputError) as info:
        read_document(address)
    message = _one_line(info.value)
    assert message.startswith(f"{address}: proplens reads files, not web addresses")
    assert "proplens score -" in message


def test_directory_passed_to_read_document(tmp_path):
    """read_document reads files; folders are iter_documents' job."""
    with pytest.raises(InputError, match="is a folder"):
        read_document(tmp_path)


@pytest.mark.parametrize("name", ["paper.pdf", "letter.docx", "photo.png"])
def test_unsupported_extension(tmp_path, name):
    """Formats we cannot read are refused by name, before any decoding guesswork."""
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4 whatever")
    with pytest.raises(InputError) as info:
        read_document(path)
    assert str(path) in _one_line(info.value)
    assert "unsupported file type" in str(info.value)


def test_binary_file_with_text_suffix(tmp_path):
    """A binary file renamed to .txt must not be scored as garbage text."""
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(InputError) as info:
        read_document(path)
    assert _one_line(info.value) == f"{path}: looks like a binary file, not text"


def test_control_characters_without_nul_are_binary():
    """Bytes that decode only to control characters are not text, even without NUL bytes."""
    with pytest.raises(InputError, match="binary"):
        decode_bytes(bytes(range(1, 9)) * 50, name="blob")


def test_large_file_rejected_fast_without_reading(tmp_path):
    """A 50 MB file is refused from its size alone, with the size and the option in the message."""
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:  # sparse: instant to create
        handle.truncate(50 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        read_document(path)
    assert time.perf_counter() - started < 0.5
    assert _one_line(info.value) == (f"{path}: 52.4 MB is above the 5 MB limit (use --max-size)")


def test_max_bytes_is_configurable(tmp_path):
    """--max-size maps to max_bytes: a small limit rejects, a large one accepts."""
    path = tmp_path / "story.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    with pytest.raises(InputError, match="limit"):
        read_document(path, max_bytes=10)
    assert read_document(path, max_bytes=len(ARTICLE)).text == ARTICLE


# --- HTML ---------------------------------------------------------------------------------------


def test_html_page_yields_article_text_only(tmp_path):
    """Navigation, ads, sidebars and footers must not be scored as article sentences."""
    path = tmp_path / "page.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    document = read_document(path)
    assert document.source == "html"
    assert "eight months of repairs" in document.text
    assert "Orla Finnick" in document.text
    assert "brass band is planned for Saturday" in document.text
    for boilerplate in ("garden gnomes", "Copyright", "Privacy", "Ten soup recipes", "Weather"):
        assert boilerplate not in document.text


def test_html_in_txt_file_is_detected(tmp_path):
    """A saved page with a .txt name is still HTML; scoring the tags would be nonsense."""
    path = tmp_path / "saved.txt"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    document = read_document(path)
    assert document.source == "html"
    assert "<p>" not in document.text


def test_html_without_article_text(tmp_path):
    """A page with only navigation and scripts is an error, not an empty score."""
    path = tmp_path / "menu.htm"
    path.write_text(NAV_ONLY_PAGE, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_document(path)
    assert _one_line(info.value) == f"{path}: no article text found in the HTML page"


def test_very_short_html_page_falls_back_to_baseline(tmp_path):
    """A page holding a single paragraph still gives its text."""
    path = tmp_path / "short.html"
    path.write_text("<html><body><p>The bridge in Valdmere reopened.</p></body></html>")
    assert read_document(path).text == "The bridge in Valdmere reopened."


def test_an_html_fragment_gives_its_text(tmp_path):
    """A saved fragment ("<p>...</p>", no <html> or <body>) is read like a whole page."""
    path = tmp_path / "fragment.html"
    path.write_text("<p>The bridge in Valdmere reopened &mdash; at last.</p>", encoding="utf-8")
    assert read_document(path).text == "The bridge in Valdmere reopened \u2014 at last."


def test_an_unusable_page_is_one_line_without_the_extractors_log(tmp_path):
    """trafilatura logs ERROR lines for pages it cannot parse; the CLI shows only its own line."""
    import subprocess
    import sys

    path = tmp_path / "empty.html"
    path.write_text("<html><body></body></html>", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "proplens", "score", str(path)], capture_output=True, text=True
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2
    assert lines == [f"proplens: error: {path}: no article text found in the HTML page"]


# --- stdin ----------------------------------------------------------------------------------------


def test_stdin_bytes_and_text_streams():
    """Piped input works whether the stream yields bytes or str."""
    assert read_stdin(io.BytesIO(ARTICLE.encode("utf-8"))) == Document("<stdin>", ARTICLE, "stdin")
    assert read_stdin(io.StringIO(ARTICLE)).text == ARTICLE


def test_stdin_html_is_extracted():
    """curl ... | proplens score - must extract the article like a saved file."""
    document = read_stdin(io.BytesIO(NEWS_PAGE.encode("utf-8")))
    assert document.source == "html"
    assert "Orla Finnick" in document.text


def test_stdin_too_large():
    """stdin has no size to stat, so the limit is enforced while reading."""
    with pytest.raises(InputError, match=r"<stdin>: more than 5 MB \(use --max-size\)"):
        read_stdin(io.BytesIO(b"a" * 5_000_001))


# --- folders and many files --------------------------------------------------------------------


def test_iter_documents_expands_folders_and_yields_errors(tmp_path):
    """One bad file must not stop a batch; errors come back in order, as values."""
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "sub" / "c.html").write_text(NAV_ONLY_PAGE, encoding="utf-8")
    (tmp_path / "sub" / "ignored.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text(ARTICLE, encoding="utf-8")
    missing = tmp_path / "missing.txt"

    results = list(iter_documents([tmp_path, missing]))

    assert [type(r).__name__ for r in results] == [
        "Document",
        "Document",
        "InputError",
        "InputError",
    ]
    assert results[0].id == str(tmp_path / "a.txt")
    assert results[1].id == str(tmp_path / "sub" / "b.md")
    assert "no article text" in str(results[2])
    assert str(results[3]) == f"{missing}: file not found"


def test_a_folder_is_scanned_for_every_suffix_a_named_file_may_have(tmp_path):
    """What `score notes.text` reads, `score folder/` finds too; files without a suffix are
    read only when named (a folder's README or LICENSE is not an article)."""
    from proplens.inputs import SUPPORTED_SUFFIXES

    for suffix in SUPPORTED_SUFFIXES:
        (tmp_path / f"doc{suffix}").write_text(ARTICLE, encoding="utf-8")
    found = sorted(Path(r.id).name for r in iter_documents([tmp_path]))
    assert found == sorted(f"doc{suffix}" for suffix in SUPPORTED_SUFFIXES if suffix)
    assert "doc.text" in found


def test_iter_documents_not_recursive(tmp_path):
    """recursive=False reads only the folder's own files."""
    (tmp_path / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text(ARTICLE, encoding="utf-8")
    results = list(iter_documents([tmp_path], recursive=False))
    assert [r.id for r in results] == [str(tmp_path / "a.txt")]


def test_iter_documents_empty_folder(tmp_path):
    """A folder with nothing to read is reported, so a wrong path does not look like success."""
    (results,) = list(iter_documents([tmp_path]))
    assert isinstance(results, InputError)
    assert str(tmp_path) in str(results)


def test_iter_documents_one_path_alone(tmp_path):
    """A single path (str or Path) is one document, not a list of one-letter paths."""
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    for given in (path, str(path)):
        assert [d.id for d in iter_documents(given)] == [str(path)]


def test_stdin_named_twice_is_an_error_not_an_empty_document(monkeypatch):
    """Standard input can be read once: a second `-` would be an empty document that scores
    nothing, so it is reported instead."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(ARTICLE.encode("utf-8"))))
    first, second = list(iter_documents(["-", "-"]))
    assert first.text == ARTICLE
    assert isinstance(second, InputError) and "<stdin>" in str(second)
