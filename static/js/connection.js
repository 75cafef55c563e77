// The connection area: the live/reconnecting/offline pill, "last sync hh:mm:ss",
// an error line and the Reconnect button (shown only when offline).

import { clockTime } from './format.js';

export function createConnectionIndicator() {
  const pill = document.getElementById('connection');
  const lastSync = document.getElementById('last-sync');
  const errorLine = document.getElementById('connection-error');
  const reconnect = document.getElementById('reconnect');

  function showError(message) {
    errorLine.textContent = message || '';
    errorLine.hidden = !message;
  }

  return {
    showError,
    /** state: "live" | "reconnecting" | "offline"; message is the detail, if any. */
    setState(state, message = '') {
      pill.textContent = state;
      pill.className = `pill pill-${state}`;
      pill.title = message;
      reconnect.hidden = state !== 'offline';
      showError(state === 'offline' ? message || 'offline' : '');
    },
    markSynced(date = new Date()) {
      lastSync.dateTime = date.toISOString();
      lastSync.textContent = `last sync ${clockTime(date)}`;
    },
  };
}
