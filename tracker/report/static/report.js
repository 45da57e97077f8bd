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
  if (!el || !data.figure) {
    body.setAttribute("data-chart", "none");
    body.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
    return;
  }
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
  var slide = body.classList.contains("slide");
  var config = {};
  Object.keys(fig.config).forEach(function (k) { config[k] = fig.config[k]; });
  if (slide) { config.displayModeBar = false; }      // a clean picture: no toolbar

  /* --- milestone labels: laid out so that no two overlap, at any width and zoom ----------
     Each label ("first claim 12:10", …) sits above the chart at its time. After every
     redraw the labels are measured; a label that would touch another moves up a row (its
     yshift), one that would stick out of the chart moves in (its xshift), and the top margin
     grows to hold the rows, above a strip kept free for Plotly's toolbar. Measuring what is
     drawn makes it right whatever the fonts, the width or the time range; a pass that changes
     nothing marks the page ready (body[data-labels]). */
  var TOOLBAR_PX = slide ? 6 : fig.toolbar_px, GAP_PX = 8, ROW_GAP_PX = 3, MAX_PASSES = 6;
  var panelsPx = fig.layout.height - fig.layout.margin.t;
  var passes = 0, scheduled = false;

  function toMs(v) {
    if (typeof v === "number") { return v; }
    var m = /^(-?\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d(?:\.\d+)?))?)?/.exec(String(v));
    if (!m) { return NaN; }
    var sec = Number(m[6] || 0);
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), Math.floor(sec),
                    Math.round((sec % 1) * 1000));
  }

  function labelBoxes() {
    var anns = el.layout.annotations || [], host = el.getBoundingClientRect(), out = [];
    el.querySelectorAll(".infolayer g.annotation").forEach(function (g) {
      var i = Number(g.getAttribute("data-index")), a = anns[i];
      if (!a || String(a.name || "").indexOf("first:") !== 0) { return; }
      var r = g.getBoundingClientRect();
      if (!r.width || !r.height) { return; }          // outside the time range: not drawn
      var xs = a.xshift || 0;
      out.push({i: i, left: r.left - host.left - xs, right: r.right - host.left - xs,
                height: r.height});
    });
    return out;
  }

  function shapeIndex(name) {
    var shapes = el.layout.shapes || [];
    for (var j = 0; j < shapes.length; j++) { if (shapes[j].name === name) { return j; } }
    return -1;
  }

  function placeLabels() {
    scheduled = false;
    var anns = el.layout.annotations || [], width = el.getBoundingClientRect().width;
    var boxes = labelBoxes(), update = {}, rows = [];
    var rowPx = Math.ceil(Math.max.apply(null, [14].concat(boxes.map(function (b) { return b.height; })))) + ROW_GAP_PX;
    boxes.sort(function (a, b) { return (a.left + a.right) - (b.left + b.right); });
    boxes.forEach(function (b) {
      var shift = 0;
      if (b.left < 2) { shift = 2 - b.left; }
      if (b.right + shift > width - 2) { shift = Math.max(2 - b.left, width - 2 - b.right); }
      shift = Math.round(shift);
      var l = b.left + shift, r = b.right + shift, k = 0;
      for (;; k++) {
        rows[k] = rows[k] || [];
        if (rows[k].every(function (o) { return r + GAP_PX <= o.l || l >= o.r + GAP_PX; })) { break; }
      }
      rows[k].push({l: l, r: r});
      if ((anns[b.i].xshift || 0) !== shift) { update["annotations[" + b.i + "].xshift"] = shift; }
      if ((anns[b.i].yshift || 0) !== k * rowPx) { update["annotations[" + b.i + "].yshift"] = k * rowPx; }
      var tick = shapeIndex("tick:" + String(anns[b.i].name).slice(6));
      if (tick >= 0 && el.layout.shapes[tick].y1 !== k * rowPx) { update["shapes[" + tick + "].y1"] = k * rowPx; }
    });
    // A lower panel whose data lies outside the time range says so, rather than look empty.
    var range = (el._fullLayout.xaxis || {}).range || [], lo = toMs(range[0]), hi = toMs(range[1]);
    anns.forEach(function (a, i) {
      var name = String(a.name || "");
      if (name.indexOf("empty:") !== 0) { return; }
      var span = fig.extents[name.slice(6)] || [];
      var hidden = !(toMs(span[1]) < lo || toMs(span[0]) > hi);
      if (Boolean(a.visible) === hidden) { update["annotations[" + i + "].visible"] = !hidden; }
    });
    var top = TOOLBAR_PX + Math.max(rows.length, 1) * rowPx + 4;
    if (el.layout.margin.t !== top) {
      update["margin.t"] = top;
      update.height = panelsPx + top;
    }
    if (!Object.keys(update).length) { passes = 0; }
    if (Object.keys(update).length && passes < MAX_PASSES) {
      passes += 1;
      body.setAttribute("data-labels", "pending");
      window.Plotly.relayout(el, update);
    } else {
      body.setAttribute("data-labels", Object.keys(update).length ? "unsettled" : "ready");
      body.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
    }
  }

  function schedule() {
    if (scheduled) { return; }
    scheduled = true;
    body.setAttribute("data-labels", "pending");
    window.requestAnimationFrame(function () { window.setTimeout(placeLabels, 0); });
  }

  /* --- the time ranges offered above the chart -------------------------------------------- */
  var viewButtons = Array.prototype.slice.call(document.querySelectorAll("#views button[data-view]"));
  var choosing = false;
  function pressView(id) {
    viewButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-view") === id)); });
  }
  viewButtons.forEach(function (b) {
    b.addEventListener("click", function () {
      var id = b.getAttribute("data-view"), view = null;
      fig.views.forEach(function (v) { if (v.id === id) { view = v; } });
      if (!view) { return; }
      pressView(id);
      choosing = true;
      body.setAttribute("data-labels", "pending");
      window.Plotly.relayout(el, view.range ? {"xaxis.range": view.range.slice()}
                                            : {"xaxis.autorange": true})
        .then(function () { choosing = false; }, function () { choosing = false; });
    });
  });

  /* --- the legend beside (or, on a narrow screen, below) the chart hides and shows marks -- */
  Array.prototype.forEach.call(document.querySelectorAll("#chart-legend .legend-entry"), function (b) {
    b.addEventListener("click", function () {
      var uid = b.getAttribute("data-uid"), idx = -1;
      el.data.forEach(function (t, i) { if (t.uid === uid) { idx = i; } });
      if (idx < 0) { return; }
      var on = b.getAttribute("aria-pressed") !== "true";
      b.setAttribute("aria-pressed", String(on));
      window.Plotly.restyle(el, {visible: on ? true : false}, [idx]);
    });
  });

  window.Plotly.newPlot(el, fig.data, fig.layout, config).then(function () {
    body.setAttribute("data-chart", "ready");
    el.on("plotly_relayout", function (ev) {
      // A zoom or pan by hand leaves the chosen range: no button is pressed any more.
      if (!choosing && ev && Object.keys(ev).some(function (k) { return k.indexOf("xaxis.") === 0; })) {
        pressView("");
      }
      schedule();
    });
    window.addEventListener("resize", schedule);
    schedule();
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
