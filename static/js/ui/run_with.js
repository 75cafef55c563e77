// The "Run with..." dialog: Run Now of a task that has parameters. One field per
// parameter, by type (text, number, checkbox, list; a secret one as a password field),
// its default filled in; the server's 400 ("params.<name>") is shown next to the field
// it names. The dialog is built here, so every page that runs tasks can open it.

import { apiRequest } from '../api.js';
import { paramValue } from './param_values.js';

let dialog = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function build() {
  const node = el('dialog', { id: 'run-with-dialog', class: 'dialog run-with-dialog',
    'aria-labelledby': 'run-with-title', dataset: { testid: 'run-with-dialog' } });
  node.innerHTML = `
    <form class="dialog-form" novalidate>
      <header class="dialog-head">
        <h2 id="run-with-title" data-part="title" data-testid="run-with-title">Run with…</h2>
        <button type="button" class="dialog-close" data-part="cancel" aria-label="Close">×</button>
      </header>
      <div class="dialog-body">
        <p class="form-error" data-part="form-error" data-testid="run-with-error" role="alert" hidden></p>
        <div data-part="fields"></div>
      </div>
      <footer class="dialog-foot">
        <button type="button" class="btn" data-part="cancel" data-testid="run-with-cancel">Cancel</button>
        <button type="submit" class="btn btn-primary" data-part="run" data-testid="run-with-run">Run</button>
      </footer>
    </form>`;
  document.body.append(node);
  return node;
}

/** One parameter's field, filled with ``value`` (else its default). */
function field(param, value) {
  const id = `run-param-${param.name}`;
  const shown = value ?? param.default;
  let input;
  if (param.type === 'boolean') {
    input = el('input', { id, type: 'checkbox', class: 'switch' });
    input.checked = shown === true;
  } else if (param.type === 'choice') {
    input = el('select', { id });
    if (!param.required && param.default == null) input.append(el('option', { value: '' }, '—'));
    for (const choice of param.choices || []) input.append(el('option', { value: choice }, choice));
    input.value = shown ?? (input.options[0]?.value || '');
  } else {
    const type = param.secret ? 'password' : (param.type === 'string' ? 'text' : 'number');
    input = el('input', { id, type, autocomplete: param.secret ? 'off' : undefined,
      step: param.type === 'integer' ? '1' : (param.type === 'number' ? 'any' : undefined) });
    input.value = shown == null || param.secret ? '' : String(shown);
  }
  input.name = param.name;
  input.dataset.param = param.name;
  input.dataset.testid = `run-param-${param.name}`;
  input.setAttribute('aria-describedby', `${id}-error`);
  const label = el('label', { for: id }, param.name + (param.required ? ' *' : ''),
    param.secret ? el('span', { class: 'hint' }, ' (secret)') : '');
  const error = el('p', { class: 'field-error', id: `${id}-error`, hidden: '',
    dataset: { errorFor: `params.${param.name}`, testid: `run-param-error-${param.name}` } });
  return el('div', { class: 'field' }, label, input, error);
}

/**
 * Open the dialog for ``task`` (with ``params``); ``values`` fill it instead of the
 * defaults (Run again). ``onQueued(result)`` gets the 202's body.
 */
export function openRunWith(task, { values = {}, onQueued = () => {}, onFailed = () => {} } = {}) {
  dialog = dialog || build();
  const form = dialog.querySelector('form');
  const box = dialog.querySelector('[data-part="fields"]');
  const topError = dialog.querySelector('[data-part="form-error"]');
  const runButton = dialog.querySelector('[data-part="run"]');
  dialog.querySelector('[data-part="title"]').textContent = `Run “${task.name}” with…`;
  box.replaceChildren(...task.params.map((p) => field(p, values[p.name])));
  topError.hidden = true;

  const clear = () => {
    for (const slot of box.querySelectorAll('[data-error-for]')) slot.hidden = true;
    for (const input of box.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    topError.hidden = true;
  };
  const showError = (fieldName, message) => {
    const slot = fieldName && box.querySelector(`[data-error-for="${CSS.escape(fieldName)}"]`);
    if (!slot) {
      topError.textContent = fieldName ? `${fieldName}: ${message}` : message;
      topError.hidden = false;
      return;
    }
    slot.textContent = message;
    slot.hidden = false;
    const input = box.querySelector(`[data-param="${CSS.escape(fieldName.slice('params.'.length))}"]`);
    input?.setAttribute('aria-invalid', 'true');
    input?.focus();
  };

  form.onsubmit = async (event) => {
    event.preventDefault();
    clear();
    const params = {};
    for (const param of task.params) {
      const value = paramValue(param, box.querySelector(`[data-param="${CSS.escape(param.name)}"]`));
      if (value !== null) params[param.name] = value;
    }
    runButton.disabled = true;
    try {
      const result = await apiRequest('POST', `/tasks/${encodeURIComponent(task.id)}/run`, { body: { params } });
      if (result.ok) {
        dialog.close('run');
        onQueued(result.data);
      } else if (result.status === 400) {
        showError(result.error.field, result.error.message);
      } else {
        dialog.close('failed');
        onFailed(result.error);
      }
    } finally {
      runButton.disabled = false;
    }
  };
  for (const button of dialog.querySelectorAll('[data-part="cancel"]')) button.onclick = () => dialog.close('cancel');
  if (!dialog.open) dialog.showModal();
  box.querySelector('input, select')?.focus();
}
