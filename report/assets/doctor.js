// Draws the doctor report's charts with uPlot from HEADROOM_DATA (built by report/doctor_html.go).
// Everything needed is in the page: this file fetches nothing.
(function () {
  "use strict";
  function marks(spec) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox, dpr = uPlot.pxRatio;
      ctx.save();
      ctx.font = (11 * dpr) + "px system-ui, sans-serif";
      ctx.lineWidth = 1.5 * dpr;
      (spec.xbands || []).forEach(function (m) {
        var x0 = u.valToPos(m.at, "x", true), x1 = u.valToPos(m.to, "x", true);
        ctx.fillStyle = m.color + "22";
        ctx.fillRect(x0, b.top, x1 - x0, b.height);
        ctx.fillStyle = m.color;
        ctx.fillText(m.label, x0 + 3 * dpr, b.top + b.height - 6 * dpr);
      });
      ctx.setLineDash([6 * dpr, 3 * dpr]);
      (spec.vlines || []).forEach(function (m, i) {
        var x = u.valToPos(m.at, "x", true);
        if (x < b.left || x > b.left + b.width) return;
        ctx.strokeStyle = ctx.fillStyle = m.color;
        ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
        ctx.fillText(m.label, x + 3 * dpr, b.top + (12 + 13 * i) * dpr);
      });
      (spec.hlines || []).forEach(function (m, i) {
        var y = u.valToPos(m.at, "y", true);
        if (y < b.top || y > b.top + b.height) return;
        ctx.strokeStyle = ctx.fillStyle = m.color;
        ctx.beginPath(); ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke();
        // Alternate sides, so labels of nearby lines (p99.9 and max) do not overprint.
        ctx.textAlign = i % 2 ? "right" : "left";
        ctx.fillText(m.label, i % 2 ? b.left + b.width - 4 * dpr : b.left + 4 * dpr, y - 4 * dpr);
        ctx.textAlign = "left";
      });
      ctx.restore();
    };
  }

  function yRange(spec) {
    var lo = Infinity, hi = -Infinity;
    spec.series.forEach(function (s) {
      s.y.forEach(function (v) { if (v != null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    });
    (spec.hlines || []).forEach(function (m) { lo = Math.min(lo, m.at); hi = Math.max(hi, m.at); });
    if (!isFinite(lo)) { lo = 1; hi = 10; }
    if (spec.log_y) {
      lo = Math.pow(10, Math.floor(Math.log10(Math.max(lo, 1e-3))));
      hi = Math.pow(10, Math.ceil(Math.log10(Math.max(hi * 1.05, lo * 10))));
    } else { lo = 0; hi = hi > 0 ? hi * 1.08 : 1; }
    return [lo, hi];
  }

  // legendIdx is the point the legend shows off the plot: the chart's own summary point, else
  // the last one where every series has a value (the sweep's series end at different rates).
  function legendIdx(spec) {
    if (spec.legend_idx != null) return spec.legend_idx;
    for (var i = spec.x.length - 1; i > 0; i--) {
      if (spec.series.every(function (s) { return s.y[i] != null; })) return i;
    }
    return spec.x.length - 1;
  }

  function draw(spec) {
    var el = document.getElementById(spec.id);
    if (!el) return;
    var title = document.createElement("div");
    title.className = "title";
    title.textContent = spec.title;
    el.appendChild(title);
    var yr = yRange(spec);
    var xAxis = { label: spec.x_label };
    if (spec.xticks) {
      var ticks = spec.xticks;
      xAxis.splits = function () { return ticks.map(function (t) { return t.at; }); };
      xAxis.values = function () { return ticks.map(function (t) { return t.label; }); };
    }
    var li = legendIdx(spec);
    var yAxis = { label: spec.y_label, size: 60 };
    if (spec.y_integer) {
      // Counts: no fractional requests on the axis.
      yAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
      yAxis.values = function (u, splits) { return splits.map(function (v) { return v.toFixed(0); }); };
    }
    var series = [{ label: spec.x_label }];
    spec.series.forEach(function (s) {
      var o = { label: s.label, stroke: s.color, width: 2, spanGaps: true, points: { show: !!s.points, size: 6 } };
      if (spec.y_integer) o.value = function (u, v) { return v == null ? "--" : v.toFixed(0); };
      if (s.dash) o.dash = [5, 4];
      if (spec.kind === "bars") { o.fill = s.color; o.paths = uPlot.paths.bars({ size: [0.9, 60] }); o.points = { show: false }; }
      series.push(o);
    });
    var opts = {
      width: Math.max(480, Math.min(el.clientWidth || 560, 1100)),
      height: 300,
      series: series,
      scales: {
        x: Object.assign(spec.log_x ? { time: false, distr: 3, log: 10 } : { time: false },
          spec.x_range ? { range: function () { return spec.x_range; } } : {}),
        y: spec.log_y ? { distr: 3, log: 10, range: function () { return yr; } } : { range: function () { return yr; } }
      },
      axes: [xAxis, yAxis],
      legend: { live: true },
      // Off the plot, uPlot's legend shows "--": show the chart's summary point instead.
      hooks: {
        draw: [marks(spec)],
        ready: [function (u) { u.setLegend({ idx: li }); }],
        setCursor: [function (u) { if (u.cursor.idx == null) u.setLegend({ idx: li }); }]
      }
    };
    if (spec.band) {
      opts.bands = [{ series: [spec.band[1] + 1, spec.band[0] + 1], fill: "rgba(33,158,188,0.15)" }];
    }
    var data = [spec.x].concat(spec.series.map(function (s) { return s.y; }));
    window.HEADROOM_PLOTS.push(new uPlot(opts, data, el));
  }

  // The drawn plots, for whoever inspects the page (the browser test reads their axes).
  window.HEADROOM_PLOTS = [];

  HEADROOM_DATA.charts.forEach(draw);
})();
