// Entry point of the scheduler page. Data comes from <body data-*> (templates/scheduler.html);
// rows and panels stay current through Socket.IO only (live/: room "tasks", in batches,
// with a snapshot on every reconnect, since task_changed and scheduler_state are not
// replayed). The API is called only
// when the user does something: Run Now, Stop, the enabled switch, pause, save or
// delete a task.

import { apiRequest } from '../api.js';
import { openLive } from '../live/connection.js';
import { createConfirmDialog } from '../ui/confirm_dialog.js';
import { createConnectionIndicator } from '../ui/connection_indicator.js';
import { flash } from '../ui/flash.js';
import { formatDuration } from '../ui/format.js';
import { createPanels } from '../ui/panels.js';
import { isTerminalStatus, stopRun } from '../ui/runs.js';
import { createSchedulerPause } from '../ui/scheduler_pause.js';
import { applyBadges, refreshBadges } from '../ui/table/alert_badges.js';
import { mountGroupsPanel } from '../ui/groups_panel.js';
import { createFilters } from '../ui/table/filters.js';
import { applyQueues } from '../ui/table/queue_notes.js';
import { setRequesting, setStopping, setToggling, tickRelativeTimes } from '../ui/table/row_fill.js';
import {
  applyEvent,
  findRow,
  loadRenderedRows,
  onRowsChanged,
  removeTask,
  renderSnapshot,
  taskRows,
  upsertTask,
} from '../ui/table/rows.js';
import { getTask, markChanged } from '../ui/table/task_store.js';
import { mountOutputSearch } from '../ui/output_search.js';
import { openRunWith } from '../ui/run_with.js';
import { createTaskDialog } from '../ui/task_dialog.js';
import { showToast } from '../ui/toast.js';

const RELATIVE_TIME_TICK_MS = 15000;

const { dataset } = document.body;
const headSeq = /^\d+$/.test(dataset.headSeq || '') ? Number(dataset.headSeq) : null;

const indicator = createConnectionIndicator();
const filters = createFilters();
const panels = createPanels();
const groupsPanel = mountGroupsPanel(document.getElementById('groups'));

function parseAlerts(text) {
  try {
    return JSON.parse(text || '{}');
  } catch {
    return {};
  }
}

function countTasks() {
  if (!panels) return;
  const rows = taskRows();
  panels.setTaskCounts(rows.length, rows.filter((tr) => tr.dataset.enabled !== '0').length);
}

onRowsChanged((tr) => {
  refreshBadges(tr ? [tr] : taskRows());
  filters.apply(tr);
  countTasks();
});
applyBadges(parseAlerts(dataset.alerts), []);
applyQueues(parseAlerts(dataset.queues || 'null'), []);
loadRenderedRows();
const pause = createSchedulerPause();
const confirmDialog = createConfirmDialog();
const taskDialog = createTaskDialog({ getTask, onSaved: taskSaved });
let live = null;
let tasksRoom = null;

// The only global: a read-only handle for tests.
window.taskpulse = {
  get lastSeq() {
    return tasksRoom ? tasksRoom.cursor : headSeq;
  },
  get socket() {
    return live ? live.socket : null;
  },
};

const taskName = (taskId) => getTask(taskId)?.name || findRow(taskId)?.querySelector('.col-name')?.textContent || `Task ${taskId}`;

function toastForEvent(ev) {
  const name = ev.task_name || `Task ${ev.task_id}`;
  const detail = ev.error ? `: ${ev.error}` : '';
  switch (ev.status) {
    case 'success':
      showToast('success', ev.duration_ms == null ? `${name} succeeded` : `${name} succeeded in ${formatDuration(ev.duration_ms)}`);
      break;
    case 'failed':
      showToast('failed', `${name} failed${detail}`);
      break;
    default: // stopped, canceled, skipped
      showToast('neutral', `${name} ${ev.status}${detail}`);
  }
}

/** A task_changed event: created / updated (the task with last_run) / deleted. */
function taskChanged(change) {
  const id = change.task_id ?? change.task?.id;
  if (id === undefined || id === null) return;
  markChanged(id);
  if (change.action === 'deleted') {
    taskDialog?.taskDeleted(id);
    removeTask(id);
    return;
  }
  if (!change.task) return;
  taskDialog?.taskChanged(change.task);
  flash(upsertTask(change.task));
}

/** Apply the events of the stream, in seq order; ``live`` is false for a replay. */
function applyEvents(entries) {
  for (const { item: ev, live: isLive } of entries) {
    applyEvent(ev);
    panels?.apply(ev);
    // Every live terminal event is a run that just ended, even one the row no longer shows.
    if (isLive && isTerminalStatus(ev.status)) toastForEvent(ev);
  }
}

/** A snapshot came with the ack: it is the state as of head (or later), so it drops
 * deleted tasks and covers anything a truncated replay left out. */
function applyAck(ack, { snapshot, sentAt }) {
  if (!snapshot || !Array.isArray(ack.tasks)) return;
  renderSnapshot(ack.tasks, sentAt);
  if (ack.alerts) applyBadges(ack.alerts, taskRows());
  if ('queues' in ack) applyQueues(ack.queues, taskRows());
  if (ack.scheduler) pause.apply(ack.scheduler, sentAt);
  if (ack.panels && panels) {
    panels.load(ack.panels);
    countTasks();
  }
}

async function startLive() {
  live = await openLive(indicator);
  if (!live) return;
  tasksRoom = live.room({
    room: 'tasks',
    cursor: headSeq,
    extra: { batch: true },
    snapshotOnReconnect: true,
    apply: applyEvents,
    ack: applyAck,
    // A refusal (the database away, a rate limit) is shown until the room syncs again.
    synced: () => {
      indicator.markSynced();
      indicator.showError('');
    },
    refused: (message) => indicator.showError(message),
  });
  live.on('task_changed', taskChanged);
  live.on('scheduler_state', (state) => pause.apply(state));
  live.on('task_alerts', (notice) => applyBadges(notice.alerts, taskRows()));
  live.on('worker_queues', (notice) => applyQueues(notice.queues, taskRows()));
  live.on('concurrency', (notice) => groupsPanel?.apply(notice.concurrency));
}

// --- row actions ----------------------------------------------------------------------

async function runNow(button) {
  const taskId = button.dataset.taskId;
  const name = taskName(taskId);
  if (await runWithParams(taskId, name)) return;
  const tr = button.closest('tr');
  if (tr) setRequesting(tr, true);
  try {
    const result = await apiRequest('POST', `/tasks/${encodeURIComponent(taskId)}/run`, { body: {} });
    // 202: nothing else to do, the task_update event updates the row.
    if (!result.ok) showToast('failed', `${name}: ${result.error.message}`);
  } finally {
    // The row may have been re-rendered meanwhile; update whichever row shows the task now.
    const row = findRow(taskId);
    if (row) setRequesting(row, false);
  }
}

/** A task with parameters opens the "Run with..." form instead; true when it did. */
async function runWithParams(taskId, name) {
  let task = getTask(taskId);
  if (!task) {
    const result = await apiRequest('GET', `/tasks/${encodeURIComponent(taskId)}`);
    task = result.ok ? result.data : null;
  }
  if (!task?.params?.length) return false;
  openRunWith(task, { onFailed: (error) => showToast('failed', `${name}: ${error.message}`) });
  return true;
}

async function stop(button) {
  const { runId, taskId } = button.dataset;
  if (!runId) return;
  const name = taskName(taskId);
  const tr = button.closest('tr');
  if (tr) setStopping(tr, runId);
  const result = await stopRun(runId);
  // On success the button stays disabled for this run: its stopped/canceled
  // task_update arrives live and hides it.
  if (result.ok) return;
  const row = findRow(taskId);
  if (row) setStopping(row, null);
  if (result.status === 409) showToast('neutral', `${name}: the run had already ended`);
  else showToast('failed', `${name}: cannot stop: ${result.error.message}`);
}

async function setEnabled(toggle) {
  const taskId = toggle.dataset.taskId;
  const wanted = toggle.checked;
  const tr = toggle.closest('tr');
  setToggling(tr, true);
  try {
    const result = await apiRequest('PATCH', `/tasks/${encodeURIComponent(taskId)}`, { body: { enabled: wanted } });
    if (result.ok) {
      upsertTask(result.data);
    } else {
      showToast('failed', `${taskName(taskId)}: cannot ${wanted ? 'enable' : 'disable'}: ${result.error.message}`);
      const row = findRow(taskId);
      const shown = row?.querySelector('input.enabled-toggle');
      if (shown) shown.checked = row.dataset.enabled !== '0'; // back to what the task is
    }
  } finally {
    const row = findRow(taskId);
    if (row) setToggling(row, false);
  }
}

function askDelete(taskId) {
  const name = taskName(taskId);
  confirmDialog.open({
    title: `Delete “${name}”?`,
    message: 'The task and its run history are deleted for everyone. This cannot be undone.',
    confirmLabel: 'Delete task',
    async action() {
      const result = await apiRequest('DELETE', `/tasks/${encodeURIComponent(taskId)}`);
      if (result.ok || result.status === 404) {
        removeTask(taskId); // 404: deleted elsewhere already
        return null;
      }
      return result.error.message;
    },
  });
}

async function editTask(taskId) {
  if (taskDialog.openEdit(taskId)) return;
  // A row that arrived through a task_update only: load its task once, on this click.
  const result = await apiRequest('GET', `/tasks/${encodeURIComponent(taskId)}`);
  if (result.ok) {
    upsertTask(result.data);
    taskDialog.openEdit(taskId);
  } else {
    showToast('failed', `${taskName(taskId)}: ${result.error.message}`);
  }
}

function taskSaved(task, created) {
  const tr = upsertTask(task);
  flash(tr);
  if (created && tr && tr.hidden) showToast('neutral', `Created “${task.name}”; the current filters hide it.`);
}

const table = document.getElementById('tasks');
table.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  if (!button || button.disabled) return;
  const taskId = button.dataset.taskId;
  if (button.classList.contains('run-now')) runNow(button);
  else if (button.classList.contains('stop-run')) stop(button);
  else if (button.classList.contains('edit-task') && taskDialog) editTask(taskId);
  else if (button.classList.contains('delete-task') && confirmDialog) askDelete(taskId);
});
table.addEventListener('change', (event) => {
  if (event.target.matches('input.enabled-toggle')) setEnabled(event.target);
});

document.getElementById('new-task')?.addEventListener('click', () => taskDialog?.openNew());

document.getElementById('refresh').addEventListener('click', () => {
  if (!tasksRoom || !tasksRoom.resubscribe({ snapshot: true })) indicator.showError('not connected: cannot refresh');
});

document.getElementById('reconnect').addEventListener('click', () => {
  if (live) live.reconnect();
  else startLive();
});

tickRelativeTimes();
// Local re-render of "x min ago" texts; it makes no network call.
setInterval(tickRelativeTimes, RELATIVE_TIME_TICK_MS);
startLive();
mountOutputSearch(document.querySelector('[data-testid="output-search"]'), apiRequest);
