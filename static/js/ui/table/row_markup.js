// The task table's rows as elements: find them, make one, keep them in the server's
// order (by name), and the "No tasks yet" row. The markup itself has one source, the
// page's task_row macro (templates/taskpulse/scheduler.html): a new row is a clone of
// its blank copy in <template id="task-row-template">, filled by row_fill.js.

import { historyUrl } from '../runs.js';

const tbody = () => document.querySelector('#tasks tbody');

/** The row of a task, or null. */
export function findRow(taskId) {
  return tbody().querySelector(`tr[data-task-id="${CSS.escape(String(taskId))}"]`);
}

/** Every task row, in table order. */
export function taskRows() {
  return [...tbody().querySelectorAll('tr[data-task-id]')];
}

function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/** A blank row for a task id (the template's markup, addressed to this task). */
export function createRow(taskId) {
  const tr = cloneTemplate('task-row-template');
  const id = String(taskId);
  tr.dataset.taskId = id;
  for (const node of tr.querySelectorAll('[data-task-id]')) node.dataset.taskId = id;
  tr.querySelector('.task-link').href = historyUrl(id);
  return tr;
}

/** The name a row shows. */
export const rowName = (tr) => tr.querySelector('.col-name')?.textContent || '';

/** Show the "No tasks yet" row exactly when there is no task row. */
export function syncEmptyRow() {
  const body = tbody();
  const empty = body.querySelector('tr.empty-row');
  const hasTasks = body.querySelector('tr[data-task-id]') !== null;
  if (hasTasks && empty) empty.remove();
  if (!hasTasks && !empty) body.append(cloneTemplate('no-tasks-template'));
}

/** Put a row where the server's order (by name) would have it. */
export function placeRow(tr) {
  const name = rowName(tr);
  const before = taskRows().find((other) => other !== tr && rowName(other) > name);
  if (before) tbody().insertBefore(tr, before);
  else tbody().append(tr);
  syncEmptyRow();
}

/** Move rows into this order (a snapshot's), at the end of the table. */
export function appendRow(tr) {
  tbody().append(tr);
}
