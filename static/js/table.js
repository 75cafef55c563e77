// The task table: row markup (same as templates/scheduler.html) and the rules for
// applying a task_update event to a row without ever moving a run backwards.

import { formatDuration, relativeTime } from './format.js';

const TERMINAL = new Set(['success', 'failed', 'stopped', 'canceled', 'skipped']);
const SPINNING = new Set(['queued', 'running', 'retrying']);
const BUSY = new Set(['queued', 'running']); // Run Now is disabled while these are shown
const RANK = { queued: 0, retrying: 1, running: 2 }; // any terminal status ranks 3

export const isTerminal = (status) => TERMINAL.has(status);
const rank = (status) => (TERMINAL.has(status) ? 3 : RANK[status] ?? 0);

function tbody() {
  return document.querySelector('#tasks tbody');
}

export function findRow(taskId) {
  return tbody().querySelector(`tr[data-task-id="${CSS.escape(String(taskId))}"]`);
}

function taskRows() {
  return [...tbody().querySelectorAll('tr[data-task-id]')];
}

/** Show the "No tasks yet" row exactly when there is no task row. */
function syncEmptyRow() {
  const body = tbody();
  const empty = body.querySelector('tr.empty-row');
  const hasTasks = body.querySelector('tr[data-task-id]') !== null;
  if (hasTasks && empty) empty.remove();
  if (!hasTasks && !empty) {
    const tr = document.createElement('tr');
    tr.className = 'empty-row';
    tr.dataset.testid = 'no-tasks';
    const td = document.createElement('td');
    td.colSpan = 6;
    td.textContent = 'No tasks yet';
    tr.append(td);
    body.append(tr);
  }
}

function el(tag, className, testid) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  return node;
}

/** An empty row for a task id, with the cells renderRun and fillTask expect. */
function createRow(taskId) {
  const tr = el('tr', '', 'task-row');
  tr.dataset.taskId = String(taskId);

  const status = el('td', 'col-status');
  const spinner = el('span', 'spinner');
  spinner.setAttribute('aria-hidden', 'true');
  status.append(spinner, ' ', el('span', 'badge', 'status'), ' ', el('span', 'progress'));

  const lastRun = el('td', 'col-last-run');
  lastRun.append(document.createElement('time'));

  const actions = el('td', 'col-actions');
  // Viewers get no Run Now: the server would refuse it anyway (403).
  if (document.body.dataset.canRun === '1') {
    const button = el('button', 'run-now', 'run-now');
    button.type = 'button';
    button.dataset.taskId = String(taskId);
    button.textContent = 'Run Now';
    actions.append(button);
  }

  tr.append(el('td', 'col-name'), el('td', 'col-kind'), status, lastRun, el('td', 'col-duration'), actions);
  return tr;
}

/** The task's own fields: name (description as its title), kind, enabled. */
function fillTask(tr, task) {
  const name = tr.querySelector('.col-name');
  if (task.name !== undefined) name.textContent = task.name;
  if (task.description !== undefined) name.title = task.description || '';
  if (task.kind !== undefined) tr.querySelector('.col-kind').textContent = task.kind || '';
  if (task.enabled !== undefined) tr.classList.toggle('task-disabled', !task.enabled);
}

function setTime(timeEl, iso) {
  if (iso) {
    timeEl.dateTime = iso;
    timeEl.title = iso;
    timeEl.textContent = relativeTime(iso);
  } else {
    timeEl.removeAttribute('datetime');
    timeEl.removeAttribute('title');
    timeEl.textContent = '—';
  }
}

/** Render a run (or {} for none) into the row; the row remembers its run id and status. */
function renderRun(tr, run, fallback = {}) {
  const status = run.status || fallback.last_status || '';
  tr.dataset.runId = run.id ?? run.run_id ?? '';
  tr.dataset.runStatus = status;

  const badge = tr.querySelector('[data-testid="status"]');
  badge.className = `badge badge-${status || 'none'}`;
  badge.textContent = status || 'never run';
  badge.title = run.error || (run.status ? '' : fallback.last_error || '');

  tr.querySelector('.spinner').hidden = !SPINNING.has(status);
  const progress = tr.querySelector('.progress');
  const showProgress = status === 'running' && run.progress !== null && run.progress !== undefined;
  progress.hidden = !showProgress;
  progress.textContent = showProgress ? `${run.progress}%` : '';

  const at = run.finished_at || run.started_at || run.queued_at || fallback.last_run_at;
  setTime(tr.querySelector('.col-last-run time'), at);
  tr.querySelector('.col-duration').textContent = formatDuration(TERMINAL.has(status) ? run.duration_ms : null);
  updateRunButton(tr);
}

/** Run Now is disabled while the run is queued/running or a Run Now request is in flight. */
export function updateRunButton(tr) {
  const button = tr.querySelector('button.run-now');
  if (!button) return;
  button.disabled = BUSY.has(tr.dataset.runStatus) || tr.dataset.requesting === '1';
}

export function setRequesting(tr, requesting) {
  if (requesting) tr.dataset.requesting = '1';
  else delete tr.dataset.requesting;
  updateRunButton(tr);
}

/**
 * Apply a task_update event to its row. Returns false when the event would move the
 * row's run backwards (an older run, or an earlier status of the same run).
 */
export function applyEvent(ev) {
  let tr = findRow(ev.task_id);
  if (!tr) {
    // A task created after this page was rendered: show it with what the event says.
    tr = createRow(ev.task_id);
    tbody().append(tr);
    syncEmptyRow();
  }
  const shownId = tr.dataset.runId === '' ? null : Number(tr.dataset.runId);
  const shownStatus = tr.dataset.runStatus;
  const runId = Number(ev.run_id);
  if (shownId !== null && !Number.isNaN(runId)) {
    if (runId < shownId) return false;
    if (runId === shownId) {
      if (isTerminal(shownStatus) && !isTerminal(ev.status)) return false;
      if (rank(ev.status) < rank(shownStatus)) return false;
    }
  }
  if (ev.task_name !== undefined && ev.task_name !== null) fillTask(tr, { name: ev.task_name });
  renderRun(tr, { ...ev, id: ev.run_id }, ev);
  return true;
}

/** Replace the table's content with a snapshot of tasks (as the API returns them), in order. */
export function renderSnapshot(tasks) {
  const body = tbody();
  const keep = new Set(tasks.map((t) => String(t.id)));
  for (const tr of taskRows()) if (!keep.has(tr.dataset.taskId)) tr.remove();
  for (const task of tasks) {
    const tr = findRow(task.id) || createRow(task.id);
    fillTask(tr, task);
    renderRun(tr, task.last_run || {}, task);
    body.append(tr); // appending an existing row moves it into snapshot order
  }
  syncEmptyRow();
}

/** Re-render every "x min ago" text from its datetime attribute; no network involved. */
export function tickRelativeTimes() {
  for (const time of document.querySelectorAll('#tasks time[datetime]')) {
    time.textContent = relativeTime(time.getAttribute('datetime'));
  }
}
