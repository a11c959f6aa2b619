/* proplens report: legend filtering and the sentence panel. All markup is built server-side;
   this script only toggles classes and fills the panel with textContent (never innerHTML). */
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  var panelTitle = document.getElementById("panel-title");
  var panelSentence = panel.querySelector(".panel-sentence");
  var panelProb = panel.querySelector(".panel-prob");
  var panelDevices = panel.querySelector(".panel-devices");
  var panelEvidence = panel.querySelector(".panel-evidence");
  var opener = null;

  function dataFor(section) {
    if (!section._proplensData) {
      section._proplensData = JSON.parse(section.querySelector(".doc-data").textContent);
    }
    return section._proplensData;
  }

  function percent(value) {
    return value === null || value === undefined ? "n/a" : Math.round(value * 100) + "%";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The legend sticks to the top of the window: a sentence scrolled to the top (a "strongest"
  // link, the bottom sheet) must land below it, however many rows the legend wraps to.
  function clearOfLegend(target) {
    var section = target.closest(".doc");
    var legend = section && section.querySelector(".legend");
    if (legend && getComputedStyle(legend).position === "sticky") {
      target.style.scrollMarginTop = Math.ceil(legend.getBoundingClientRect().height) + 12 + "px";
    } else {
      target.style.scrollMarginTop = "";
    }
  }

  function openPanel(span) {
    var section = span.closest(".doc");
    var data = dataFor(section);
    var row = data.sentences[span.getAttribute("data-index")];
    if (!row) return;
    var devices = data.devices;
    var labels = row[2];
    var selected = document.querySelector(".s.selected");
    if (selected) selected.classList.remove("selected");
    span.classList.add("selected");

    panelTitle.textContent = "Sentence " + (Number(span.getAttribute("data-index")) + 1);
    panelSentence.textContent = span.textContent;
    // the panel's border is a line on white: the device's ink, as the sentence's underline
    panelSentence.style.setProperty(
      "--c", span.style.getPropertyValue("--u") || span.style.getPropertyValue("--c") || "#999");
    panelProb.textContent = "Propaganda probability: " + percent(row[0]);

    panelDevices.textContent = "";
    var order = row[1].map(function (p, i) { return i; });
    order.sort(function (a, b) { return row[1][b] - row[1][a]; });
    order.forEach(function (i) {
      var over = labels.indexOf(i) !== -1;
      var li = el("li", over ? "over" : "");
      li.style.setProperty("--c", devices[i].colour);
      li.appendChild(el("span", "name", (over ? "\u2713 " : "") + devices[i].label));
      var track = el("span", "track");
      var fill = el("span", "fill");
      fill.style.width = Math.round(row[1][i] * 100) + "%";
      track.appendChild(fill);
      li.appendChild(track);
      li.appendChild(el("span", "val", percent(row[1][i])));
      if (over) li.title = "over this device's threshold";
      panelDevices.appendChild(li);
    });

    panelEvidence.textContent = "";
    if (!row[3].length) {
      panelEvidence.appendChild(el("li", "", "No evidence words recorded."));
    }
    row[3].forEach(function (item) {
      var li = el("li");
      var words = el("strong", "", item[1]);
      words.dir = "auto";
      li.appendChild(words);
      li.appendChild(document.createTextNode(" \u2014 " + devices[item[0]].label + " "));
      li.appendChild(el("span", "w", (item[2] >= 0 ? "+" : "") + item[2].toFixed(2)));
      panelEvidence.appendChild(li);
    });

    opener = span;
    panel.hidden = false;
    document.body.classList.add("panel-open");
    panelTitle.focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 999px)").matches) {
      // The bottom sheet covers the lower part of the screen: keep the sentence above it.
      clearOfLegend(span);
      span.scrollIntoView({ block: "start" });
    }
  }

  function closePanel() {
    panel.hidden = true;
    document.body.classList.remove("panel-open");
    var selected = document.querySelector(".s.selected");
    if (selected) selected.classList.remove("selected");
    if (opener) opener.focus({ preventScroll: true });
    opener = null;
  }

  function setFilter(section, device) {
    var buttons = section.querySelectorAll(".legend-item");
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-device") === device));
    });
    var reset = section.querySelector(".legend-reset");
    if (reset) reset.hidden = device === null;
    section.classList.toggle("filtering", device !== null);
    var nodes = section.querySelectorAll(".s.flagged, mark.ev");
    for (var i = 0; i < nodes.length; i++) {
      var names = nodes[i].getAttribute("data-devices").split("|");
      nodes[i].classList.toggle("dim", device !== null && names.indexOf(device) === -1);
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var link = target.closest("a[href^='#']");
    if (link) {
      var linked = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (linked) clearOfLegend(linked); // the browser then scrolls to it
      return;
    }
    var legendItem = target.closest(".legend-item");
    if (legendItem) {
      var pressed = legendItem.getAttribute("aria-pressed") === "true";
      setFilter(legendItem.closest(".doc"), pressed ? null : legendItem.getAttribute("data-device"));
      return;
    }
    var reset = target.closest(".legend-reset");
    if (reset) {
      setFilter(reset.closest(".doc"), null);
      return;
    }
    if (target.closest(".panel-close")) {
      closePanel();
      return;
    }
    var sentence = target.closest(".s.flagged");
    if (sentence) openPanel(sentence);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      closePanel();
      return;
    }
    var sentence = event.target.closest && event.target.closest(".s.flagged");
    if (sentence && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openPanel(sentence);
    }
  });
})();
