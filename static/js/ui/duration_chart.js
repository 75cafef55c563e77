// The history page's chart: each finished run as a point (x: when it ended, y: how
// long it took): a green circle for success, a red diamond for failed, a grey square for
// stopped (the shape tells the outcome without the colour). Drawn by uPlot (npm, served
// from /vendor/uplot/) on a canvas; styles set only through the CSSOM, so the page's CSP
// holds. Colours are theme.css's --chart-* variables; the chart is drawn again when the
// theme changes.

import { formatDuration, formatInstant, parseIso } from './format.js';
import { runUrl } from './runs.js';
import { onThemeChange } from './theme.js';

const HEIGHT = 240;
const FALLBACK_COLORS = { success: '#15803d', failed: '#b91c1c', stopped: '#6b7280', axis: '#555e6c', grid: '#eef0f3', ring: '#fff' };
const OUTCOMES = ['success', 'failed', 'stopped'];
const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const X_STEPS = [1, 2, 5, 10, 15, 30, MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR,
  3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];

/** A point's time on the x axis (seconds since the epoch): when the run ended. */
function pointTime(point) {
  const t = parseIso(point.finished_at || point.started_at || point.queued_at);
  return Number.isNaN(t) ? null : t / 1000;
}

/** True for a run the chart shows: it ran to an outcome and has a duration. */
export function charted(point) {
  return OUTCOMES.includes(point.status) && point.duration_ms !== null && point.duration_ms !== undefined
    && pointTime(point) !== null;
}

/** The theme's chart colours (theme.css), read when the chart is drawn. */
function chartColors() {
  const style = getComputedStyle(document.documentElement);
  const read = (name, fallback) => style.getPropertyValue(`--chart-${name}`).trim() || fallback;
  return Object.fromEntries(Object.entries(FALLBACK_COLORS).map(([name, fallback]) => [name, read(name, fallback)]));
}

// Point shapes, centred on (x, y), radius r (canvas pixels).
const SHAPES = {
  success: (path, x, y, r) => {
    path.moveTo(x + r, y);
    path.arc(x, y, r, 0, 2 * Math.PI);
  },
  failed: (path, x, y, r) => {
    const d = r * 1.3;
    path.moveTo(x, y - d);
    path.lineTo(x + d, y);
    path.lineTo(x, y + d);
    path.lineTo(x - d, y);
    path.closePath();
  },
  stopped: (path, x, y, r) => {
    const d = r * 0.9;
    path.rect(x - d, y - d, 2 * d, 2 * d);
  },
};

/** uPlot's points path builder, drawing ``shape`` instead of its circles. */
function shapedPoints(shape) {
  return (u, seriesIdx, idx0, idx1) => {
    const { size, width } = u.series[seriesIdx].points;
    const ratio = window.devicePixelRatio || 1;
    const r = ((size - width) / 2) * ratio;
    const path = new Path2D();
    const xs = u.data[0];
    const ys = u.data[seriesIdx];
    for (let i = idx0; i <= idx1; i += 1) {
      if (ys[i] === null || ys[i] === undefined) continue;
      shape(path, u.valToPos(xs[i], 'x', true), u.valToPos(ys[i], 'y', true), r);
    }
    return { stroke: path, fill: path, clip: null, flags: 0 };
  };
}

function secondsText(value) {
  return value === null || value === undefined ? '—' : formatDuration(value * 1000);
}

/**
 * @param {HTMLElement} container  the chart's box (gets data-point-count etc.)
 * @param {Function} uPlot  the uPlot constructor
 * @param {HTMLElement} [empty]  shown instead of the chart when there is no point
 * @param {HTMLElement} [readout]  says which run the cursor is on (hover); a click on
 *   the chart opens that run
 */
export function createDurationChart(container, uPlot, empty = null, readout = null) {
  let plot = null;
  let points = [];

  function pointAt(u) {
    const idx = u.cursor.idx;
    return idx === null || idx === undefined ? null : points[idx] || null;
  }

  function showReadout(u) {
    if (!readout) return;
    const point = pointAt(u);
    if (!point) {
      readout.textContent = 'Point at a run to see it; click to open it.';
      delete readout.dataset.runId;
      return;
    }
    readout.dataset.runId = String(point.run_id);
    readout.textContent = `Run #${point.run_id} · ${point.status} · ${formatDuration(point.duration_ms)} · `
      + `ended ${formatInstant(point.finished_at || point.started_at)}`;
  }

  function data() {
    const xs = points.map(pointTime);
    const by = OUTCOMES.map((status) => points.map((p) => (p.status === status ? p.duration_ms / 1000 : null)));
    return [xs, ...by];
  }

  function options(width) {
    const colors = chartColors();
    const outcome = (status) => ({
      label: status,
      stroke: colors[status],
      width: 0,
      paths: () => null, // points only
      points: { show: true, size: 10, width: 1.5, stroke: colors.ring, fill: colors[status], paths: shapedPoints(SHAPES[status]) },
      value: (u, v) => secondsText(v),
    });
    return {
      width,
      height: HEIGHT,
      padding: [12, 16, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { size: 10 } },
      legend: { show: false },
      hooks: { setCursor: [showReadout] },
      scales: {
        x: {
          time: true,
          // From the data itself: for a single point uPlot hands over a range of about
          // 1000 days (its one-day default, in seconds mode), which hid the point.
          range: (u) => {
            const xs = u.data[0] || [];
            if (!xs.length) return [0, 1];
            const min = xs[0]; // sorted: setPoints sorts by time
            const max = xs[xs.length - 1];
            if (max - min < 1) return [min - 30, max + 30]; // one point, or all at once
            const pad = (max - min) * 0.04;
            return [min - pad, max + pad];
          },
        },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        {
          stroke: colors.axis,
          space: 70,
          incrs: X_STEPS, // whole seconds at least: run times have no finer precision
          grid: { stroke: colors.grid, width: 1 },
          ticks: { stroke: colors.grid, width: 1 },
        },
        {
          stroke: colors.axis,
          size: 64,
          grid: { stroke: colors.grid, width: 1 },
          ticks: { stroke: colors.grid, width: 1 },
          values: (u, splits) => splits.map(secondsText),
        },
      ],
      series: [
        { label: 'ended', value: (u, v) => (v === null || v === undefined ? '—' : formatInstant(new Date(v * 1000).toISOString())) },
        ...OUTCOMES.map(outcome),
      ],
    };
  }

  function render() {
    const shown = points.length;
    container.dataset.pointCount = String(shown);
    for (const status of OUTCOMES) {
      container.dataset[`${status}Count`] = String(points.filter((p) => p.status === status).length);
    }
    if (empty) empty.hidden = shown > 0;
    container.hidden = shown === 0;
    if (!shown) return;
    const width = Math.max(280, container.clientWidth || container.parentElement?.clientWidth || 600);
    if (!plot) {
      plot = new uPlot(options(width), data(), container);
      plot.over.addEventListener('click', () => {
        const point = pointAt(plot);
        if (point) window.location.assign(runUrl(point.run_id));
      });
      plot.over.title = 'Click a run to open it';
      showReadout(plot);
    } else {
      plot.setData(data());
    }
  }

  // Another theme: the same points in its colours (uPlot keeps colours per instance).
  onThemeChange(() => {
    if (!plot) return;
    plot.destroy();
    plot = null;
    render();
  });

  new ResizeObserver(() => {
    if (plot && container.clientWidth > 0) plot.setSize({ width: container.clientWidth, height: HEIGHT });
  }).observe(container);

  return {
    /** Show these points (a stats ``series``: any statuses; only finished runs are drawn). */
    setPoints(series) {
      points = series.filter(charted).sort((a, b) => pointTime(a) - pointTime(b) || a.run_id - b.run_id);
      render();
    },
    get pointCount() {
      return points.length;
    },
  };
}
