"""Tests for proplens.server: every endpoint, every error code, and that bad requests never stop it.

The app serves the real default model (``proplens.load_model()``), so these tests check what users
get, not a stub. One model is loaded for the whole module to keep the file fast.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time
import urllib.parse

import httpx
import pytest
import typer
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import proplens
import proplens.errors
from proplens import server
from proplens.server import create_app, serve_command
from proplens.taxonomy import load_taxonomy

# A short fictional news item written for these tests (no corpus text). The first paragraph is
# calm reporting; the second is deliberately loaded, so a working model should flag something.
ARTICLE = (
    "Riverside council delays library vote\n\n"
    "The council of Fennick Vale postponed its vote on the new library until next month. "
    "The building plan includes a reading room and a small cafe.\n\n"
    "Councillor Brannock called the delay a shameful betrayal by cowardly officials who despise "
    "ordinary families. "
    "Never again will this town let a handful of arrogant bureaucrats destroy our children's "
    "future! "
    "Everyone knows the real reason: they simply do not care about us."
)


@pytest.fixture(scope="module")
def model():
    return proplens.load_model()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def small_limit_client(model):
    """Same model, 1,000-byte body limit: lets the 413 tests send small bodies."""
    with TestClient(create_app(model, max_body_bytes=1_000)) as test_client:
        yield test_client


def _as_json(value):
    return json.loads(json.dumps(value))


def _assert_error(response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and "\n" not in body["error"]
    for fragment in fragments:
        assert fragment in body["error"], body["error"]


# ---------------------------------------------------------------------------------------------
# service endpoints


def test_healthz_names_the_loaded_model(client, model):
    """Monitoring needs a cheap liveness answer that says which model is live."""
    response = client.get("/healthz")
    assert response.status_code == 200
    version = str(model.version).removeprefix("v")  # registry versions read "v4": no "vv4"
    assert response.json() == {"status": "ok", "model": f"{model.name}@v{version}"}


def test_model_endpoint_describes_the_loaded_model(client, model):
    """/api/model reports the model that actually scores (name, version, devices, thresholds)."""
    info = client.get("/api/model").json()
    assert info["name"] == model.name and info["version"] == model.version
    assert info["devices"] == list(model.devices)
    assert info["thresholds"] == _as_json(dict(model.thresholds))
    assert isinstance(info["metrics"], dict)


def test_devices_endpoint_lists_taxonomy_with_colours(client, model):
    """The page and API clients take device definitions and colours from /api/devices."""
    rows = client.get("/api/devices").json()["devices"]
    assert [row["name"] for row in rows] == load_taxonomy().names
    for row in rows:
        assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", row["colour"])
        assert row["definition"]
        assert row["predicted"] == (row["name"] in model.devices)


# ---------------------------------------------------------------------------------------------
# scoring


def test_score_returns_the_library_json(client, model):
    """/api/score gives exactly what `proplens score --format json` gives for the same text."""
    response = client.post("/api/score", json={"text": ARTICLE})
    assert response.status_code == 200
    expected = model.score(ARTICLE, document_id="<text>").to_dict()
    assert response.json() == _as_json(expected)


def test_score_flags_the_loaded_paragraph(client):
    """The real model finds at least one device in deliberately loaded sentences."""
    result = client.post("/api/score", json={"text": ARTICLE}).json()
    assert result["summary"]["sentences"] == len(result["sentences"]) >= 5
    assert result["summary"]["flagged"] >= 1
    assert any(sentence["labels"] for sentence in result["sentences"][3:])


def test_score_offsets_are_code_points_after_an_emoji(client):
    """Offsets index the Python string, so an emoji (two UTF-16 units) shifts nothing."""
    text = "🙂🙂 " + ARTICLE
    result = client.post("/api/score", json={"text": text}).json()
    for sentence in result["sentences"]:
        assert text[sentence["start"] : sentence["end"]] == sentence["text"]
    assert result["text"] == text


def test_score_devices_limits_the_labels(client, model):
    """Asking for one device never returns labels of another."""
    device = model.devices[0]
    result = client.post("/api/score", json={"text": ARTICLE, "devices": [device]}).json()
    for sentence in result["sentences"]:
        assert set(sentence["labels"]) <= {device}


def test_thresholds_reach_the_model(client, model):
    """A single threshold and a per-device map both change the labels, monotonically."""
    everything = client.post("/api/score", json={"text": ARTICLE, "threshold": 0.0}).json()
    nothing = client.post("/api/score", json={"text": ARTICLE, "threshold": 1.0}).json()
    assert everything["summary"]["flagged"] == everything["summary"]["sentences"]
    assert nothing["summary"]["flagged"] <= everything["summary"]["flagged"]
    per_device = {name: 0.0 for name in model.devices}
    all_labels = client.post("/api/score", json={"text": ARTICLE, "threshold": per_device}).json()
    for sentence in all_labels["sentences"]:
        assert sorted(sentence["labels"]) == sorted(model.devices)


def test_concurrent_requests_are_batched_and_answered_as_alone(model):
    """Requests that wait together share score_many calls; each gets the answer it would get
    alone (same JSON), and one request's bad option fails only that request."""
    app = create_app(model, max_batch=8)
    service = app.state.proplens
    sizes = []
    score_batch = service.score_batch

    def recording_score_batch(requests):
        # hold the first batch until the other requests wait, so that they form a batch
        deadline = time.monotonic() + 10
        while not sizes and len(service.batcher._pending) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        sizes.append(len(requests))
        return score_batch(requests)

    service.score_batch = recording_score_batch
    bodies = [
        {"text": ARTICLE},
        {"text": "A calm sentence about a library.", "document": "calm"},
        {"text": ARTICLE, "evidence": False},
        {"text": ARTICLE.upper(), "threshold": 0.2},
        {"text": ARTICLE, "devices": ["Made_Up_Device"]},
        {"text": ARTICLE[:200], "document": "short"},
        {"text": "   "},
    ]

    async def post_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.post("/api/score", json=b) for b in bodies))

    responses = asyncio.run(post_all())
    assert sum(sizes) == len(bodies) and max(sizes) > 1
    for body, response in zip(bodies, responses, strict=True):
        if body.get("devices") == ["Made_Up_Device"]:
            _assert_error(response, 422, "Made_Up_Device")
            continue
        assert response.status_code == 200, response.text
        expected = model.score(
            body["text"],
            document_id=body.get("document", "<text>"),
            threshold=body.get("threshold"),
            evidence=body.get("evidence", True),
        ).to_dict()
        assert response.json() == _as_json(expected)


def test_results_encode_as_the_json_module_would():
    """The fast encoder (orjson, when installed) writes what json.dumps writes; NaN is null."""
    value = {"a": [1, 0.1234, 1e-05, "é🙂", None, True], "b": {"c": float("nan")}}
    assert json.loads(server._json_bytes(value)) == {
        "a": [1, 0.1234, 1e-05, "é🙂", None, True],
        "b": {"c": None},
    }


def test_evidence_can_be_switched_off(client):
    """evidence=false drops the evidence lists (smaller answers for batch clients)."""
    result = client.post("/api/score", json={"text": ARTICLE, "evidence": False}).json()
    assert all(sentence["evidence"] == [] for sentence in result["sentences"])


def test_empty_text_has_no_sentences(client):
    """An empty text is valid input with nothing to flag, not an error."""
    result = client.post("/api/score", json={"text": ""}).json()
    assert result["sentences"] == [] and result["summary"]["sentences"] == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=200))
def test_any_text_scores_with_offsets_that_slice_back(client, text):
    """Whatever the text (emoji, control characters, RTL), offsets slice back to the sentence."""
    response = client.post("/api/score", json={"text": text})
    assert response.status_code == 200
    for sentence in response.json()["sentences"]:
        assert text[sentence["start"] : sentence["end"]] == sentence["text"]
        assert 0.0 <= sentence["propaganda"] <= 1.0


# ---------------------------------------------------------------------------------------------
# file uploads


def test_score_file_txt_keeps_the_bom_and_strips_client_paths(client):
    """A UTF-8 BOM stays char 0 (as in the CLI); only the file's base name is echoed back."""
    data = "\ufeff".encode() + ARTICLE.encode("utf-8")
    response = client.post(
        "/api/score-file", files={"file": ("C:\\Users\\desk\\vale.txt", data, "text/plain")}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["document"] == "vale.txt"
    assert result["text"] == "\ufeff" + ARTICLE
    for sentence in result["sentences"]:
        assert result["text"][sentence["start"] : sentence["end"]] == sentence["text"]


def test_score_file_html_scores_the_extracted_article(client):
    """An HTML upload is scored on its article text, not on menus or markup."""
    paragraphs = "".join(f"<p>{part}</p>" for part in ARTICLE.split("\n\n")[1:])
    page = (
        "<!DOCTYPE html><html><head><title>Vale news</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/sport'>Sport</a></nav>"
        "<article><h1>Riverside council delays library vote</h1>"
        f"{paragraphs}</article></body></html>"
    )
    response = client.post("/api/score-file", files={"file": ("vale.html", page, "text/html")})
    assert response.status_code == 200
    result = response.json()
    assert "postponed its vote" in result["text"]
    assert "<p>" not in result["text"] and "Sport" not in result["text"]


def test_score_file_rejects_unsupported_types_with_415(client):
    """A PDF or a binary file disguised as .txt is refused with 415, naming the file."""
    pdf = client.post("/api/score-file", files={"file": ("paper.pdf", b"%PDF-1.7 ...")})
    _assert_error(pdf, 415, "paper.pdf", ".pdf")
    binary = client.post("/api/score-file", files={"file": ("notes.txt", b"\x00\x01\x02\xff" * 50)})
    _assert_error(binary, 415, "notes.txt", "binary")


def test_score_file_html_without_article_is_422(client):
    """A page that is only a menu has no text to score: 422 saying so."""
    menu = "<html><body><nav><a href='/'>Home</a></nav></body></html>"
    _assert_error(
        client.post("/api/score-file", files={"file": ("menu.html", menu)}), 422, "menu.html"
    )


def test_score_file_without_file_is_422(client):
    """Forgetting the file field is a validation error naming the field."""
    _assert_error(client.post("/api/score-file", data={"evidence": "true"}), 422, "file")


def _upload(text: str = ARTICLE, name: str = "vale.txt") -> dict:
    return {"file": (name, text.encode("utf-8"), "text/plain")}


@pytest.mark.parametrize("field", ["treshold", "device", "evidenc", "document", "text"])
def test_score_file_refuses_unknown_form_fields(client, field):
    """A misspelt option (`treshold=0.3`) was ignored and the file scored with the defaults; it
    is a 422 naming the field, as an unknown field of the JSON endpoints is."""
    response = client.post("/api/score-file", files=_upload(), data={field: "0.3"})
    _assert_error(response, 422, f"{field}: Extra inputs are not permitted")
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    as_json = client.post("/api/score", json={"text": ARTICLE, "treshold": 0.3})
    assert as_json.json()["error"] == "treshold: Extra inputs are not permitted"


@pytest.mark.parametrize("value", ["yes", "on", "1", "0", "True", "", '"true"'])
def test_score_file_reads_evidence_as_strictly_as_the_json_endpoint(client, value):
    """evidence=yes, 1 or on scored with evidence and an empty value fell back to the default;
    like /api/score's `"evidence"`, the form field is JSON true or false and nothing else."""
    response = client.post("/api/score-file", files=_upload(), data={"evidence": value})
    _assert_error(response, 422, "evidence: ")


def test_score_file_evidence_true_and_false_still_work(client):
    """The page sends evidence=true or evidence=false: both keep working."""
    with_words = client.post("/api/score-file", files=_upload(), data={"evidence": "true"})
    without = client.post("/api/score-file", files=_upload(), data={"evidence": "false"})
    assert with_words.status_code == without.status_code == 200
    assert any(s["evidence"] for s in with_words.json()["sentences"])
    assert not any(s["evidence"] for s in without.json()["sentences"])


def test_score_file_takes_the_options_of_the_json_endpoint(client):
    """threshold and devices, written as their JSON, score the file as /api/score scores the same
    text with them (they used to be ignored)."""
    options = {"threshold": {"Loaded_Language": 0.05}, "devices": ["Loaded_Language", "Doubt"]}
    uploaded = client.post(
        "/api/score-file",
        files=_upload(),
        data={key: json.dumps(value) for key, value in options.items()},
    )
    sent = client.post("/api/score", json={"text": ARTICLE, "document": "vale.txt", **options})
    assert uploaded.status_code == sent.status_code == 200
    assert uploaded.json() == sent.json()
    assert set(uploaded.json()["summary"]["devices"]) == {"Loaded_Language", "Doubt"}
    # an overall threshold far below every tuned one flags more sentences, whatever the model
    single = client.post("/api/score-file", files=_upload(), data={"threshold": "0.001"})
    flagged = single.json()["summary"]["flagged"]
    assert flagged > client.post("/api/score-file", files=_upload()).json()["summary"]["flagged"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"threshold": '"0.5"'}, "threshold: Input should be a valid number"),
        ({"threshold": "1.5"}, "threshold: Input should be less than or equal to 1"),
        ({"threshold": "NaN"}, "threshold: 'NaN' is not a JSON value"),
        ({"threshold": '{"Nope": 0.5}'}, "unknown device in threshold: 'Nope'"),
        ({"devices": "Doubt"}, "devices: 'Doubt' is not a JSON value"),
        ({"devices": '["Nope"]'}, "unknown device in devices: 'Nope'"),
        ({"devices": "[]"}, "devices: List should have at least 1 item"),
    ],
)
def test_score_file_options_are_checked_like_the_json_ones(client, data, fragment):
    """A mistyped option is the 422 /api/score gives for the same value, not a guess."""
    _assert_error(client.post("/api/score-file", files=_upload(), data=data), 422, fragment)


def test_score_file_refuses_a_field_given_twice(client):
    """Two evidence values or two files: the form kept the last one and said nothing."""
    twice = client.post("/api/score-file", files=_upload(), data={"evidence": ["false", "true"]})
    _assert_error(twice, 422, "evidence: given 2 times")
    two_files = client.post(
        "/api/score-file",
        files=[
            ("file", ("a.txt", b"One.", "text/plain")),
            ("file", ("b.txt", b"Two.", "text/plain")),
        ],
    )
    _assert_error(two_files, 422, "file: given 2 times; upload one file per request")
    assert two_files.json()["detail"][0]["input"] == ["(a file: a.txt)", "(a file: b.txt)"]


def test_score_file_echoes_a_misplaced_file_by_its_name(client):
    """A file sent as an option is echoed by name, not as the upload object's internals."""
    response = client.post(
        "/api/score-file", files={**_upload(), "evidence": ("e.txt", b"true", "text/plain")}
    )
    _assert_error(response, 422, "evidence: ")
    assert response.json()["detail"][0]["input"] == "(a file: e.txt)"


def test_score_file_with_a_very_long_name_is_422_not_500(client):
    """The file name becomes the document name, which has a limit: over it was a 500."""
    response = client.post("/api/score-file", files=_upload(name="a" * 600 + ".txt"))
    _assert_error(response, 422, "file: the file name has 604 characters, more than the 500")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/score?threshold=0.3", {"json": {"text": ARTICLE}}),
        ("/api/score-file?evidence=false", {"files": _upload()}),
        ("/api/classify-span?x=1", {"json": {"text": ARTICLE, "start": 0, "end": 9}}),
    ],
)
def test_a_query_string_on_a_post_is_422_not_ignored(client, path, body):
    """`POST /api/score?threshold=0.3` was scored with the model's thresholds; no endpoint reads
    a query string, so one is a 422 naming the parameter. GET endpoints still ignore one (a
    cache-busting `?_=...`)."""
    name = path.split("?")[1].split("=")[0]
    _assert_error(client.post(path, **body), 422, f"query.{name}: Extra inputs are not permitted")
    assert client.get("/api/model?_=1").status_code == 200


# ---------------------------------------------------------------------------------------------
# span classification


def test_classify_span_names_the_most_probable_device(client, model):
    """The answer is a known device with probabilities in [0, 1], the device being the top one."""
    start = ARTICLE.index("shameful betrayal")
    response = client.post(
        "/api/classify-span",
        json={"text": ARTICLE, "start": start, "end": start + len("shameful betrayal")},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["device"] in body["probabilities"]
    assert set(body["probabilities"]) <= set(model.devices) | {body["device"]}
    assert all(0.0 <= p <= 1.0 for p in body["probabilities"].values())
    assert body["probabilities"][body["device"]] == max(body["probabilities"].values())


@pytest.mark.parametrize(
    ("start", "end", "fragment"),
    [
        (5, 5, "start < end"),
        (9, 4, "start < end"),
        (0, 10_000, "text length"),
        (-1, 4, "greater than or equal to 0"),
        (6, 9, "whitespace"),
    ],
)
def test_classify_span_rejects_bad_offsets_with_422(client, start, end, fragment):
    """Offsets outside the text, empty, reversed or blank spans are the caller's mistake: 422."""
    text = "A calm   sentence about libraries."
    response = client.post("/api/classify-span", json={"text": text, "start": start, "end": end})
    _assert_error(response, 422, fragment)


def test_classify_spans_answers_each_span_as_classify_span_does(client):
    """The batch endpoint gives every span, in order, what the one-span endpoint gives it."""
    phrases = ["shameful betrayal", ARTICLE.split()[0]]
    spans = [{"start": ARTICLE.index(p), "end": ARTICLE.index(p) + len(p)} for p in phrases]
    response = client.post("/api/classify-spans", json={"text": ARTICLE, "spans": spans})
    assert response.status_code == 200
    answers = response.json()["spans"]
    assert [{"start": a["start"], "end": a["end"]} for a in answers] == spans
    for span, answer in zip(spans, answers, strict=True):
        alone = client.post("/api/classify-span", json={"text": ARTICLE, **span}).json()
        assert answer["device"] == alone["device"]
        assert answer["probabilities"] == pytest.approx(alone["probabilities"])


@pytest.mark.parametrize(
    ("spans", "fragment"),
    [
        ([], "at least 1"),
        ([{"start": 0, "end": 4}, {"start": 9, "end": 4}], "span 2 [9, 4)"),
        ([{"start": 0, "end": 10_000}], "text length"),
        ([{"start": 6, "end": 9}], "span 1 [6, 9) holds only whitespace"),
        ([{"start": 0}], "end: Field required"),
    ],
)
def test_classify_spans_rejects_bad_spans_with_422(client, spans, fragment):
    text = "A calm   sentence about libraries."
    response = client.post("/api/classify-spans", json={"text": text, "spans": spans})
    _assert_error(response, 422, fragment)


# ---------------------------------------------------------------------------------------------
# invalid requests


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"text": "unclosed', "not valid JSON"),
        (b"{}", "text: Field required"),
        (b'{"text": 42}', "text: Input should be a valid string"),
        (b'{"text": "a", "evidence": "perhaps"}', "evidence"),
        # mistyped, not coerced: "0.5" and true were applied as 0.5 and 1.0, "yes" as true
        (b'{"text": "a", "threshold": "0.5"}', "threshold: Input should be a valid number"),
        (b'{"text": "a", "threshold": true}', "threshold: Input should be a valid number"),
        (b'{"text": "a", "threshold": {"Doubt": "0.5"}}', "threshold.Doubt: Input should be"),
        (b'{"text": "a", "evidence": "yes"}', "evidence: Input should be a valid boolean"),
        (b'{"text": "a", "evidence": 1}', "evidence: Input should be a valid boolean"),
        (b'{"text": "a", "thresold": 0.3}', "thresold: Extra inputs are not permitted"),
        (b'{"text": "a", "threshold": 1.5}', "threshold"),
        (b'{"text": "a", "devices": []}', "devices"),
        (b"[1, 2]", "valid dictionary"),
    ],
)
def test_malformed_score_requests_are_422_with_a_clear_message(client, body, fragment):
    """Broken JSON, missing or mistyped fields and typos in field names each get a one-line 422."""
    response = client.post("/api/score", content=body, headers={"content-type": "application/json"})
    _assert_error(response, 422, fragment)
    assert isinstance(response.json()["detail"], list)


@pytest.mark.parametrize("path", ["/api/score", "/api/classify-span", "/api/render", "/api/report"])
@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b'{"text": "caf\xe9"}', "application/json", "not valid JSON: not utf-8 text"),
        (b"\xff\xfe{", "application/json", "not valid JSON"),
        (b'{"text": "caf\xe9"}', "text/plain", "Content-Type: application/json, not 'text/plain'"),
    ],
)
def test_json_bodies_that_are_not_utf8_are_422(client, path, body, content_type, fragment):
    """A JSON body whose bytes are not UTF-8 text is malformed JSON: 422 as docs/serve.md says
    (FastAPI answered 400 "There was an error parsing the body"; sent as text/plain it was a 500
    while echoing the bytes back). The server keeps answering."""
    response = client.post(path, content=body, headers={"content-type": content_type})
    _assert_error(response, 422, fragment)
    assert isinstance(response.json()["detail"], list)
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/classify-span", {"text": "abc", "start": "1", "end": 2}, "start: Input should be"),
        ("/api/classify-span", {"text": "abc", "start": 0, "end": 2.0}, "end: Input should be"),
        (
            "/api/classify-spans",
            {"text": "abc", "spans": [{"start": 0, "end": "2"}]},
            "spans.0.end",
        ),
    ],
)
def test_mistyped_span_offsets_are_422(client, path, body, fragment):
    """docs/serve.md: a mistyped field is a 422; "1" was read as offset 1."""
    _assert_error(client.post(path, json=body), 422, fragment, "valid integer")


def test_form_and_text_bodies_are_told_to_send_json(client):
    """A form or plain-text body is answered with what to change, not "Input should be a valid
    dictionary" (pydantic's words for the bytes FastAPI hands on)."""
    response = client.post("/api/score", data={"text": "A sentence."})
    _assert_error(response, 422, "application/json", "application/x-www-form-urlencoded")
    response = client.post(
        "/api/score", content=b"A sentence.", headers={"content-type": "text/plain"}
    )
    _assert_error(response, 422, "application/json", "'text/plain'")


def test_deeply_nested_json_is_a_one_line_422(client):
    """JSON nested deeper than the parser goes was FastAPI's 400 "There was an error parsing the
    body"; it is malformed JSON, a 422 (docs/serve.md), and the server goes on."""
    for path in ("/api/score", "/api/render"):
        body = '{"text": "a", "x": ' + "[" * 1_200 + "]" * 1_200 + "}"
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        _assert_error(response, 422, "not valid JSON", "nested too deeply")
    assert client.post("/api/score", json={"text": ARTICLE}).status_code == 200


def test_errors_do_not_echo_large_inputs(client):
    """A 422 names the problem without sending the request back: a 1.3 MB text with a lone
    surrogate gave a 1.3 MB error, a megabyte-long device name a megabyte-long line."""
    text = "Bad \\ud800 here. " + "x" * 1_300_000
    response = client.post(
        "/api/score",
        content='{"text": "' + text + '"}',
        headers={"content-type": "application/json"},
    )
    _assert_error(response, 422, "lone surrogate")
    assert len(response.content) < 2_000
    response = client.post("/api/score", json={"text": "a", "evidence": "y" * 100_000})
    _assert_error(response, 422, "evidence")
    assert len(response.content) < 2_000 and response.json()["detail"][0]["input"].endswith("…")
    response = client.post("/api/score", json={"text": "a", "devices": ["Nope" * 100_000] * 3})
    _assert_error(response, 422, "unknown devices", "'NopeNope")
    assert len(response.content) < 2_000


def test_unknown_devices_are_422(client):
    """A device name the model does not know (in devices or a threshold map) is named in a 422."""
    response = client.post("/api/score", json={"text": ARTICLE, "devices": ["Made_Up_Device"]})
    _assert_error(response, 422, "Made_Up_Device", "/api/devices")
    response = client.post("/api/score", json={"text": ARTICLE, "threshold": {"Nope": 0.5}})
    _assert_error(response, 422, "'Nope'", "threshold")


def test_body_over_the_limit_is_413_by_content_length(small_limit_client):
    """An announced body over the limit is refused before it is read."""
    response = small_limit_client.post("/api/score", json={"text": "x" * 2_000})
    _assert_error(response, 413, "too large", "1,000")


def test_streamed_body_over_the_limit_is_413(small_limit_client):
    """A chunked body (no Content-Length) is counted as it arrives and refused past the limit."""

    def chunks():
        for _ in range(20):
            yield b"x" * 100

    response = small_limit_client.post(
        "/api/score", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in {key.lower() for key in response.request.headers}
    _assert_error(response, 413, "too large")


def test_upload_over_the_limit_is_413(small_limit_client):
    """File uploads obey the same limit."""
    response = small_limit_client.post(
        "/api/score-file", files={"file": ("big.txt", b"word " * 1_000)}
    )
    _assert_error(response, 413)


def test_body_just_under_the_limit_is_scored(small_limit_client):
    """The limit is not off by one: a body of exactly the limit is accepted."""
    padding = 1_000 - len(json.dumps({"text": ""}).encode())
    body = json.dumps({"text": "a" * padding}).encode()
    assert len(body) == 1_000
    response = small_limit_client.post(
        "/api/score", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_unknown_route_and_wrong_method_answer_json(client):
    """404 and 405 use the same {"error": ...} shape as every other error."""
    _assert_error(client.get("/api/nothing"), 404)
    _assert_error(client.get("/api/score"), 405)
    # a trailing slash names no endpoint (it was an empty 307 that dropped the body)
    _assert_error(
        client.post("/api/score/", json={"text": "A sentence."}, follow_redirects=False), 404
    )


def test_the_page_and_the_health_check_answer_head(client):
    """Uptime checkers probe with HEAD: the same status and headers as GET, no body."""
    for path in ("/", "/healthz"):
        head, get = client.head(path), client.get(path)
        assert head.status_code == get.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


def test_server_keeps_serving_after_bad_requests(client, small_limit_client):
    """After every kind of bad request the same app still answers /healthz and scores text."""
    client.post("/api/score", content=b"{", headers={"content-type": "application/json"})
    client.post("/api/score", json={"text": "a", "devices": ["Nope"]})
    client.post("/api/score-file", files={"file": ("x.exe", b"MZ\x00")})
    client.post("/api/score-file", files={"file": ("x.txt", b"x")}, data={"treshold": "0.3"})
    client.post("/api/score-file", files={"file": ("x" * 600 + ".txt", b"x")})
    client.post("/api/classify-span", json={"text": "abc", "start": 2, "end": 1})
    client.post("/api/render", json={"sentences": "not a list"})
    small_limit_client.post("/api/score", json={"text": "x" * 5_000})
    assert client.get("/healthz").status_code == 200
    assert small_limit_client.get("/healthz").status_code == 200
    assert client.post("/api/score", json={"text": ARTICLE}).status_code == 200


class _FailingModel:
    """Wraps the real model but fails while scoring, as a bug in the model code would."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def score(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_unexpected_error_is_a_json_500_and_the_server_goes_on(model):
    """A bug while scoring gives a one-line JSON 500 (no traceback to the client), then recovery."""
    with TestClient(create_app(_FailingModel(model)), raise_server_exceptions=False) as failing:
        response = failing.post("/api/score", json={"text": "A sentence."})
        _assert_error(response, 500, "internal error", "RuntimeError")
        assert "boom" not in response.text
        assert failing.get("/healthz").status_code == 200


# ---------------------------------------------------------------------------------------------
# rendering for the page and the downloadable report


def test_render_returns_the_highlighted_article(client):
    """The fragment wraps every sentence and highlights exactly the labelled ones."""
    result = client.post("/api/score", json={"text": ARTICLE}).json()
    response = client.post("/api/render", json=result)
    assert response.status_code == 200
    html = response.json()["html"]
    assert html.count('class="s ') + html.count('class="s"') == len(result["sentences"])
    assert html.count('class="s flagged"') == sum(1 for s in result["sentences"] if s["labels"])
    assert 'class="legend"' in html and 'class="doc-data"' in html


def test_render_fragment_says_what_the_scores_do_not_mean(client):
    """The page's result states, next to its numbers, that they are a model's fallible estimates
    of rhetoric and no judgement of truth, as the standalone report does; and an empty text
    gets no score of 0.00, which would read as "nothing found"."""
    result = client.post("/api/score", json={"text": ARTICLE}).json()
    html = client.post("/api/render", json=result).json()["html"]
    assert "can miss a device or flag a plain sentence" in html
    assert "does not judge whether the claims are true" in html
    assert "strongest sentences (device probability)" in html
    assert "their share of all sentences" in html
    empty = client.post("/api/score", json={"text": ""}).json()
    assert empty["summary"]["propaganda_score"] == 0.0
    html = client.post("/api/render", json=empty).json()["html"]
    assert re.search(r"<dt>Propaganda score</dt><dd>n/a</dd>", html)
    assert re.search(r"<dt>Flagged</dt><dd>0</dd>", html)


def test_render_escapes_document_text(client, model):
    """Markup in the article is shown as text, never executed in the page."""
    text = 'The mayor wrote <script>alert("x")</script> in a memo. Nothing else happened.'
    result = model.score(text).to_dict()
    html = client.post("/api/render", json=_as_json(result)).json()["html"]
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


@pytest.mark.parametrize(
    "result",
    [
        {"sentences": "not a list"},
        {"document": "x", "sentences": [{"index": 0, "text": "no offsets"}]},
        {"document": "x"},
    ],
)
def test_render_rejects_malformed_results_with_422(client, result):
    """A result that is not the scoring schema gets a 422, not a 500."""
    _assert_error(client.post("/api/render", json=result), 422)
    _assert_error(client.post("/api/report", json=result), 422)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # labels as a string: the legend showed the devices "D", "o", "u", "b", "t"
        ('{"sentences": [{"start": 0, "end": 3, "labels": "Doubt"}]}', "labels: Input should"),
        # NaN and infinities are not JSON: copied into the report, they broke its script's data
        ('{"sentences": [{"start": 0, "end": 3, "propaganda": NaN}]}', "NaN is not a finite"),
        ('{"sentences": [{"start": 0, "end": 3, "devices": {"Doubt": Infinity}}]}', "Infinity"),
        ('{"sentences": [], "profile": {"propaganda_score": -Infinity}}', "-Infinity"),
        ('{"sentences": [{"start": 0, "end": 3, "propaganda": 1.5}]}', "less than or equal to 1"),
        ('{"sentences": [{"start": 0, "end": 3, "devices": {"Doubt": "0.5"}}]}', "Doubt"),
        ('{"sentences": [{"start": "0", "end": 3}]}', "start: Input should be a valid integer"),
        ('{"sentences": [{"start": 0, "end": 3, "evidence": ["x"]}]}', "evidence.0"),
        ('{"sentences": [{"start": 0, "end": 3, "labels": [1]}]}', "labels.0"),
        # without a text the renderer builds one as long as the last offset (30 s, gigabytes)
        ('{"sentences": [{"start": 0, "end": 300000000}]}', "beyond the longest text"),
    ],
)
def test_render_and_report_refuse_what_is_not_a_scoring_result(client, body, fragment):
    """docs/serve.md: a render request that is not a scoring result is a 422 (these were 200)."""
    for path in ("/api/render", "/api/report"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        _assert_error(response, 422, fragment)


def test_render_and_report_take_the_result_of_any_text_score_takes(small_limit_client):
    """The page posts the result of /api/score back to /api/render and /api/report, and that JSON
    is ~20x the text: with one body limit for all, an article of a twentieth of --max-body could
    not be shown (413). Those two take RESULT_BODY_FACTOR times the limit, and no more."""
    text = ARTICLE + "\n\n" + ARTICLE
    assert len(json.dumps({"text": text}).encode()) < 1_000
    scored = small_limit_client.post("/api/score", json={"text": text})
    assert scored.status_code == 200
    assert len(scored.content) > 10 * 1_000
    for path in ("/api/render", "/api/report"):
        response = small_limit_client.post(
            path, content=scored.content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
    limit = 1_000 * server.RESULT_BODY_FACTOR
    padded = json.dumps({**scored.json(), "padding": "x" * limit}).encode()
    response = small_limit_client.post(
        "/api/report", content=padded, headers={"content-type": "application/json"}
    )
    _assert_error(response, 413, "too large", f"{limit:,}")
    _assert_error(small_limit_client.post("/api/score", content=padded), 413, "1,000 bytes")


@pytest.mark.parametrize(
    ("document", "fallback", "name"),
    [
        ("статья.txt", "proplens.report.html", "статья.report.html"),
        ("uploads/新闻.txt", "proplens.report.html", "新闻.report.html"),
        ("naïve.txt", "naive.report.html", "naïve.report.html"),
        ("Ολυμπία 2024.htm", "2024.report.html", "Ολυμπία-2024.report.html"),
    ],
)
def test_report_of_a_non_ascii_document_names_the_file(client, document, fallback, name):
    """Header values are Latin-1 bytes: a Cyrillic or Chinese name was a 500 (so the page could
    not analyse an upload named 新闻.txt) and "naïve" went out as raw bytes. The name now goes in
    RFC 5987's filename*, with an ASCII filename for older clients."""
    response = client.post("/api/report", json={"document": document, "sentences": []})
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    plain, encoded = re.fullmatch(
        r"attachment; filename=\"([^\"]+)\"; filename\*=UTF-8''(\S+)", disposition
    ).groups()
    assert plain == fallback
    assert urllib.parse.unquote(encoded, errors="strict") == name


def test_report_is_a_standalone_download(client):
    """/api/report gives the same self-contained report as `proplens report`, as an attachment."""
    result = client.post("/api/score", json={"text": ARTICLE, "document": "vale/news.txt"}).json()
    response = client.post("/api/report", json=result)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"] == 'attachment; filename="news.report.html"'
    assert response.text.lstrip().startswith("<!DOCTYPE html>")
    assert "postponed its vote" in response.text
    assert not re.search(r"""(src|href)=["']https?://""", response.text)


# ---------------------------------------------------------------------------------------------
# the page, its assets and the docs


def test_page_links_only_its_own_assets(client):
    """The page loads CSS/JS from the package (offline) under a strict Content-Security-Policy."""
    response = client.get("/")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    for label_for in ("text", "file", "evidence"):
        assert f'id="{label_for}"' in page
    assert '<label for="text"' in page and '<label for="file"' in page
    assets = re.findall(r"""(?:src|href)="(static/[^"]+)\"""", page)
    assert {"static/report.css", "static/serve.css", "static/report.js", "static/app.js"} <= set(
        assets
    )
    for asset in assets:
        served = client.get("/" + asset)
        assert served.status_code == 200, asset
        # The SVG namespace URI is an identifier, never fetched.
        external = re.search(r"https?://(?!www\.w3\.org/2000/svg)", served.text)
        assert not external, f"{asset} refers to another host"


def test_static_files_outside_the_table_are_404(client):
    """Only the page's own assets are served: not templates, not source files, no traversal."""
    _assert_error(client.get("/static/document.html.j2"), 404)
    _assert_error(client.get("/static/..%2Fserver.py"), 404)
    _assert_error(client.get("/static/index.html"), 404)


def test_docs_are_served_offline_and_list_every_endpoint(client):
    """/docs lists every API path from /openapi.json and loads no script from a CDN."""
    schema = client.get("/openapi.json").json()
    expected = {"/api/score", "/api/score-file", "/api/classify-span", "/api/devices"}
    assert expected | {"/api/model", "/healthz", "/api/render", "/api/report"} <= set(
        schema["paths"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200
    for path in schema["paths"]:
        assert path in docs.text
    assert "<script" not in docs.text
    assert not re.search(r"""(src|href)=["']https?://""", docs.text)


# ---------------------------------------------------------------------------------------------
# start-up and the command


def test_create_app_loads_the_default_model_once(monkeypatch, model):
    """With no model given, create_app loads the default once and reuses it for every request."""
    calls = []

    def counting_load_model(path=None, *, trust=False):
        calls.append(path)
        return model

    monkeypatch.setattr(proplens, "load_model", counting_load_model)
    with TestClient(create_app()) as fresh:
        for _ in range(3):
            assert fresh.post("/api/score", json={"text": "One sentence."}).status_code == 200
    assert calls == [None]


def test_serve_command_parses_options_and_runs_uvicorn(monkeypatch, model):
    """The CLI can register serve_command as is: options parse and uvicorn gets the built app."""
    loaded, runs = [], []

    def fake_load_model(path=None, *, trust=False):
        loaded.append((path, trust))
        return model

    monkeypatch.setattr(proplens, "load_model", fake_load_model)
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: runs.append((app, kwargs)))
    cli = typer.Typer()
    cli.command()(serve_command)

    result = CliRunner().invoke(cli, ["--port", "8123", "--model", "models/x", "--trust"])
    assert result.exit_code == 0, result.output
    assert loaded == [("models/x", True)]
    app, kwargs = runs[0]
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    assert app.state.proplens.max_body_bytes == server.DEFAULT_MAX_BODY_BYTES

    result = CliRunner().invoke(cli, ["--max-body", "500"])
    assert result.exit_code == 0, result.output
    assert runs[1][0].state.proplens.max_body_bytes == 500
    assert runs[1][0].state.proplens.max_batch == server.DEFAULT_MAX_BATCH

    result = CliRunner().invoke(cli, ["--max-batch", "1"])
    assert result.exit_code == 0, result.output
    assert runs[2][0].state.proplens.max_batch == 1
    assert CliRunner().invoke(cli, ["--max-batch", "0"]).exit_code != 0


def test_loopback_detection():
    """Only loopback addresses are treated as private (a warning is logged otherwise)."""
    assert server._is_loopback("127.0.0.1") and server._is_loopback("::1")
    assert server._is_loopback("localhost")
    assert not server._is_loopback("0.0.0.0") and not server._is_loopback("192.168.1.4")


def test_create_app_refuses_impossible_limits(model):
    """A zero body limit or zero scoring threads would refuse every request: say so at start-up."""
    with pytest.raises(proplens.errors.InputError, match="max_body_bytes"):
        create_app(model, max_body_bytes=0)
    with pytest.raises(proplens.errors.InputError, match="scoring_threads"):
        create_app(model, scoring_threads=0)
    with pytest.raises(proplens.errors.InputError, match="max_batch"):
        create_app(model, max_batch=0)


def test_create_app_freezes_startup_objects(model):
    """The model and libraries are kept out of the collector's full scans (no 85 ms pauses)."""
    create_app(model)
    assert gc.get_freeze_count() > 10_000


def test_lone_surrogates_and_nan_are_422_not_500(client):
    """JSON can spell a lone surrogate ("\\ud800") and Python's parser reads NaN; neither may
    reach the encoder of the answer (both were 500 internal errors), and the server goes on."""
    for path, body in [
        ("/api/score", '{"text": "Bad \\ud800 here. Cowards!"}'),
        ("/api/score", '{"text": "x", "document": "\\udc00"}'),
        ("/api/classify-span", '{"text": "Hello \\ud800 there", "start": 0, "end": 9}'),
        ("/api/render", '{"sentences": [{"text": "a\\udc00"}], "text": "abc"}'),
        ("/api/report", '{"sentences": [], "x": {"\\udc00": 1}}'),
    ]:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        _assert_error(response, 422, "lone surrogate")
    for threshold in ["NaN", "Infinity", '{"Doubt": NaN}']:
        response = client.post(
            "/api/score",
            content='{"text": "x", "threshold": ' + threshold + "}",
            headers={"content-type": "application/json"},
        )
        _assert_error(response, 422, "threshold")
    emoji = {"text": "Emoji \U0001f600 pair. Fine.", "evidence": False}
    pair = client.post("/api/score", json=emoji)
    assert pair.status_code == 200 and "\U0001f600" in pair.json()["text"]
    assert client.get("/healthz").status_code == 200
