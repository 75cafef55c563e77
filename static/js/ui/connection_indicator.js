// The connection area: the live/reconnecting/offline pill, "last sync hh:mm:ss",
// an error line and the Reconnect button (shown only when offline). A page may have the
// pill alone (the audit page): the other parts are then left out.

import { clockTime } from './format.js';

/** The indicator of the page's live-bar: setState(state, message), markSynced(), showError(). */
export function createConnectionIndicator() {
  const pill = document.getElementById('connection');
  const lastSync = document.getElementById('last-sync');
  const errorLine = document.getElementById('connection-error');
  const reconnect = document.getElementById('reconnect');

  let syncedAt = null;
  let live = false;

  // While not live, say so next to the time of the last sync: the rows may be stale.
  function renderSync() {
    if (!lastSync) return;
    if (!syncedAt) {
      lastSync.textContent = live ? '' : 'live updates paused';
      return;
    }
    const when = `last sync ${clockTime(syncedAt)}`;
    lastSync.textContent = live ? when : `live updates paused, ${when}`;
  }

  function showError(message) {
    if (!errorLine) return;
    errorLine.textContent = message || '';
    errorLine.hidden = !message;
  }

  return {
    showError,
    /** state: "live" | "reconnecting" | "offline"; message is the detail, if any. */
    setState(state, message = '') {
      pill.textContent = state;
      pill.className = `pill pill-${state}`;
      live = state === 'live';
      lastSync?.classList.toggle('last-sync-paused', !live);
      renderSync();
      pill.title = message;
      if (reconnect) reconnect.hidden = state !== 'offline';
      showError(state === 'offline' ? message || 'offline' : '');
    },
    markSynced(date = new Date()) {
      syncedAt = date;
      if (lastSync) lastSync.dateTime = date.toISOString();
      renderSync();
    },
  };
}
