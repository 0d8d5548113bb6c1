// Bastion console: small line charts on <canvas>, no library.
"use strict";

const COLORS = ["#58a6ff", "#bc8cff", "#3fb950", "#d29922", "#f85149"];

// Draw series (arrays of numbers or null) over xs (seconds since the epoch).
// options: {labels, bands: [{from, to, label, color}], threshold: {value, label}, marks: [{at, label}]}
function drawChart(canvas, xs, series, options = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 400;
  const height = canvas.clientHeight || 180;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const pad = { left: 48, right: 10, top: 10, bottom: 22 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const values = series.flat().filter((v) => v !== null && Number.isFinite(v));
  if (options.threshold) values.push(options.threshold.value);
  let top = values.length ? Math.max(...values) : 1;
  top = top > 0 ? top * 1.15 : 1;
  const x0 = xs.length ? xs[0] : 0;
  const x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0 || 1)) * w;
  const sy = (y) => pad.top + h - (y / top) * h;
  for (const band of options.bands || []) {
    g.fillStyle = band.color || "rgba(88,166,255,0.08)";
    const a = sx(Math.max(band.from, x0));
    const b = sx(Math.min(band.to ?? x1, x1));
    if (b > a) {
      g.fillRect(a, pad.top, b - a, h);
      g.fillStyle = "#8a96a3";
      g.font = "10px system-ui";
      g.fillText(band.label, a + 3, pad.top + 10);
    }
  }
  g.strokeStyle = "#2a323c";
  g.fillStyle = "#8a96a3";
  g.font = "11px system-ui";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.top + (h * i) / 4;
    g.beginPath(); g.moveTo(pad.left, y); g.lineTo(pad.left + w, y); g.stroke();
    g.fillText(formatTick(top * (1 - i / 4)), 4, y + 4);
  }
  if (xs.length > 1) {
    const span = Math.round(x1 - x0);
    g.fillText(`last ${span} s`, pad.left, height - 6);
  }
  if (options.threshold) {
    const y = sy(options.threshold.value);
    g.strokeStyle = "#f85149"; g.setLineDash([5, 4]);
    g.beginPath(); g.moveTo(pad.left, y); g.lineTo(pad.left + w, y); g.stroke();
    g.setLineDash([]); g.fillStyle = "#f85149";
    g.fillText(options.threshold.label, pad.left + w - 120, y - 4);
  }
  series.forEach((ys, n) => {
    g.strokeStyle = COLORS[n % COLORS.length];
    g.lineWidth = 1.6;
    g.beginPath();
    let drawing = false;
    ys.forEach((y, i) => {
      if (y === null || !Number.isFinite(y)) { drawing = false; return; }
      const px = sx(xs[i]); const py = sy(y);
      if (drawing) g.lineTo(px, py); else g.moveTo(px, py);
      drawing = true;
    });
    g.stroke();
  });
  for (const mark of options.marks || []) {
    const x = sx(mark.at);
    g.strokeStyle = "#d29922"; g.beginPath(); g.moveTo(x, pad.top); g.lineTo(x, pad.top + h); g.stroke();
    g.fillStyle = "#d29922"; g.fillText(mark.label, Math.min(x + 3, pad.left + w - 80), pad.top + h - 4);
  }
  (options.labels || []).forEach((label, n) => {
    g.fillStyle = COLORS[n % COLORS.length];
    g.fillText(label, pad.left + 8 + n * 110, pad.top + 12);
  });
}

function formatTick(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

window.drawChart = drawChart;
