// The run page's "Run again": a new run of the task with this run's parameter values.
// One click when every value can be sent again; a run with a secret value (shown as
// "***": the page never has it) opens the "Run with..." form filled with the others,
// the secret ones left to type again.

import { apiRequest } from '../api.js';
import { runAgainPlan } from './param_values.js';
import { openRunWith } from './run_with.js';
import { runUrl } from './runs.js';
import { showToast } from './toast.js';

/**
 * Wire the button (``data-task`` holds the task's id, name and params; ``data-params``
 * the run's values as the API shows them).
 */
export function wireRunAgain(button) {
  if (!button) return;
  const task = JSON.parse(button.dataset.task || '{}');
  const shown = JSON.parse(button.dataset.params || 'null') || {};
  delete button.dataset.task;
  const { values, needsForm } = runAgainPlan(task.params, shown);
  const queued = (result) => window.location.assign(runUrl(result.run_id));

  button.addEventListener('click', async () => {
    if (needsForm) {
      openRunWith(task, { values, onQueued: queued,
        onFailed: (error) => showToast('failed', `${task.name}: ${error.message}`) });
      return;
    }
    button.disabled = true;
    const result = await apiRequest('POST', `/tasks/${encodeURIComponent(task.id)}/run`, { body: { params: values } });
    button.disabled = false;
    if (result.ok) queued(result.data);
    else showToast('failed', `${task.name}: ${result.error.message}`);
  });
}
