// The reliability diagram of the Quality page: mean confidence against the share right, per bin.
// Reads its data from the page's json_script element (the CSP allows no inline script).
(function () {
  "use strict";
  var source = document.getElementById("reliability-data");
  var canvas = document.getElementById("reliability-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var points = data.bins
    .filter(function (bin) { return bin.count > 0; })
    .map(function (bin) {
      return { x: bin.mean_confidence, y: bin.accuracy, count: bin.count };
    });
  var radius = function (context) {
    var point = context.raw || {};
    return Math.min(12, 3 + Math.sqrt(point.count || 0));
  };
  new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: [
        {
          label: "Measured on gold (one point per bin; size: tasks)",
          data: points,
          pointRadius: radius,
          pointHoverRadius: radius,
          showLine: true,
        },
        {
          label: "Perfect calibration",
          data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
          showLine: true,
          pointRadius: 0,
          borderDash: [6, 4],
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: true,
      aspectRatio: 1.4,
      scales: {
        x: { min: 0, max: 1, title: { display: true, text: "Confidence (" + data.confidence_method + ")" } },
        y: { min: 0, max: 1, title: { display: true, text: "Share right on gold" } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (context) {
              var point = context.raw;
              if (point.count === undefined) {
                return "perfect calibration";
              }
              return (
                "confidence " + point.x.toFixed(3) + ", right " +
                (100 * point.y).toFixed(1) + "% of " + point.count + " tasks"
              );
            },
          },
        },
      },
    },
  });
})();
