// The audit page: entries arrive live through room "audit" (admins only); on every
// (re)connect the page subscribes with the last entry id it shows, so none is missed.

import { socketPath } from './socket_path.js';

const { dataset } = document.body;
let last = Number(dataset.auditHead || 0);
const body = document.querySelector('#audit tbody');
const pill = document.getElementById('connection');

function setState(state) {
  pill.textContent = state;
  pill.className = `pill pill-${state}`;
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function add(entry) {
  if (entry.id <= last) return;
  last = entry.id;
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

const { io } = await import(dataset.socketioModuleUrl);
const socket = io({ path: socketPath, reconnectionDelay: 500, reconnectionDelayMax: 5000 });
/** Subscribe from the last entry shown; a truncated replay asks again from where it ended. */
function subscribeAudit() {
  socket.emit('subscribe', { room: 'audit', since: last }, (ack) => {
    if (!ack || !ack.ok) {
      setState('offline');
      return;
    }
    for (const entry of ack.events) add(entry);
    if (ack.truncated && ack.events.length) {
      subscribeAudit();
      return;
    }
    setState('live');
  });
}
socket.on('connect', subscribeAudit);
socket.on('audit_entry', add);
socket.on('disconnect', () => setState('reconnecting'));
