// The history page (/tasks/<id>/history): the task's runs, newest first, growing live
// at the top from task_update (room task:<id>); "Older runs" pages back through
// GET /api/tasks/<id>/runs?before=<id> on click; a chart of durations and outcomes and
// the success rate, from the statistics rendered with the page and extended live.
// No timer calls the API.

import { apiRequest } from '../api.js';
import { openLive } from '../live/connection.js';
import { runOrder } from '../live/run_order.js';
import { createConnectionIndicator } from '../ui/connection_indicator.js';
import { el, showInstant } from '../ui/dom.js';
import { charted, createDurationChart } from '../ui/duration_chart.js';
import { flash } from '../ui/flash.js';
import { formatDuration } from '../ui/format.js';
import { mountOutputSearch } from '../ui/output_search.js';
import { attemptText, createProgress, isProgressReport, RATED, renderProgress, runUrl, setBadge } from '../ui/runs.js';
import { showToast } from '../ui/toast.js';

const STATS_RUNS = 100; // the statistics cover the task's last this many runs (as the API's default)
const RUN_FIELDS = ['task_id', 'status', 'trigger', 'progress', 'progress_message', 'attempt', 'max_attempts',
  'next_attempt_at', 'queued_at', 'started_at', 'finished_at', 'duration_ms', 'error'];

const { dataset } = document.body;
const taskId = Number(dataset.taskId);
const pageSize = Number(dataset.pageSize) || 25;
const indicator = createConnectionIndicator();
const tbody = document.querySelector('#runs tbody');
const olderButton = document.getElementById('older');
const noOlder = document.querySelector('[data-testid="no-older"]');
const noRuns = document.querySelector('[data-testid="no-runs"]');
const summary = document.getElementById('summary');
const q = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const headSeq = /^\d+$/.test(dataset.headSeq || '') ? Number(dataset.headSeq) : null;

// --- the runs table ---------------------------------------------------------------------

const runs = new Map(); // run id -> {run, seq}

function timeCell(iso) {
  const td = el('td', 'col-time');
  const time = el('time');
  showInstant(time, iso);
  td.append(time);
  return td;
}

function createRow(run) {
  const tr = el('tr', '', 'run-row');
  tr.dataset.runId = String(run.id);
  const idCell = el('td', 'col-run');
  const link = el('a', '', 'run-link');
  link.href = runUrl(run.id);
  link.textContent = `#${run.id}`;
  idCell.append(link);
  const status = el('td', 'col-status');
  status.append(el('span', 'badge', 'status'), ' ', el('span', 'attempt', 'attempt'), createProgress());
  tr.append(idCell, el('td', 'col-trigger', 'run-trigger'), status, timeCell(null), timeCell(null), timeCell(null),
    el('td', 'col-duration', 'run-duration'), el('td', 'col-error', 'run-error'));
  return tr;
}

function fillRow(tr, run) {
  tr.dataset.status = run.status;
  tr.querySelector('.col-trigger').textContent = run.trigger || '';
  setBadge(tr.querySelector('[data-testid="status"]'), run.status);
  const attempt = tr.querySelector('.attempt');
  attempt.textContent = attemptText(run);
  attempt.hidden = !attempt.textContent;
  renderProgress(tr.querySelector('.progress'), run);
  const times = tr.querySelectorAll('.col-time time');
  [run.queued_at, run.started_at, run.finished_at].forEach((iso, i) => showInstant(times[i], iso));
  tr.querySelector('.col-duration').textContent = formatDuration(run.duration_ms);
  const error = tr.querySelector('.col-error');
  error.textContent = run.error || '';
  error.title = run.error || '';
}

const rowOf = (id) => tbody.querySelector(`tr[data-run-id="${CSS.escape(String(id))}"]`);
const shownIds = () => [...tbody.querySelectorAll('tr[data-run-id]')].map((tr) => Number(tr.dataset.runId));

/** Put a row where its id belongs (newest first). */
function placeRow(tr) {
  const id = Number(tr.dataset.runId);
  const before = [...tbody.querySelectorAll('tr[data-run-id]')].find((other) => other !== tr && Number(other.dataset.runId) < id);
  if (before) tbody.insertBefore(tr, before);
  else tbody.append(tr);
  noRuns.hidden = true;
}

/**
 * Show a run (from the API, the page or a task_update with ``seq``); only moves
 * forward. A run older than every row shown while older pages exist is left for the
 * "Older runs" button. Returns the row, or null.
 */
function showRun(run, seq = null) {
  const id = Number(run.id);
  const known = runs.get(id);
  if (known) {
    if (seq !== null && known.seq !== null && seq <= known.seq) return null;
    if (runOrder(run) < runOrder(known.run)) return null;
  } else {
    const ids = shownIds();
    if (ids.length && id < Math.min(...ids) && !olderButton.hidden) return null;
  }
  const merged = { ...(known ? known.run : {}), ...run, id };
  runs.set(id, { run: merged, seq: seq ?? known?.seq ?? null });
  let tr = rowOf(id);
  const fresh = !tr;
  if (fresh) tr = createRow(merged);
  fillRow(tr, merged);
  if (fresh) {
    placeRow(tr);
    if (seq !== null) flash(tr);
  }
  return tr;
}

/** The rows the server rendered (each with its run in data-run): remember their runs
 * and fill them as live rows are filled (times in the browser's zone). */
function loadRenderedRows() {
  for (const tr of tbody.querySelectorAll('tr[data-run-id]')) {
    const id = Number(tr.dataset.runId);
    let run = { id, status: tr.dataset.status };
    try {
      run = JSON.parse(tr.dataset.run) || run;
      fillRow(tr, run);
    } catch {
      // keeps its rendered cells
    }
    delete tr.dataset.run;
    runs.set(id, { run, seq: null });
  }
}

async function loadOlder() {
  const ids = shownIds();
  if (!ids.length) return;
  olderButton.disabled = true;
  const before = Math.min(...ids);
  try {
    const result = await apiRequest('GET', `/tasks/${encodeURIComponent(taskId)}/runs?before=${before}&limit=${pageSize}`);
    if (!result.ok) {
      showToast('failed', `Cannot load older runs: ${result.error.message}`);
      return;
    }
    const page = result.data.runs || [];
    for (const run of page) {
      if (rowOf(run.id)) continue;
      const tr = createRow(run);
      runs.set(Number(run.id), { run, seq: null });
      fillRow(tr, run);
      placeRow(tr);
    }
    const more = page.length >= pageSize;
    olderButton.hidden = !more;
    noOlder.hidden = more;
  } finally {
    olderButton.disabled = false;
  }
}

// --- statistics and the chart -------------------------------------------------------------

let series = new Map(); // run id -> point (the task's last STATS_RUNS runs)
let chart = null;

function percentile(sorted, fraction) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(fraction * (sorted.length - 1))))];
}

function renderSummary() {
  const points = [...series.values()].sort((a, b) => a.run_id - b.run_id).slice(-STATS_RUNS);
  const counts = {};
  for (const p of points) counts[p.status] = (counts[p.status] || 0) + 1;
  const rated = (counts.success || 0) + (counts.failed || 0) + (counts.stopped || 0);
  const rate = rated ? (counts.success || 0) / rated : null;
  const rateEl = q('success-rate');
  rateEl.textContent = rate === null ? '—' : `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
  rateEl.dataset.value = rate === null ? '' : String(rate);
  rateEl.classList.toggle('rate-good', rate !== null && rate >= 0.95);
  rateEl.classList.toggle('rate-bad', rate !== null && rate < 0.8);
  q('success-rate-note').textContent = rated
    ? `${counts.success || 0} of ${rated} finished ${rated === 1 ? 'run' : 'runs'} (last ${points.length})`
    : `over the last ${points.length} ${points.length === 1 ? 'run' : 'runs'}`;
  q('count-success').textContent = String(counts.success || 0);
  q('count-failed').textContent = String(counts.failed || 0);
  q('count-stopped').textContent = String(counts.stopped || 0);
  const durations = points.filter((p) => RATED.has(p.status) && p.duration_ms != null).map((p) => p.duration_ms)
    .sort((a, b) => a - b);
  q('duration-p50').textContent = formatDuration(percentile(durations, 0.5));
  q('duration-p95').textContent = formatDuration(percentile(durations, 0.95));
  q('duration-max').textContent = formatDuration(durations.length ? durations[durations.length - 1] : null);
  chart?.setPoints(points);
}

function loadStats(stats) {
  if (!stats || !Array.isArray(stats.series)) return;
  series = new Map(stats.series.map((p) => [Number(p.run_id), p]));
  renderSummary();
}

/** A task_update as a point of the series (the same fields the stats series has). */
function updatePoint(ev) {
  const id = Number(ev.run_id);
  const known = series.get(id);
  if (known && runOrder(ev) < runOrder(known)) return;
  const point = { run_id: id };
  for (const key of ['status', 'trigger', 'attempt', 'queued_at', 'started_at', 'finished_at', 'duration_ms']) {
    point[key] = ev[key] ?? null;
  }
  const wasCharted = known ? charted(known) : false;
  series.set(id, point);
  if (series.size > STATS_RUNS * 2) {
    for (const old of [...series.keys()].sort((a, b) => a - b).slice(0, series.size - STATS_RUNS)) series.delete(old);
  }
  // The summary counts every status; redraw when a run ends (or any count moved).
  if (charted(point) || wasCharted || !known || known.status !== point.status) renderSummary();
}

// --- live ---------------------------------------------------------------------------------

function applyEvent(ev) {
  const run = { id: ev.run_id };
  for (const key of RUN_FIELDS) if (key in ev) run[key] = ev[key];
  showRun(run, ev.seq);
  if (!isProgressReport(ev)) updatePoint(ev);
  if (ev.task_name) setTaskName(ev.task_name);
}

function setTaskName(name) {
  const heading = q('history-task-name');
  if (heading.textContent !== name) heading.textContent = name;
  document.title = `History of ${name} · Taskpulse`;
}

/** A reconnect's snapshot: the task and its statistics as they are now (task_changed
 * is not replayed). */
function applyAck(ack, { snapshot }) {
  if (!snapshot) return;
  if (ack.stats) loadStats(ack.stats);
  const task = (ack.tasks || [])[0];
  if (task?.name) setTaskName(task.name);
  if (task?.last_run) showRun(task.last_run);
}

let live = null;

async function start() {
  live = await openLive(indicator);
  if (!live) return;
  live.room({
    room: `task:${taskId}`,
    cursor: headSeq,
    snapshotOnReconnect: true,
    apply: (entries) => entries.forEach(({ item }) => applyEvent(item)),
    ack: applyAck,
    synced: () => {
      indicator.showError('');
      indicator.markSynced();
    },
    refused: (message) => indicator.showError(message),
  });
  live.on('task_changed', (change) => {
    if (Number(change.task_id) !== taskId) return;
    if (change.action === 'deleted') q('task-deleted').hidden = false;
    else if (change.task?.name) setTaskName(change.task.name);
  });
  window.taskpulse.socket = live.socket;
}

async function startChart() {
  const box = document.getElementById('duration-chart');
  try {
    const { default: uPlot } = await import(dataset.chartModuleUrl);
    chart = createDurationChart(box, uPlot, q('chart-empty'), q('chart-readout'));
    renderSummary();
  } catch (err) {
    box.hidden = true;
    const note = q('chart-empty');
    note.textContent = `The chart could not be drawn: ${err.message}`;
    note.hidden = false;
  }
}

window.taskpulse = { socket: null };

loadRenderedRows();
try {
  loadStats(JSON.parse(summary.dataset.stats || 'null'));
} catch {
  // the rendered summary stays
}
delete summary.dataset.stats;
document.getElementById('reconnect').addEventListener('click', () => {
  if (live) live.reconnect();
  else start();
});
olderButton.addEventListener('click', () => {
  if (!olderButton.disabled) loadOlder();
});
startChart();
start();
mountOutputSearch(document.querySelector('[data-testid="output-search"]'), apiRequest);
