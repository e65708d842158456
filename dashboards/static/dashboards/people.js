// Charts of the people dashboards: a person's page and their own view ("person-chart"), and
// the teams side by side ("teams-chart"). The figures come from the page (json_script), already
// computed on the server with quality's definitions; this file only draws them. Each canvas
// gets data-drawn="1" once its chart is drawn (the browser tests wait for it).
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function percent(values) {
    return values.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; });
  }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || typeof window.Chart === "undefined") { return; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: true, aspectRatio: 3, animation: false }, config.options || {});
    new window.Chart(canvas, config);
    canvas.dataset.drawn = "1";
  }

  function thresholdLine(label, value, length) {
    var line = [];
    for (var i = 0; i < length; i += 1) { line.push(Math.round(value * 1000) / 10); }
    return { label: label, data: line, borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5, fill: false };
  }

  function person(chart) {
    var days = chart.days;
    draw("chart-throughput", {
      type: "line",
      data: { labels: days, datasets: [
        { label: "Submissions", data: chart.submissions, tension: 0 },
        { label: "Final tasks", data: chart.final_tasks, tension: 0 }
      ] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "per day" } } } }
    });
    var accuracy = [
      { label: "95% interval, low", data: percent(chart.gold_accuracy_low), pointRadius: 0, borderWidth: 0, fill: false, spanGaps: true },
      { label: "95% interval", data: percent(chart.gold_accuracy_high), pointRadius: 0, borderWidth: 0, backgroundColor: "rgba(54, 162, 235, 0.2)", fill: "-1", spanGaps: true },
      { label: "Gold accuracy", data: percent(chart.gold_accuracy), tension: 0, spanGaps: true, pointRadius: 4 }
    ];
    (chart.thresholds || []).forEach(function (t) { accuracy.push(thresholdLine(t.label, t.value, days.length)); });
    draw("chart-accuracy", {
      type: "line",
      data: { labels: days, datasets: accuracy },
      options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } }
    });
    draw("chart-time", {
      type: "line",
      data: { labels: days, datasets: [
        { label: "Median", data: chart.time_per_task_median, tension: 0, spanGaps: true },
        { label: "90th percentile", data: chart.time_per_task_p90, tension: 0, spanGaps: true }
      ] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "seconds" } } } }
    });
  }

  function teams(chart) {
    draw("chart-teams", {
      type: "bar",
      data: { labels: chart.teams, datasets: [
        { label: "Final tasks per active hour", data: chart.final_tasks_per_active_hour, yAxisID: "rate" },
        { label: "Gold accuracy (%)", data: percent(chart.gold_accuracy), yAxisID: "share" },
        { label: "Review pass rate (%)", data: percent(chart.review_pass_rate), yAxisID: "share" }
      ] },
      options: { scales: {
        rate: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: "tasks per hour" } },
        share: { type: "linear", position: "right", min: 0, max: 100, title: { display: true, text: "%" }, grid: { drawOnChartArea: false } }
      } }
    });
  }

  function start() {
    var one = data("person-chart");
    if (one) { person(one); }
    var many = data("teams-chart");
    if (many) { teams(many); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
