// breach-notify staff UI: progressive enhancement only; every page works without it.
// Loaded from this origin (the content security policy forbids inline scripts and handlers).
(function () {
  "use strict";

  // Selects marked data-autosubmit submit their form on change (the incident list's status filter).
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // Countdowns to a deadline (data-due, ISO 8601) re-count every 30 s and re-colour by urgency.
  function countdowns() {
    var nodes = document.querySelectorAll(".countdown[data-due]");
    if (!nodes.length) { return; }
    function text(ms) {
      var minutes = Math.floor(Math.abs(ms) / 60000);
      var out = Math.floor(minutes / 1440) + " d " + Math.floor((minutes % 1440) / 60) + " h " + (minutes % 60) + " min";
      return ms > 0 ? out : "overdue by " + out;
    }
    function tick() {
      var now = Date.now();
      nodes.forEach(function (node) {
        var ms = Date.parse(node.dataset.due) - now;
        var urgency = ms <= 0 ? "overdue" : (ms <= 86400000 ? "soon" : "due");
        node.textContent = text(ms);
        node.classList.remove("urgency-due", "urgency-soon", "urgency-overdue");
        node.classList.add("urgency-" + urgency);
        node.dataset.urgency = urgency;
      });
    }
    window.setInterval(tick, 30000);
  }

  // File uploads (subject files, up to hundreds of MB) show their progress: the form is sent with
  // XMLHttpRequest and the answer's <main> replaces this page's (the server renders the import summary).
  function uploads() {
    document.querySelectorAll("form[data-upload-progress]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.FormData || !window.DOMParser) { return; }
        event.preventDefault();
        var bar = form.querySelector("progress");
        var status = form.querySelector("[aria-live]");
        var button = form.querySelector("button[type=submit]");
        var xhr = new XMLHttpRequest();
        bar.hidden = false;
        button.disabled = true;
        xhr.upload.addEventListener("progress", function (e) {
          if (!e.lengthComputable) { return; }
          bar.value = e.loaded / e.total;
          status.textContent = Math.round(100 * e.loaded / e.total) + " % uploaded";
        });
        xhr.upload.addEventListener("load", function () {
          bar.value = 1;
          status.textContent = "Uploaded; importing…";
        });
        xhr.addEventListener("load", function () {
          var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
          var main = doc.querySelector("main");
          if (main) { document.querySelector("main").replaceWith(main); uploads(); } else { form.submit(); }
        });
        xhr.addEventListener("error", function () {
          button.disabled = false;
          status.textContent = "The upload failed; try again.";
        });
        xhr.open("POST", form.action || window.location.href);
        xhr.send(new FormData(form));
      });
    });
  }

  var COLOURS = { email: "#0b5cad", sms: "#1e7b34", push: "#8a3ffc", letter: "#8a5300" };
  var DASHES = { delivered: [], failed_permanent: [6, 4], skipped: [2, 3] };

  function datasets(history) {
    return history.series.map(function (s) {
      var colour = COLOURS[s.channel] || "#5b6470";
      var points = s.data.map(function (n, i) { return { x: history.seconds[i], y: n }; });
      return { label: s.channel + " " + s.state.replace("_", " "), data: points, borderColor: colour,
               backgroundColor: colour, borderDash: DASHES[s.state] || [], pointRadius: 0, stepped: true };
    });
  }

  function drawChart(canvas, history, chart) {
    if (!window.Chart || !history) { return chart; }
    if (chart) {
      chart.data.datasets = datasets(history);
      chart.options.scales.x.max = history.seconds[history.seconds.length - 1];
      chart.update("none");
      return chart;
    }
    return new window.Chart(canvas, {
      type: "line",
      data: { datasets: datasets(history) },
      options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
                 scales: { x: { type: "linear", min: 0, max: history.seconds[history.seconds.length - 1], title: { display: true, text: "seconds since the run started" } },
                           y: { beginAtZero: true, title: { display: true, text: "deliveries (cumulative)" },
                                ticks: { precision: 0 } } } }
    });
  }

  function setField(box, name, value) {
    var node = box.querySelector('[data-field="' + name + '"]');
    if (node) { node.textContent = value; }
  }

  function renderCounts(box, p) {
    var table = box.querySelector("#dispatch-counts");
    if (!table) { return; }
    var states = Object.keys(p.totals);
    var head = "<tr><th>Channel</th>" + states.map(function (s) { return "<th>" + s + "</th>"; }).join("") + "</tr>";
    var rows = Object.keys(p.counts).sort().map(function (channel) {
      return "<tr><td>" + channel + "</td>" + states.map(function (s) {
        return "<td>" + (p.counts[channel][s] || 0) + "</td>"; }).join("") + "</tr>";
    }).join("");
    var all = "<tr><th>all</th>" + states.map(function (s) {
      return '<th data-state="' + s + '">' + p.totals[s] + "</th>"; }).join("") + "</tr>";
    table.tHead.innerHTML = head;
    table.tBodies[0].innerHTML = rows + all;
  }

  function renderProgress(box, p) {
    var percent = (Math.round(p.done_fraction * 1000) / 10).toFixed(1) + " %";
    box.querySelector("progress").value = p.done_fraction;
    box.querySelector("progress").textContent = percent;
    setField(box, "percent", percent);
    setField(box, "total", p.total);
    setField(box, "rate", p.rate);
    setField(box, "eta", p.eta_text);
    var state = box.querySelector("#dispatch-state");
    if (state) { state.textContent = p.state; }
    renderCounts(box, p);
  }

  // The dispatch progress: poll the page's JSON while the run is live; reload once when its state changes
  // (so the controls match); draw the delivery chart when the page has one.
  function dispatch() {
    var box = document.querySelector(".dispatch-progress[data-url]");
    if (!box) { return; }
    var canvas = document.getElementById("delivery-chart");
    var initial = box.dataset.state;
    var chart = null;
    function poll() {
      fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.progress) { return; }
          renderProgress(box, data.progress);
          if (canvas) { chart = drawChart(canvas, data.history, chart); }
          if (data.progress.state !== initial) { window.location.reload(); return; }
          if (data.progress.state === "running" || data.progress.state === "paused") {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    autosubmit();
    countdowns();
    uploads();
    dispatch();
  });
}());
