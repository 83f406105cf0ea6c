// Dashboard figures: draw the Plotly figures the server built, refresh the results when the
// options change, export figures as PNG or SVG. Works without it too: the form is a plain GET.
(function () {
  "use strict";

  var CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
    toImageButtonOptions: { format: "svg", scale: 1 }
  };

  function figureOf(element) {
    var source = document.getElementById(element.dataset.figure);
    return source ? JSON.parse(source.textContent) : null;
  }

  function draw(element) {
    if (element.dataset.drawn || typeof Plotly === "undefined") { return; }
    var figure = figureOf(element);
    if (!figure) { return; }
    var config = Object.assign({}, CONFIG, {
      toImageButtonOptions: Object.assign({}, CONFIG.toImageButtonOptions, {
        filename: element.id
      })
    });
    Plotly.newPlot(element, figure.data, figure.layout, config);
    element.dataset.drawn = "1";
  }

  function drawAll(root) {
    root.querySelectorAll("[data-figure]").forEach(draw);
    root.querySelectorAll("details[data-part]").forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (details.open) { loadPart(details); }
      });
    });
  }

  // Per-animal curves and the group x time models are fetched when their section is opened:
  // they cost more to compute than the rest of the dashboard.
  function loadPart(details) {
    if (details.dataset.loaded) { return; }
    details.dataset.loaded = "1";
    var body = details.querySelector("[data-part-body]");
    body.setAttribute("aria-busy", "true");
    fetch(details.dataset.part, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        body.removeAttribute("aria-busy");
        drawAll(body);
      })
      .catch(function (error) {
        delete details.dataset.loaded;
        body.removeAttribute("aria-busy");
        var message = document.createElement("p");
        message.className = "notice bad";
        message.setAttribute("role", "alert");
        message.textContent = "Could not load this section (" + error.message +
          "): close and open it again to retry.";
        body.replaceChildren(message);
      });
  }

  function download(button) {
    var element = document.getElementById(button.dataset.target);
    if (!element || !element.dataset.drawn) { return; }
    Plotly.downloadImage(element, {
      format: button.dataset.download,
      filename: button.dataset.filename,
      width: 900,
      height: 560,
      scale: button.dataset.download === "png" ? 2 : 1
    });
  }

  function refresh(form, results) {
    var query = new URLSearchParams(new FormData(form)).toString();
    var url = form.action + (query ? "?" + query : "");
    var partial = url + (query ? "&" : "?") + "partial=1";
    results.setAttribute("aria-busy", "true");
    fetch(partial, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        results.innerHTML = html;
        results.removeAttribute("aria-busy");
        history.replaceState(null, "", url);
        drawAll(results);
      })
      .catch(function () {
        // Fall back to a full page load, which shows any error plainly.
        window.location.assign(url);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var results = document.getElementById("dashboard-results");
    drawAll(document);
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-download]");
      if (button) { download(button); }
    });
    var form = document.querySelector("[data-dashboard-form]");
    if (form && results && window.fetch) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        refresh(form, results);
      });
    }
  });
})();
