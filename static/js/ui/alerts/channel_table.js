// The channels table of the alerts page: rows as the API returns channels (URLs already
// masked by the server), and the admin's buttons on each: send a test, enable or
// disable, delete.

import { apiRequest } from '../../api.js';
import { createConfirmDialog } from '../confirm_dialog.js';
import { el } from '../dom.js';
import { showToast } from '../toast.js';

/**
 * @param {HTMLTableSectionElement} body  the table's tbody
 * @param {boolean} canEdit  the signed-in user is an admin
 */
export function createChannelTable(body, canEdit) {
  const columns = canEdit ? 4 : 3;
  const confirmDialog = canEdit ? createConfirmDialog() : null;

  function emptyRow() {
    const tr = el('tr', 'empty-row', 'no-channels');
    const td = el('td');
    td.colSpan = columns;
    td.textContent = canEdit ? 'No channels yet. Add one below.' : 'No channels yet.';
    tr.append(td);
    return tr;
  }

  function button(action, text, testid, extra = '') {
    const b = el('button', `btn btn-small ${extra}`.trim(), testid);
    b.type = 'button';
    b.dataset.action = action;
    b.textContent = text;
    return b;
  }

  function fill(tr, channel) {
    tr.dataset.channelId = String(channel.id);
    tr.dataset.enabled = channel.enabled ? '1' : '0';
    tr.querySelector('[data-part="name"]').textContent = channel.name;
    tr.querySelector('[data-part="url"] code').textContent = channel.url;
    tr.querySelector('[data-part="enabled"]').textContent = channel.enabled ? 'on' : 'off';
    const toggle = tr.querySelector('[data-action="toggle"]');
    if (toggle) toggle.textContent = channel.enabled ? 'Disable' : 'Enable';
  }

  function rowFor(channel) {
    const tr = el('tr', '', 'channel-row');
    const url = el('td');
    url.dataset.part = 'url';
    url.append(el('code'));
    const name = el('td');
    name.dataset.part = 'name';
    const enabled = el('td');
    enabled.dataset.part = 'enabled';
    tr.append(name, url, enabled);
    if (canEdit) {
      const actions = el('td', 'col-actions');
      const box = el('div', 'row-actions');
      box.append(button('test', 'Send test', 'channel-test'), button('toggle', 'Disable', 'channel-toggle'),
        button('delete', 'Delete', 'channel-delete', 'btn-quiet-danger'));
      actions.append(box);
      tr.append(actions);
    }
    fill(tr, channel);
    return tr;
  }

  /** Show a channel the API returned (new or changed). */
  function show(channel) {
    body.querySelector('[data-testid="no-channels"]')?.remove();
    const existing = body.querySelector(`tr[data-channel-id="${CSS.escape(String(channel.id))}"]`);
    if (existing) fill(existing, channel);
    else body.append(rowFor(channel));
  }

  async function act(tr, action) {
    const id = encodeURIComponent(tr.dataset.channelId);
    const name = tr.querySelector('[data-part="name"]').textContent;
    if (action === 'test') {
      const result = await apiRequest('POST', `/channels/${id}/test`, { body: {} });
      if (result.ok) showToast('neutral', `Test message to ${name} queued: see Deliveries`);
      else showToast('failed', `${name}: ${result.error.message}`);
    } else if (action === 'toggle') {
      const result = await apiRequest('PATCH', `/channels/${id}`, { body: { enabled: tr.dataset.enabled !== '1' } });
      if (result.ok) show(result.data);
      else showToast('failed', `${name}: ${result.error.message}`);
    } else if (action === 'delete') {
      confirmDialog.open({
        title: `Delete channel “${name}”?`,
        message: 'Tasks stop sending to it; its past deliveries stay in the log.',
        confirmLabel: 'Delete',
        action: async () => {
          const result = await apiRequest('DELETE', `/channels/${id}`);
          if (!result.ok) return result.error.message;
          tr.remove();
          if (!body.querySelector('tr[data-channel-id]')) body.append(emptyRow());
          return null;
        },
      });
    }
  }

  body.addEventListener('click', (event) => {
    const b = event.target.closest('button[data-action]');
    const tr = b?.closest('tr[data-channel-id]');
    if (!tr) return;
    b.disabled = true;
    act(tr, b.dataset.action).finally(() => { b.disabled = false; });
  });

  return { show };
}
