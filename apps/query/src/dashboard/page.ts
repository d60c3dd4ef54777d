/**
 * The dashboard: one self-contained page (inline CSS, JS and SVG; no framework, no CDN) that polls
 * `GET /overview`. When the API needs a key, the page asks for one and keeps it in localStorage.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice dashboard</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2733; background: #f4f6f8; }
  body { margin: 0; padding: 20px 28px; }
  header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
  h1 { font-size: 22px; margin: 0; }
  #status { color: #5b6b7c; font-size: 13px; }
  #status.error { color: #b42318; }
  form { margin-left: auto; font-size: 13px; }
  input { font: inherit; padding: 3px 6px; width: 180px; }
  .cards { display: grid; grid-template-columns: repeat(3, minmax(160px, 1fr)); gap: 14px; margin: 18px 0; }
  .card, section { background: #fff; border-radius: 8px; box-shadow: 0 1px 2px rgba(0,0,0,.08); padding: 14px 16px; }
  .card .label { font-size: 12px; color: #5b6b7c; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 28px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; }
  .grid { display: grid; grid-template-columns: 3fr 1fr; gap: 14px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  svg text { font-size: 11px; fill: #5b6b7c; }
  .legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; margin-top: 6px; }
  .legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 5px; background: var(--c); border-radius: 2px; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  td, th { padding: 4px 2px; text-align: left; border-bottom: 1px solid #eef1f4; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<header>
  <h1>Sluice</h1>
  <span id="status">loading…</span>
  <form id="key-form"><label>API key <input id="api-key" type="password" autocomplete="off" placeholder="only if the API needs one"></label></form>
</header>
<div class="cards">
  <div class="card"><div class="label">Events, last 24 h</div><div class="value" id="total-events">–</div></div>
  <div class="card"><div class="label">Unique users, last 24 h</div><div class="value" id="unique-users">–</div></div>
  <div class="card"><div class="label">Live ingest rate</div><div class="value" id="ingest-rate">–</div></div>
</div>
<div class="grid">
  <section>
    <h2>Events per hour by channel (UTC)</h2>
    <svg id="chart" data-testid="chart" viewBox="0 0 900 300" width="100%" role="img" aria-label="events per hour by channel"></svg>
    <div class="legend" id="legend"></div>
  </section>
  <section>
    <h2>Top events</h2>
    <table><thead><tr><th>event</th><th class="n">events</th><th class="n">users</th></tr></thead><tbody id="top-events"></tbody></table>
  </section>
</div>
<script>
(function () {
  "use strict";
  var COLORS = { web: "#2e6fdb", mobile: "#13a387", api: "#8d5cd5", email: "#e08a1e", push: "#d64550",
    desktop: "#3a9bd9", tv: "#7a8b99", console: "#b5a51c", other: "#9aa5b1", none: "#c7ced6" };
  var SVG = "http://www.w3.org/2000/svg";
  var params = new URLSearchParams(location.search);
  var refreshMs = Math.max(1000, Number(params.get("refresh")) || 5000);
  var keyInput = document.getElementById("api-key");
  keyInput.value = localStorage.getItem("sluice.queryApiKey") || "";
  keyInput.addEventListener("change", function () {
    localStorage.setItem("sluice.queryApiKey", keyInput.value.trim());
    refresh();
  });
  document.getElementById("key-form").addEventListener("submit", function (e) { e.preventDefault(); });

  function fmt(n) { return Math.round(n).toLocaleString("en-US"); }
  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function status(text, isError) {
    var s = document.getElementById("status");
    s.textContent = text;
    s.className = isError ? "error" : "";
  }

  function drawChart(data) {
    var svg = document.getElementById("chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var left = 48, top = 10, width = 840, height = 250;
    var hours = data.hours;
    var totals = hours.map(function (_, i) {
      return data.channels.reduce(function (sum, ch) { return sum + (ch.hourly[i] || 0); }, 0);
    });
    var max = Math.max(1, Math.max.apply(null, totals));
    svg.setAttribute("data-total", String(data.total_events));
    svg.appendChild(el("line", { x1: left, y1: top + height, x2: left + width, y2: top + height, stroke: "#c7ced6" }));
    svg.appendChild(el("text", { x: left - 6, y: top + 8, "text-anchor": "end" }, fmt(max)));
    svg.appendChild(el("text", { x: left - 6, y: top + height, "text-anchor": "end" }, "0"));
    var slot = width / Math.max(1, hours.length);
    hours.forEach(function (hour, i) {
      var g = el("g", { "data-hour": hour, "data-total": String(totals[i]) });
      var y = top + height;
      data.channels.forEach(function (ch) {
        var count = ch.hourly[i] || 0;
        if (count === 0) return;
        var h = (count / max) * height;
        y -= h;
        var name = ch.channel === null ? "none" : ch.channel;
        var rect = el("rect", { x: (left + i * slot + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, slot - 2).toFixed(1),
          height: Math.max(0.5, h).toFixed(1), fill: COLORS[name] || COLORS.other, "data-channel": name,
          "data-hour": hour, "data-count": String(count) });
        rect.appendChild(el("title", {}, name + " " + hour.slice(11, 16) + ": " + fmt(count)));
        g.appendChild(rect);
      });
      if (i % 3 === 0) g.appendChild(el("text", { x: (left + i * slot + slot / 2).toFixed(1), y: top + height + 16, "text-anchor": "middle" }, hour.slice(11, 16)));
      svg.appendChild(g);
    });
    var legend = document.getElementById("legend");
    legend.textContent = "";
    data.channels.forEach(function (ch) {
      var name = ch.channel === null ? "none" : ch.channel;
      var item = document.createElement("span");
      item.style.setProperty("--c", COLORS[name] || COLORS.other);
      item.setAttribute("data-channel", name);
      item.setAttribute("data-total", String(ch.total_events));
      item.textContent = name + " " + fmt(ch.total_events);
      legend.appendChild(item);
    });
  }

  function drawTop(rows) {
    var body = document.getElementById("top-events");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-event", row.event_name);
      [row.event_name, fmt(row.total_events), fmt(row.unique_users)].forEach(function (text, i) {
        var td = document.createElement("td");
        if (i > 0) td.className = "n";
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  var timer;
  function refresh() {
    clearTimeout(timer);
    var headers = {};
    var key = localStorage.getItem("sluice.queryApiKey");
    if (key) headers["x-api-key"] = key;
    fetch("overview", { headers: headers }).then(function (res) {
      if (res.status === 401) throw new Error("the API needs a key: enter it above");
      if (!res.ok) throw new Error("overview answered " + res.status);
      return res.json();
    }).then(function (data) {
      document.getElementById("total-events").textContent = fmt(data.total_events);
      document.getElementById("unique-users").textContent = fmt(data.unique_users);
      document.getElementById("ingest-rate").textContent = data.ingest.per_second.toFixed(1) + " /s";
      drawChart(data);
      drawTop(data.top_events);
      document.body.setAttribute("data-loaded", "true");
      status("updated " + new Date().toISOString().slice(11, 19) + " UTC · every " + refreshMs / 1000 + " s", false);
    }).catch(function (error) {
      status(error.message, true);
    }).then(function () {
      timer = setTimeout(refresh, refreshMs);
    });
  }
  refresh();
})();
</script>
</body>
</html>
`;
