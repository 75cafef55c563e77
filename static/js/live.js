// The Socket.IO side of the page: connect, subscribe to room "tasks" with the last seq
// applied, and feed task_update events to the page in seq order, replaying any gap.
// No REST call and no polling timer: catching up is done through the subscribe ack.
// task_changed and scheduler_state are not in the seq stream: on every reconnect the
// page asks for a snapshot too, which brings what it missed of them.
// The page subscribes with batch: true, so a busy server sends task_update events in
// task_updates batches (at most one per ~100 ms); each event of a batch goes through the
// task_update listeners in order, so the page (and anything else listening on the
// socket) sees one task_update stream whichever way the server sent it.

import { socketPath } from './socket_path.js';

const ACK_TIMEOUT_MS = 10000;
const RECONNECTION_ATTEMPTS = 8;

/**
 * @param {Function} io  socket.io-client's io()
 * @param {object} opts
 * @param {number|null} opts.headSeq  the latest seq when the page was rendered
 * @param {object} opts.on  callbacks:
 *   event(ev, live)  apply one event; live is false for replayed events
 *   snapshot(tasks, sentAt)  re-render every row (after refresh() and on every
 *     reconnect); sentAt is performance.now() when the snapshot was asked for
 *   taskChanged(change)  a task_changed event: {action, task_id, task}
 *   schedulerState(state, sentAt)  the global pause: {paused, since, by, leader};
 *     sentAt is set when the state comes from a snapshot asked for at that time
 *   panels(panels)  the panels of a snapshot (running, recent, stats), applied after
 *     the snapshot's rows; events after it come through event()
 *   state(name, message)  "live" | "reconnecting" | "offline"
 *   synced()  the page is known to be up to date
 *   error(message)  a subscribe was refused or timed out
 */
export function createLive(io, { headSeq, on }) {
  let lastSeq = Number.isInteger(headSeq) ? headSeq : null;
  let syncing = false; // a subscribe is in flight: live events wait for its ack
  let pending = []; // live events received while syncing or that revealed a gap
  let generation = 0; // bumps per subscribe and on disconnect, so stale acks are dropped
  let connectedBefore = false; // the first connect needs no snapshot: the page was just rendered
  let needSnapshot = false; // set on reconnect until a snapshot has been applied

  const socket = io({
    path: socketPath,
    reconnectionAttempts: RECONNECTION_ATTEMPTS,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });

  function apply(ev, live) {
    if (lastSeq !== null && ev.seq <= lastSeq) return; // duplicate or already covered
    on.event(ev, live);
    lastSeq = ev.seq;
  }

  function subscribe(askSnapshot = false) {
    if (!socket.connected) return false;
    const snapshot = askSnapshot || needSnapshot;
    syncing = true;
    const mine = ++generation;
    const payload = { room: 'tasks', since: lastSeq, snapshot, batch: true };
    const sentAt = performance.now();
    const done = (err, ack) => {
      if (mine !== generation) return;
      syncing = false;
      if (err || !ack || ack.ok !== true) {
        pending = []; // the next live event or reconnect will resync from lastSeq
        on.error(err ? 'sync timed out' : (ack && ack.error) || 'subscribe refused');
        return;
      }
      // Events that arrived live while we waited still deserve their toast.
      const liveSeqs = new Set(pending.map((ev) => ev.seq));
      const events = ack.events || [];
      for (const ev of events) apply(ev, liveSeqs.has(ev.seq));
      if (snapshot && Array.isArray(ack.tasks)) {
        // Rendered after the events: the snapshot is the state as of head (or later),
        // so it drops deleted tasks and covers anything a truncated replay left out.
        needSnapshot = false;
        on.snapshot(ack.tasks, sentAt);
        if (ack.scheduler && on.schedulerState) on.schedulerState(ack.scheduler, sentAt);
        if (ack.panels && on.panels) on.panels(ack.panels);
      } else if (ack.truncated && events.length) {
        // More were missed than one ack carries: ask again from the last seq applied
        // (jumping to head here would skip the rest). Held live events stay pending.
        subscribe();
        return;
      }
      if (Number.isInteger(ack.head)) lastSeq = lastSeq === null ? ack.head : Math.max(lastSeq, ack.head);
      on.synced();
      drain(true);
    };
    if (typeof socket.timeout === 'function') {
      socket.timeout(ACK_TIMEOUT_MS).emit('subscribe', payload, done);
    } else {
      socket.emit('subscribe', payload, (ack) => done(null, ack));
    }
    return true;
  }

  // Apply buffered live events in seq order. A gap asks for a replay, except right after
  // one (the server then already told us its head, so re-asking could only loop).
  function drain(afterSync) {
    pending.sort((a, b) => a.seq - b.seq);
    while (pending.length) {
      const ev = pending[0];
      if (lastSeq !== null && ev.seq > lastSeq + 1 && !afterSync) {
        subscribe();
        return;
      }
      pending.shift();
      apply(ev, true);
    }
  }

  socket.on('task_update', (ev) => {
    if (!ev || !Number.isInteger(ev.seq)) return;
    if (syncing) {
      pending.push(ev);
      return;
    }
    if (lastSeq !== null && ev.seq <= lastSeq) return;
    if (lastSeq !== null && ev.seq > lastSeq + 1) {
      pending.push(ev);
      subscribe(); // the replay covers this event too
      return;
    }
    apply(ev, true);
    on.synced();
  });

  // A batch: {events: [task_update payloads in seq order]}. Copy the listener list
  // first, since a listener may add or remove listeners.
  socket.on('task_updates', (batch) => {
    if (!batch || !Array.isArray(batch.events)) return;
    const listeners = [...socket.listeners('task_update')];
    for (const ev of batch.events) {
      for (const listener of listeners) listener(ev);
    }
  });

  socket.on('connect', () => {
    on.state('live');
    // A reconnect also asks for every task as it is now: task_changed and
    // scheduler_state events sent while we were away are not replayed.
    if (connectedBefore) needSnapshot = true;
    connectedBefore = true;
    subscribe();
  });

  // The server's periodic notice of the event log's head: a head past our last seq
  // means the tail of the stream was lost (dropped while Redis was away): replay it.
  socket.on('seq_head', (msg) => {
    if (!msg || !Number.isInteger(msg.head) || syncing) return;
    if (lastSeq !== null && msg.head > lastSeq) subscribe();
  });

  socket.on('task_changed', (change) => {
    if (!change || typeof change !== 'object' || !on.taskChanged) return;
    on.taskChanged(change);
  });

  socket.on('scheduler_state', (state) => {
    if (!state || typeof state !== 'object' || !on.schedulerState) return;
    on.schedulerState(state);
  });

  socket.on('disconnect', (reason) => {
    syncing = false;
    generation++;
    // socket.active is false when nothing will retry (server kicked us, or we left).
    if (socket.active) on.state('reconnecting', `disconnected: ${reason}`);
    else on.state('offline', reason === 'io server disconnect' ? 'disconnected by the server' : 'disconnected');
  });

  socket.on('connect_error', (err) => {
    needSnapshot = true; // whatever connects next has been away a while: bring every task
    // An inactive socket here was refused by the server (e.g. not signed in): no retry.
    if (socket.active) on.state('reconnecting', err.message);
    else on.state('offline', `connection refused: ${err.message}`);
  });

  socket.io.on('reconnect_attempt', (attempt) => {
    on.state('reconnecting', `attempt ${attempt} of ${RECONNECTION_ATTEMPTS}`);
  });

  socket.io.on('reconnect_failed', () => {
    on.state('offline', 'cannot reach the server');
  });

  return {
    socket,
    get lastSeq() {
      return lastSeq;
    },
    /** Ask for a snapshot of every task plus missed events; false when not connected. */
    refresh() {
      return subscribe(true);
    },
    reconnect() {
      on.state('reconnecting', 'connecting');
      socket.connect();
    },
  };
}
