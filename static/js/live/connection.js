// The page's one Socket.IO connection: load the client, connect (WebSocket, or
// long-polling where WebSockets are blocked: Socket.IO's own fallback, never a REST
// poll), keep the live/reconnecting/offline indicator, and feed each room's live items
// to its subscription (subscription.js). Pages call openLive() and room().

import { batchEvents, headForRoom } from './sync_rules.js';
import { roomKind } from './rooms.js';
import { createSubscription } from './subscription.js';

const ACK_TIMEOUT_MS = 10000;
const RECONNECTION_ATTEMPTS = 8;

/**
 * Connect with ``io`` (socket.io-client's io()) and return the live handle:
 * ``room(opts)`` adds a room (createSubscription's options), ``on(event, fn)`` listens
 * to an event outside the numbered streams, ``socket`` is the Socket.IO socket.
 *
 * @param {Function} io
 * @param {object} opts
 * @param {string} opts.path  the Socket.IO path (body data-socket-path)
 * @param {object} opts.indicator  {setState(state, message)}: "live" | "reconnecting" | "offline"
 */
export function createLive(io, { path, indicator }) {
  const socket = io({
    path,
    reconnectionAttempts: RECONNECTION_ATTEMPTS,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  const rooms = [];

  const link = {
    connected: () => socket.connected,
    send: (payload) => askServer(socket, payload),
    later: (fn, ms) => setTimeout(fn, ms),
    cancel: (timer) => clearTimeout(timer),
  };

  // A batch goes through the task_update listeners event by event, so the page (and
  // anything else listening on the socket) sees one stream whichever way the server
  // sent it. The list is copied first: a listener may add or remove listeners.
  socket.on('task_updates', (batch) => {
    const listeners = [...socket.listeners('task_update')];
    for (const ev of batchEvents(batch)) for (const listener of listeners) listener(ev);
  });

  socket.on('seq_head', (notice) => {
    for (const { name, sub } of rooms) {
      const head = headForRoom(name, notice);
      if (head !== null) sub.head(head);
    }
  });

  socket.on('connect', () => {
    indicator.setState('live');
    for (const { sub } of rooms) sub.connected();
  });

  socket.on('disconnect', (reason) => {
    for (const { sub } of rooms) sub.disconnected();
    // socket.active is false when nothing will retry (server kicked us, or we left).
    if (socket.active) indicator.setState('reconnecting', `disconnected: ${reason}`);
    else indicator.setState('offline', reason === 'io server disconnect' ? 'disconnected by the server' : 'disconnected');
  });

  socket.on('connect_error', (err) => {
    for (const { sub } of rooms) sub.disconnected({ failed: true });
    // An inactive socket here was refused by the server (e.g. not signed in): no retry.
    if (socket.active) indicator.setState('reconnecting', err.message);
    else indicator.setState('offline', `connection refused: ${err.message}`);
  });

  socket.io.on('reconnect_attempt', (attempt) => {
    indicator.setState('reconnecting', `attempt ${attempt} of ${RECONNECTION_ATTEMPTS}`);
  });
  socket.io.on('reconnect_failed', () => indicator.setState('offline', 'cannot reach the server'));

  return {
    socket,
    /** Follow a room (see createSubscription); returns its subscription. */
    room(opts) {
      const sub = createSubscription(link, opts);
      const kind = roomKind(opts.room);
      socket.on(kind.event, (payload) => {
        const items = kind.itemsOf(payload);
        if (items.length) sub.receive(items);
      });
      rooms.push({ name: opts.room, sub });
      if (socket.connected) sub.connected();
      return sub;
    },
    /** Listen to an event that is not in a numbered stream (task_changed, ...). */
    on(event, handler) {
      socket.on(event, (payload) => {
        if (payload && typeof payload === 'object') handler(payload);
      });
    },
    /** Connect again after going offline. */
    reconnect() {
      indicator.setState('reconnecting', 'connecting');
      socket.connect();
    },
  };
}

/** One ``subscribe``, as a promise of its ack: ``{ok: false, error}`` when refused or
 * unanswered in time (never rejects). */
function askServer(socket, payload) {
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit('subscribe', payload, (err, ack) => {
      if (err) resolve({ ok: false, error: 'sync timed out: no answer from the server' });
      else resolve(ack || { ok: false, error: 'subscribe refused' });
    });
  });
}

/**
 * Load the Socket.IO client the page names (body data-socketio-module-url) and connect;
 * resolves to the live handle, or null (the indicator then says why).
 */
export async function openLive(indicator) {
  const { dataset } = document.body;
  indicator.setState('reconnecting', 'connecting');
  if (!dataset.socketioModuleUrl) {
    indicator.setState('offline', 'no Socket.IO client configured');
    return null;
  }
  try {
    const { io } = await import(dataset.socketioModuleUrl);
    return createLive(io, { path: dataset.socketPath || '/socket.io', indicator });
  } catch (err) {
    indicator.setState('offline', `cannot load the Socket.IO client: ${err.message}`);
    return null;
  }
}
