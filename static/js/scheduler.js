// Entry point of the scheduler page. Data comes from <body data-*> (templates/scheduler.html);
// rows stay current through Socket.IO only (live.js).

import { createConnectionIndicator } from './connection.js';
import { formatDuration } from './format.js';
import { createLive } from './live.js';
import { applyEvent, findRow, isTerminal, renderSnapshot, setRequesting, tickRelativeTimes } from './table.js';
import { showToast } from './toast.js';

const RELATIVE_TIME_TICK_MS = 15000;

const { dataset } = document.body;
const apiBase = (dataset.apiBase || '/api').replace(/\/+$/, '');
const moduleUrl = dataset.socketioModuleUrl;
const headSeq = /^\d+$/.test(dataset.headSeq || '') ? Number(dataset.headSeq) : null;

const indicator = createConnectionIndicator();
let live = null;

// The only global: a read-only handle for tests.
window.taskpulse = {
  get lastSeq() {
    return live ? live.lastSeq : headSeq;
  },
  get socket() {
    return live ? live.socket : null;
  },
};

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

const handlers = {
  event(ev, isLive) {
    applyEvent(ev);
    // Every live terminal event is a run that just ended, even one the row no longer shows.
    if (isLive && isTerminal(ev.status)) toastForEvent(ev);
  },
  snapshot: renderSnapshot,
  state: (name, message) => indicator.setState(name, message),
  synced: () => indicator.markSynced(),
  error: (message) => indicator.showError(message),
};

async function startLive() {
  if (!moduleUrl) {
    indicator.setState('offline', 'no Socket.IO client configured');
    return;
  }
  indicator.setState('reconnecting', 'connecting');
  try {
    const { io } = await import(moduleUrl);
    live = createLive(io, { headSeq, on: handlers });
  } catch (err) {
    indicator.setState('offline', `cannot load the Socket.IO client: ${err.message}`);
  }
}

function csrfHeaders() {
  const token = document.querySelector('meta[name="csrf-token"]')?.content;
  return token ? { 'X-CSRFToken': token } : {};
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body?.error?.message) return body.error.message;
  } catch {
    // not JSON (a proxy error page, say): fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

async function runNow(button) {
  const tr = button.closest('tr');
  const taskId = button.dataset.taskId;
  const name = tr?.querySelector('.col-name')?.textContent || `Task ${taskId}`;
  if (tr) setRequesting(tr, true);
  try {
    const response = await fetch(`${apiBase}/tasks/${encodeURIComponent(taskId)}/run`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...csrfHeaders() },
      body: '{}',
      credentials: 'same-origin',
    });
    // A redirect here means the session ended and we were sent to the login page.
    if (response.redirected) showToast('failed', `${name}: not signed in, reload the page`);
    else if (!response.ok) showToast('failed', `${name}: ${await errorMessage(response)}`);
    // 202: nothing else to do, the task_update event updates the row.
  } catch (err) {
    showToast('failed', `${name}: network error (${err.message})`);
  } finally {
    // The row may have been re-rendered meanwhile; update whichever row shows the task now.
    const row = findRow(taskId);
    if (row) setRequesting(row, false);
  }
}

document.getElementById('tasks').addEventListener('click', (event) => {
  const button = event.target.closest('button.run-now');
  if (button && !button.disabled) runNow(button);
});

document.getElementById('refresh').addEventListener('click', () => {
  if (!live || !live.refresh()) indicator.showError('not connected: cannot refresh');
});

document.getElementById('reconnect').addEventListener('click', () => {
  if (live) live.reconnect();
  else startLive();
});

tickRelativeTimes();
// Local re-render of "x min ago" texts; it makes no network call.
setInterval(tickRelativeTimes, RELATIVE_TIME_TICK_MS);
startLive();
