// The project-centric dashboards: the overview's throughput (last hour against the usual) and a
// project's throughput per day and gold accuracy with its 95% interval band. Data comes from
// the page's json_script elements (the CSP allows no inline script); charts.js draws.
(function () {
  "use strict";
  var charts = window.QuorumCharts;
  if (!charts) {
    return;
  }

  var throughput = charts.data("throughput-data");
  if (throughput) {
    charts.bar("throughput-chart", throughput.labels, [
      { label: "Last hour", data: throughput.last_hour },
      { label: "Usual for this hour", data: throughput.usual },
    ], { aspectRatio: 1.3, scales: { y: { beginAtZero: true } } });
  }

  var project = charts.data("project-data");
  if (project) {
    charts.line("project-throughput-chart", project.labels, [
      { label: "Final tasks", data: project.final_tasks, tension: 0.2 },
      { label: "Submissions", data: project.submissions, tension: 0.2 },
    ], { scales: { y: { beginAtZero: true, title: { display: true, text: "per UTC day" } } } });
    charts.line("project-gold-chart", project.labels, [
      { label: "95% interval, low", data: project.gold_low, pointRadius: 0, borderWidth: 0, fill: false, spanGaps: true,
        backgroundColor: "rgba(54, 162, 235, 0.2)" },
      { label: "95% interval, high", data: project.gold_high, pointRadius: 0, borderWidth: 0, fill: "-1", spanGaps: true,
        backgroundColor: "rgba(54, 162, 235, 0.2)" },
      { label: "Gold accuracy", data: project.gold_accuracy, spanGaps: true,
        borderColor: "rgb(31, 119, 180)", backgroundColor: "rgb(31, 119, 180)" },
    ], { scales: { y: { min: 0, max: 1, title: { display: true, text: "share right on gold" } } } });
  }
})();
