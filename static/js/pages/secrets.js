// The secrets page (admins): set a secret (PUT /api/secrets/<name>), delete one. The
// page only ever has names: a value goes from the form to the server and is cleared.

import { apiRequest } from '../api.js';
import { createConfirmDialog } from '../ui/confirm_dialog.js';
import { showToast } from '../ui/toast.js';

const form = document.getElementById('secret-form');
const body = document.querySelector('#secrets tbody');
const topError = form.querySelector('[data-part="form-error"]');

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function showRow(secret) {
  const tr = document.createElement('tr');
  tr.dataset.testid = 'secret-row';
  tr.dataset.name = secret.name;
  const remove = document.createElement('button');
  Object.assign(remove, { type: 'button', className: 'btn btn-danger delete-secret', textContent: 'Delete' });
  remove.dataset.name = secret.name;
  remove.dataset.testid = 'delete-secret';
  const actions = document.createElement('td');
  actions.append(remove);
  tr.append(cell(secret.name, 'mono'), cell(secret.updated_at || ''), cell(secret.updated_by || ''), actions);
  const old = [...body.rows].find((row) => row.dataset.name === secret.name);
  if (old) old.replaceWith(tr);
  else body.append(tr);
  showEmpty();
}

function showEmpty() {
  document.querySelector('[data-testid="no-secrets"]').hidden = body.rows.length > 0;
}

function clearErrors() {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.hidden = true;
  topError.hidden = true;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  const name = form.elements.name.value.trim();
  const result = await apiRequest('PUT', `/secrets/${encodeURIComponent(name)}`,
    { body: { value: form.elements.value.value } });
  if (result.ok) {
    form.elements.value.value = '';
    showRow(result.data);
    showToast('success', `Secret ${result.data.name} ${result.status === 201 ? 'created' : 'updated'}`);
    return;
  }
  const slot = form.querySelector(`[data-error-for="${result.error.field}"]`);
  const target = slot || topError;
  target.textContent = result.error.message;
  target.hidden = false;
});

const confirmDialog = createConfirmDialog();

body.addEventListener('click', (event) => {
  const button = event.target.closest('button.delete-secret');
  if (!button) return;
  const { name } = button.dataset;
  confirmDialog.open({
    title: `Delete secret ${name}?`,
    message: 'Tasks that refer to it will fail their runs.',
    confirmLabel: 'Delete',
    action: async () => {
      const result = await apiRequest('DELETE', `/secrets/${encodeURIComponent(name)}`);
      if (!result.ok && result.status !== 404) return result.error.message;
      button.closest('tr').remove();
      showEmpty();
      return null;
    },
  });
});
