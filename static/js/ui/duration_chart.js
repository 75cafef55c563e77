// The history page's chart: each finished run as a point (x: when it ended, y: how
// long it took), green for success, red for failed, grey for stopped. Drawn by uPlot (npm, served from /vendor/uplot/) on a
// canvas; styles set only through the CSSOM, so the page's CSP holds.

import { formatDuration, formatInstant, parseIso } from './format.js';
import { runUrl } from './runs.js';

const HEIGHT = 240;
const COLORS = { success: '#15803d', failed: '#b91c1c', stopped: '#6b7280' };
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
    const outcome = (status) => ({
      label: status,
      stroke: COLORS[status],
      width: 0,
      paths: () => null, // points only
      points: { show: true, size: 9, width: 1.5, stroke: '#fff', fill: COLORS[status] },
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
          range: (u, min, max) => {
            if (min === null || max === null) return [0, 1];
            if (max - min < 1) return [min - 30, max + 30]; // one point, or all at once
            const pad = (max - min) * 0.04;
            return [min - pad, max + pad];
          },
        },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        {
          stroke: '#6b7280',
          space: 70,
          incrs: X_STEPS, // whole seconds at least: run times have no finer precision
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { stroke: '#e3e6eb', width: 1 },
        },
        {
          stroke: '#6b7280',
          size: 64,
          grid: { stroke: '#eef0f3', width: 1 },
          ticks: { stroke: '#e3e6eb', width: 1 },
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
