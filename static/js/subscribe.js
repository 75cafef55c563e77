// One `subscribe` over Socket.IO, as a promise of its acknowledgement (the run detail
// and history pages; the scheduler page has its own loop in live.js).

import { socketPath } from './socket_path.js';

const ACK_TIMEOUT_MS = 10000;

/**
 * Send ``subscribe`` with ``payload`` ({room, since, after, snapshot}); resolves to the
 * ack, or to ``{ok: false, error}`` when the server refused it or did not answer in time.
 */
export function subscribe(socket, payload, timeoutMs = ACK_TIMEOUT_MS) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, error: 'not connected' });
      return;
    }
    socket.timeout(timeoutMs).emit('subscribe', payload, (err, ack) => {
      if (err) resolve({ ok: false, error: 'no answer from the server (timed out)' });
      else if (!ack || ack.ok !== true) resolve({ ok: false, error: (ack && ack.error) || 'subscribe refused' });
      else resolve(ack);
    });
  });
}

/** Connect with the same reconnection policy as the scheduler page. */
export function connect(io) {
  return io({ path: socketPath, reconnectionAttempts: 8, reconnectionDelay: 500, reconnectionDelayMax: 5000 });
}

/** Wire a connection indicator (connection.js) to a socket's life. */
export function showConnection(socket, indicator) {
  socket.on('disconnect', (reason) => {
    if (socket.active) indicator.setState('reconnecting', `disconnected: ${reason}`);
    else indicator.setState('offline', reason === 'io server disconnect' ? 'disconnected by the server' : 'disconnected');
  });
  socket.on('connect_error', (err) => {
    if (socket.active) indicator.setState('reconnecting', err.message);
    else indicator.setState('offline', `connection refused: ${err.message}`);
  });
  socket.io.on('reconnect_attempt', (attempt) => indicator.setState('reconnecting', `attempt ${attempt}`));
  socket.io.on('reconnect_failed', () => indicator.setState('offline', 'cannot reach the server'));
}
