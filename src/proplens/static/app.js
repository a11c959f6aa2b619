/* proplens serve: sends the text or file to the API and shows the result.
   The result's markup (chart, legend, highlighted article) is built and escaped on the server
   (POST api/render) because offsets are Python code points; this script never slices text.
   report.js (loaded before this file) handles the legend filter and the sentence panel. */
(function () {
  "use strict";
  var form = document.getElementById("analyze-form");
  var textBox = document.getElementById("text");
  var fileInput = document.getElementById("file");
  var clearFile = document.getElementById("clear-file");
  var fileNote = document.getElementById("file-note");
  var evidenceBox = document.getElementById("evidence");
  var analyzeButton = document.getElementById("analyze");
  var status = document.getElementById("status");
  var result = document.getElementById("result");
  var downloads = document.getElementById("downloads");
  var jsonLink = document.getElementById("download-json");
  var htmlLink = document.getElementById("download-html");
  var objectUrls = [];

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
    status.setAttribute("role", isError ? "alert" : "status");
  }

  function chosenFile() {
    return fileInput.files && fileInput.files.length ? fileInput.files[0] : null;
  }

  function updateFileNote() {
    var file = chosenFile();
    clearFile.hidden = !file;
    fileNote.hidden = !file;
    fileNote.textContent = file ? "The file \u201c" + file.name + "\u201d will be analyzed; the text box is ignored while a file is chosen." : "";
  }

  // A failed request answers {"error": "..."}; anything else (a proxy page, say) gets a generic line.
  function failure(response) {
    return response.json().then(
      function (body) { throw new Error(body && body.error ? body.error : "HTTP " + response.status); },
      function () { throw new Error("the server answered HTTP " + response.status); }
    );
  }

  // fetch() itself fails only when no answer came (server stopped, connection lost); its
  // "Failed to fetch" says neither.
  function send(url, options) {
    return fetch(url, options).catch(function () {
      throw new Error("no answer from the server (is proplens serve still running?)");
    });
  }

  function postJson(url, payload) {
    return send(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload)
    });
  }

  function score() {
    var file = chosenFile();
    if (file) {
      var data = new FormData();
      data.append("file", file, file.name);
      data.append("evidence", evidenceBox.checked ? "true" : "false");
      return send("api/score-file", { method: "POST", body: data });
    }
    return postJson("api/score", {
      text: textBox.value,
      evidence: evidenceBox.checked,
      document: "pasted text"
    });
  }

  function baseName(document) {
    var stem = String(document || "proplens").split(/[\\/]/).pop().replace(/\.[^.]*$/, "");
    return stem.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "proplens";
  }

  function setDownloads(scored, reportHtml) {
    objectUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    var jsonUrl = URL.createObjectURL(new Blob([JSON.stringify(scored, null, 2)], { type: "application/json" }));
    var htmlUrl = URL.createObjectURL(new Blob([reportHtml], { type: "text/html" }));
    objectUrls = [jsonUrl, htmlUrl];
    var stem = baseName(scored.document);
    jsonLink.href = jsonUrl;
    jsonLink.download = stem + ".proplens.json";
    htmlLink.href = htmlUrl;
    htmlLink.download = stem + ".report.html";
    downloads.hidden = false;
  }

  // A failed analysis must not leave the previous result (and its downloads) on screen under
  // the error, where it reads as the result of the text now in the box.
  function clearResult() {
    closePanelIfOpen();
    result.textContent = "";
    downloads.hidden = true;
    objectUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    objectUrls = [];
    jsonLink.href = "#";
    htmlLink.href = "#";
  }

  function closePanelIfOpen() {
    var panel = document.getElementById("panel");
    if (panel && !panel.hidden) panel.querySelector(".panel-close").click();
  }

  function analyze(event) {
    event.preventDefault();
    if (!chosenFile() && !textBox.value.trim()) {
      say("Paste some text or choose a file first.", true);
      textBox.focus();
      return;
    }
    analyzeButton.disabled = true;
    say("Analyzing\u2026");
    var scored;
    score()
      .then(function (response) { return response.ok ? response.json() : failure(response); })
      .then(function (body) {
        scored = body;
        return Promise.all([
          postJson("api/render", scored).then(function (r) { return r.ok ? r.json() : failure(r); }),
          postJson("api/report", scored).then(function (r) { return r.ok ? r.text() : failure(r); })
        ]);
      })
      .then(function (rendered) {
        closePanelIfOpen();
        result.innerHTML = rendered[0].html; // escaped server-side
        setDownloads(scored, rendered[1]);
        var summary = scored.summary || {};
        say("Analyzed " + summary.sentences + " sentence" + (summary.sentences === 1 ? "" : "s") +
            "; " + summary.flagged + " flagged.");
        var title = result.querySelector(".doc-title");
        if (title) title.focus({ preventScroll: true });
      })
      .catch(function (error) {
        clearResult();
        say("Could not analyze: " + error.message, true);
      })
      .then(function () { analyzeButton.disabled = false; });
  }

  form.addEventListener("submit", analyze);
  fileInput.addEventListener("change", updateFileNote);
  clearFile.addEventListener("click", function () {
    fileInput.value = "";
    updateFileNote();
    fileInput.focus();
  });

  fetch("api/model")
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (info) {
      if (!info) return;
      var line = document.getElementById("model-line");
      var version = String(info.version); // registry versions already read "v4"
      if (version.charAt(0) !== "v") version = "v" + version;
      // written as the results and the report write it: ptc-default@v10 · proplens 0.1.0
      var text = "Model: " + info.name + "@" + version +
        (info.proplens_version ? " \u00b7 proplens " + info.proplens_version : "") + ". ";
      line.insertBefore(document.createTextNode(text), line.firstChild);
    })
    .catch(function () { /* the footer line is optional */ });
  updateFileNote();
})();
