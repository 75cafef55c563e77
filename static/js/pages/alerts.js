// Entry point of the alerts page: channels (admins add, test, switch and delete them)
// and the outbox's deliveries, which arrive and change live through room
// "notifications" (operators and admins). On every reconnect the page subscribes with
// the last row id it shows and asks for the newest rows as they are now, so it also
// sees the rows it knew that changed while it was away.

import { apiRequest } from '../api.js';
import { openLive } from '../live/connection.js';
import { createChannelTable } from '../ui/alerts/channel_table.js';
import { isNewer, statusBadge } from '../ui/alerts/outbox_rows.js';
import { createConnectionIndicator } from '../ui/connection_indicator.js';
import { showInstant } from '../ui/dom.js';
import { flash } from '../ui/flash.js';

const MAX_ROWS = 500; // the log keeps the newest rows; older ones are in the API

const { dataset } = document.body;
const indicator = createConnectionIndicator();
const channels = createChannelTable(document.querySelector('#channels tbody'), dataset.canEdit === '1');
const outboxBody = document.querySelector('#outbox tbody');
const template = document.getElementById('delivery-row-template');
const shown = new Map(); // row id -> the version the page shows

function fillDelivery(tr, row) {
  tr.dataset.id = String(row.id);
  tr.dataset.status = row.status;
  showInstant(tr.querySelector('time'), row.created_at);
  for (const part of ['channel', 'kind', 'title', 'attempts']) {
    tr.querySelector(`[data-part="${part}"]`).textContent = String(row[part] ?? '');
  }
  tr.querySelector('[data-part="error"]').textContent = row.error || '';
  const status = tr.querySelector('[data-part="status"]');
  status.textContent = row.status;
  status.className = `badge ${statusBadge(row.status)}`;
}

/** Show one outbox row (new at the top, or a newer version of one shown). */
function upsert(row) {
  if (!outboxBody || !row || !Number.isInteger(row.id)) return;
  if (shown.has(row.id) && !isNewer(row, shown.get(row.id))) return;
  let tr = outboxBody.querySelector(`tr[data-id="${row.id}"]`);
  const isNew = !tr;
  if (isNew) {
    tr = template.content.firstElementChild.cloneNode(true);
    // Newest first: place it before the first row with a lower id.
    const after = [...outboxBody.rows].find((other) => Number(other.dataset.id) < row.id);
    outboxBody.insertBefore(tr, after || null);
    while (outboxBody.rows.length > MAX_ROWS) {
      shown.delete(Number(outboxBody.rows[outboxBody.rows.length - 1].dataset.id));
      outboxBody.rows[outboxBody.rows.length - 1].remove();
    }
  }
  shown.set(row.id, row);
  fillDelivery(tr, row);
  flash(tr);
}

for (const tr of outboxBody?.rows ?? []) {
  shown.set(Number(tr.dataset.id), { id: Number(tr.dataset.id), status: tr.dataset.status,
    attempts: Number(tr.querySelector('[data-part="attempts"]').textContent) });
  showInstant(tr.querySelector('time'), tr.querySelector('time').dateTime || null);
}

// --- adding a channel ------------------------------------------------------------------

const form = document.getElementById('channel-form');

function showErrors(error) {
  for (const p of form.querySelectorAll('[data-error-for]')) p.hidden = true;
  const formError = form.querySelector('[data-part="form-error"]');
  formError.hidden = true;
  if (!error) return;
  const target = form.querySelector(`[data-error-for="${CSS.escape(error.field || '')}"]`);
  const where = target || formError;
  where.textContent = error.message;
  where.hidden = false;
  form.querySelector(`[name="${CSS.escape(error.field || '')}"]`)?.focus();
}

form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = form.querySelector('[type="submit"]');
  submit.disabled = true;
  try {
    const body = { name: form.elements.name.value, url: form.elements.url.value };
    const result = await apiRequest('POST', '/channels', { body });
    if (!result.ok) {
      showErrors(result.error);
      return;
    }
    showErrors(null);
    form.reset(); // the URL is a secret: it leaves the page once saved
    channels.show(result.data);
  } finally {
    submit.disabled = false;
  }
});

// --- live --------------------------------------------------------------------------------

if (outboxBody) {
  const live = await openLive(indicator);
  live?.room({
    room: 'notifications',
    cursor: Number(dataset.outboxHead || 0),
    snapshotOnReconnect: true,
    apply: (entries) => entries.forEach(({ item }) => upsert(item)),
    ack: (ack) => (Array.isArray(ack.rows) ? ack.rows : []).forEach(upsert),
    synced: () => indicator.markSynced?.(),
    refused: (message) => indicator.setState('offline', message),
  });
  // A row that changes comes again with an id the room has passed: apply it here.
  live?.on('notification', upsert);
} else {
  indicator.setState('offline', 'deliveries are for operators and admins');
}
