// The scheduler page's panels, as in Cronicle: Running Jobs (count, progress, elapsed
// time, a link to each run), Recent Activity (the newest 20 status changes) and
// Statistics (tasks, enabled, running, failed in the last 24 h).
//
// They start from the server's render (data-panels on #panels) or from a subscribe
// snapshot (ack.panels), and are kept current from the task_update stream as
// docs/protocol.md says: no request, only a local clock for the elapsed times.
// Events already reflected in the panels (seq at or below the newest seq of their
// `recent`) are skipped, so a replay never counts a run twice.

import { elapsedText, formatDuration, parseIso } from './format.js';
import {
  attemptText,
  clockAt,
  createProgress,
  isProgressReport,
  isTerminalStatus,
  RATED,
  renderProgress,
  retryText,
  runUrl,
  setBadge,
} from './runs.js';
import { runOrder } from '../live/run_order.js';
import { el } from './dom.js';
import { createRollingCounts } from './rolling_counts.js';
import { triggerPhrase } from './vocabulary.js';

const MAX_RECENT = 20;
const TICK_MS = 1000;

/** The instant a status change happened, as the event tells it. */
function changedAt(ev) {
  if (isTerminalStatus(ev.status)) return ev.finished_at || ev.emitted_at;
  // started_at is when the first attempt started; a later attempt started when sent.
  if (ev.status === 'running') return (Number(ev.attempt) > 1 ? ev.emitted_at : ev.started_at) || ev.emitted_at;
  if (ev.status === 'retrying') return ev.emitted_at || ev.finished_at;
  return ev.queued_at || ev.emitted_at;
}

/** The short text beside a status change in the activity feed. */
function activityDetail(ev) {
  switch (ev.status) {
    case 'success':
      return ev.duration_ms == null ? '' : `in ${formatDuration(ev.duration_ms)}`;
    case 'retrying':
      return [retryText(ev), ev.error].filter(Boolean).join(': ');
    case 'running': {
      const attempt = attemptText(ev);
      return attempt || triggerPhrase(ev.trigger);
    }
    case 'queued':
      return triggerPhrase(ev.trigger);
    default: // failed, stopped, canceled, skipped
      return ev.error || '';
  }
}

/** A run of the running list as an event or the panels give it (only what is shown). */
function runFields(src) {
  const run = {};
  for (const key of ['task_id', 'task_name', 'status', 'trigger', 'progress', 'progress_message', 'attempt',
    'max_attempts', 'next_attempt_at', 'queued_at', 'started_at', 'error']) {
    if (key in src) run[key] = src[key];
  }
  run.id = src.id ?? src.run_id;
  return run;
}

export function createPanels() {
  const root = document.getElementById('panels');
  if (!root) return null;
  const runningList = root.querySelector('.running-list');
  const runningCount = root.querySelector('[data-testid="running-count"]');
  const runningEmpty = root.querySelector('[data-testid="running-empty"]');
  const activityList = root.querySelector('.activity-list');
  const activityEmpty = root.querySelector('[data-testid="activity-empty"]');
  const stat = (name) => root.querySelector(`[data-testid="stat-${name}"]`);

  const running = new Map(); // run id -> run (active runs only)
  const ended = new Set(); // run ids that ended since the last load (a late update must not revive them)
  let recent = []; // task_update events, newest first
  let stats = {};
  let rolling = createRollingCounts(); // the 24-hour counts, aged out here
  const AGE_MS = 60 * 1000; // re-count the window once a minute (a local clock)
  let baseline = null; // events with seq <= baseline are already in the panels
  let taskCounts = null; // {tasks, enabled} from the table's rows
  let ticker = null;

  // --- rendering ------------------------------------------------------------------

  function fillRunningItem(li, run) {
    li.dataset.status = run.status;
    li.dataset.taskId = String(run.task_id ?? '');
    const link = li.querySelector('.running-task');
    link.textContent = run.task_name ?? `Task ${run.task_id}`;
    link.href = runUrl(run.id);
    link.title = `Run #${run.id}: details and output`;
    setBadge(li.querySelector('.badge'), run.status);
    renderProgress(li.querySelector('.progress'), run);
    const note = li.querySelector('.running-note');
    let text = '';
    if (run.status === 'retrying') text = retryText(run);
    else if (run.status === 'queued') text = 'waiting for a worker';
    else if (run.status === 'running' && (run.progress === null || run.progress === undefined)) {
      text = attemptText(run) || 'no progress reported';
    }
    note.textContent = text;
    note.hidden = !text;
  }

  function createRunningItem(run) {
    const li = el('li', 'running-item', 'running-job');
    li.dataset.runId = String(run.id);
    const head = el('div', 'running-head');
    head.append(el('a', 'running-task', 'running-link'), ' ', el('span', 'badge'), ' ', el('span', 'elapsed', 'elapsed'));
    li.append(head, createProgress('running-progress'), el('span', 'running-note'));
    return li;
  }

  function renderRunning() {
    const runs = [...running.values()].sort((a, b) => a.id - b.id); // oldest first
    const existing = new Map([...runningList.children].map((li) => [li.dataset.runId, li]));
    const keep = new Set();
    for (const run of runs) {
      const key = String(run.id);
      let li = existing.get(key);
      if (!li || !li.querySelector('.running-note')) li = createRunningItem(run);
      fillRunningItem(li, run);
      runningList.append(li); // moves it into order
      keep.add(li);
    }
    for (const li of [...runningList.children]) if (!keep.has(li)) li.remove();
    runningCount.textContent = String(runs.length);
    runningCount.dataset.count = String(runs.length);
    runningEmpty.hidden = runs.length > 0;
    tick();
    if (runs.length && ticker === null) ticker = setInterval(tick, TICK_MS);
    if (!runs.length && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function renderRecent() {
    const items = recent.map((ev) => {
      const li = el('li', 'activity-item', 'activity-item');
      li.dataset.seq = String(ev.seq);
      li.dataset.runId = String(ev.run_id);
      li.dataset.status = ev.status;
      const at = changedAt(ev);
      const time = el('time', 'activity-time');
      if (at) {
        time.dateTime = at;
        time.title = at;
        time.textContent = clockAt(at);
      }
      const badge = el('span', 'badge');
      setBadge(badge, ev.status);
      const link = el('a', 'activity-task');
      link.href = runUrl(ev.run_id);
      link.textContent = ev.task_name ?? `Task ${ev.task_id}`;
      link.title = `Run #${ev.run_id}`;
      const detail = el('span', 'activity-detail');
      detail.textContent = activityDetail(ev);
      detail.title = detail.textContent;
      li.append(time, ' ', badge, ' ', link, ' ', detail);
      return li;
    });
    activityList.replaceChildren(...items);
    activityEmpty.hidden = items.length > 0;
  }

  function renderStats() {
    const counts = { queued: 0, running: 0, retrying: 0 };
    for (const run of running.values()) if (run.status in counts) counts[run.status] += 1;
    const tasks = taskCounts ? taskCounts.tasks : stats.tasks;
    const enabled = taskCounts ? taskCounts.enabled : stats.enabled;
    stat('tasks').textContent = String(tasks ?? 0);
    stat('enabled').textContent = String(enabled ?? 0);
    stat('running').textContent = String(counts.running);
    stat('waiting').textContent = `${counts.queued} queued · ${counts.retrying} retrying`;
    const day = rolling.totals(Date.now());
    stat('failed').textContent = String(day.failed);
    stat('failed').closest('.stat').classList.toggle('stat-alert', day.failed > 0);
    stat('finished').textContent = `of ${day.finished} finished`;
    stat('finished').title = `runs that ended since ${new Date(day.since).toISOString()}`;
  }

  /** Re-render the elapsed times (a local clock; no request). */
  function tick() {
    const now = Date.now();
    for (const li of runningList.children) {
      const run = running.get(Number(li.dataset.runId));
      const out = li.querySelector('.elapsed');
      if (!run || !out) continue;
      const since = run.status === 'queued' ? run.queued_at : run.started_at || run.queued_at;
      const t = parseIso(since);
      out.textContent = Number.isNaN(t) ? '' : `${run.status === 'queued' ? 'waiting ' : ''}${elapsedText(now - t)}`;
      out.title = since ? `since ${since}` : '';
    }
  }

  // --- state ------------------------------------------------------------------------

  /** Replace everything with panels as the server gives them. */
  function load(panels) {
    if (!panels || typeof panels !== 'object') return;
    running.clear();
    ended.clear();
    for (const run of panels.running || []) running.set(Number(run.id), runFields(run));
    recent = (panels.recent || []).filter((ev) => Number.isInteger(ev.seq)).sort((a, b) => b.seq - a.seq)
      .slice(0, MAX_RECENT);
    baseline = recent.length ? recent[0].seq : null;
    stats = { ...(panels.stats || {}) };
    rolling = createRollingCounts(stats.ended_by_minute);
    renderRunning();
    renderRecent();
    renderStats();
  }

  /** Apply one task_update (in seq order, as the live module hands them over). */
  function apply(ev) {
    if (!ev || !Number.isInteger(ev.seq)) return;
    if (baseline !== null && ev.seq <= baseline) return; // already in the panels
    const id = Number(ev.run_id);
    if (isTerminalStatus(ev.status)) {
      const wasShown = running.delete(id);
      const counted = ended.has(id);
      ended.add(id);
      if (RATED.has(ev.status) && !counted) {
        const at = parseIso(ev.finished_at);
        rolling.add(ev.status, Number.isNaN(at) ? Date.now() : at);
      }
      if (wasShown) renderRunning();
    } else if (!ended.has(id)) {
      const shown = running.get(id);
      if (!shown || runOrder(ev) >= runOrder(shown)) {
        running.set(id, { ...(shown || {}), ...runFields(ev) });
        renderRunning();
      }
    }
    if (!isProgressReport(ev) && !recent.some((other) => other.seq === ev.seq)) {
      recent.unshift(ev);
      recent.sort((a, b) => b.seq - a.seq);
      recent = recent.slice(0, MAX_RECENT);
      renderRecent();
    }
    renderStats();
  }

  /** The number of tasks and of enabled ones, as the table shows them. */
  function setTaskCounts(tasks, enabled) {
    taskCounts = { tasks, enabled };
    renderStats();
  }

  try {
    load(JSON.parse(root.dataset.panels || 'null'));
  } catch {
    // unreadable: the panels stay as rendered until the next snapshot
  }
  delete root.dataset.panels;
  setInterval(renderStats, AGE_MS); // runs that ended a day ago leave the counts

  return { load, apply, setTaskCounts };
}
