// The run detail page (/runs/<id>): the run's header kept live from task_update
// (room task:<task_id>) and its output as a log that follows new lines (room
// run:<id>: the subscribe ack brings the lines so far, then run_output events).
// No REST call except Stop; the only timer re-renders the running duration locally.

import { openLive } from '../live/connection.js';
import { runOrder } from '../live/run_order.js';
import { createConnectionIndicator } from '../ui/connection_indicator.js';
import { showInstant } from '../ui/dom.js';
import { elapsedText, formatDuration, parseIso } from '../ui/format.js';
import { createLineHighlighter, queryFromLocation } from '../ui/output_search.js';
import {
  attemptText,
  isActive,
  isTerminalStatus,
  renderProgress,
  retryText,
  setBadge,
  stopRun,
  stopTitle,
} from '../ui/runs.js';
import { wireRunAgain } from '../ui/run_again.js';
import { mountRunChildren } from '../ui/run_children.js';
import { showToast } from '../ui/toast.js';
import { triggerPhrase } from '../ui/vocabulary.js';

const MAX_DOM_LINES = 5000; // the oldest lines leave the page past this many
const BOTTOM_SLACK_PX = 8; // this close to the bottom counts as "at the bottom"
const TICK_MS = 1000;
const RUN_FIELDS = ['status', 'trigger', 'progress', 'progress_message', 'attempt', 'max_attempts',
  'next_attempt_at', 'queued_at', 'started_at', 'finished_at', 'duration_ms', 'error'];

const { dataset } = document.body;
const runId = Number(dataset.runId);
const taskId = Number(dataset.taskId);
const canRun = dataset.canRun === '1';
const header = document.getElementById('run-header');
const logBox = document.getElementById('log');
const logEmpty = document.querySelector('[data-testid="log-empty"]');
const logCount = document.querySelector('[data-testid="log-count"]');
const followButton = document.getElementById('follow');
const stopButton = document.getElementById('stop-run');
const indicator = createConnectionIndicator();
const q = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const children = mountRunChildren(q('run-children-box'), runId);

// --- the run's header -------------------------------------------------------------------

let run = JSON.parse(header.dataset.run || '{}');
delete header.dataset.run;
let runSeq = -1; // seq of the task_update shown (-1: a state without seq)
const headSeq = /^\d+$/.test(dataset.headSeq || '') ? Number(dataset.headSeq) : null; // room task:<id>
let stopping = false;
let taskName = q('run-task-name').textContent;

const setTime = (testid, iso) => showInstant(q(testid), iso);

function durationText() {
  if (isTerminalStatus(run.status)) return formatDuration(run.duration_ms);
  const started = parseIso(run.started_at);
  if (Number.isNaN(started)) return '—';
  return `${elapsedText(Date.now() - started)} so far`;
}

function renderRun() {
  const { status } = run;
  document.body.dataset.runStatus = status;
  header.dataset.status = status;
  setBadge(q('run-status'), status);
  document.querySelector('.run-status-line .spinner').hidden = !isActive(status);
  const retry = q('retry-info');
  retry.textContent = retryText(run);
  retry.hidden = !retry.textContent;
  renderProgress(q('run-progress'), run);
  q('run-trigger').textContent = run.trigger ? `${run.trigger} (${triggerPhrase(run.trigger)})` : '—';
  q('run-attempt').textContent = attemptText(run) ? `${run.attempt} of ${run.max_attempts}` : '1 of 1';
  setTime('run-queued', run.queued_at);
  setTime('run-started', run.started_at);
  setTime('run-finished', run.finished_at);
  q('run-duration').textContent = durationText();
  q('run-worker').textContent = run.worker || '—';
  q('run-exit-code').textContent = run.exit_code === null || run.exit_code === undefined ? '—' : String(run.exit_code);
  const error = q('run-error');
  error.textContent = run.error ? (status === 'retrying' ? `Attempt ${run.attempt} failed: ${run.error}` : run.error) : '';
  error.hidden = !run.error;
  error.classList.toggle('run-error-soft', status === 'retrying' || status === 'canceled' || status === 'skipped' || status === 'stopped');
  if (stopButton) {
    stopButton.hidden = !canRun || !isActive(status);
    stopButton.textContent = status === 'running' ? 'Stop' : 'Cancel';
    stopButton.title = stopTitle(status);
    stopButton.disabled = stopping;
  }
  document.title = `Run #${runId} of ${taskName} (${status}) · Taskpulse`;
}

/**
 * Show a newer state of the run. ``seq`` is the task_update's seq (events are applied
 * in seq order), or null for a state without one (the run in a subscribe ack), which
 * is taken only if it is not behind what is shown.
 */
function applyRun(next, seq) {
  if (seq !== null && seq <= runSeq) return false;
  if (isTerminalStatus(run.status) && !isTerminalStatus(next.status)) return false;
  if (runOrder(next) < runOrder(run)) return false;
  const wasActive = isActive(run.status);
  run = { ...run, ...next };
  if (seq !== null) runSeq = seq;
  if (!isActive(run.status)) stopping = false;
  renderRun();
  if (wasActive && isTerminalStatus(run.status)) runEnded();
  return true;
}

function fromEvent(ev) {
  const next = {};
  for (const key of RUN_FIELDS) if (key in ev) next[key] = ev[key];
  return next;
}

function applyEvent(ev) {
  if (Number(ev.run_id) !== runId) return;
  if (ev.task_name && ev.task_name !== taskName) setTaskName(ev.task_name);
  applyRun(fromEvent(ev), ev.seq);
}

function setTaskName(name) {
  taskName = name;
  q('run-task-name').textContent = name;
  q('task-history-link').textContent = name;
  renderRun();
}

// --- the log ------------------------------------------------------------------------------

let lastN = 0; // the highest line number shown
let shownLines = 0;
let following = true;
let unseen = 0; // lines added while not following
let complete = false;
const highlighter = createLineHighlighter(queryFromLocation(window.location.search));

function renderFollow() {
  followButton.dataset.following = following ? '1' : '0';
  followButton.setAttribute('aria-pressed', following ? 'true' : 'false');
  followButton.classList.toggle('follow-paused', !following);
  if (following) followButton.textContent = complete ? 'At the end' : 'Following';
  else followButton.textContent = unseen ? `Paused · ${unseen} new ${unseen === 1 ? 'line' : 'lines'} ↓` : 'Paused · jump to end ↓';
  followButton.title = following
    ? 'New lines scroll into view while you are at the bottom; scroll up to pause'
    : 'Scroll to the newest line and follow again';
}

function setFollowing(value) {
  if (value === following) return;
  following = value;
  if (following) unseen = 0;
  renderFollow();
}

function atBottom() {
  return logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight <= BOTTOM_SLACK_PX;
}

function scrollToEnd() {
  logBox.scrollTop = logBox.scrollHeight;
}

function lineNode(line) {
  const div = document.createElement('div');
  const stream = ['stdout', 'stderr', 'system'].includes(line.stream) ? line.stream : 'plain';
  div.className = `log-line log-${stream}`;
  div.dataset.n = String(line.n);
  div.dataset.testid = 'log-line';
  div.textContent = line.text ?? '';
  return div;
}

function noteNode(text) {
  const div = document.createElement('div');
  div.className = 'log-line log-gap';
  div.dataset.testid = 'log-gap';
  div.textContent = text;
  return div;
}

function renderCount() {
  logCount.textContent = `${lastN.toLocaleString()} ${lastN === 1 ? 'line' : 'lines'}`;
  logCount.dataset.last = String(lastN);
  logEmpty.hidden = lastN > 0 || logBox.childElementCount > 0;
  if (!logEmpty.hidden) logEmpty.textContent = complete ? 'This run printed nothing.' : 'Waiting for output…';
}

/** Append lines after the last one shown (in order, each once: the room's
 * subscription sees to it); a jump in ``n`` is marked in the log, since lines the
 * server no longer keeps will not come. */
function appendLines(lines) {
  const fresh = lines.filter((line) => line.n > lastN);
  if (!fresh.length) return;
  const fragment = document.createDocumentFragment();
  let count = 0;
  for (const line of fresh) {
    if (line.n <= lastN) continue; // a repeat inside the batch
    if (line.n > lastN + 1) {
      const missing = line.n - lastN - 1;
      fragment.append(noteNode(lastN === 0
        ? `… ${missing.toLocaleString()} earlier ${missing === 1 ? 'line is' : 'lines are'} no longer kept`
        : `… ${missing.toLocaleString()} ${missing === 1 ? 'line' : 'lines'} (${lastN + 1}–${line.n - 1}) no longer kept`));
    }
    fragment.append(lineNode(line));
    lastN = line.n;
    count += 1;
  }
  const stick = following;
  logBox.append(fragment);
  shownLines += count;
  while (shownLines > MAX_DOM_LINES && logBox.firstElementChild) {
    if (logBox.firstElementChild.classList.contains('log-line') && !logBox.firstElementChild.classList.contains('log-gap')) shownLines -= 1;
    logBox.firstElementChild.remove();
  }
  if (shownLines >= MAX_DOM_LINES && !logBox.querySelector('.log-trimmed')) {
    const note = noteNode('… older lines are not shown here (the page keeps the newest 5,000)');
    note.classList.add('log-trimmed');
    logBox.prepend(note);
  }
  if (stick) scrollToEnd();
  else unseen += count;
  if (highlighter.scan(logBox)) setFollowing(false); // opened from a search: ?q=
  renderCount();
  renderFollow();
}

// --- Socket.IO ------------------------------------------------------------------------------

let live = null;
let runRoom = null;

/** The run:<id> ack: the run's fields as they are now, and whether its output is complete. */
function outputAck(ack) {
  if (ack.run) applyRun(ack.run, null);
  complete = Boolean(ack.output?.complete);
  renderCount();
  renderFollow();
  indicator.markSynced();
}

/** The run just ended: fetch its last lines (and final fields) once over the socket. */
function runEnded() {
  complete = true;
  renderFollow();
  runRoom?.resubscribe();
}

async function stopClicked() {
  stopping = true;
  renderRun();
  const result = await stopRun(runId);
  if (result.ok) return; // stopped/canceled arrives as a task_update
  stopping = false;
  renderRun();
  if (result.status === 409) showToast('neutral', 'The run had already ended.');
  else showToast('failed', `Cannot stop the run: ${result.error.message}`);
}

async function start() {
  live = await openLive(indicator);
  if (!live) return;
  // Lines by n: a jump asks again with after = the last line shown.
  runRoom = live.room({
    room: `run:${runId}`,
    cursor: 0,
    apply: (entries) => appendLines(entries.map(({ item }) => item)),
    ack: outputAck,
    refused: (message) => indicator.showError(message),
  });
  // The run's status, replayed from the task's seq when the page was rendered.
  live.room({
    room: `task:${taskId}`,
    cursor: headSeq,
    apply: (entries) => entries.forEach(({ item }) => applyEvent(item)),
    ack: () => indicator.markSynced(),
    refused: (message) => indicator.showError(message),
  });
  // The runs this run's end starts (its chain): their events come in room "tasks".
  if (dataset.chains === '1') {
    live.room({
      room: 'tasks',
      cursor: headSeq,
      apply: (entries) => entries.forEach(({ item }) => children.apply(item)),
      refused: (message) => indicator.showError(message),
    });
  }
  live.on('task_changed', (change) => {
    if (Number(change.task_id) !== taskId) return;
    if (change.action === 'deleted') q('task-deleted').hidden = false;
    else if (change.task?.name && change.task.name !== taskName) setTaskName(change.task.name);
  });
}

document.getElementById('reconnect').addEventListener('click', () => {
  if (live) live.reconnect();
  else start();
});
logBox.addEventListener('scroll', () => setFollowing(atBottom()));
followButton.addEventListener('click', () => {
  setFollowing(true);
  scrollToEnd();
});
stopButton?.addEventListener('click', () => {
  if (!stopButton.disabled) stopClicked();
});
// Local only: the running duration ticks; no request.
setInterval(() => {
  if (isActive(run.status)) q('run-duration').textContent = durationText();
}, TICK_MS);

// A read-only handle for tests.
window.taskpulse = {
  get socket() {
    return live ? live.socket : null;
  },
  get lastLine() {
    return lastN;
  },
  get following() {
    return following;
  },
};

renderRun();
renderCount();
renderFollow();
start();

wireRunAgain(document.getElementById('run-again'));
