// Filling a task row: the task's own cells (name, kind, schedule, next run, enabled),
// its run's cells (status badge and link, retry line, trigger, progress, last run,
// duration) and the state of its buttons. The row remembers what it shows in data-*
// (data-run-id, data-run-status, data-run-trigger, data-run-attempt, data-kind,
// data-enabled), which the filters and the never-backwards rule read.

import { formatDuration, relativeTime, scheduleText } from '../format.js';
import { isActive, isTerminalStatus, renderProgress, retryText, runUrl, setBadge, stopTitle } from '../runs.js';
import { TASK_DEFAULTS, triggerPhrase, triggerTag } from '../vocabulary.js';
import { refreshQueueNote } from './queue_notes.js';
import { rowName } from './row_markup.js';

const BUSY = new Set(['queued', 'running']); // Run Now is disabled while these are shown

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

/** The next-run cell: when, or why there is none. */
export function renderNextRun(tr, task) {
  const time = tr.querySelector('.col-next-run time');
  if (!time) return;
  if (task.enabled === false) setTime(time, null, 'disabled: not scheduled');
  else setTime(time, task.next_run_at, task.schedule ? 'no further fire' : 'manual: runs on Run Now only');
}

/** The task's own fields, those of ``task`` that are present. */
export function fillTask(tr, task) {
  const name = tr.querySelector('.col-name');
  if (task.name !== undefined) name.querySelector('.task-link').textContent = task.name ?? '';
  if (task.description !== undefined) name.title = task.description || '';
  if (task.kind !== undefined) {
    tr.querySelector('.col-kind .kind-name').textContent = task.kind || '';
    tr.dataset.kind = task.kind || '';
  }
  if (task.queue !== undefined || task.tags !== undefined) fillQueue(tr, task);
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

/** The task's queue (when not the default one) and tags, under its kind; the row
 * remembers the queue (data-queue) for the "no worker" note (queue_notes.js). */
function fillQueue(tr, task) {
  const queue = task.queue ?? tr.dataset.queue ?? '';
  tr.dataset.queue = queue;
  const parts = [];
  if (queue && queue !== TASK_DEFAULTS.queue) parts.push(`queue ${queue}`);
  for (const tag of task.tags || []) parts.push(`#${tag}`);
  const meta = tr.querySelector('[data-testid="task-meta"]');
  if (meta) {
    meta.textContent = parts.join(' ');
    meta.hidden = parts.length === 0;
  }
  refreshQueueNote(tr);
}

/** The run the row shows, as the never-backwards rule compares runs. */
export function shownRun(tr) {
  return {
    id: tr.dataset.runId,
    status: tr.dataset.runStatus,
    attempt: tr.dataset.runAttempt === '' ? null : Number(tr.dataset.runAttempt),
  };
}

/** Render a run (or {} for none) into the row; ``fallback`` is the task (last_status...). */
export function renderRun(tr, run, fallback = {}) {
  const status = run.status || fallback.last_status || '';
  tr.dataset.runId = run.id ?? run.run_id ?? '';
  tr.dataset.runStatus = status;
  tr.dataset.runTrigger = run.trigger || '';
  tr.dataset.runAttempt = run.attempt ?? '';

  const badge = tr.querySelector('[data-testid="status"]');
  setBadge(badge, status);
  badge.title = run.error || (run.status ? '' : fallback.last_error || '');
  const link = tr.querySelector('.run-link');
  if (tr.dataset.runId !== '') {
    link.href = runUrl(tr.dataset.runId);
    link.title = `Run #${tr.dataset.runId}: details and output`;
  } else {
    link.removeAttribute('href');
    link.removeAttribute('title');
  }
  const retry = tr.querySelector('.retry-info');
  // A queued run off the queue says why it waits (a full concurrency group).
  const text = status === 'queued' && run.waiting ? run.waiting : retryText({ ...run, status });
  retry.hidden = !text;
  retry.textContent = text;
  retry.title = text && run.error ? `attempt failed: ${run.error}` : '';

  // Who started the run, when it was not a person.
  const trigger = tr.querySelector('.trigger');
  const tag = triggerTag(run.trigger);
  trigger.hidden = !tag;
  trigger.textContent = tag;
  trigger.title = tag ? triggerPhrase(run.trigger) : '';

  tr.querySelector('.spinner').hidden = !isActive(status);
  renderProgress(tr.querySelector('.progress'), { ...run, status });

  const at = run.finished_at || run.started_at || run.queued_at || fallback.last_run_at;
  setTime(tr.querySelector('.col-last-run time'), at);
  tr.querySelector('.col-duration').textContent = formatDuration(isTerminalStatus(status) ? run.duration_ms : null);
  updateRunButton(tr);
}

/** Run Now is disabled while the run is queued/running or a Run Now request is in
 * flight; Stop shows while the run is queued, running or retrying. */
export function updateRunButton(tr) {
  const button = tr.querySelector('button.run-now');
  if (button) button.disabled = BUSY.has(tr.dataset.runStatus) || tr.dataset.requesting === '1';
  const stop = tr.querySelector('button.stop-run');
  if (stop) {
    const status = tr.dataset.runStatus;
    stop.hidden = !isActive(status) || tr.dataset.runId === '';
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

/** Mark the row's Run Now as in flight (or no longer). */
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

/** Re-render every "x min ago" text from its datetime attribute; no network involved. */
export function tickRelativeTimes() {
  for (const time of document.querySelectorAll('#tasks time[datetime]')) {
    time.textContent = relativeTime(time.getAttribute('datetime'));
  }
}
