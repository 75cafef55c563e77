// The task dialog's "Alerts" section: which channels a task's alerts go to, which
// alerts (failure, recovery, late, overrun, success), and their thresholds. The pure
// part (values <-> the API's ``notify``) is exported for tests; the DOM part binds it
// to the form's fields.

export const ALERT_KINDS = ['failure', 'recovery', 'late', 'overrun', 'success'];
const DEFAULTS = { on: ['failure', 'recovery'], after_failures: 1, late_after: 60, max_runtime: null };

function wholeNumber(text) {
  const t = String(text ?? '').trim();
  return /^-?\d+$/.test(t) ? Number(t) : t === '' ? null : NaN;
}

/**
 * The API's ``notify`` from the form's values, or ``{error: {field, message}}``.
 * No channel ticked means no alerts (null).
 *
 * @param {{channels: string[], on: string[], afterFailures: string, lateAfter: string, maxRuntime: string}} values
 */
export function notifyFromValues(values) {
  const channels = [...new Set(values.channels || [])];
  if (!channels.length) return { notify: null };
  const afterFailures = wholeNumber(values.afterFailures);
  if (Number.isNaN(afterFailures)) return { error: { field: 'notify.after_failures', message: 'a whole number, 1 or more' } };
  const lateAfter = wholeNumber(values.lateAfter);
  if (Number.isNaN(lateAfter)) return { error: { field: 'notify.late_after', message: 'whole seconds, 0 or more' } };
  const maxRuntime = wholeNumber(values.maxRuntime);
  if (Number.isNaN(maxRuntime)) return { error: { field: 'notify.max_runtime', message: 'whole seconds, or empty for "twice the usual"' } };
  return {
    notify: {
      channels,
      on: ALERT_KINDS.filter((k) => (values.on || []).includes(k)),
      after_failures: afterFailures ?? DEFAULTS.after_failures,
      late_after: lateAfter ?? DEFAULTS.late_after,
      max_runtime: maxRuntime,
    },
  };
}

/** The form's values for a task's ``notify`` (null: the defaults, no channel). */
export function valuesFromNotify(notify) {
  const n = notify || {};
  return {
    channels: Array.isArray(n.channels) ? n.channels : [],
    on: Array.isArray(n.on) ? n.on : DEFAULTS.on,
    afterFailures: String(n.after_failures ?? DEFAULTS.after_failures),
    lateAfter: String(n.late_after ?? DEFAULTS.late_after),
    maxRuntime: n.max_runtime == null ? '' : String(n.max_runtime),
  };
}

/** Bind the section of ``form`` (absent on pages without it: every call is a no-op). */
export function createNotifySection(form) {
  const box = form.querySelector('[data-part="notify"]');
  const list = box?.querySelector('[data-part="channels"]');
  const inputs = form.elements;

  function channelBoxes() {
    return [...(list?.querySelectorAll('input[type="checkbox"]') ?? [])];
  }

  function addChannel(name) {
    const label = document.createElement('label');
    label.className = 'check-inline';
    const input = document.createElement('input');
    input.type = 'checkbox';
    input.name = 'notify_channel';
    input.value = name;
    input.dataset.testid = 'notify-channel';
    label.append(input, ` ${name}`);
    list.append(label);
    list.querySelector('[data-part="no-channels"]')?.remove();
    return input;
  }

  return {
    /** The section's ``notify``, or {error}. */
    read() {
      if (!box) return { notify: undefined };
      return notifyFromValues({
        channels: channelBoxes().filter((c) => c.checked).map((c) => c.value),
        on: [...form.querySelectorAll('input[name="notify_on"]')].filter((c) => c.checked).map((c) => c.value),
        afterFailures: inputs.notify_after_failures.value,
        lateAfter: inputs.notify_late_after.value,
        maxRuntime: inputs.notify_max_runtime.value,
      });
    },
    /** Show a task's ``notify`` (a channel the page did not list yet is added). */
    fill(notify) {
      if (!box) return;
      const values = valuesFromNotify(notify);
      const boxes = new Map(channelBoxes().map((c) => [c.value, c]));
      for (const name of values.channels) if (!boxes.has(name)) boxes.set(name, addChannel(name));
      for (const [name, input] of boxes) input.checked = values.channels.includes(name);
      for (const input of form.querySelectorAll('input[name="notify_on"]')) input.checked = values.on.includes(input.value);
      inputs.notify_after_failures.value = values.afterFailures;
      inputs.notify_late_after.value = values.lateAfter;
      inputs.notify_max_runtime.value = values.maxRuntime;
    },
  };
}
