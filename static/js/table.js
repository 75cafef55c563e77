// The task table: row markup (same as templates/scheduler.html), the task's own cells,
// and the rules for applying runs to a row without ever moving a run backwards.
//
// A row is <tr data-testid="task-row" data-task-id data-run-id data-run-status
// data-run-trigger data-kind data-enabled> with one cell per CELLS entry below. To add a
// column: a <th> in the template, a cell in its task_row macro, an entry in CELLS, and
// fill it in fillTask (task fields) or renderRun (run fields). Row buttons go in the
// actions cell's .row-actions box; the page handles their clicks by class (scheduler.js).
//
// The name links to the task's history page, the status badge to its run's detail page;
// a running run shows a progress bar under its badge, a retrying one "(attempt k of n),
// next at hh:mm:ss"; operators get a Stop button while the run is queued, running or
// retrying.

import { formatDuration, relativeTime, scheduleText } from './format.js';
import {
  ACTIVE,
  createProgress,
  historyUrl,
  renderProgress,
  retryText,
  runOrder,
  runUrl,
  setBadge,
  stopTitle,
} from './runs.js';
import { changedSince, forgetTask, getTask, patchTask, putTask, wasDeleted } from './task_store.js';

const TERMINAL = new Set(['success', 'failed', 'stopped', 'canceled', 'skipped']);
const SPINNING = new Set(['queued', 'running', 'retrying']);
const BUSY = new Set(['queued', 'running']); // Run Now is disabled while these are shown
// Who started the run, when it was not a person (shown beside the status).
const TRIGGER_LABELS = { schedule: 'scheduled', retry: 'retry' };
const TRIGGER_TITLES = { schedule: 'started by the schedule', retry: 'a retry after a failed attempt' };

export const isTerminal = (status) => TERMINAL.has(status);

const canRun = () => document.body.dataset.canRun === '1';
const canEdit = () => document.body.dataset.canEdit === '1';

let rowsChanged = () => {};

/** Call ``listener(tr)`` after a row was added or changed, ``listener(null)`` after
 * rows were removed or re-rendered (the filters use it). */
export function onRowsChanged(listener) {
  rowsChanged = listener;
}

function tbody() {
  return document.querySelector('#tasks tbody');
}

export function findRow(taskId) {
  return tbody().querySelector(`tr[data-task-id="${CSS.escape(String(taskId))}"]`);
}

export function taskRows() {
  return [...tbody().querySelectorAll('tr[data-task-id]')];
}

function columnCount() {
  return document.querySelectorAll('#tasks thead th').length || 1;
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
    td.colSpan = columnCount();
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

function rowButton(className, testid, text, taskId) {
  const button = el('button', className, testid);
  button.type = 'button';
  button.dataset.taskId = String(taskId);
  button.textContent = text;
  return button;
}

function timeCell(className, testid) {
  const td = el('td', className, testid);
  td.append(document.createElement('time'));
  return td;
}

function nameCell(taskId) {
  const td = el('td', 'col-name');
  const link = el('a', 'task-link', 'task-link');
  link.href = historyUrl(taskId);
  td.append(link);
  return td;
}

function statusCell() {
  const td = el('td', 'col-status');
  const spinner = el('span', 'spinner');
  spinner.setAttribute('aria-hidden', 'true');
  const link = el('a', 'run-link', 'run-link');
  link.append(el('span', 'badge', 'status'));
  const retry = el('span', 'retry-info', 'retry-info');
  retry.hidden = true;
  const trigger = el('span', 'trigger', 'trigger');
  trigger.hidden = true;
  td.append(spinner, ' ', link, ' ', retry, ' ', trigger, createProgress());
  return td;
}

function enabledCell(taskId) {
  const td = el('td', 'col-enabled');
  if (canRun()) {
    // Operators and admins switch it; the server refuses viewers anyway (403).
    const toggle = el('input', 'switch enabled-toggle', 'enabled-toggle');
    toggle.type = 'checkbox';
    toggle.setAttribute('role', 'switch');
    toggle.dataset.taskId = String(taskId);
    td.append(toggle);
  } else {
    td.append(el('span', 'enabled-text', 'enabled-text'));
  }
  return td;
}

function actionsCell(taskId) {
  const td = el('td', 'col-actions');
  const box = el('div', 'row-actions');
  if (canRun()) {
    const stop = rowButton('btn btn-small btn-stop stop-run', 'stop-run', 'Stop', taskId);
    stop.hidden = true;
    box.append(rowButton('run-now', 'run-now', 'Run Now', taskId), stop);
  }
  if (canEdit()) {
    box.append(
      rowButton('btn btn-small edit-task', 'edit-task', 'Edit', taskId),
      rowButton('btn btn-small btn-quiet-danger delete-task', 'delete-task', 'Delete', taskId),
    );
  }
  td.append(box);
  return td;
}

/** The row's cells, in column order (the template's task_row macro has the same). */
const CELLS = [
  nameCell,
  () => el('td', 'col-kind'),
  () => el('td', 'col-schedule', 'schedule'),
  statusCell,
  () => timeCell('col-last-run'),
  () => timeCell('col-next-run', 'next-run'),
  () => el('td', 'col-duration'),
  enabledCell,
  actionsCell,
];

/** An empty row for a task id, with the cells fillTask and renderRun expect. */
function createRow(taskId) {
  const tr = el('tr', '', 'task-row');
  tr.dataset.taskId = String(taskId);
  tr.dataset.runId = '';
  tr.dataset.runStatus = '';
  tr.append(...CELLS.map((cell) => cell(taskId)));
  return tr;
}

const rowName = (tr) => tr.querySelector('.col-name')?.textContent || '';

/** Show a task's name (a link to its history page) in its row. */
function setName(tr, name) {
  const cell = tr.querySelector('.col-name');
  let link = cell.querySelector('.task-link');
  if (!link) {
    link = el('a', 'task-link', 'task-link');
    link.href = historyUrl(tr.dataset.taskId);
    cell.replaceChildren(link);
  }
  link.textContent = name ?? '';
}

/** Put a row where the server's order (by name) would have it. */
function placeRow(tr) {
  const name = rowName(tr);
  const before = taskRows().find((other) => other !== tr && rowName(other) > name);
  if (before) tbody().insertBefore(tr, before);
  else tbody().append(tr);
  syncEmptyRow();
}

function setTime(timeEl, iso, emptyTitle = '') {
  if (iso) {
    timeEl.dateTime = iso;
    timeEl.title = iso;
    timeEl.textContent = relativeTime(iso);
  } else {
    timeEl.removeAttribute('datetime');
    timeEl.title = emptyTitle;
    timeEl.textContent = '—';
  }
}

function renderNextRun(tr, task) {
  const time = tr.querySelector('.col-next-run time');
  if (!time) return;
  if (task.enabled === false) setTime(time, null, 'disabled: not scheduled');
  else setTime(time, task.next_run_at, task.schedule ? 'no further fire' : 'manual: runs on Run Now only');
}

/** The task's own fields: name (description as its title), kind, schedule, next run, enabled. */
function fillTask(tr, task) {
  const name = tr.querySelector('.col-name');
  if (task.name !== undefined) setName(tr, task.name);
  if (task.description !== undefined) name.title = task.description || '';
  if (task.kind !== undefined) {
    tr.querySelector('.col-kind').textContent = task.kind || '';
    tr.dataset.kind = task.kind || '';
  }
  if (task.schedule !== undefined) {
    const text = scheduleText(task.schedule, task.timezone);
    const cell = tr.querySelector('.col-schedule');
    cell.textContent = text;
    cell.title = text;
  }
  if (task.enabled !== undefined) {
    tr.classList.toggle('task-disabled', !task.enabled);
    tr.dataset.enabled = task.enabled ? '1' : '0';
    const toggle = tr.querySelector('input.enabled-toggle');
    if (toggle) {
      toggle.checked = Boolean(task.enabled);
      toggle.setAttribute('aria-label', `Enabled: ${task.name ?? rowName(tr)}`);
      toggle.title = task.enabled ? 'Enabled: click to disable' : 'Disabled: click to enable';
    }
    const text = tr.querySelector('.enabled-text');
    if (text) text.textContent = task.enabled ? 'on' : 'off';
  }
  if (task.next_run_at !== undefined || task.enabled !== undefined) renderNextRun(tr, task);
}

/** Render a run (or {} for none) into the row; the row remembers its run id, status and trigger. */
function renderRun(tr, run, fallback = {}) {
  const status = run.status || fallback.last_status || '';
  tr.dataset.runId = run.id ?? run.run_id ?? '';
  tr.dataset.runStatus = status;
  tr.dataset.runTrigger = run.trigger || '';
  tr.dataset.runAttempt = run.attempt ?? '';

  const badge = tr.querySelector('[data-testid="status"]');
  setBadge(badge, status);
  badge.title = run.error || (run.status ? '' : fallback.last_error || '');
  const link = tr.querySelector('.run-link');
  if (link) {
    if (tr.dataset.runId !== '') {
      link.href = runUrl(tr.dataset.runId);
      link.title = `Run #${tr.dataset.runId}: details and output`;
    } else {
      link.removeAttribute('href');
      link.removeAttribute('title');
    }
  }
  const retry = tr.querySelector('.retry-info');
  if (retry) {
    const text = retryText({ ...run, status });
    retry.hidden = !text;
    retry.textContent = text;
    retry.title = text && run.error ? `attempt failed: ${run.error}` : '';
  }

  const trigger = tr.querySelector('.trigger');
  const label = TRIGGER_LABELS[run.trigger];
  trigger.hidden = !label;
  trigger.textContent = label || '';
  trigger.title = TRIGGER_TITLES[run.trigger] || '';

  tr.querySelector('.spinner').hidden = !SPINNING.has(status);
  renderProgress(tr.querySelector('.progress'), { ...run, status });

  const at = run.finished_at || run.started_at || run.queued_at || fallback.last_run_at;
  setTime(tr.querySelector('.col-last-run time'), at);
  tr.querySelector('.col-duration').textContent = formatDuration(TERMINAL.has(status) ? run.duration_ms : null);
  updateRunButton(tr);
}

/** True when showing this run/status would move the row backwards (an older run, or
 * an earlier state of the run it shows: running -> retrying -> running again is forward,
 * the attempt number grows). */
function movesBackwards(tr, runId, status, attempt) {
  const shownId = tr.dataset.runId === '' ? null : Number(tr.dataset.runId);
  const shownStatus = tr.dataset.runStatus;
  if (shownId === null || Number.isNaN(runId)) return false;
  if (runId < shownId) return true;
  if (runId === shownId) {
    if (isTerminal(shownStatus) && !isTerminal(status)) return true;
    const shownAttempt = tr.dataset.runAttempt === '' ? null : Number(tr.dataset.runAttempt);
    if (runOrder({ status, attempt }) < runOrder({ status: shownStatus, attempt: shownAttempt })) return true;
  }
  return false;
}

/** Run Now is disabled while the run is queued/running or a Run Now request is in
 * flight; Stop shows while the run is queued, running or retrying. */
export function updateRunButton(tr) {
  const button = tr.querySelector('button.run-now');
  if (button) button.disabled = BUSY.has(tr.dataset.runStatus) || tr.dataset.requesting === '1';
  const stop = tr.querySelector('button.stop-run');
  if (stop) {
    const status = tr.dataset.runStatus;
    stop.hidden = !ACTIVE.has(status) || tr.dataset.runId === '';
    stop.dataset.runId = tr.dataset.runId;
    stop.disabled = tr.dataset.stopping === tr.dataset.runId && tr.dataset.runId !== '';
    stop.textContent = status === 'running' ? 'Stop' : 'Cancel';
    stop.title = stopTitle(status);
  }
}

/** Mark the row's Stop as in flight for ``runId`` (null: no longer). */
export function setStopping(tr, runId) {
  if (runId === null || runId === undefined) delete tr.dataset.stopping;
  else tr.dataset.stopping = String(runId);
  updateRunButton(tr);
}

export function setRequesting(tr, requesting) {
  if (requesting) tr.dataset.requesting = '1';
  else delete tr.dataset.requesting;
  updateRunButton(tr);
}

/** The enabled switch is disabled while its PATCH is in flight. */
export function setToggling(tr, toggling) {
  const toggle = tr.querySelector('input.enabled-toggle');
  if (toggle) toggle.disabled = toggling;
}

/**
 * Apply a task_update event to its row. Returns false when the event would move the
 * row's run backwards (an older run, or an earlier status of the same run).
 */
export function applyEvent(ev) {
  if (wasDeleted(ev.task_id)) return false;
  let tr = findRow(ev.task_id);
  if (!tr) {
    // A task this page has not seen yet (its task_changed was missed): show it with
    // what the event says; the next snapshot fills in the rest.
    tr = createRow(ev.task_id);
    setName(tr, ev.task_name ?? '');
    placeRow(tr);
  }
  // The event carries the task's fields after this change; live.js applies events in
  // seq order, so they are the newest even when the run shown is newer than ev's run.
  const fields = {};
  for (const key of ['last_run_at', 'next_run_at', 'last_status']) if (key in ev) fields[key] = ev[key];
  const task = patchTask(ev.task_id, fields);
  if ('next_run_at' in ev) renderNextRun(tr, task || { enabled: tr.dataset.enabled !== '0', next_run_at: ev.next_run_at, schedule: true });
  if (movesBackwards(tr, Number(ev.run_id), ev.status, ev.attempt)) {
    rowsChanged(tr);
    return false;
  }
  if (ev.task_name !== undefined && ev.task_name !== null && ev.task_name !== rowName(tr)) {
    fillTask(tr, { name: ev.task_name });
    placeRow(tr);
  }
  renderRun(tr, { ...ev, id: ev.run_id }, ev);
  rowsChanged(tr);
  return true;
}

/**
 * Show a task as the API or a task_changed event gives it (with ``last_run`` or not):
 * add its row or update it. Its run only moves forward. Returns the row, or null for a
 * task this page saw deleted.
 */
export function upsertTask(task) {
  if (wasDeleted(task.id)) return null;
  const stored = putTask(task);
  let tr = findRow(task.id);
  const fresh = !tr;
  if (fresh) tr = createRow(task.id);
  const renamed = !fresh && task.name !== undefined && task.name !== rowName(tr);
  fillTask(tr, stored);
  const run = task.last_run;
  if (fresh) renderRun(tr, run || {}, task);
  else if (run && !movesBackwards(tr, Number(run.id), run.status, run.attempt)) renderRun(tr, run, task);
  if (fresh || renamed) placeRow(tr);
  rowsChanged(tr);
  return tr;
}

/** Remove a deleted task's row; events about it are ignored from now on. */
export function removeTask(taskId) {
  forgetTask(taskId);
  findRow(taskId)?.remove();
  syncEmptyRow();
  rowsChanged(null);
}

/**
 * Replace the table's content with a snapshot of tasks (as the subscribe ack gives
 * them), in order. ``sentAt`` (performance.now() when the snapshot was asked for):
 * a task whose task_changed arrived after that is newer here than in the snapshot.
 */
export function renderSnapshot(tasks, sentAt = Infinity) {
  const body = tbody();
  const incoming = new Set(tasks.map((t) => String(t.id)));
  const keptNewer = [];
  for (const tr of taskRows()) {
    const id = tr.dataset.taskId;
    if (incoming.has(id)) continue;
    if (changedSince(id, sentAt) && getTask(id)) keptNewer.push(tr); // created meanwhile
    else {
      forgetTask(id);
      tr.remove();
    }
  }
  for (const task of tasks) {
    if (wasDeleted(task.id)) continue;
    const local = changedSince(task.id, sentAt) ? getTask(task.id) : null;
    const fields = local || putTask(task);
    const tr = findRow(task.id) || createRow(task.id);
    fillTask(tr, fields);
    renderRun(tr, task.last_run || {}, task);
    body.append(tr); // appending an existing row moves it into snapshot order
  }
  for (const tr of keptNewer) placeRow(tr);
  syncEmptyRow();
  rowsChanged(null);
}

/** Read the tasks the server rendered into the rows (data-task, data-run) into the
 * store, and fill the rows the same way rows added live are filled. */
export function loadRenderedRows() {
  for (const tr of taskRows()) {
    if (!tr.dataset.task) continue;
    try {
      const task = putTask(JSON.parse(tr.dataset.task));
      fillTask(tr, task);
      const run = tr.dataset.run ? JSON.parse(tr.dataset.run) : null;
      renderRun(tr, run || {}, task);
    } catch {
      // a row without readable data keeps its server-rendered cells
    }
    delete tr.dataset.task;
    delete tr.dataset.run;
  }
  rowsChanged(null);
}

/** Briefly highlight a row that changed elsewhere. */
export function flashRow(tr) {
  if (!tr) return;
  tr.classList.remove('row-flash');
  void tr.offsetWidth; // restart the animation
  tr.classList.add('row-flash');
  tr.addEventListener('animationend', () => tr.classList.remove('row-flash'), { once: true });
}

/** Re-render every "x min ago" text from its datetime attribute; no network involved. */
export function tickRelativeTimes() {
  for (const time of document.querySelectorAll('#tasks time[datetime]')) {
    time.textContent = relativeTime(time.getAttribute('datetime'));
  }
}
