"""``proplens serve``: a web page and a JSON API over one loaded model (FastAPI + uvicorn).

The model is loaded once, when the app is built, and shared by every request: scoring is a pure
function of the text, so requests need no locking. Endpoint functions that score are plain ``def``
functions, which FastAPI runs in its thread pool, so one slow article never blocks ``/healthz``.

The page at ``/`` is rendered the same way as the standalone report: the browser sends the text,
the server scores it and returns the article, legend and chart as an HTML fragment built in Python
by :mod:`proplens.report` (offsets are code points in Python; JavaScript strings count UTF-16
units, so slicing in the browser would shift highlights after an emoji). The page's own script
only sends requests and inserts that fragment; the report's script handles the legend and panel.

Every error is JSON ``{"error": "one line"}`` with a fitting status code (413 too large, 415 wrong
file type, 422 invalid request), and a bad request never stops the server.

Example::

    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app())
    >>> answer = client.post("/api/score", json={"text": "A calm sentence."})
    >>> answer.json()["summary"]["sentences"]
    1
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import logging
import math
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape as escape_html
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any
from urllib.parse import quote

import typer

from proplens.errors import InputError, ProplensError

try:
    import anyio
    import anyio.to_thread
    import jinja2
    from fastapi import FastAPI, File, Form, Request, UploadFile
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, Response
    from fastapi.routing import APIRoute
    from pydantic import BaseModel, ConfigDict, Field, model_validator
    from pydantic import ValidationError as PydanticValidationError
    from starlette.datastructures import UploadFile as StarletteUploadFile
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # the optional "serve" extra is not installed
    _SERVE_IMPORT_ERROR: ImportError | None = exc

    # Stand-ins so this module still imports (the CLI registers ``serve_command`` from it);
    # create_app() and serve_command() then explain how to install the extra.
    class BaseModel:  # type: ignore[no-redef]
        pass

    def Field(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]  # noqa: N802
        return None

    def ConfigDict(**kwargs: Any) -> dict:  # type: ignore[no-redef]  # noqa: N802
        return kwargs

    def model_validator(*args: Any, **kwargs: Any):  # type: ignore[no-redef]
        return lambda function: function

else:
    _SERVE_IMPORT_ERROR = None

try:  # optional: encodes a 40 kB result about 10x faster than the json module
    import orjson
except ImportError:
    orjson = None

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "RESULT_BODY_FACTOR",
    "ClassifySpanRequest",
    "ClassifySpansRequest",
    "ResultEvidence",
    "ResultSentence",
    "ScoreRequest",
    "ScoringResult",
    "create_app",
    "serve_command",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 2_000_000
STATIC_DIR = Path(__file__).resolve().parent / "static"
_REPORT_ASSETS = Path(__file__).resolve().parent / "templates"
#: Upload suffixes and how each is read; the same rule as ``proplens.inputs.read_document``.
UPLOAD_SUFFIXES = {".txt": "text", ".html": "html", ".htm": "html"}
PASTED_DOCUMENT_ID = "<text>"
# The page loads only its own files; inline style attributes carry the device colours.
_PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
#: /api/render and /api/report take a scoring result, not a text, and its JSON is 10-25 times the
#: size of the text for news prose (every sentence repeats its text and carries a probability for
#: each device). The page posts the result of /api/score back to them, so they accept bodies this
#: many times --max-body: otherwise an article of a twentieth of the limit could not be shown.
RESULT_BODY_FACTOR = 40
_RESULT_PATHS = frozenset({"/api/render", "/api/report"})
#: A validation error echoes the offending input in ``detail``; a long one (a whole article) is
#: cut to this many characters, so the error is not as large as the request.
MAX_ECHOED_INPUT = 200
#: uvicorn's default keep-alive timeout is 5 s. Under overload (50 clients, each request waiting
#: over 5 s for its turn) the load test saw connections closed under queued requests with 5 s and
#: none with 60 s; 30 s is also a common proxy default.
KEEP_ALIVE_SECONDS = 30
#: /api/score requests waiting together are scored in one ``score_many`` call of at most this many
#: documents (fewer when they exceed MAX_BATCH_CHARACTERS); 1 scores every request alone.
DEFAULT_MAX_BATCH = 8
MAX_BATCH_CHARACTERS = 400_000
# pydantic names the member of a union in an error location ("threshold.constrained-float");
# readers only need the field name.
_UNION_MEMBER_TAG = re.compile(r"^(?:constrained-)?(?:float|int|str|bool)$|\[")
#: /api/score-file's form fields besides ``file``: /api/score's options, each written as the JSON
#: value it has there (what a misspelt or missing one should look like, for the 422 message).
SCORE_FILE_OPTIONS = {
    "evidence": "true or false",
    "threshold": '0.5, or an object such as {"Doubt": 0.5}',
    "devices": 'a list such as ["Doubt", "Loaded_Language"]',
}


# ---------------------------------------------------------------------------------------------
# request bodies

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def _valid_unicode(data: Any, *, finite_numbers: bool = False) -> Any:
    """Refuse a body holding a lone surrogate (JSON may spell one, ``"\\ud800"``; Unicode text
    has none): no UTF-8 answer can carry it back, so it is the request's mistake (422), not 500.

    With ``finite_numbers``, also refuse NaN and infinities anywhere (Python's parser reads
    ``NaN`` and ``Infinity``, which are not JSON): a scoring result holds none, and one copied
    into a report would make its embedded data invalid JSON.
    """
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # a loop, not recursion: a deeply nested body must not exhaust the stack
        where, value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(
                    f"{where or 'body'}: character {error.start} is a lone surrogate "
                    f"(U+{ord(value[error.start]):04X}), which is not valid Unicode text"
                ) from None
        elif isinstance(value, dict):
            for key, item in value.items():
                # the name goes into the message: pydantic cannot carry a surrogate there
                key_name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
                name = f"{where}.{key_name}" if where else key_name
                stack.extend([(f"{name} (the key)", key), (name, item)])
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif finite_numbers and isinstance(value, float) and not math.isfinite(value):
            raise ValueError(
                f"{where or 'body'}: {json.dumps(value)} is not a finite number "
                "(a scoring result holds none)"
            )
    return data


class ScoreRequest(BaseModel):
    """``POST /api/score``: the text and the same options as ``proplens score``."""

    # strict: a mistyped field is a 422, not coerced ("0.5" or true as a threshold, "yes" as
    # evidence); numbers are still numbers, so a threshold of 1 is 1.0.
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="The article text; offsets in the answer index this string.")
    threshold: Probability | dict[str, Probability] | None = Field(
        default=None,
        description="One threshold for every device, or {device: threshold}; default: the "
        "model's tuned thresholds.",
    )
    devices: list[str] | None = Field(
        default=None, min_length=1, description="Score only these devices (see /api/devices)."
    )
    evidence: bool = Field(default=True, description="Include evidence words for each label.")
    document: str = Field(
        default=PASTED_DOCUMENT_ID, max_length=500, description="A name echoed in the answer."
    )

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        return _valid_unicode(data)


def _check_span(text: str, start: int, end: int, name: str = "span") -> None:
    """A ValueError (a 422) unless ``text[start:end]`` is a non-blank span of ``text``."""
    if not start < end <= len(text):
        raise ValueError(
            f"{name} [{start}, {end}) must satisfy 0 <= start < end <= {len(text)} "
            "(the text length)"
        )
    if not text[start:end].strip():
        raise ValueError(f"{name} [{start}, {end}) holds only whitespace")


class SpanOffsets(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # strict: "1" is not an offset

    start: int = Field(ge=0, description="First character of the span (code points, like Python).")
    end: int = Field(ge=0, description="One past the last character of the span.")


class ClassifySpanRequest(SpanOffsets):
    """``POST /api/classify-span``: which device a marked stretch of text shows."""

    text: str

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        return _valid_unicode(data)

    @model_validator(mode="after")
    def _span_inside_text(self) -> ClassifySpanRequest:
        _check_span(self.text, self.start, self.end)
        return self


#: spans per ``/api/classify-spans`` request (a SemEval-2020 TC article lists up to a few hundred)
MAX_SPANS_PER_REQUEST = 5_000


class ClassifySpansRequest(BaseModel):
    """``POST /api/classify-spans``: which device each of several spans of one text shows."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str
    spans: list[SpanOffsets] = Field(min_length=1, max_length=MAX_SPANS_PER_REQUEST)

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        return _valid_unicode(data)

    @model_validator(mode="after")
    def _spans_inside_text(self) -> ClassifySpansRequest:
        for number, span in enumerate(self.spans, 1):
            _check_span(self.text, span.start, span.end, f"span {number}")
        return self


class ResultEvidence(BaseModel):
    """One evidence span of a scored sentence (``weight`` may be negative: it points away)."""

    model_config = ConfigDict(extra="allow", strict=True)

    device: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = ""
    weight: float = 0.0


class ResultSentence(BaseModel):
    """One sentence of a scoring result, typed so that a string of labels ("Doubt") is not read
    as five one-letter devices and the report's embedded data stays valid JSON."""

    model_config = ConfigDict(extra="allow", strict=True)

    index: int | None = Field(default=None, ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str = ""
    propaganda: Probability | None = None
    devices: dict[str, Probability] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    evidence: list[ResultEvidence] = Field(default_factory=list)


class ScoringResult(BaseModel):
    """``POST /api/render`` and ``/api/report``: a result as returned by ``/api/score``."""

    # Other fields are kept (results from newer versions may carry more); those proplens.report
    # reads are typed, the summary and profile are checked by the renderer itself.
    model_config = ConfigDict(extra="allow", strict=True)

    document: str = "document"
    text: str | None = None
    sentences: list[ResultSentence]
    summary: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    profile: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        return _valid_unicode(data, finite_numbers=True)


# ---------------------------------------------------------------------------------------------
# the app


def create_app(
    model: Any = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    scoring_threads: int | None = 1,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> FastAPI:
    """The FastAPI app serving ``model`` (default: :func:`proplens.load_model`'s current model).

    ``max_body_bytes`` bounds every request body, announced or streamed; larger bodies get 413.
    /api/render and /api/report, which take a scoring result, accept ``RESULT_BODY_FACTOR``
    times as much.
    ``scoring_threads`` is how many requests are scored at once (the rest wait their turn);
    None shares anyio's default pool of 40 threads (slower under load, kept for comparison).
    ``max_batch``: /api/score requests that wait while another batch is scored are scored
    together, up to this many per ``score_many`` call (1: one by one).
    """
    _require_serve_extra()
    if max_body_bytes <= 0:
        raise InputError(f"max_body_bytes must be positive, got {max_body_bytes}")
    if scoring_threads is not None and scoring_threads <= 0:
        raise InputError(f"scoring_threads must be positive, got {scoring_threads}")
    if max_batch <= 0:
        raise InputError(f"max_batch must be positive, got {max_batch}")
    if model is None:
        import proplens

        model = proplens.load_model()
    from proplens.taxonomy import load_taxonomy

    service = _Service(
        model=model,
        taxonomy=load_taxonomy(),
        max_body_bytes=max_body_bytes,
        scoring_threads=scoring_threads,
        max_batch=max_batch,
    )
    app = FastAPI(
        title="proplens",
        version=_version(),
        summary="Find propaganda and framing devices in news text, sentence by sentence.",
        docs_url=None,  # FastAPI's Swagger UI loads its code from a CDN; /docs is served below
        redoc_url=None,
        # "/api/score/" is not an endpoint: a 404 says so, where a 307 to "/api/score" made
        # clients that do not follow redirects with the body fail without a message
        redirect_slashes=False,
    )
    app.router.route_class = _JSONBodyRoute  # before the routes are added
    app.state.proplens = service
    _freeze_startup_objects()
    app.add_middleware(
        _BodyLimitMiddleware,
        max_body_bytes=max_body_bytes,
        result_body_bytes=max_body_bytes * RESULT_BODY_FACTOR,
    )
    _add_error_handlers(app)
    _add_page_routes(app, service)
    _add_api_routes(app, service)
    return app


@dataclass
class _Service:
    """What every request shares: the model, the taxonomy, the limits and the scoring threads.

    CPU-bound work (scoring, HTML extraction, rendering) runs in worker threads so that the event
    loop stays free for new connections and ``/healthz``, but through one limiter of
    ``scoring_threads`` tokens, served first come first served: with the GIL, more threads add
    switching rather than throughput, and a queue keeps the wait of the slowest request close to
    the average (figures in docs/serve.md).
    """

    model: Any
    taxonomy: Any
    max_body_bytes: int
    scoring_threads: int | None = 1
    max_batch: int = DEFAULT_MAX_BATCH
    limiter: Any = field(init=False, repr=False)
    batcher: _ScoreBatcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # None: anyio's default limiter (to_thread.run_sync's own pool of 40 tokens).
        threads = self.scoring_threads
        self.limiter = None if threads is None else anyio.CapacityLimiter(threads)
        self.batcher = _ScoreBatcher(self)

    async def run(self, function: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    def check_devices(self, names: list[str] | None, what: str) -> None:
        if names is None:
            return
        unknown = [name for name in names if name not in self.model.devices]
        if unknown:
            # Named as sent, but not a megabyte of them: the answer stays one short line.
            listed = ", ".join(repr(_short_input(name)) for name in unknown[:5])
            more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
            raise _RequestError(
                422,
                f"unknown device{'s' if len(unknown) > 1 else ''} in {what}: "
                f"{listed}{more}; see GET /api/devices",
            )

    def score(self, request: ScoreRequest) -> dict:
        """The scoring JSON dict for one request; the caller's mistakes raise _RequestError."""
        self.check_devices(request.devices, "devices")
        if isinstance(request.threshold, dict):
            self.check_devices(list(request.threshold), "threshold")
        try:
            scored = self.model.score(
                request.text,
                document_id=request.document,
                threshold=request.threshold,
                devices=request.devices,
                evidence=request.evidence,
            )
        except ProplensError as error:
            raise _RequestError(422, str(error)) from None
        return scored.to_dict()

    def score_batch(self, requests: list[ScoreRequest]) -> list[bytes | Exception]:
        """JSON bodies of several requests (or the error of each), scored with one ``score_many``
        call per set of options; the JSON is encoded here too, off the event loop."""
        if len(requests) == 1:
            return [_outcome(self.score_json, requests[0])]
        groups: dict[tuple, list[int]] = {}
        for position, request in enumerate(requests):
            groups.setdefault(_options_key(request), []).append(position)
        outcomes: list[bytes | Exception | None] = [None] * len(requests)
        for positions in groups.values():
            first = requests[positions[0]]
            try:
                self.check_devices(first.devices, "devices")
                if isinstance(first.threshold, dict):
                    self.check_devices(list(first.threshold), "threshold")
                scored = self.model.score_many(
                    [requests[i].text for i in positions],
                    document_ids=[requests[i].document for i in positions],
                    threshold=first.threshold,
                    devices=first.devices,
                    evidence=first.evidence,
                )
                for position, result in zip(positions, scored, strict=True):
                    if result.sentences:
                        outcomes[position] = _json_bytes(result.to_dict())
                    else:  # alone, an empty text gets a note (score_many: all-empty batches only)
                        outcomes[position] = _outcome(self.score_json, requests[position])
            except Exception:
                # Whatever went wrong belongs to one request or to all alike; alone, each
                # request gets its own answer or error.
                for position in positions:
                    outcomes[position] = _outcome(self.score_json, requests[position])
        return outcomes

    def score_json(self, request: ScoreRequest) -> bytes:
        return _json_bytes(self.score(request))

    def classify_span(self, request: ClassifySpanRequest) -> dict:
        try:
            prediction = self.model.classify_span(request.text, request.start, request.end)
        except ProplensError as error:
            raise _RequestError(422, str(error)) from None
        return {"device": prediction.device, "probabilities": dict(prediction.probabilities)}

    def classify_spans(self, request: ClassifySpansRequest) -> dict:
        pairs = [(span.start, span.end) for span in request.spans]
        try:
            predictions = self.model.classify_spans(request.text, pairs)
        except ProplensError as error:
            raise _RequestError(422, str(error)) from None
        return {
            "spans": [
                {"start": start, "end": end, "device": p.device, "probabilities": p.probabilities}
                for (start, end), p in zip(pairs, predictions, strict=True)
            ]
        }

    def render_fragment(self, result: ScoringResult) -> str:
        return _fragment_template().render(doc=self.render_view(result))

    def render_report(self, result: ScoringResult) -> str:
        from proplens.report import render_html

        self.render_view(result)  # same checks, same 422 messages as /api/render
        return render_html(result.model_dump(exclude_none=True), taxonomy=self.taxonomy)

    def render_view(self, result: ScoringResult) -> Any:
        from proplens.report import _document_view

        # Without a text the renderer rebuilds one as long as the largest offset: a 40-byte
        # body with "end": 300000000 took 30 s and gigabytes. No text this server scores is
        # longer than the body limit (a UTF-8 byte or more per code point).
        longest = self.max_body_bytes
        for number, sentence in enumerate(result.sentences):
            if sentence.end > longest:
                raise _RequestError(
                    422,
                    f"sentences.{number}.end: {sentence.end:,} is beyond the longest text this "
                    f"server scores ({longest:,} characters)",
                )
        try:
            return _document_view(
                result.model_dump(exclude_none=True), anchor="result", taxonomy=self.taxonomy
            )
        except ProplensError as error:
            raise _RequestError(422, str(error)) from None
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            # The result came from a client; a malformed field is their mistake, not ours.
            raise _RequestError(422, f"malformed scoring result ({type(error).__name__})") from None


def _options_key(request: ScoreRequest) -> tuple:
    """Requests with equal keys can share one ``score_many`` call."""
    threshold = request.threshold
    if isinstance(threshold, dict):
        threshold = tuple(sorted(threshold.items()))
    devices = tuple(request.devices) if request.devices is not None else None
    return (threshold, devices, request.evidence)


def _outcome(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as error:  # handed to the request it belongs to, which raises it
        return error


class _ScoreBatcher:
    """Scores /api/score requests in arrival order, those waiting together in one batch.

    Under load, requests queue while one is scored; scoring the queue with one ``score_many``
    call costs much less per document than one call each (the per-call work of the feature
    blocks is shared), and each result is the one its request would get alone. One batch is
    scored at a time, in a worker thread through the service's limiter, so ``/healthz`` and new
    connections are served meanwhile. Nothing is cached: every text is scored.
    """

    def __init__(self, service: _Service) -> None:
        self.service = service
        self._pending: list[tuple[ScoreRequest, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def score(self, request: ScoreRequest) -> bytes:
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and (task.done() or task.get_loop() is not loop):
            if task.get_loop() is not loop:
                self._pending = []  # left by an event loop that has ended (test clients)
            self._task = None
        future = loop.create_future()
        self._pending.append((request, future))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[ScoreRequest, asyncio.Future]]:
        limit = self.service.max_batch
        batch, characters = [], 0
        for request, future in self._pending:
            if batch and (
                len(batch) >= limit or characters + len(request.text) > MAX_BATCH_CHARACTERS
            ):
                break
            batch.append((request, future))
            characters += len(request.text)
        del self._pending[: len(batch)]
        return batch

    async def _drain(self) -> None:
        while self._pending:  # no await between this test and the end of the task
            batch = [(request, future) for request, future in self._take() if not future.done()]
            if not batch:
                continue
            try:
                outcomes = await self.service.run(
                    self.service.score_batch, [request for request, _ in batch]
                )
            except BaseException as error:  # cancelled, or a bug outside score_batch
                waiting = batch + self._pending
                self._pending = []
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(error)
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


def _freeze_startup_objects() -> None:
    """Keep the objects that live as long as the server out of the garbage collector's scans.

    The imported libraries and the model are ~160,000 container objects; every full collection
    walks them all (~85 ms on the 2-core test machine), which shows as a pause in the latency of
    whatever requests are in flight. They never become garbage, so they are collected once and
    frozen (``gc.freeze``); later collections only look at objects made while serving.
    """
    gc.collect()
    gc.freeze()


if _SERVE_IMPORT_ERROR is None:

    class _JSONBodyRequest(Request):
        """A request whose JSON body is malformed JSON when its bytes are not text, too.

        FastAPI turns a JSON syntax error into a 422 but a body of bytes that are not UTF-8
        (``UnicodeDecodeError``) into a generic 400; both are a malformed JSON body, which the
        API answers with 422 (docs/serve.md).
        """

        async def json(self) -> Any:
            if not hasattr(self, "_json"):
                body = await self.body()
                try:
                    self._json = json.loads(body)
                except UnicodeDecodeError as error:
                    reason = f"not {error.encoding} text, {error.reason}"
                    raise json.JSONDecodeError(reason, "", error.start) from None
                except RecursionError:
                    # FastAPI turns anything but a JSONDecodeError into a 400; the parser
                    # gives no position here, so the answer is a plain one-line 422.
                    raise StarletteHTTPException(
                        422,
                        "request body is not valid JSON: arrays or objects nested too deeply "
                        f"(the parser stops near {sys.getrecursionlimit():,} levels)",
                    ) from None
            return self._json

    class _JSONBodyRoute(APIRoute):
        """Routes that read their JSON body through :class:`_JSONBodyRequest`, and refuse a query
        string on a request with a body: no endpoint reads one, so ``POST
        /api/score?threshold=0.3`` would be scored with the model's thresholds, not 0.3."""

        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()

            async def route_handler(request: Request) -> Response:
                if request.method in _BODY_METHODS and request.query_params:
                    raise RequestValidationError(
                        [
                            {
                                "type": "extra_forbidden",
                                "loc": ("query", key),
                                "msg": "Extra inputs are not permitted (this endpoint reads "
                                "no query string: options go in the body)",
                                "input": _short_input(value),
                            }
                            for key, value in request.query_params.multi_items()
                        ]
                    )
                return await handler(_JSONBodyRequest(request.scope, request.receive))

            return route_handler


class _RequestError(Exception):
    """A request the server refuses, with its status code and one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, **extra: Any) -> Response:
    # Encoded like every answer: the echoed input of a validation error may hold NaN (JSON
    # has no NaN; Starlette's JSONResponse raised ValueError, a 500) or a lone surrogate.
    return Response(
        _json_bytes({"error": message, **extra}), status_code=status, media_type="application/json"
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_RequestError)
    async def request_error(request: Request, error: _RequestError) -> Response:
        return _error(error.status, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        raw = error.errors()
        problems = [
            {**problem, "input": _short_input(problem["input"])} if "input" in problem else problem
            for problem in raw
        ]
        detail = jsonable_encoder(problems, exclude={"ctx"})
        message = _validation_message(problems)
        if raw and raw[0].get("loc") == ("body",) and isinstance(raw[0].get("input"), bytes):
            # FastAPI hands a body sent as another content type to the model as bytes, and
            # pydantic's "Input should be a valid dictionary" does not say what to change.
            content_type = request.headers.get("content-type", "none")
            message = (
                f"the body must be JSON sent as Content-Type: application/json, "
                f"not {content_type.split(';')[0].strip()!r}"
            )
        return _error(422, message, detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # Starlette re-raises after this answer, so uvicorn logs the traceback once; the client
        # gets one line and nothing of the internals.
        return _error(500, f"internal error ({type(error).__name__}); the server keeps running")


def _validation_message(problems: list[dict]) -> str:
    """One line naming the first problem, e.g. ``body.text: Field required``."""
    if not problems:
        return "invalid request"
    first = problems[0]
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error")
        position = first.get("loc", ())[-1:]
        where = f" (position {position[0]})" if position and isinstance(position[0], int) else ""
        return "request body is not valid JSON" + (f": {reason}{where}" if reason else "")
    locations = [_location(problem) for problem in problems]
    # A value that fits no member of a union fails each of them: a map with one bad value is
    # told about that value ("threshold.Doubt: ..."), not that it is not a number.
    chosen = max(
        (number for number, place in enumerate(locations) if _within(place, locations[0])),
        key=lambda number: locations[number].count("."),
    )
    location = locations[chosen]
    message = str(problems[chosen].get("msg", "invalid value")).removeprefix("Value error, ")
    # One problem per field (the union members of one value count once).
    others = len({place for place in locations if not _within(location, place)})
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    prefix = f"{location}: " if location else ""
    return f"{prefix}{message}{more}"


def _within(location: str, field_location: str) -> bool:
    """Whether ``location`` is ``field_location`` or inside it (``threshold.Doubt``)."""
    return location == field_location or location.startswith(f"{field_location}.")


def _location(problem: dict) -> str:
    return ".".join(
        str(part)
        for part in problem.get("loc", ())
        if part != "body" and not _UNION_MEMBER_TAG.search(str(part))
    )


def _short_input(value: Any) -> Any:
    """The input a validation error echoes, cut to MAX_ECHOED_INPUT characters of its JSON.

    A body sent as another content type is validated as bytes, decoded here (the default encoder
    decodes them as UTF-8: a UnicodeDecodeError, a 500, for bytes that are not).
    """
    if isinstance(value, bytes):
        value = value[: 4 * MAX_ECHOED_INPUT].decode("utf-8", errors="replace")
    if isinstance(value, StarletteUploadFile):
        # a file sent in a text field's place: its name, not the upload object's internals
        value = f"(a file: {_upload_name(value.filename)})"
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHOED_INPUT else value[:MAX_ECHOED_INPUT] + "…"
    if not isinstance(value, dict | list):
        return value
    try:
        encoded = _json_bytes(value).decode("utf-8")
    except (TypeError, ValueError, RecursionError):  # nested too deeply to encode
        return f"(a JSON {'object' if isinstance(value, dict) else 'array'})"
    return value if len(encoded) <= MAX_ECHOED_INPUT else encoded[:MAX_ECHOED_INPUT] + "…"


def _add_page_routes(app: FastAPI, service: _Service) -> None:
    assets = _static_assets()

    # HEAD too: uptime checkers and proxies probe the page and the health check with it
    @app.api_route(
        "/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False
    )
    def index() -> Response:
        return Response(
            assets["index.html"][0], media_type="text/html", headers=_PAGE_SECURITY_HEADERS
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in assets or name == "index.html":
            raise _RequestError(404, f"no static file {name!r}")
        content, media_type = assets[name]
        return Response(
            content,
            media_type=media_type,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> Response:
        return Response(
            _docs_page(app.openapi()), media_type="text/html", headers=_PAGE_SECURITY_HEADERS
        )


def _add_api_routes(app: FastAPI, service: _Service) -> None:
    model = service.model

    @app.get("/healthz", tags=["service"], summary="Liveness check")
    def healthz() -> dict:
        return {"status": "ok", "model": _model_label(model)}

    # HEAD too (uptime checkers probe with it); one operation in the schema, the GET
    app.head("/healthz", include_in_schema=False)(healthz)

    @app.get("/api/model", tags=["service"], summary="The loaded model")
    def model_info() -> dict:
        metadata = getattr(model, "metadata", None)
        return _json_safe(
            {
                "name": model.name,
                "version": model.version,
                "devices": list(model.devices),
                "thresholds": dict(model.thresholds),
                "metrics": getattr(metadata, "metrics", None) or {},
                "proplens_version": _version(),
            }
        )

    @app.get("/api/devices", tags=["service"], summary="Device taxonomy with colours")
    def devices() -> dict:
        predicted = set(model.devices)
        rows = [
            {**device.to_dict(), "predicted": device.name in predicted}
            for device in service.taxonomy.devices
        ]
        return {"devices": rows}

    @app.post("/api/score", tags=["scoring"], summary="Score a text, sentence by sentence")
    async def score(request: ScoreRequest) -> Response:
        """The same JSON as ``proplens score --format json``."""
        return Response(await service.batcher.score(request), media_type="application/json")

    @app.post("/api/score-file", tags=["scoring"], summary="Score an uploaded .txt or .html file")
    async def score_file(
        request: Request,
        file: Annotated[UploadFile, File(description="A .txt, .html or .htm file.")],
        # Declared for the schema (/docs, /openapi.json) only: the values are read from the raw
        # form, because FastAPI reads an empty value ("evidence=") as an absent one.
        evidence: Annotated[
            str | None, Form(description="As in /api/score, as JSON: true (the default) or false.")
        ] = None,
        threshold: Annotated[
            str | None,
            Form(description='As in /api/score, as JSON: 0.5 or {"Doubt": 0.5}.'),
        ] = None,
        devices: Annotated[
            str | None, Form(description='As in /api/score, as JSON: ["Doubt"].')
        ] = None,
    ) -> Response:
        options = _form_options(await request.form())
        name = _upload_name(file.filename)
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise _RequestError(
                415,
                f"{name}: unsupported file type {suffix or '(none)'!r}; "
                f"upload {', '.join(UPLOAD_SUFFIXES)}",
            )
        data = await file.read()
        text = await service.run(_upload_text, data, name, UPLOAD_SUFFIXES[suffix])
        scoring_request = _score_file_request(text, name, options)
        return Response(
            await service.run(service.score_json, scoring_request), media_type="application/json"
        )

    @app.post("/api/classify-span", tags=["scoring"], summary="Which device a marked span shows")
    async def classify_span(request: ClassifySpanRequest) -> Response:
        return _json_response(await service.run(service.classify_span, request))

    @app.post(
        "/api/classify-spans",
        tags=["scoring"],
        summary="Which device each of several marked spans of one text shows",
    )
    async def classify_spans(request: ClassifySpansRequest) -> Response:
        return _json_response(await service.run(service.classify_spans, request))

    @app.post(
        "/api/render",
        tags=["rendering"],
        summary="HTML fragment (chart, legend, article) for a scoring result",
    )
    async def render(result: ScoringResult) -> Response:
        return _json_response({"html": await service.run(service.render_fragment, result)})

    @app.post(
        "/api/report",
        tags=["rendering"],
        summary="Standalone HTML report for a scoring result",
        response_class=HTMLResponse,
    )
    async def report(result: ScoringResult) -> Response:
        page = await service.run(service.render_report, result)
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Disposition": _attachment(result.document),
                "X-Content-Type-Options": "nosniff",
            },
        )


def _form_options(form: Any) -> dict[str, Any]:
    """/api/score-file's options from its form, as /api/score's JSON body would hold them.

    Checked as the JSON endpoints check theirs: an unknown field (``treshold``) is a 422 rather
    than ignored, a field given twice too (the form keeps one of them), and each value is read as
    JSON, so ``evidence=yes`` or ``threshold="0.5"`` is refused by the same strict model.
    """
    problems: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    for key in dict.fromkeys(key for key, _ in form.multi_items()):
        values = form.getlist(key)
        count, shown = len(values), [_short_input(value) for value in values]
        if key != "file" and key not in SCORE_FILE_OPTIONS:
            problems.append(
                {
                    "type": "extra_forbidden",
                    "loc": ("body", key),
                    "msg": "Extra inputs are not permitted",
                    "input": shown[0],
                }
            )
        elif count > 1:
            what = "upload one file per request" if key == "file" else "send each field once"
            problems.append(_form_problem(key, f"given {count} times; {what}", shown))
        elif key != "file":
            try:
                options[key] = json.loads(values[0], parse_constant=_not_json)
            except (TypeError, ValueError):  # TypeError: a file sent in an option's place
                problems.append(
                    _form_problem(
                        key,
                        f"{shown[0]!r} is not a JSON value; write it as /api/score's JSON does: "
                        f"{SCORE_FILE_OPTIONS[key]}",
                        shown[0],
                    )
                )
    if problems:
        raise RequestValidationError(problems)
    return options


def _form_problem(key: str, message: str, value: Any) -> dict[str, Any]:
    # worded as pydantic words a validator's message; the one-line error drops "Value error, "
    return {
        "type": "value_error",
        "loc": ("body", key),
        "msg": f"Value error, {message}",
        "input": value,
    }


def _not_json(constant: str) -> Any:
    # Python's parser reads NaN and Infinity, which JSON does not have
    raise ValueError(f"{constant} is not JSON")


def _score_file_request(text: str, name: str, options: dict[str, Any]) -> ScoreRequest:
    """The /api/score request an upload stands for; its mistakes are 422s naming the form field
    (``text`` and ``document`` come from the file, so they are named ``file``)."""
    try:
        return ScoreRequest.model_validate({"text": text, "document": name, **options})
    except PydanticValidationError as error:
        problems = []
        for problem in error.errors(include_url=False):
            field_name, *inside = problem["loc"] or ("",)
            if field_name in ("text", "document"):
                field_name = "file"
                if problem["type"] == "string_too_long":
                    limit = problem.get("ctx", {}).get("max_length")
                    problem["msg"] = (
                        f"the file name has {len(name):,} characters, more than the {limit:,} "
                        "a document name may have"
                    )
            problems.append({**problem, "loc": ("body", field_name, *inside)})
        raise RequestValidationError(problems) from None


def _upload_text(data: bytes, name: str, kind: str) -> str:
    """An uploaded file's text, decoded and (for web pages) extracted as the CLI does."""
    from proplens.inputs import decode_bytes, extract_html

    try:
        text = decode_bytes(data, name=name)
    except InputError as error:
        raise _RequestError(415, str(error)) from None
    if kind == "html" or _looks_like_html(text):
        try:
            text = extract_html(text, name=name)
        except InputError as error:
            raise _RequestError(422, str(error)) from None
    return text


def _looks_like_html(text: str) -> bool:
    # Same rule as proplens.inputs: a .txt upload that is really a saved web page is extracted.
    head = text.lstrip("\ufeff \t\r\n")[:100].lower()
    return head.startswith(("<!doctype html", "<html"))


def _upload_name(filename: str | None) -> str:
    """The file's own name: browsers may send a full client path, which must not be echoed."""
    if not filename:
        return "upload"
    return PureWindowsPath(PurePosixPath(filename).name).name or "upload"


def _report_filename(document: str, *, ascii_only: bool = False) -> str:
    """``news.report.html`` for ``vale/news.txt``: letters, digits and ``-_.`` of the name.

    ``ascii_only``: accents are dropped (``naïve`` -> ``naive``) and other letters (Cyrillic,
    CJK) replaced, for the plain ``filename`` parameter of the header.
    """
    stem = PurePosixPath(PureWindowsPath(PurePosixPath(document).name).name).stem
    if ascii_only:
        stem = "".join(ch for ch in unicodedata.normalize("NFKD", stem) if ch.isascii())
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in stem).strip(".-")
    return f"{stem or 'proplens'}.report.html"


def _attachment(document: str) -> str:
    """The Content-Disposition of the report of ``document``.

    Header values are Latin-1 bytes (Starlette refused "статья", a 500) and browsers read raw
    non-ASCII bytes there inconsistently, so ``filename`` is ASCII and the name itself goes in
    RFC 6266's ``filename*``, UTF-8 and percent-encoded as RFC 5987 says.
    """
    fallback = _report_filename(document, ascii_only=True)
    filename = _report_filename(document)
    if filename == fallback:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _json_response(value: Any) -> Response:
    return Response(_json_bytes(value), media_type="application/json")


def _json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, encoded once (with orjson when it is installed).

    A 40-sentence result is ~40 kB of nested dicts; FastAPI's generic encoder walks it twice and
    costs more than scoring it, so results skip it unless they hold NaN or non-JSON types.
    """
    if orjson is not None:
        # orjson writes NaN and infinities as null, as _json_safe does below; other types it
        # cannot encode (numpy scalars, huge ints) raise TypeError and take the path below.
        try:
            return orjson.dumps(value)
        except TypeError:
            pass
    try:
        body = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        body = json.dumps(_json_safe(value), ensure_ascii=False, separators=(",", ":"))
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only JSON's \uXXXX escape can carry it
        return json.dumps(_json_safe(value), separators=(",", ":")).encode("ascii")


def _json_safe(value: Any) -> Any:
    """Plain JSON types; NaN/inf (invalid in JSON) become null."""
    encoded = jsonable_encoder(value)
    return _replace_non_finite(encoded)


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_non_finite(item) for item in value]
    return value


def _model_label(model: Any) -> str:
    """``ptc-default@v4``, the reference ``--model`` and ``models use`` take (as in
    proplens.report); registry versions already start with "v"."""
    version = str(model.version)
    return f"{model.name}@{version if version.startswith('v') else 'v' + version}"


def _version() -> str:
    from proplens import __version__

    return __version__


# ---------------------------------------------------------------------------------------------
# static files, fragment template, docs page

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@lru_cache(maxsize=1)
def _static_assets() -> dict[str, tuple[bytes, str]]:
    """Every file the page may load, read once: the page's own files plus the report's CSS/JS.

    Serving from this fixed table (not from the folder) means no request can reach another file.
    """
    assets = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if path.suffix in _MEDIA_TYPES:
            assets[path.name] = (path.read_bytes(), _MEDIA_TYPES[path.suffix])
    for name in ("report.css", "report.js"):
        path = _REPORT_ASSETS / name
        assets[name] = (path.read_bytes(), _MEDIA_TYPES[path.suffix])
    return assets


@lru_cache(maxsize=1)
def _fragment_template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(STATIC_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("document.html.j2")


def _docs_page(openapi: dict) -> str:
    """A self-hosted API reference built from the OpenAPI schema (Swagger UI needs a CDN)."""
    rows = []
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            schema = next(iter(body.values()), {}).get("schema", {}) if body else {}
            reference = schema.get("$ref", "").rsplit("/", 1)[-1]
            fields = _schema_fields(openapi, reference) if reference else ""
            codes = ", ".join(sorted(operation.get("responses", {})))
            rows.append(
                f'<section class="endpoint"><h2><code>{escape_html(method.upper())} '
                f"{escape_html(path)}</code></h2>"
                f"<p>{escape_html(operation.get('summary', ''))}</p>"
                f"<p>{escape_html(operation.get('description', ''))}</p>"
                f"{fields}<p><small>Responses: {escape_html(codes)}; errors are JSON "
                "<code>{&quot;error&quot;: ...}</code>.</small></p></section>"
            )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>proplens API</title>"
        '<link rel="icon" href="static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="static/report.css"><link rel="stylesheet" '
        'href="static/serve.css"></head><body><main class="page docs-page">'
        f"<h1>proplens API <small>{escape_html(_version())}</small></h1>"
        '<p>The machine-readable schema is at <a href="openapi.json">/openapi.json</a>; the '
        'page that uses this API is at <a href="./">/</a>. Error codes: 413 body too large, '
        "415 unsupported file type, 422 invalid request.</p>"
        f"{''.join(rows)}</main></body></html>"
    )


def _schema_fields(openapi: dict, name: str) -> str:
    schema = openapi.get("components", {}).get("schemas", {}).get(name, {})
    required = set(schema.get("required", []))
    items = []
    for field_name, field_schema in schema.get("properties", {}).items():
        kind = field_schema.get("type") or " | ".join(
            str(option.get("type", option.get("$ref", "").rsplit("/", 1)[-1]))
            for option in field_schema.get("anyOf", [])
        )
        items.append(
            f"<li><code>{escape_html(field_name)}</code> <small>{escape_html(kind)}"
            f"{', required' if field_name in required else ''}</small> "
            f"{escape_html(field_schema.get('description', ''))}</li>"
        )
    return f"<p>Body <code>{escape_html(name)}</code>:</p><ul>{''.join(items)}</ul>"


# ---------------------------------------------------------------------------------------------
# body size limit


class _BodyLimitMiddleware:
    """Refuses request bodies above a limit with 413, whether announced or streamed.

    A ``Content-Length`` above the limit is refused before reading anything. Otherwise the body is
    read here, counting bytes as they arrive (chunked uploads announce no length), and replayed to
    the app once complete; the app parses the whole body anyway, so holding it in memory costs
    nothing extra. Scoring results (``_RESULT_PATHS``) have their own, larger limit.
    """

    def __init__(self, app: Any, *, max_body_bytes: int, result_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.result_body_bytes = result_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await self._refuse(send, 400, "Content-Length is not a number")
                return
            if length > limit:
                await self._refuse(send, 413, self._too_large(length, limit))
                return
        chunks, received = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left; nobody is waiting for an answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await self._refuse(send, 413, self._too_large(None, limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _limit(self, scope: dict) -> int:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):  # behind a proxy, as Starlette's routing does
            path = path[len(root) :]
        return self.result_body_bytes if path in _RESULT_PATHS else self.max_body_bytes

    @staticmethod
    def _too_large(length: int | None, limit: int) -> str:
        size = f"{length:,} bytes" if length is not None else "more bytes"
        return (
            f"request body too large: {size}, limit {limit:,} bytes "
            "(start the server with a larger --max-body)"
        )

    @staticmethod
    async def _refuse(send: Any, status: int, message: str) -> None:
        await _error(status, message)({"type": "http"}, _no_body, send)


async def _no_body() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


# ---------------------------------------------------------------------------------------------
# command line


def _require_serve_extra() -> None:
    if _SERVE_IMPORT_ERROR is not None:
        raise ProplensError(
            f"proplens serve needs the 'serve' extra ({_SERVE_IMPORT_ERROR.name} is missing): "
            "pip install 'proplens[serve]'"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            metavar="HOST",
            help="Address to listen on. Loopback by default; 0.0.0.0 exposes the server.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, metavar="PORT", help="TCP port.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL", help="Model folder, NAME or NAME@VERSION; default: the current one."
        ),
    ] = None,
    trust: Annotated[
        bool, typer.Option(help="Load a model file this installation did not produce.")
    ] = False,
    max_body: Annotated[
        int,
        typer.Option(
            min=1, metavar="BYTES", help="Largest request body in bytes (larger gets 413)."
        ),
    ] = DEFAULT_MAX_BODY_BYTES,
    max_batch: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Score up to this many waiting /api/score requests together (1: one by one).",
        ),
    ] = DEFAULT_MAX_BATCH,
) -> None:
    """Serve the web page and JSON API (open http://HOST:PORT/ in a browser, /docs for the API)."""
    _require_serve_extra()
    import uvicorn

    import proplens

    loaded = proplens.load_model(model, trust=trust)
    app = create_app(loaded, max_body_bytes=max_body, max_batch=max_batch)
    if not _is_loopback(host):
        logger.warning(
            "listening on %s: anyone who can reach this address can use the server "
            "(there is no authentication)",
            host,
        )
    typer.echo(f"proplens: serving {_model_label(loaded)} on http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=KEEP_ALIVE_SECONDS)
