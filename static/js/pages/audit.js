// The audit page: entries arrive live through room "audit" (admins only); on every
// (re)connect the page subscribes with the last entry id it shows, so none is missed.

import { openLive } from '../live/connection.js';
import { createConnectionIndicator } from '../ui/connection_indicator.js';

const { dataset } = document.body;
const body = document.querySelector('#audit tbody');
const indicator = createConnectionIndicator();

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

/** Show an entry at the top (entries come oldest first, each once). */
function add(entry) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'audit-row';
  tr.dataset.entryId = String(entry.id);
  const target = [entry.target_type, entry.target_id ?? '', entry.target_name ?? ''].join(' ');
  tr.append(
    cell(entry.at), cell(entry.username), cell(entry.action), cell(target),
    cell(entry.changes ? JSON.stringify(entry.changes) : '', 'col-changes'),
  );
  body.prepend(tr);
}

const live = await openLive(indicator);
live?.room({
  room: 'audit',
  cursor: Number(dataset.auditHead || 0),
  apply: (entries) => entries.forEach(({ item }) => add(item)),
  refused: (message) => indicator.setState('offline', message),
});
