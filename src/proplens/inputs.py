"""Reading user documents: files, folders, stdin and HTML pages, into :class:`Document` objects.

This is an edge of the system: every check on untrusted input happens here, and each problem becomes
an :class:`~proplens.errors.InputError` with a one-line message naming the path. Offsets reported by
the scorer refer to :attr:`Document.text` exactly as returned (for HTML: the extracted article text;
for a UTF-8 file with a BOM: the BOM is kept as character 0, as in the corpus).
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from proplens.errors import InputError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_SUFFIXES",
    "Document",
    "decode_bytes",
    "extract_html",
    "iter_documents",
    "read_document",
    "read_stdin",
]

DEFAULT_MAX_BYTES = 5_000_000
STDIN_ID = "<stdin>"

#: File types proplens reads, by suffix; "" is a file without suffix, read as text.
SUPPORTED_SUFFIXES = {
    ".txt": "text",
    ".md": "text",
    ".text": "text",
    "": "text",
    ".html": "html",
    ".htm": "html",
}
#: what a folder is scanned for: every supported suffix (a file without one, such as README or
#: LICENSE, is read only when named)
_FOLDER_SUFFIXES = tuple(suffix for suffix in SUPPORTED_SUFFIXES if suffix)

# Controls allowed in text; any other control character in a decoded file suggests a wrong guess.
_TEXT_CONTROLS = set("\t\n\r\f\v")
_MAX_CONTROL_RATIO = 0.01
# Unicode blocks a cp1252 decoding of English-language news may legitimately produce.
_LATIN_CODEPOINT_LIMIT = 0x250
_PUNCTUATION_BLOCK = range(0x2000, 0x2070)
_LATIN_SINGLE_BYTE_EXTRAS = set("€™")
# Fewest words on one line for extracted HTML text to count as article text.
_MIN_PROSE_WORDS = 4


@dataclass(frozen=True)
class Document:
    """One input document. Offsets reported for it refer to ``text``."""

    id: str  # the path as given, or "<stdin>"
    text: str
    source: str  # "text" | "html" | "stdin"


def _megabytes(size: int) -> str:
    # small sizes in bytes: "0.0 MB is above the 0.0001 MB limit" said nothing
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _limit(max_bytes: int) -> str:
    return f"{max_bytes / 1_000_000:g} MB" if max_bytes >= 100_000 else f"{max_bytes:,} bytes"


def _plausible(text: str) -> bool:
    if not text:
        return True
    controls = sum(
        1 for char in text if char not in _TEXT_CONTROLS and unicodedata.category(char) == "Cc"
    )
    return controls / len(text) <= _MAX_CONTROL_RATIO


#: more accented letters than this share says the bytes were not written in cp1252
_MAX_ACCENTED_SHARE = 0.3


def _looks_latin(text: str) -> bool:
    """Text in a Latin script: only Latin-1 letters and punctuation, and mostly ASCII letters.

    Cyrillic or Greek bytes (KOI8-R, cp1251, ...) also decode to Latin-1 letters, but nearly all
    of them accented ("ÒÁ×ÉÔÅÌØ"); French or German news has a few accented letters in a hundred.
    """
    if not all(
        ord(char) < _LATIN_CODEPOINT_LIMIT
        or ord(char) in _PUNCTUATION_BLOCK
        or char in _LATIN_SINGLE_BYTE_EXTRAS
        for char in text
    ):
        return False
    letters = [char for char in text if char.isalpha()]
    accented = sum(1 for char in letters if not char.isascii())
    return accented <= _MAX_ACCENTED_SHARE * len(letters)


def decode_bytes(data: bytes, *, name: str) -> str:
    """Decode a document's bytes to text, or raise :class:`InputError` for a binary file.

    Order: UTF-32/UTF-16 with a BOM; UTF-8 (decoded with ``utf-8``, not ``utf-8-sig``, so a BOM
    stays character 0 and offsets match other tools that count it); then, for legacy single-byte
    files, Windows-1252 when it yields Latin text (the usual case for English news), else the guess
    of charset-normalizer. A guess that yields many control characters is rejected as binary.
    """
    if not data:
        return ""
    binary = InputError(f"{name}: looks like a binary file, not text")
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            try:
                # The BOM decodes to U+FEFF at position 0, consistent with the UTF-8 case.
                text = data.decode(codec)
            except UnicodeDecodeError:
                raise binary from None
            if not _plausible(text):
                raise binary
            return text
    if b"\x00" in data:
        raise binary
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
        if text is None:
            raise binary from None
    if not _plausible(text):
        raise binary
    return text


def _decode_legacy(data: bytes) -> str | None:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    # charset-normalizer often names a sibling code page (cp1250, latin-1) for short Latin text;
    # cp1252 is the one Western newsrooms actually produce, so it wins when it gives Latin text.
    if text is not None and _looks_latin(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    return str(best)


def _looks_like_html(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:100].lower()
    return head.startswith(("<!doctype html", "<html"))


def _has_prose(text: str | None) -> bool:
    # Extractors return whatever text they find, menus included ("Home Sport"); article text has
    # at least one line that reads like prose rather than a list of links.
    return bool(text) and any(len(line.split()) >= _MIN_PROSE_WORDS for line in text.splitlines())


_DOCUMENT_TAG = re.compile(r"<(?:html|body|!doctype)\b", re.IGNORECASE)


def extract_html(html: str, *, name: str) -> str:
    """The article text of an HTML page (navigation, ads, comments and footers removed).

    Uses trafilatura's precision-oriented extraction, then its baseline extractor when that finds
    nothing usable (very short pages). Raises :class:`InputError` when neither finds a line of
    prose (at least four words).
    """
    import trafilatura

    if not _DOCUMENT_TAG.search(html, 0, 4096):
        # a fragment ("<p>...</p>"): trafilatura parses only whole documents
        html = f"<html><body>{html}</body></html>"
    try:
        text = trafilatura.extract(
            html,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            output_format="txt",
        )
        if not _has_prose(text):
            _, text, _ = trafilatura.baseline(html)
    except Exception as exc:  # lxml raises many types on broken markup
        raise InputError(f"{name}: cannot parse the HTML page ({type(exc).__name__})") from None
    if not _has_prose(text):
        raise InputError(f"{name}: no article text found in the HTML page")
    return text


def _document(name: str, text: str, source: str, force_html: bool) -> Document:
    if force_html or _looks_like_html(text):
        return Document(id=name, text=extract_html(text, name=name), source="html")
    return Document(id=name, text=text, source=source)


# a web address given where a file belongs ("https://…", "ftp://…")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def read_document(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read one file (.txt, .md, .html, .htm or no suffix) as a :class:`Document`.

    The size is checked before reading, so a huge file is rejected at once. An empty file is a valid
    document with empty text (it simply has no sentences).
    """
    name = str(path)
    file = Path(path)
    if not file.exists():
        if _URL.match(name):
            raise InputError(
                f"{name}: proplens reads files, not web addresses (it never goes online); save "
                f"the page and score the file, or pipe it: curl -s '{name}' | proplens score -"
            )
        raise InputError(f"{name}: file not found")
    if file.is_dir():
        raise InputError(f"{name}: is a folder, not a file")
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        readable = ", ".join(s for s in SUPPORTED_SUFFIXES if s)
        raise InputError(f"{name}: unsupported file type {suffix!r} (proplens reads {readable})")
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{name}: {_megabytes(size)} is above the {_limit(max_bytes)} limit "
                "(use --max-size)"
            )
        with file.open("rb") as handle:
            # Read at most one byte more than allowed: the file may grow after stat().
            data = handle.read(max_bytes + 1)
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise InputError(f"{name}: more than {_limit(max_bytes)} (use --max-size)")
    text = decode_bytes(data, name=name)
    return _document(name, text, "text", force_html=SUPPORTED_SUFFIXES[suffix] == "html")


def read_stdin(
    stream: BinaryIO | TextIO | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Document:
    """Read a document from standard input (or ``stream``); HTML is recognised by its first tag."""
    if stream is None:
        stream = sys.stdin.buffer
    raw = stream.read(max_bytes + 1)
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise InputError(f"{STDIN_ID}: more than {_limit(max_bytes)} (use --max-size)")
    text = decode_bytes(data, name=STDIN_ID)
    return _document(STDIN_ID, text, "stdin", force_html=False)


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    found = []
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for directory, subdirectories, files in walker:
        # Hidden folders (.git, .venv) hold no documents worth scoring.
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for filename in files:
            candidate = Path(directory) / filename
            if (
                not filename.startswith(".")
                and candidate.suffix.lower() in _FOLDER_SUFFIXES
                and candidate.is_file()
            ):
                found.append(candidate)
    return sorted(found)


def iter_documents(
    paths: Sequence[str | Path],
    *,
    recursive: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[Document | InputError]:
    """Each document named by ``paths``, with folders expanded to their .txt/.text/.md/.html/.htm
    files.

    Problems are yielded as :class:`InputError` values instead of raised, so that one bad file does
    not stop a run over many. ``"-"`` means standard input. One path may be given alone.
    """
    if isinstance(paths, str | os.PathLike):  # a str would be read letter by letter
        paths = [paths]
    stdin_read = False
    for path in paths:
        if str(path) == "-":
            if stdin_read:  # it is empty the second time
                yield InputError(f"{STDIN_ID}: given more than once; it can be read only once")
                continue
            stdin_read = True
            try:
                yield read_stdin(max_bytes=max_bytes)
            except InputError as error:
                yield error
            continue
        folder = Path(path)
        if folder.is_dir():
            files = _folder_files(folder, recursive)
            if not files:
                kinds = "/".join(_FOLDER_SUFFIXES)
                yield InputError(f"{path}: no {kinds} files found in the folder")
            targets: Sequence[str | Path] = files
        else:
            targets = [path]
        for target in targets:
            try:
                yield read_document(target, max_bytes=max_bytes)
            except InputError as error:
                yield error
