// The create/edit task <dialog> (admins): the form, its schedule preview, and the
// server's validation errors shown next to the field they name.

import { apiRequest } from '../api.js';
import { createSchedulePreview } from './schedule_preview.js';
import { fillFlow, flowSlot, readFlow } from './task_dialog_flow.js';
import { createNotifySection } from './task_dialog_notify.js';
import { fillParamsEnv, paramsEnvMessage, paramsEnvSlot, readParamsEnv } from './task_dialog_params.js';
import { TASK_DEFAULTS } from './vocabulary.js';

// API error fields -> the form's error slot (data-error-for); "config" depends on the kind.
const ERROR_SLOTS = {
  name: 'name',
  description: 'description',
  kind: 'kind',
  'config.command': 'config.command',
  'config.callable': 'config.callable',
  'config.kwargs': 'config.kwargs',
  schedule: 'schedule.type',
  'schedule.type': 'schedule.type',
  'schedule.expr': 'schedule.expr',
  'schedule.seconds': 'schedule.seconds',
  'schedule.at': 'schedule.at',
  timezone: 'timezone',
  enabled: 'enabled',
  timeout: 'timeout',
  retries: 'retries.max',
  'retries.max': 'retries.max',
  'retries.backoff': 'retries.backoff',
  overlap: 'overlap',
  misfire: 'misfire',
  notify: 'notify.channels',
  'notify.channels': 'notify.channels',
  'notify.on': 'notify.on',
  'notify.after_failures': 'notify.after_failures',
  'notify.late_after': 'notify.late_after',
  'notify.max_runtime': 'notify.max_runtime',
};

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || TASK_DEFAULTS.timezone;
  } catch {
    return TASK_DEFAULTS.timezone;
  }
}

/** "42" -> 42, "" -> null; anything else goes to the server as typed, which names the field. */
function toInt(text) {
  const value = String(text ?? '').trim();
  if (value === '') return null;
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

/** Fill the zone suggestions once: every zone this browser knows, UTC first. */
function fillZoneList(datalist) {
  if (!datalist || datalist.options.length > 1) return;
  let zones = [];
  try {
    zones = Intl.supportedValuesOf('timeZone');
  } catch {
    zones = ['Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Chicago',
      'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Australia/Sydney'];
  }
  const seen = new Set([...datalist.options].map((o) => o.value));
  for (const zone of zones) {
    if (seen.has(zone)) continue;
    const option = document.createElement('option');
    option.value = zone;
    datalist.append(option);
  }
}

/**
 * @param {object} opts
 * @param {Function} opts.getTask  (id) => the task as the page knows it, or undefined
 * @param {Function} opts.onSaved  (task, created) => void, with the API's answer
 */
export function createTaskDialog({ getTask, onSaved }) {
  const dialog = document.getElementById('task-dialog');
  if (!dialog) return null; // not an admin: no dialog on the page
  const form = dialog.querySelector('form');
  const fields = form.elements;
  const title = dialog.querySelector('[data-part="title"]');
  const topError = dialog.querySelector('[data-part="form-error"]');
  const notice = dialog.querySelector('[data-part="notice"]');
  const save = dialog.querySelector('[data-part="save"]');
  const notifySection = createNotifySection(form);
  const preview = createSchedulePreview(dialog.querySelector('[data-part="preview"]'), () => ({
    type: fields.schedule_type.value,
    expr: fields.cron.value,
    seconds: fields.interval.value,
    at: fields.once_at.value,
    timezone: fields.timezone.value,
  }));

  let editingId = null; // null: creating
  let saving = false;
  let zonesFilled = false;

  // --- showing the right inputs --------------------------------------------------

  function syncVisibility() {
    const kind = fields.kind.value;
    for (const box of form.querySelectorAll('[data-kind]')) box.hidden = box.dataset.kind !== kind;
    const type = fields.schedule_type.value;
    for (const box of form.querySelectorAll('[data-schedule]')) {
      box.hidden = !box.dataset.schedule.split(' ').includes(type);
    }
  }

  // --- errors ----------------------------------------------------------------------

  function slotFor(field) {
    if (field === 'config') return fields.kind.value === 'python' ? 'config.callable' : 'config.command';
    return ERROR_SLOTS[field] || paramsEnvSlot(field) || flowSlot(field);
  }

  function clearErrors() {
    for (const slot of form.querySelectorAll('[data-error-for]')) {
      slot.textContent = '';
      slot.hidden = true;
    }
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    topError.textContent = '';
    topError.hidden = true;
  }

  function clearError(slotName) {
    const slot = form.querySelector(`[data-error-for="${slotName}"]`);
    if (slot) {
      slot.textContent = '';
      slot.hidden = true;
    }
    form.querySelector(`[data-field="${slotName}"]`)?.removeAttribute('aria-invalid');
  }

  /** Show an error next to its field; a field the form does not have goes on top. */
  function showError(field, message) {
    const slotName = field ? slotFor(field) : null;
    const slot = slotName && form.querySelector(`[data-error-for="${slotName}"]`);
    const input = slotName && form.querySelector(`[data-field="${slotName}"]`);
    if (!slot || (input && input.closest('[hidden]'))) {
      topError.textContent = field ? `${field}: ${message}` : message;
      topError.hidden = false;
      topError.scrollIntoView({ block: 'nearest' });
      return;
    }
    slot.textContent = message;
    slot.hidden = false;
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  }

  // --- reading and filling the form ---------------------------------------------

  /** The request body, or {error: {field, message}} for what the page itself can tell. */
  function readBody() {
    const kind = fields.kind.value;
    let config;
    if (kind === 'python') {
      let kwargs = {};
      const text = fields.kwargs.value.trim();
      if (text) {
        try {
          kwargs = JSON.parse(text);
        } catch (err) {
          return { error: { field: 'config.kwargs', message: `not valid JSON: ${err.message}` } };
        }
        if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
          return { error: { field: 'config.kwargs', message: 'must be a JSON object, e.g. {"limit": 100}' } };
        }
      }
      config = { callable: fields.callable.value.trim(), kwargs };
    } else {
      config = { command: fields.command.value };
    }

    let schedule = null;
    switch (fields.schedule_type.value) {
      case 'cron':
        schedule = { type: 'cron', expr: fields.cron.value };
        break;
      case 'interval':
        schedule = { type: 'interval', seconds: toInt(fields.interval.value) };
        break;
      case 'once':
        schedule = { type: 'once', at: fields.once_at.value.trim() };
        break;
      default:
        schedule = null;
    }

    let retries = null;
    const maxText = fields.retries_max.value.trim();
    const backoffText = fields.retries_backoff.value.trim();
    if (maxText || backoffText) {
      const backoff = backoffText ? backoffText.split(/[\s,]+/).filter(Boolean).map(toInt) : [];
      if (!backoff.every(Number.isInteger)) {
        return { error: { field: 'retries.backoff', message: 'whole seconds separated by commas, e.g. 10, 60' } };
      }
      retries = { max: toInt(maxText), backoff };
    }
    const { notify, error: notifyError } = notifySection.read();
    if (notifyError) return { error: notifyError };
    const paramsEnv = readParamsEnv(fields);
    if (paramsEnv.error) return paramsEnv;

    return {
      body: {
        name: fields.name.value,
        description: fields.description.value,
        kind,
        config,
        schedule,
        timezone: fields.timezone.value.trim() || TASK_DEFAULTS.timezone,
        enabled: fields.enabled.checked,
        timeout: toInt(fields.timeout.value),
        overlap: fields.overlap.value,
        misfire: fields.misfire.value,
        retries,
        ...(notify === undefined ? {} : { notify }),
        ...paramsEnv.body,
        ...readFlow(fields).body,
      },
    };
  }

  function fill(task) {
    form.reset();
    fields.name.value = task.name || '';
    fields.description.value = task.description || '';
    fields.kind.value = task.kind || 'shell';
    const config = task.config || {};
    fields.command.value = config.command || '';
    fields.callable.value = config.callable || '';
    const kwargs = config.kwargs || {};
    fields.kwargs.value = Object.keys(kwargs).length ? JSON.stringify(kwargs, null, 2) : '';
    const schedule = task.schedule || null;
    fields.schedule_type.value = schedule ? schedule.type : 'manual';
    fields.cron.value = schedule?.type === 'cron' ? schedule.expr : '';
    fields.interval.value = schedule?.type === 'interval' ? String(schedule.seconds) : '';
    fields.once_at.value = schedule?.type === 'once' ? schedule.at : '';
    fields.timezone.value = task.timezone || TASK_DEFAULTS.timezone;
    fields.enabled.checked = task.enabled !== false;
    fields.timeout.value = String(task.timeout ?? TASK_DEFAULTS.timeout);
    fields.overlap.value = task.overlap || TASK_DEFAULTS.overlap;
    fields.misfire.value = task.misfire || TASK_DEFAULTS.misfire;
    fields.retries_max.value = task.retries ? String(task.retries.max ?? '') : '';
    fields.retries_backoff.value = task.retries ? (task.retries.backoff || []).join(', ') : '';
    notifySection.fill(task.notify);
    fillParamsEnv(fields, task);
    fillFlow(fields, task, TASK_DEFAULTS.queue);
  }

  function open(task, id) {
    if (!zonesFilled) {
      fillZoneList(document.getElementById('tz-list'));
      zonesFilled = true;
    }
    editingId = id;
    fill(task);
    clearErrors();
    notice.hidden = true;
    notice.textContent = '';
    save.disabled = false;
    title.textContent = id === null ? 'New task' : `Edit task “${task.name}”`;
    save.textContent = id === null ? 'Create task' : 'Save changes';
    dialog.dataset.mode = id === null ? 'create' : 'edit';
    if (id === null) delete dialog.dataset.taskId;
    else dialog.dataset.taskId = String(id);
    syncVisibility();
    preview.reset();
    if (!dialog.open) dialog.showModal();
    fields.name.focus();
    preview.refreshPreview(); // the user just opened the dialog: show the fires once
  }

  async function submit() {
    if (saving) return;
    clearErrors();
    const { body, error } = readBody();
    if (error) {
      showError(error.field, error.message);
      return;
    }
    saving = true;
    save.disabled = true;
    const label = save.textContent;
    save.textContent = 'Saving…';
    const creating = editingId === null;
    try {
      const result = creating
        ? await apiRequest('POST', '/tasks', { body })
        : await apiRequest('PATCH', `/tasks/${encodeURIComponent(editingId)}`, { body });
      if (result.ok) {
        dialog.close('saved');
        onSaved(result.data, creating);
      } else if (!creating && result.status === 404) {
        showError(null, 'This task no longer exists: it was deleted.');
      } else {
        showError(result.error.field, paramsEnvMessage(result.error.field, result.error.message));
      }
    } finally {
      saving = false;
      save.disabled = false;
      save.textContent = label;
    }
  }

  // --- events ----------------------------------------------------------------------

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  form.addEventListener('input', (event) => {
    const slot = event.target.dataset?.field;
    if (slot) clearError(slot);
    if (event.target.closest('[data-preview-input]')) preview.schedulePreviewAfterTyping();
  });
  form.addEventListener('change', (event) => {
    if (event.target === fields.kind || event.target === fields.schedule_type) {
      syncVisibility();
      if (event.target === fields.schedule_type) preview.refreshPreview();
    }
  });
  for (const button of dialog.querySelectorAll('[data-part="cancel"]')) {
    button.addEventListener('click', () => dialog.close('cancel'));
  }
  dialog.addEventListener('close', () => {
    preview.stop();
    editingId = null;
  });

  return {
    openNew() {
      open({ ...TASK_DEFAULTS, timezone: browserZone() }, null);
    },
    /** Edit the task with this id (as the page knows it). */
    openEdit(id) {
      const task = getTask(id);
      if (!task) return false;
      open(task, task.id);
      return true;
    },
    /** A task changed elsewhere: warn if it is the one being edited. */
    taskChanged(task) {
      if (!dialog.open || saving || editingId === null || String(task.id) !== String(editingId)) return;
      notice.textContent = 'This task was changed elsewhere while you were editing it: saving overwrites those changes.';
      notice.hidden = false;
    },
    /** A task was deleted elsewhere: saving it is no longer possible. */
    taskDeleted(id) {
      if (!dialog.open || editingId === null || String(id) !== String(editingId)) return;
      notice.textContent = 'This task was deleted elsewhere: there is nothing left to save.';
      notice.hidden = false;
      save.disabled = true;
    },
  };
}
