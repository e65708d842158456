// A small helper for the dashboards' charts (Chart.js, vendored): read a page's json_script
// data, draw a line or bar chart with the dashboards' defaults, and keep each chart findable
// (window.QuorumCharts.drawn, by canvas id) so the browser tests can check it drew.
(function () {
  "use strict";

  var drawn = {};

  function data(id) {
    var source = document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas || typeof Chart === "undefined") {
      return null;
    }
    config.options = Object.assign(
      { animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: 2.5 },
      config.options || {}
    );
    var chart = new Chart(canvas, config);
    drawn[canvasId] = chart;
    return chart;
  }

  function line(canvasId, labels, datasets, options) {
    return draw(canvasId, { type: "line", data: { labels: labels, datasets: datasets }, options: options });
  }

  function bar(canvasId, labels, datasets, options) {
    return draw(canvasId, { type: "bar", data: { labels: labels, datasets: datasets }, options: options });
  }

  window.QuorumCharts = { data: data, line: line, bar: bar, drawn: drawn };
})();
