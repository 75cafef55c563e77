// The run detail page (/runs/<id>): the run's header kept live from task_update
// (room task:<task_id>) and its output as a log that follows new lines (room
// run:<id>: the subscribe ack brings the lines so far, then run_output events).
// No REST call except Stop; the only timer re-renders the running duration locally.

import { createConnectionIndicator } from './connection.js';
import { elapsedText, formatDuration, formatInstant, parseIso } from './format.js';
import {
  attemptText,
  isActive,
  isTerminalStatus,
  renderProgress,
  retryText,
  runOrder,
  setBadge,
  stopRun,
  stopTitle,
} from './runs.js';
import { connect, showConnection, subscribe } from './subscribe.js';
import { showToast } from './toast.js';

const MAX_DOM_LINES = 5000; // the oldest lines leave the page past this many
const BOTTOM_SLACK_PX = 8; // this close to the bottom counts as "at the bottom"
const TICK_MS = 1000;
const TRIGGER_TEXTS = { manual: 'manual (Run Now)', schedule: 'schedule', retry: 'retry' };
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

// --- the run's header -------------------------------------------------------------------

let run = JSON.parse(header.dataset.run || '{}');
delete header.dataset.run;
let runSeq = -1; // seq of the task_update shown (-1: a state without seq)
let taskSeq = /^\d+$/.test(dataset.headSeq || '') ? Number(dataset.headSeq) : null; // room task:<id>
let stopping = false;
let taskName = q('run-task-name').textContent;

function setTime(testid, iso) {
  const time = q(testid);
  if (!time) return;
  if (iso) {
    time.dateTime = iso;
    time.title = iso;
  } else {
    time.removeAttribute('datetime');
    time.removeAttribute('title');
  }
  time.textContent = formatInstant(iso);
}

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
  q('run-trigger').textContent = TRIGGER_TEXTS[run.trigger] || run.trigger || '—';
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
  if (!ev || !Number.isInteger(ev.seq)) return;
  if (taskSeq === null || ev.seq > taskSeq) taskSeq = ev.seq;
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
let resyncing = false; // a re-subscribe for missed lines is in flight
let held = []; // live lines that arrived meanwhile
let following = true;
let unseen = 0; // lines added while not following
let complete = false;

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

/** Append lines (any order, repeats allowed) after the last one shown. A jump in
 * ``n`` that ``allowGap`` accepts is marked in the log. */
function appendLines(lines, allowGap) {
  const fresh = lines.filter((line) => Number.isInteger(line.n) && line.n > lastN).sort((a, b) => a.n - b.n);
  if (!fresh.length) return true;
  if (fresh[0].n > lastN + 1 && !allowGap) return false;
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
  renderCount();
  renderFollow();
  return true;
}

/** A run_output message: lines in order, or a jump that asks the server again. */
function onOutput(message) {
  if (!message || Number(message.run_id) !== runId || !Array.isArray(message.lines)) return;
  if (resyncing) {
    held.push(...message.lines);
    return;
  }
  if (!appendLines(message.lines, false)) {
    // n jumped: the command printed faster than the live stream carries. Fetch what the
    // server still keeps after our last line, then apply these.
    held.push(...message.lines);
    subscribeRun();
  }
}

// --- Socket.IO ------------------------------------------------------------------------------

let socket = null;

/** Join room run:<id> (again), asking for the lines after the last one shown. */
let runAgain = false; // a re-subscribe was asked for while one was in flight
let runGeneration = 0; // bumps per subscribe and on disconnect: a stale ack is dropped

async function subscribeRun() {
  if (!socket || !socket.connected) return;
  if (resyncing) {
    runAgain = true;
    return;
  }
  resyncing = true;
  const mine = ++runGeneration;
  const ack = await subscribe(socket, { room: `run:${runId}`, after: lastN || null });
  if (mine !== runGeneration) return;
  resyncing = false;
  if (!ack.ok) {
    indicator.showError(ack.error);
    held = [];
    return;
  }
  if (ack.run) applyRun(ack.run, null);
  const output = ack.output || {};
  complete = Boolean(output.complete);
  appendLines(output.lines || [], true);
  const pending = held;
  held = [];
  appendLines(pending, true); // anything still missing after the ack is gone for good
  renderCount();
  renderFollow();
  indicator.markSynced();
  if (runAgain) {
    runAgain = false;
    subscribeRun();
  }
}

/** Join room task:<task_id> for the run's status, replaying what was missed. */
async function subscribeTask() {
  if (!socket || !socket.connected) return;
  const ack = await subscribe(socket, { room: `task:${taskId}`, since: taskSeq });
  if (!ack.ok) {
    indicator.showError(ack.error);
    return;
  }
  for (const ev of ack.events || []) applyEvent(ev);
  if (Number.isInteger(ack.head)) taskSeq = taskSeq === null ? ack.head : Math.max(taskSeq, ack.head);
  indicator.markSynced();
}

/** The run just ended: fetch its last lines (and final fields) once over the socket. */
function runEnded() {
  complete = true;
  renderFollow();
  subscribeRun();
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
  const moduleUrl = dataset.socketioModuleUrl;
  indicator.setState('reconnecting', 'connecting');
  let io;
  try {
    ({ io } = await import(moduleUrl));
  } catch (err) {
    indicator.setState('offline', `cannot load the Socket.IO client: ${err.message}`);
    return;
  }
  socket = connect(io);
  showConnection(socket, indicator);
  socket.on('connect', () => {
    indicator.setState('live');
    subscribeRun();
    subscribeTask();
  });
  socket.on('disconnect', () => {
    // The next connect subscribes again from the last line shown.
    runGeneration += 1;
    resyncing = false;
    runAgain = false;
    held = [];
  });
  socket.on('run_output', onOutput);
  socket.on('task_update', applyEvent);
  socket.on('seq_head', (notice) => {
    // This task had an event the page has not seen (dropped while Redis was away).
    if (Number(notice?.task_id) === taskId && taskSeq !== null && notice.head > taskSeq) subscribeTask();
  });
  socket.on('task_changed', (change) => {
    if (!change || Number(change.task_id) !== taskId) return;
    if (change.action === 'deleted') q('task-deleted').hidden = false;
    else if (change.task?.name && change.task.name !== taskName) setTaskName(change.task.name);
  });
}

document.getElementById('reconnect').addEventListener('click', () => {
  indicator.setState('reconnecting', 'connecting');
  if (socket) socket.connect();
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
    return socket;
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
