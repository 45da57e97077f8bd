/* The story report's script: draw the chart from the JSON data block and show an event's
   details on click. Untrusted text is only ever set with textContent, never as markup. */
(function () {
  "use strict";
  var body = document.body;
  if (window.location.hash === "#slide") { body.classList.add("slide"); }
  var data;
  try {
    data = JSON.parse(document.getElementById("report-data").textContent);
  } catch (e) {
    body.setAttribute("data-chart", "error");
    throw e;
  }
  var el = document.getElementById("chart");
  if (!el || !data.figure) { body.setAttribute("data-chart", "none"); return; }
  if (typeof window.Plotly === "undefined") { body.setAttribute("data-chart", "error"); return; }

  function byId(id) { return document.getElementById(id); }
  function safeUrl(url) { return typeof url === "string" && /^https?:\/\/[^\s]/i.test(url) ? url : null; }
  function setText(id, text) { byId(id).textContent = text == null ? "" : String(text); }

  var highlighted = null;
  function show(item) {
    var panel = byId("details");
    setText("details-event", item.event_label + (item.stance ? " · stance " + item.stance : ""));
    byId("details-swatch").style.background = item.color;
    setText("details-time", item.time);
    setText("details-who", item.who + (item.role ? " (" + item.role + ")" : "") + " · " + item.source
      + (item.deleted ? " · deleted, seen gone " + item.deleted : ""));
    setText("details-text", item.text);
    setText("details-evidence", item.evidence + (item.labeled_by === "analyst" ? " ✎ analyst's label" : ""));
    setText("details-rule", "rule " + item.rule + (item.confidence == null ? "" : ", confidence " + item.confidence.toFixed(2))
      + ", labelled by " + item.labeled_by + " · " + item.item_kind + " " + item.item_id);
    var link = byId("details-link"), url = safeUrl(item.url);
    if (url) {
      link.href = url;
      link.textContent = "open the " + (item.item_kind === "post" ? "post" : "article") + " ↗";
      link.hidden = false;
    } else {
      link.removeAttribute("href");
      link.hidden = true;
    }
    byId("details-row").href = "#item-" + item.n;
    panel.hidden = false;
    if (highlighted) { highlighted.classList.remove("hl"); }
    highlighted = byId("item-" + item.n);
    if (highlighted) { highlighted.classList.add("hl"); }
    body.setAttribute("data-selected", String(item.n));
  }

  byId("details-close").addEventListener("click", function () {
    byId("details").hidden = true;
    if (highlighted) { highlighted.classList.remove("hl"); highlighted = null; }
  });

  var fig = data.figure;
  window.Plotly.newPlot(el, fig.data, fig.layout, fig.config).then(function () {
    body.setAttribute("data-chart", "ready");
  }, function (err) {
    body.setAttribute("data-chart", "error");
    throw err;
  });
  el.on("plotly_click", function (ev) {
    var p = ev && ev.points && ev.points[0];
    if (!p || typeof p.customdata !== "number") { return; }
    var item = data.items[p.customdata];
    if (item) { show(item); }
  });
})();
