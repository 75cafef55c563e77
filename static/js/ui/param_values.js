// A run parameter's value as the "Run with..." form reads it and Run again repeats it:
// pure functions, unit-tested (tests/js/param_values.test.mjs).

/**
 * The JSON value of a field for ``param``: a checkbox's state, a number for a number
 * typed as one, null for an empty field (the default applies), else the text as typed
 * (the server then names the parameter it does not fit).
 */
export function paramValue(param, { value = '', checked = false } = {}) {
  if (param.type === 'boolean') return checked;
  const text = String(value);
  if (text.trim() === '') return null;
  if (param.type === 'integer') return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  if (param.type === 'number') return Number.isFinite(Number(text)) ? Number(text) : text;
  return text;
}

/**
 * What Run again does with a run's values (``shown``, secret ones "***") under the
 * task's parameters now: ``{values, needsForm}``. Secret values are never sent again
 * (the page does not have them): a run that had one, or a task that requires one,
 * needs the form. A parameter removed since is dropped.
 */
export function runAgainPlan(definitions, shown) {
  const values = {};
  for (const param of definitions || []) {
    if (shown && param.name in shown && !param.secret) values[param.name] = shown[param.name];
  }
  const needsForm = (definitions || []).some((p) => p.secret && ((shown && p.name in shown) || p.required));
  return { values, needsForm };
}
