// What every view of a run shares: statuses, links to the run and history pages,
// progress bars (<progress> elements: no inline style), the retrying line, the
// Stop request. (The "forward only" order of a run's states is live/run_order.js.)

import { apiRequest } from '../api.js';
import { ACTIVE, TERMINAL } from '../live/run_order.js';
import { clockTime, parseIso } from './format.js';

export { ACTIVE, TERMINAL };

/** Terminal statuses of runs that ran to an outcome (counted by the success rate). */
export const RATED = new Set(['success', 'failed', 'stopped']);

export const isActive = (status) => ACTIVE.has(status);
export const isTerminalStatus = (status) => TERMINAL.has(status);

/** A task_update that only reports progress (nothing else about the run changed). */
export const isProgressReport = (ev) => ev.status === 'running' && ev.progress !== null && ev.progress !== undefined;

const pageRoot = () => (document.body.dataset.pageRoot || '').replace(/\/+$/, '');

export const runUrl = (runId) => `${pageRoot()}/runs/${encodeURIComponent(runId)}`;
export const historyUrl = (taskId) => `${pageRoot()}/tasks/${encodeURIComponent(taskId)}/history`;

/** "40%", "40% · scanning host 3/7", or "" without progress. */
export function progressText(run) {
  if (run.progress === null || run.progress === undefined) return '';
  const pct = `${Math.round(Number(run.progress))}%`;
  return run.progress_message ? `${pct} · ${run.progress_message}` : pct;
}

/** True when the run shows a progress bar: running, with a reported progress. */
export const hasProgress = (run) => run.status === 'running' && run.progress !== null && run.progress !== undefined;

/**
 * A progress box: <span class="progress" data-testid="progress"><progress max=100>
 * <span class="progress-text">. Fill it with renderProgress().
 */
export function createProgress(testid = 'progress') {
  const box = document.createElement('span');
  box.className = 'progress';
  box.dataset.testid = testid;
  const bar = document.createElement('progress');
  bar.max = 100;
  const text = document.createElement('span');
  text.className = 'progress-text';
  box.append(bar, text);
  box.hidden = true;
  return box;
}

/** Show the run's progress in a box made by createProgress() (or the same markup
 * rendered by a template); hidden unless the run is running with a progress. */
export function renderProgress(box, run) {
  if (!box) return;
  const show = hasProgress(run);
  box.hidden = !show;
  const bar = box.querySelector('progress');
  const text = box.querySelector('.progress-text');
  if (!show) {
    delete box.dataset.value;
    if (text) text.textContent = '';
    return;
  }
  const value = Math.max(0, Math.min(100, Number(run.progress)));
  box.dataset.value = String(value);
  if (bar) {
    bar.value = value;
    bar.textContent = `${value}%`; // for browsers without <progress>
    bar.setAttribute('aria-label', run.progress_message ? `Progress: ${run.progress_message}` : 'Progress');
  }
  if (text) {
    text.textContent = progressText(run);
    text.title = run.progress_message || '';
  }
}

/** "attempt 2 of 3", or "" when the run has a single attempt. */
export function attemptText(run) {
  const max = Number(run.max_attempts);
  const attempt = Number(run.attempt);
  if (!Number.isInteger(max) || max <= 1 || !Number.isInteger(attempt)) return '';
  return `attempt ${attempt} of ${max}`;
}

/** A local wall-clock time hh:mm:ss for an ISO instant ("" if it does not parse). */
export function clockAt(iso) {
  const t = parseIso(iso);
  return Number.isNaN(t) ? '' : clockTime(new Date(t));
}

/** While retrying: "(attempt 1 of 3), next at 02:31:05" (beside a "retrying" badge). */
export function retryText(run) {
  if (run.status !== 'retrying') return '';
  const max = Number(run.max_attempts);
  const attempt = Number(run.attempt);
  const of = Number.isInteger(attempt) && Number.isInteger(max) ? `(attempt ${attempt} of ${max})` : '';
  const at = clockAt(run.next_attempt_at);
  const next = at ? `next at ${at}` : 'next attempt now';
  return of ? `${of}, ${next}` : next;
}

/** Set a status badge's class and text. */
export function setBadge(badge, status) {
  if (!badge) return;
  badge.className = `badge badge-${status || 'none'}`;
  badge.textContent = status || 'never run';
}

/**
 * POST /api/runs/<id>/stop (operators): stops a running run or cancels a queued or
 * retrying one. Resolves to apiRequest's ``{ ok, status, data, error }``; the new
 * status itself arrives as a task_update.
 */
export function stopRun(runId) {
  return apiRequest('POST', `/runs/${encodeURIComponent(runId)}/stop`, { body: {} });
}

/** The label of a Stop button for a run in this status. */
export function stopTitle(status) {
  return status === 'running' ? 'Stop this run' : 'Cancel this run before it runs';
}
