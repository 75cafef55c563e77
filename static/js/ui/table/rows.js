// The task table's update rules: apply a task_update, show a task (API, task_changed),
// remove one, replace everything with a snapshot, and adopt the rows the server
// rendered. A row's run only moves forward (live/run_order.js); deleted tasks stay gone.

import { movesBackwards } from '../../live/run_order.js';
import { createRow, findRow, placeRow, rowName, syncEmptyRow, taskRows, appendRow } from './row_markup.js';
import { fillTask, renderNextRun, renderRun, shownRun } from './row_fill.js';
import { changedSince, forgetTask, getTask, patchTask, putTask, wasDeleted } from './task_store.js';

export { findRow, taskRows } from './row_markup.js';

let rowsChanged = () => {};

/** Call ``listener(tr)`` after a row was added or changed, ``listener(null)`` after
 * rows were removed or re-rendered (the filters use it). */
export function onRowsChanged(listener) {
  rowsChanged = listener;
}

const backwards = (tr, run) => movesBackwards(shownRun(tr), { id: run.id, status: run.status, attempt: run.attempt });

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
    fillTask(tr, { name: ev.task_name ?? '' });
    placeRow(tr);
  }
  // The event carries the task's fields after this change; events come in seq order,
  // so they are the newest even when the run shown is newer than the event's run.
  const fields = {};
  for (const key of ['last_run_at', 'next_run_at', 'last_status']) if (key in ev) fields[key] = ev[key];
  const task = patchTask(ev.task_id, fields);
  if ('next_run_at' in ev) renderNextRun(tr, task || { enabled: tr.dataset.enabled !== '0', next_run_at: ev.next_run_at, schedule: true });
  if (backwards(tr, { ...ev, id: ev.run_id })) {
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
  else if (run && !backwards(tr, run)) renderRun(tr, run, task);
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
    appendRow(tr); // appending an existing row moves it into snapshot order
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
